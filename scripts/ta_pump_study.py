"""What makes the time accumulator's charge depend on the crossing order, measured in SPICE.

Part 1, the pumps' compliance: one column's 16 VTCs (levels as a macro column carries them, V -
V_ref = +-80 mV) pumping into nodes held at V_acc = vmid - 0.2, vmid, vmid + 0.2 V; per group, the
mean net charge at vmid and its relative change at the other two levels. For the shipped pumps (at
the design's vmid and at vmid = 0.95 V, where a cascode has headroom) with the dump node at vmid
and with the dump node at V_acc; with cascoded mirrors; with half-width switches (the
alternatives are netlist edits for this study: ``pump_study.py``).

Part 2, whole columns (16 VTCs into one C_acc, the macro's levels): the SPICE accumulator voltage
at TDC start against the sum of the channels' charges measured with the accumulator held at vmid:
the residual of a quadratic fit in that sum (plus a term in the mean V_ref) is what a charge-sum
model cannot explain (the crossing order, the channels' interaction). With the dump node at vmid
(the shipped circuit) and driven from the accumulator by an ideal unity buffer; at the shipped
levels (vmid, vhi) and at both lowered by 0.2 V.

Part 3: the shipped model's VTC charges against part 2's measured ones (the shipped columns): per
channel, summed over the column, and the same quadratic fit with the model's charge sums; and the
measured charges against the same runs at the characterization's simulation setting.

Part 4: the VTC charge model refitted on the characterization's own fit runs with part 2's columns
added, against the shipped fit, on as many other columns.

Part 5: what couples the channels: two probe channels among others crossing the ramp apart or
together with them, with the column's bias cell and ramp generator shared (as shipped) or copied
per channel, and shared with a MIM decoupling capacitor on each bias line.

    python scripts/ta_pump_study.py [--columns 16]       # ~25 min on 2 cores from an empty cache
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits.blocks.time_accumulator.pump_single_slope.characterize import (  # noqa: E402
    COLUMN_SEED_OFFSET, MACRO_SEED_OFFSET, PROFILES, _column_levels, _macro_levels, _vtc_levels)
from aimc_circuits.blocks.time_accumulator.pump_single_slope.fit import fit_vtc  # noqa: E402
from aimc_circuits.blocks.time_accumulator.pump_single_slope.model import TimeAccumulatorModel, vtc_charge  # noqa: E402
from aimc_circuits.blocks.time_accumulator.pump_single_slope.pump_study import (  # noqa: E402
    SHARES, PumpStudyColumnTestbench, PumpStudyVtcTestbench)
from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import VtcTestbench  # noqa: E402
from aimc_circuits.spice.sweep import run_sweeps  # noqa: E402

DV = 0.2  #: V_acc steps around vmid (V)
LOW_VMID = 0.95  #: vmid (V) of the comparisons with a cascode (its headroom below vdd)
CASCODE_GATES = (1.10, 0.25)  #: (vcn, vcp): the mirrors at ~0.3 V drain-source each (ideal references)
DECAP_UM = 30.0  #: part 5's bias decoupling: a MIM capacitor of this side (~1.8 pF) on each bias line
MIN_COLUMNS = 6  #: a 4-term fit with each column left out needs at least 5 others


def compliance_levels(n: int) -> dict[str, np.ndarray]:
    """Macro-like reference levels, V - V_ref = +-80 mV, both signs in both groups."""
    lv = _macro_levels(np.random.default_rng(3), n)
    sign = np.where((np.arange(n) // 2) % 2, 1.0, -1.0)
    return {"vref": lv["vref"], "v": lv["vref"] + 0.08 * sign}


def part1(model: TimeAccumulatorModel) -> None:
    d0 = model.design
    low = replace(d0, vmid=LOW_VMID)
    n = d0.n_sub * d0.groups
    lv = compliance_levels(n)
    cases = [(f"shipped pumps, vmid {d0.vmid} V, dump at vmid", d0, {}),
             (f"shipped pumps, vmid {d0.vmid} V, dump at V_acc", d0, {"track": True}),
             (f"shipped pumps, vmid {LOW_VMID} V, dump at vmid", low, {}),
             (f"shipped pumps, vmid {LOW_VMID} V, dump at V_acc", low, {"track": True}),
             (f"cascoded mirrors {CASCODE_GATES} V, vmid {LOW_VMID} V, dump at vmid", low, {"cascode": CASCODE_GATES}),
             (f"half-width switches, vmid {LOW_VMID} V, dump at vmid", low, {"switch_scale": (0.5, 0.5)})]
    jobs = []
    for _, d, kw in cases:
        kw = dict(kw)
        track = kw.pop("track", False)
        for va in (d.vmid - DV, d.vmid, d.vmid + DV):
            jobs.append((PumpStudyVtcTestbench(design=d, n_ch=n, resolve_devices=True, v_acc=va,
                                               v_dump=va if track else None, **kw), [dict(lv)]))
    res = run_sweeps(jobs, progress=True)
    group = np.arange(n) % d0.groups
    print(f"\npart 1: net charge per channel vs the accumulator level (V - V_ref = +-80 mV; change of the "
          f"charge at V_acc = vmid -{DV} / +{DV} V, relative to vmid)")
    print(f"{'circuit':<62s} {'group':>5s} {'|q| at vmid (fC)':>17s} {'-0.2 V':>8s} {'+0.2 V':>8s}")
    for k, (label, _, _) in enumerate(cases):
        recs = [res[3 * k + i].records[0] for i in range(3)]
        if not all(r.ok for r in recs):
            print(f"{label:<62s} failed: {next(str(r.error)[:200] for r in recs if not r.ok)}")
            continue
        q = [np.asarray(r.measures["q"]) for r in recs]
        for g in range(d0.groups):
            m = group == g
            lo, hi = (float(np.mean(q[i][m] / q[1][m] - 1)) for i in (0, 2))
            print(f"{label if g == 0 else '':<62s} {g:>5d} {1e15 * np.mean(np.abs(q[1][m])):17.2f} "
                  f"{100 * lo:+7.1f}% {100 * hi:+7.1f}%")


def quadratic_residuals(q: np.ndarray, v: np.ndarray, v_c: np.ndarray) -> tuple[float, float]:
    """RMS residual (V) of v against a quadratic in the charge sum q plus a linear term in the
    column's mean reference level v_c (the model's accumulator without its order term): in sample,
    and each column left out of its fit."""
    a = np.stack([np.ones_like(q), q, q**2, v_c], axis=1)

    def fit(rows):
        return np.linalg.lstsq(a[rows], v[rows], rcond=None)[0]

    if len(q) < MIN_COLUMNS:
        return float("nan"), float("nan")  # too few columns simulated (the sweeps report the failed ones)
    every = np.arange(len(q))
    in_sample = float(np.sqrt(np.mean((v - a @ fit(every)) ** 2)))
    loo = [v[i] - a[i] @ fit(np.delete(every, i)) for i in every]
    return in_sample, float(np.sqrt(np.mean(np.square(loo))))


def mean_vref(recs) -> np.ndarray:
    return np.array([np.mean(r.point["vref"]) for r in recs])


def part2(model: TimeAccumulatorModel, n_columns: int) -> tuple[list[dict], Any, Any]:
    """Part 2; returns its column levels and the shipped design's VTC and column sweeps (parts 3, 4)."""
    d0 = model.design
    n = d0.n_sub * d0.groups
    rng = np.random.default_rng(5 + COLUMN_SEED_OFFSET + 100)  # held apart from the characterization's columns
    pts = [dict(_column_levels(rng, d0.n_sub, d0.groups)) for _ in range(n_columns)]
    # the shipped levels, and the levels lowered by 0.2 V (vmid, vhi) so the source pumps keep their
    # headroom when their dump node follows the accumulator up
    designs = [d0, replace(d0, vmid=round(d0.vmid - 0.2, 6), vhi=round(d0.vhi - 0.2, 6))]
    jobs = []
    for d in designs:
        jobs += [(PumpStudyVtcTestbench(design=d, n_ch=n, resolve_devices=True), pts)]
        jobs += [(PumpStudyColumnTestbench(design=d, n_ch=n, resolve_devices=True, track_dump=t), pts) for t in (False, True)]
    res = run_sweeps(jobs, progress=True)
    lsb = model.calibration.section("tdc")["lsb_v"]
    print(f"\npart 2: {n_columns} whole columns at the macro's levels; V_acc at TDC start against the summed channel "
          f"charges (each channel measured with the accumulator held at vmid): the residual of a quadratic fit (plus a term in the mean V_ref)")
    print(f"{'levels':<26s} {'dump node':<28s} {'V_acc spread (mV)':>18s} {'residual RMS (mV)':>18s} {'(TDC LSB)':>10s} "
          f"{'left out (LSB)':>15s}")
    for k, d in enumerate(designs):
        vres, shipped, tracked = res[3 * k:3 * k + 3]
        ok = [i for i in range(n_columns) if vres.records[i].ok and shipped.records[i].ok and tracked.records[i].ok]
        q = np.array([np.sum(vres.records[i].measures["q"]) for i in ok])
        for label, r in (("at vmid (shipped)", shipped), ("ideal unity buffer of acc", tracked)):
            v = np.array([r.records[i].measures["v_acc"] for i in ok])
            rms, loo = quadratic_residuals(q, v, mean_vref([vres.records[i] for i in ok]))
            lv = f"vmid {d.vmid} V, vhi {d.vhi} V" if label.startswith("at") else ""
            print(f"{lv:<26s} {label:<28s} {1e3 * np.ptp(v):18.1f} {1e3 * rms:18.2f} {rms / lsb:10.2f} {loo / lsb:15.2f}")
    return pts, res[0], res[1]


def model_charges(model: TimeAccumulatorModel, pts: list[dict], vres, shipped, n_columns: int) -> None:
    """Part 3: the shipped model's VTC charges against the measured ones on part 2's shipped columns,
    and the same quadratic fit of SPICE's V_acc in the model's charge sums; the measured charges
    against the same runs at the characterization's setting (library devices, 10 ps, ngspice's
    default tolerance)."""
    d = model.design
    as_characterized = run_sweeps([(VtcTestbench(design=d, n_ch=d.n_sub * d.groups), pts)], progress=True)[0]
    p_vtc = {k: v["value"] for k, v in model.calibration.section("vtc")["params"].items()}
    c_acc = model.calibration.section("accumulator")["params"]["c_acc"]["value"]
    lsb = model.calibration.section("tdc")["lsb_v"]
    group = np.arange(d.n_sub * d.groups) % d.groups
    ok = [i for i in range(n_columns) if vres.records[i].ok and shipped.records[i].ok and as_characterized.records[i].ok]
    q_sp = np.array([vres.records[i].measures["q"] for i in ok])
    q_ch = np.array([as_characterized.records[i].measures["q"] for i in ok])
    q_md = np.array([vtc_charge(p_vtc, np.asarray(vres.records[i].point["v"]), np.asarray(vres.records[i].point["vref"]),
                                group, d.vdd) for i in ok])
    v = np.array([shipped.records[i].measures["v_acc"] for i in ok])
    print(f"\npart 3: the shipped model's VTC charges on part 2's {len(ok)} shipped columns (vmid {d.vmid} V)")
    for g in range(d.groups):
        err = (q_md - q_sp)[:, group == g]
        print(f"  group {g}: model - SPICE per channel {1e15 * np.sqrt(np.mean(err**2)):.3f} fC RMS "
              f"({np.sqrt(np.mean(err**2)) / c_acc / lsb:.2f} TDC LSB on C_acc = {1e15 * c_acc:.0f} fF), "
              f"mean {1e15 * np.mean(err):+.3f} fC")
    print(f"  the same runs at the characterization's setting: {1e15 * np.sqrt(np.mean((q_ch - q_sp) ** 2)):.3f} fC RMS "
          f"from these (group 1: {1e15 * np.sqrt(np.mean((q_ch - q_sp)[:, group == 1] ** 2)):.3f} fC)")
    dsum = (q_md - q_sp).sum(axis=1) / c_acc / lsb
    print(f"  column sum: model - SPICE {np.sqrt(np.mean(dsum**2)):.2f} TDC LSB RMS (mean {np.mean(dsum):+.2f})")
    vc = mean_vref([vres.records[i] for i in ok])
    for label, q in (("the measured charges", q_sp.sum(axis=1)), ("the model's charges", q_md.sum(axis=1))):
        rms, loo = quadratic_residuals(q, v, vc)
        print(f"  SPICE V_acc, quadratic in the sum of {label}: residual {rms / lsb:.2f} TDC LSB RMS "
              f"({loo / lsb:.2f} left out)")


def refit(model: TimeAccumulatorModel, vres, n_columns: int) -> None:
    """Part 4: the VTC charge model refitted on the characterization's own fit runs (fast profile:
    the same level sets, resolved devices) with part 2's columns added, against the shipped fit, on
    `n_columns` other columns (VTC charges and whole-column V_acc)."""
    d = model.design
    n = d.n_sub * d.groups
    group = np.arange(n) % d.groups
    prof = PROFILES["fast"]
    seed = model.calibration.section("provenance")["random_seed"]
    rng = np.random.default_rng(seed)  # the characterization's level sets, drawn in its order
    nominal = [_vtc_levels(rng, n) for _ in range(sum(prof.vtc_runs))]
    mrng = np.random.default_rng(seed + MACRO_SEED_OFFSET)
    macro = [_macro_levels(mrng, n) for _ in range(sum(prof.vtc_macro_runs))]
    hrng = np.random.default_rng(seed + COLUMN_SEED_OFFSET + 200)
    others = [dict(_column_levels(hrng, d.n_sub, d.groups)) for _ in range(n_columns)]
    own, ovtc, ocol = run_sweeps([(VtcTestbench(design=d, n_ch=n, resolve_devices=True), [dict(x) for x in nominal + macro]),
                                  (PumpStudyVtcTestbench(design=d, n_ch=n, resolve_devices=True), others),
                                  (PumpStudyColumnTestbench(design=d, n_ch=n, resolve_devices=True), others)], progress=True)
    (nf, nh), (mf, _) = prof.vtc_runs, prof.vtc_macro_runs
    fit_recs = own.records[:nf] + own.records[nf + nh:nf + nh + mf]

    def stack(recs):
        recs = [r for r in recs if r.ok]
        return (np.concatenate([r.point["v"] for r in recs]), np.concatenate([r.point["vref"] for r in recs]),
                np.concatenate([group] * len(recs)), np.concatenate([r.measures["q"] for r in recs]))

    fits = {"shipped": {k: v["value"] for k, v in model.calibration.section("vtc")["params"].items()},
            "refitted, part 2's columns added": {k: v["value"] for k, v in fit_vtc(
                *(np.concatenate(a) for a in zip(stack(fit_recs), stack(vres.records))), d.vdd)["params"].items()}}
    ok = [i for i in range(n_columns) if ovtc.records[i].ok and ocol.records[i].ok]
    v_acc = np.array([ocol.records[i].measures["v_acc"] for i in ok])
    vc = mean_vref([ovtc.records[i] for i in ok])
    lsb = model.calibration.section("tdc")["lsb_v"]
    print(f"\npart 4: the VTC model refitted with part 2's columns added, on {len(ok)} other columns")
    print(f"{'VTC charge model':<34s} {'group-1 charge error (fC RMS, mean)':>36s} {'V_acc quadratic residual (LSB)':>31s}")
    for label, p in fits.items():
        vv, vr, gg, q = stack([ovtc.records[i] for i in ok])
        e = (vtc_charge(p, vv, vr, gg, d.vdd) - q)[gg == 1]
        sums = np.array([vtc_charge(p, np.asarray(ovtc.records[i].point["v"]), np.asarray(ovtc.records[i].point["vref"]),
                                    group, d.vdd).sum() for i in ok])
        fit_r, loo = quadratic_residuals(sums, v_acc, vc)
        print(f"{label:<34s} {1e15 * np.sqrt(np.mean(e**2)):25.3f} ({1e15 * np.mean(e):+.3f}) "
              f"{fit_r / lsb:20.2f} / {loo / lsb:.2f} left out")
    exact = np.array([ovtc.records[i].measures["q"].sum() for i in ok])
    fit_r, loo = quadratic_residuals(exact, v_acc, vc)
    print(f"{'(the exact charges)':<34s} {'':>36s} {fit_r / lsb:20.2f} / {loo / lsb:.2f} left out")


def interaction(model: TimeAccumulatorModel, contexts: int = 3) -> None:
    """Part 5: two probe channels (group 0 and group 1, V_ref 1.5 V, V = V_ref -+ 18 mV) among 14
    others that cross the ramp apart (V_ref 1.1..1.7 V) or together with them (V_ref 1.5 V +- 10 mV),
    `contexts` random draws each; the channels sharing the column's bias cell and ramp generator (as
    shipped) or each on its own copy of one or both."""
    d = model.design
    n = d.n_sub * d.groups
    rng = np.random.default_rng(17)
    sets = {}
    for kind in ("apart", "together"):
        sets[kind] = []
        for _ in range(contexts):
            vref = rng.uniform(1.1, 1.7, n) if kind == "apart" else 1.5 + rng.normal(0.0, 0.01, n)
            v = vref + rng.normal(0.0, 0.018, n)
            vref[:2], v[:2] = 1.5, (1.5 - 0.018, 1.5 + 0.018)
            sets[kind].append({"v": v, "vref": vref})
    cases = [(sh, {"share": sh}) for sh in SHARES] + [(f"both, {DECAP_UM:g} um MIM on vbn, vbp", {"bias_decap_um": DECAP_UM})]
    jobs = [(PumpStudyVtcTestbench(design=d, n_ch=n, resolve_devices=True, **kw), sets["apart"] + sets["together"])
            for _, kw in cases]
    res = run_sweeps(jobs, progress=True)
    print(f"\npart 5: the probe channels' charge among others crossing apart / together ({contexts} draws each)")
    print(f"{'the channels share':<32s} {'probe':>6s} {'apart (fC)':>11s} {'together (fC)':>14s} {'together - apart':>17s}")
    for (sh, _), r in zip(cases, res):
        q = np.array([rec.measures["q"][:2] if rec.ok else [np.nan, np.nan] for rec in r.records])
        for k, g in enumerate(("g0", "g1")):
            qa, qt = q[:contexts, k], q[contexts:, k]
            print(f"{sh if k == 0 else '':<32s} {g:>6s} {1e15 * np.mean(qa):11.3f} {1e15 * np.mean(qt):14.3f} "
                  f"{1e15 * (np.mean(qt) - np.mean(qa)):+17.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--columns", type=int, default=16, help="whole columns of part 2 (default 16)")
    a = ap.parse_args()
    if a.columns < MIN_COLUMNS:
        ap.error(f"--columns {a.columns}: allowed {MIN_COLUMNS} or more (a 4-term fit with each column left out)")
    t0 = time.perf_counter()
    model = TimeAccumulatorModel.load()
    part1(model)
    pts, vres, shipped = part2(model, a.columns)
    model_charges(model, pts, vres, shipped, a.columns)
    refit(model, vres, a.columns)
    interaction(model)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
