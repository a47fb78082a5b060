"""Characterize the time-accumulator variant ``pump_single_slope`` in SPICE and fit its behavioral model
(-> ``calibration/time_accumulator/pump_single_slope.json``).

Sweeps: the VTC + charge-pump transfer (16 channels per run on one column ramp, random
(V, V_ref) pairs over the column range, with held-out runs), corners x temperatures, Monte
Carlo columns on tt_mm (per-channel offset and gain spread), the TDC transfer (16 TDCs per
run), whole-column accumulations (16 VTCs into one C_acc, then the TDC) with held-out runs,
comparator noise (-> jitter) and supply energy.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ....errors import ParameterError
from ....fitting import quality
from ....paths import netlist_path
from ....spice.sweep import SweepResult, combined_provenance, run_sweeps
from .design import TADesign
from .fit import fit_accumulator_order, fit_tdc, fit_vtc, fit_vtc_quality
from .model import acc_voltage, order_charge, tdc_time, vtc_charge
from .model import V_C0
from .testbench import AccumulatorTestbench, ComparatorNoiseTestbench, TdcTestbench, VtcInputTestbench, VtcTestbench

__all__ = ["PROFILES", "characterize_time_accumulator", "channel_mismatch", "monte_carlo_levels", "V_COL_RANGE"]

#: the whole-column level sets come from default_rng(seed + this), apart from the other sweeps
COLUMN_SEED_OFFSET = 72
#: ... and the macro-level VTC sets from default_rng(seed + this)
MACRO_SEED_OFFSET = 73
#: ... and the output-range (TDC setting) held-out levels from default_rng(seed + this)
RANGE_SEED_OFFSET = 74
#: the output range's settings: TDC charge-up current (units of i0) x stop threshold vhi (V)
RANGE_CURRENTS = (0.5, 1.0, 2.0)
RANGE_THRESHOLDS = (1.12, 1.22, 1.32, 1.42, 1.52, 1.62)
#: group column voltages the cells produce (vr - full swing at 128 rows .. vr), V
V_COL_RANGE = (0.84, 1.8)


@dataclass(frozen=True)
class Profile:
    vtc_runs: tuple[int, int]  #: VTC runs (16 channels each): fit, held out
    vtc_macro_runs: tuple[int, int]  #: VTC runs at the levels a macro column carries: fit, held out
    column_runs: tuple[int, int]  #: whole-column runs at the macro's levels: fit, held out
    spread_column_runs: int  #: whole-column runs with well separated crossings (a check only)
    corners: tuple[tuple[str, float], ...]
    mc_seeds: int


PROFILES = {
    "fast": Profile(vtc_runs=(3, 1), vtc_macro_runs=(6, 2), column_runs=(16, 8), spread_column_runs=0,
                    corners=(("tt", 27.0), ("ss", 27.0), ("ff", 27.0), ("tt", -40.0), ("tt", 85.0)), mc_seeds=6),
    "full": Profile(vtc_runs=(8, 3), vtc_macro_runs=(12, 4), column_runs=(24, 10), spread_column_runs=12,
                    corners=tuple((c, t) for c in ("tt", "ss", "ff", "sf", "fs") for t in (-40.0, 27.0, 85.0)),
                    mc_seeds=30),
}


def _vtc_levels(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """(V, V_ref) pairs, V_ref over the column range: half the channels with the small
    differences real columns carry (V - V_ref ~ N(0, 30 mV)), half with up to +-0.45 V."""
    lo, hi = V_COL_RANGE
    vref = rng.uniform(lo + 0.05, hi, n)
    dv = np.where(np.arange(n) < n // 2, rng.normal(0.0, 0.03, n), rng.uniform(-0.45, 0.45, n))
    v = np.clip(vref + rng.permutation(dv), lo, hi)
    return {"v": v, "vref": vref}


def _macro_levels(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The levels a macro column carries on its default workload: V_ref (reference column, codes
    8/8) near 1.5 V, each channel within a few tens of mV of it."""
    vref = rng.uniform(1.3, 1.7, n)
    return {"v": vref + rng.normal(0.0, 0.025, n), "vref": vref}


def monte_carlo_levels(n: int) -> list[dict[str, np.ndarray]]:
    """Three level sets for the Monte Carlo extraction of each channel's (offset, gain+, gain-):
    V_ref mid-range, V 0.3 V below (positive), 0.3 V above (negative), 0.1 V below."""
    vref = np.linspace(1.2, 1.4, n)
    return [{"v": vref + dv, "vref": vref} for dv in (-0.3, 0.3, -0.1)]


def _column_levels(rng: np.random.Generator, n_sub: int, groups: int) -> dict[str, np.ndarray]:
    """A column's inputs as the macro produces them: one reference level per sub-array (the
    reference column, codes 8/8, so both groups alike) around a common level 1.3..1.7 V, each
    channel within ~18 mV of it, plus a per-run common shift of up to +-12 mV so the runs span the
    output range. All 16 channels cross the ramp within a few tens of mV: overlapping pulses."""
    vc = rng.uniform(1.3, 1.7)
    vref = np.repeat(vc + rng.normal(0.0, 0.01, n_sub), groups)
    v = vref + rng.uniform(-0.012, 0.012) + rng.normal(0.0, 0.018, n_sub * groups)
    return {"v": v, "vref": vref}


def _spread_column_levels(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Columns whose channels cross at well separated times (V_ref 1.1..1.6 V per channel): a
    check of the accumulator model outside the macro's regime (full profile)."""
    lo, hi = V_COL_RANGE
    vref = rng.uniform(1.1, 1.6, n)
    v = np.clip(vref + rng.uniform(-0.012, 0.012) + rng.normal(0.0, 0.02, n), lo, hi)
    return {"v": v, "vref": vref}


def characterize_time_accumulator(design: TADesign | None = None, profile: str = "fast", seed: int = 5,
                                  progress: bool = False) -> dict[str, Any]:
    """Run the sweeps of `profile`, fit the behavioral model, return the calibration dict."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    d, prof = design or TADesign(), PROFILES[profile]
    rng = np.random.default_rng(seed)
    n_ch = d.n_sub * d.groups
    group = np.arange(n_ch) % d.groups
    failed: list = []
    sweeps: list[SweepResult] = []  # every sweep, for the provenance

    def sweep(tb, pts):
        return sweep_all([(tb, pts)])[0]

    def sweep_all(jobs):
        """Several sweeps at once (spice.sweep.run_sweeps), recorded in the order given."""
        out = run_sweeps(jobs, progress=progress, retry_failed=True)
        for res in out:
            failed.extend(res.failed)
            sweeps.append(res)
        return out

    # VTC transfer at tt/27 (fit + held out), corners, Monte Carlo
    vtb = VtcTestbench(design=d, n_ch=n_ch)
    n_fit, n_held = prof.vtc_runs
    levels = [_vtc_levels(rng, n_ch) for _ in range(n_fit + n_held)]
    mc_levels = monte_carlo_levels(n_ch)
    pts = [dict(lv) for lv in levels]
    pts += [{**levels[0], "corner": c, "temp": t} for c, t in prof.corners if (c, t) != ("tt", 27.0)]
    pts += [dict(lv) for lv in mc_levels]  # tt references for the Monte Carlo sets
    pts += [{**lv, "corner": "tt_mm", "seed": s} for s in range(1, prof.mc_seeds + 1) for lv in mc_levels]
    m_fit, m_held = prof.vtc_macro_runs
    mrng = np.random.default_rng(seed + MACRO_SEED_OFFSET)
    n_before = len(pts)
    pts += [_macro_levels(mrng, n_ch) for _ in range(m_fit + m_held)]
    vres = sweep(vtb, pts)
    nominal = vres.records[: n_fit + n_held]
    macro_fit, macro_held = vres.records[n_before:n_before + m_fit], vres.records[n_before + m_fit:]

    def stack(recs):
        ok = [r for r in recs if r.ok]
        if not ok:
            raise RuntimeError("no successful VTC runs to fit")
        return (np.concatenate([r.point["v"] for r in ok]), np.concatenate([r.point["vref"] for r in ok]),
                np.concatenate([group] * len(ok)), np.concatenate([r.measures["q"] for r in ok]))

    vtc = fit_vtc(*stack(nominal[:n_fit] + macro_fit), d.vdd, held_out=stack(nominal[n_fit:] + macro_held))
    if macro_held:  # held out at the levels a macro column carries alone
        vtc["held_out_macro_levels"] = fit_vtc_quality(vtc, *stack(macro_held), d.vdd)
    p_vtc = {k: v["value"] for k, v in vtc["params"].items()}
    ref = next(r for r in nominal if r.ok)  # stack() raised if none succeeded
    first = ref.measures
    vtc["ramp_slope_v_per_s"] = first["ramp_slope"]
    vtc["pulse_width_per_volt_s"] = 1.0 / first["ramp_slope"]
    vtc["samples"] = {"v": ref.point["v"], "vref": ref.point["vref"], "q": first["q"],
                      "t_pos": first["t_pos"], "t_neg": first["t_neg"]}
    corners = {}
    for c, t in prof.corners:
        recs = [r for r in vres.records if r.ok and r.point["corner"] == c and r.point["temp"] == t
                and r.point["v"] == tuple(float(x) for x in levels[0]["v"])]
        if recs:
            q = np.asarray(recs[0].measures["q"])
            q_nom = vtc_charge(p_vtc, np.array(recs[0].point["v"]), np.array(recs[0].point["vref"]), group, d.vdd)
            big = np.abs(q_nom) > 0.2 * np.max(np.abs(q_nom))
            corners[f"{c}@{t:g}"] = {"gain_rel": float(np.median(q[big] / q_nom[big])),
                                     "ramp_slope_v_per_s": recs[0].measures["ramp_slope"]}
    mismatch = _vtc_mismatch([r for r in vres.records if r.ok], mc_levels, p_vtc, group, d)

    # TDC transfer: 16 levels per run, fit + held out, Monte Carlo offsets
    ttb = TdcTestbench(design=d, n_ch=n_ch)
    lv_fit = np.linspace(d.vhi - 0.4, d.vhi + 0.05, n_ch)
    lv_held = np.sort(rng.uniform(d.vhi - 0.38, d.vhi - 0.03, n_ch))
    tres = sweep(ttb, [{"v_init": lv_fit}, {"v_init": lv_held}]
                 + [{"v_init": lv_held, "corner": "tt_mm", "seed": s} for s in range(1, prof.mc_seeds + 1)])
    tr = tres.records
    if not (tr[0].ok and tr[1].ok):
        raise RuntimeError("TDC transfer runs failed: " + "; ".join(str(r.error)[:200] for r in tr[:2] if not r.ok))
    # the standalone TDC (its own C_acc only): transfer, Monte Carlo stop-time spread; the model's
    # TDC is fitted on the whole columns below, whose accumulator carries the pumps' switches too
    tdc_alone = fit_tdc(lv_fit, tr[0].measures["t_stop"], d.vhi, held_out=(lv_held, tr[1].measures["t_stop"]))
    tdc_alone["samples"] = {"v_init": lv_fit, "t_stop": tr[0].measures["t_stop"]}
    mc_t = np.array([r.measures["t_stop"] for r in tr[2:] if r.ok])
    if mc_t.size:
        ref_t = np.asarray(tr[1].measures["t_stop"])
        dev = (mc_t - ref_t) / ref_t  # relative: the spread is a gain (charge-up current) spread
        tdc_alone["mc_sigma_gain_rel"] = float(np.std(dev[np.isfinite(dev)], ddof=1))

    # whole columns: accumulation error, end-to-end codes, energy
    atb = AccumulatorTestbench(design=d, n_ch=n_ch)
    c_fit, c_held = prof.column_runs
    crng = np.random.default_rng(seed + COLUMN_SEED_OFFSET)  # column level sets: their own stream
    clevels = [_column_levels(crng, d.n_sub, d.groups) for _ in range(c_fit + c_held)]
    srng = np.random.default_rng(seed + COLUMN_SEED_OFFSET + 2)
    slevels = [_spread_column_levels(srng, n_ch) for _ in range(prof.spread_column_runs)]
    ares = sweep(atb, [dict(lv) for lv in clevels + slevels])

    shp = (d.n_sub, d.groups)

    def col_arrays(recs):
        ok = [r for r in recs if r.ok]
        q = [vtc_charge(p_vtc, np.array(r.point["v"]), np.array(r.point["vref"]), group, d.vdd).reshape(shp) for r in ok]
        lv = [(np.reshape(r.point["v"], shp), np.reshape(r.point["vref"], shp)) for r in ok]
        return np.array([qq.sum() for qq in q]), np.array([r.measures["v_acc"] for r in ok]), \
            np.array([r.measures["t_stop"] for r in ok]), np.array([r.measures["e_vdd"] for r in ok]), (q, lv)

    def f_order(cols, dw):
        q, lv = cols
        return np.array([order_charge(qq, v, vr, np.arange(d.groups), dw) for qq, (v, vr) in zip(q, lv)])

    qf, vf, tf, ef, cf = col_arrays(ares.records[:c_fit])
    qh, vh, th, eh, chh = col_arrays(ares.records[c_fit:c_fit + c_held])
    def v_c(cols):
        return np.array([vr.mean() for _, vr in cols[1]])

    acc = fit_accumulator_order(qf, vf, d.vmid, lambda dw: (f_order(cf, dw), f_order(chh, dw)), (v_c(cf), v_c(chh)),
                                held_out=(qh, vh))
    ff, fh = f_order(cf, acc["params"]["dw"]["value"]), f_order(chh, acc["params"]["dw"]["value"])
    if slevels:  # outside the fitted regime: reported, not fitted
        qs, vs, _, _, cs = col_arrays(ares.records[c_fit + c_held:])
        pa = {k: v["value"] for k, v in acc["params"].items()}
        acc["spread_columns_check"] = quality(acc_voltage(pa, qs, d.vmid, f_order(cs, pa["dw"]), v_c(cs)) - vs, 1.0)
    p_acc = {k: v["value"] for k, v in acc["params"].items()}  # includes dw
    acc["design_c_acc_f"] = 2.0e-15 * d.cacc_w**2  # MIM ~2 fF/um^2 (model card camimc)
    acc["samples"] = {"q_sum": np.concatenate([qf, qh]), "v_acc": np.concatenate([vf, vh]),
                      "t_stop": np.concatenate([tf, th]), "f_order": np.concatenate([ff, fh]),
                      "v_c": np.concatenate([v_c(cf), v_c(chh)]), "n_fit": len(qf)}
    tdc = fit_tdc(vf, tf, d.vhi, held_out=(vh, th))
    p_tdc = {k: v["value"] for k, v in tdc["params"].items()}
    tdc.update(_tdc_quantization(p_tdc, d))
    tdc["standalone"] = tdc_alone
    if "mc_sigma_gain_rel" in tdc_alone:
        tdc["mc_sigma_lsb_at_mid"] = tdc_alone["mc_sigma_gain_rel"] * 2 ** (d.output_bits - 1)
    # end to end: model chain (VTC -> accumulator -> TDC) vs SPICE stop time on the held-out columns
    held = [r for r in ares.records[c_fit:c_fit + c_held] if r.ok]
    t_model = tdc_time(p_tdc, acc_voltage(p_acc, qh, d.vmid, fh, v_c(chh)), d.vhi)
    fin = np.isfinite(th)
    chain = {"v": [r.point["v"] for r in held], "vref": [r.point["vref"] for r in held], "t_stop_spice": th,
             "t_err_lsb": (t_model[fin] - th[fin]) / d.t_lsb,
             "code_spice": np.floor(th[fin] / d.t_lsb), "code_model": np.floor(t_model[fin] / d.t_lsb)}
    chain["rms_lsb"] = float(np.sqrt(np.mean(chain["t_err_lsb"] ** 2))) if fin.any() else None
    chain["max_lsb"] = float(np.max(np.abs(chain["t_err_lsb"]))) if fin.any() else None
    e_all = np.concatenate([ef, eh])  # energy of the macro-regime columns
    energy = {"e_conversion_j": {"mean": float(np.mean(e_all)), "min": float(np.min(e_all)), "max": float(np.max(e_all))},
              "note": "whole column (ramp, 32 comparators, pumps, TDC, bias) over one conversion incl. full-scale TDC"}

    # comparator noise -> timing jitter
    nres, nres_t = sweep_all([(ComparatorNoiseTestbench(design=d, v_cm=v_cm), [{}]) for v_cm in (1.3, d.vhi)])
    noise: dict[str, Any] = {"band_hz": [1e3, 1e9]}
    if nres.records[0].ok and nres_t.records[0].ok:
        vn, vn_t = nres.records[0].measures["vn_in"], nres_t.records[0].measures["vn_in"]
        slope_tdc = 1.0 / p_tdc["t1"]  # V/s of the column's charge-up
        noise.update({"vn_in_vtc_v": vn, "vn_in_tdc_v": vn_t,
                      # a VTC pulse is the interval between two independent comparator crossings
                      "vtc_pulse_sigma_v": float(np.sqrt(2) * vn),
                      "vtc_jitter_s": float(np.sqrt(2) * vn / first["ramp_slope"]),
                      "tdc_jitter_s": float(vn_t / slope_tdc), "tdc_jitter_lsb": float(vn_t / slope_tdc / d.t_lsb)})

    # the signal input seen from the floating column line that drives it in the macro
    itb = VtcInputTestbench(design=d, resolve_devices=True)
    levels = [float(v) for v in (*VTC_INPUT_LEVELS, *VTC_INPUT_HELD_OUT)]
    ipts = [{"v": v + dv, "vref": v + VTC_INPUT_DV} for v in levels for dv in (-VTC_INPUT_PROBE, 0.0, VTC_INPUT_PROBE)]
    ipts += [{"v": v, "vref": v + VTC_INPUT_DV, "c_line": VTC_INPUT_C_LINE} for v in levels]
    # ... and the charge it takes as its line falls from the column reset level (vdd) to V, the
    # ramp held at vdd (the cells' phase): a step of V - vdd instead of the 10 mV probe
    swing = sweep_all([(VtcInputTestbench(design=d, resolve_devices=True, dv=v - d.vdd),
                        [{"v": v, "vref": v + VTC_INPUT_DV}]) for v in levels])
    vtc_input = _vtc_input(sweep(itb, ipts), swing, levels, d)

    # the output range: the TDC at other charge-up currents and stop thresholds
    output_range = _output_range(sweep_all, d, n_ch, np.random.default_rng(seed + RANGE_SEED_OFFSET), p_tdc)

    return {"profile": profile, "design": d.as_dict(),
            "vtc": vtc, "vtc_input": vtc_input, "output_range": output_range, "corners": corners, "mismatch": mismatch, "accumulator": acc, "tdc": tdc,
            "chain_held_out": chain, "energy": energy, "noise": noise,
            "timing": {"t_reset_s": d.t_reset, "t_ramp_s": d.t_ramp, "t_gap_s": d.t_gap, "t_tdc_s": d.t_tdc,
                       "t_conversion_s": d.t_total},
            "dropped_points": [{"point": dict(r.point), "error": r.error} for r in failed],
            "provenance": {"netlist_sha256": hashlib.sha256(netlist_path(d.netlist).read_bytes()).hexdigest(),
                           "random_seed": seed, **combined_provenance(sweeps), "corner": "tt",
                           "temperature_c": 27.0}}


#: column-line levels (V) of the VTC input characterization: fitted, held out
VTC_INPUT_LEVELS = np.round(np.arange(1.0, 1.751, 0.1), 3)
VTC_INPUT_HELD_OUT = (1.05, 1.35, 1.65)
VTC_INPUT_DV = 0.05  #: V_ref - V of those runs (V)
VTC_INPUT_PROBE = 5e-3  #: level steps (V) of the ideal-source runs that give the local dq/dV
VTC_INPUT_C_LINE = 2e-12  #: the floating line (F): about a 128-row group column line


def _vtc_input(res: SweepResult, swing: list[SweepResult], levels: list[float], d: TADesign) -> dict[str, Any]:
    """The VTC signal input as a load of its column line, from runs on an ideal source and on a
    floating line of VTC_INPUT_C_LINE precharged to the same level: the pump charge differs by
    dq/dV x dV (dq/dV from the ideal-source runs VTC_INPUT_PROBE apart), i.e. the floating line acts
    as if it were lower by dV when the ramp crosses it: the charge its input takes from it before
    the decision is q_eff = -dV C_line. Fitted q_eff = q0 + q1 (vdd - V) on the fitted levels,
    checked on the held-out ones (in % of q_eff at V_C0). The input capacitance while the ramp waits
    at vdd: the mean over the fitted levels from V_C0 up (a line discharges from vr towards the
    levels around V_C0 that the macro's columns sit at), its range recorded.

    The line's end load in the cells' phase is large-signal: the column falls from its reset level
    (vr = vdd, where the comparator is balanced against the held ramp and its input pair's gate
    capacitance is largest) to V. From the `swing` runs (one per level: the source steps from vdd to
    V), c_swing(V) = the charge delivered / (vdd - V), fitted c_swing = s0 + s1 (vdd - V), checked on
    the held-out levels; the data column lines end on c_swing(V_C0)."""
    by = {(round(r.point["v"], 6), r.point["c_line"]): r for r in res.records}
    c_sw = {round(v, 6): r.records[0].measures["c_in"] for v, r in zip(levels, swing) if r.records[0].ok}
    rows = []
    for v in levels:
        recs = [by.get((round(v + dv, 6), 0.0)) for dv in (-VTC_INPUT_PROBE, 0.0, VTC_INPUT_PROBE)]
        fl = by.get((round(v, 6), VTC_INPUT_C_LINE))
        if fl is None or not fl.ok or any(r is None or not r.ok for r in recs):
            continue
        qm, q0_, qp = (r.measures["q"] for r in recs)
        dv_eq = (fl.measures["q"] - q0_) / ((qp - qm) / (2 * VTC_INPUT_PROBE))
        if round(v, 6) not in c_sw:
            continue
        rows.append((v, -dv_eq * VTC_INPUT_C_LINE, recs[1].measures["c_in"], dv_eq, c_sw[round(v, 6)]))
    fit = [r for r in rows if r[0] not in VTC_INPUT_HELD_OUT]
    held = [r for r in rows if r[0] in VTC_INPUT_HELD_OUT]
    if len(fit) < 3:
        raise RuntimeError(f"VTC input characterization: only {len(fit)} fitted levels converged")
    v, q, c = (np.array([r[i] for r in fit]) for i in range(3))
    q1, q0 = np.polyfit(d.vdd - v, q, 1)

    def err(rs):
        vv, qq = np.array([r[0] for r in rs]), np.array([r[1] for r in rs])
        return 100 * (qq - (q0 + q1 * (d.vdd - vv))) / (q0 + q1 * (d.vdd - V_C0))

    ef, eh = err(fit), err(held)
    csw = np.array([r[4] for r in fit])
    s1, s0 = np.polyfit(d.vdd - v, csw, 1)
    c_swing_c0 = s0 + s1 * (d.vdd - V_C0)

    def err_swing(rs):
        vv, cc = np.array([r[0] for r in rs]), np.array([r[4] for r in rs])
        return 100 * (cc - (s0 + s1 * (d.vdd - vv))) / c_swing_c0

    sf, sh = err_swing(fit), err_swing(held)
    return {"levels_v": v.tolist(), "q_eff_c": q.tolist(), "dv_equiv_v": [r[3] for r in fit], "c_in_f": c.tolist(),
            "held_out_levels_v": [r[0] for r in held], "held_out_q_eff_c": [r[1] for r in held],
            "c_line_f": VTC_INPUT_C_LINE, "vref_minus_v": VTC_INPUT_DV,
            "fit": {"q0": float(q0), "q1": float(q1), "rms_pct_fs": float(np.sqrt(np.mean(ef**2))),
                    "c_in_f": float(np.mean(c[v >= V_C0 - 1e-9])), "c_in_range_f": [float(c.min()), float(c.max())]},
            "held_out": {"rms_pct_fs": float(np.sqrt(np.mean(eh**2))) if eh.size else None,
                         "max_pct_fs": float(np.max(np.abs(eh))) if eh.size else None},
            "quality_units": "% of the effective kick charge at V_C0",
            "swing": {"c_swing_f": csw.tolist(), "held_out_c_swing_f": [r[4] for r in held],
                      "fit": {"s0": float(s0), "s1": float(s1), "c_swing_f": float(c_swing_c0),
                              "rms_pct": float(np.sqrt(np.mean(sf**2)))},
                      "held_out": {"rms_pct": float(np.sqrt(np.mean(sh**2))) if sh.size else None,
                                   "max_pct": float(np.max(np.abs(sh))) if sh.size else None},
                      "quality_units": "% of c_swing at V_C0",
                      "model": "c_swing(V) = s0 + s1 (vdd - V) = the charge the input takes as its line falls from "
                               "vdd to V, / (vdd - V); the data column lines end on c_swing(V_C0)"},
            "model": "a floating line at V when the ramp starts acts as V - (q0 + q1 (vdd - V)) / C_line at its VTC; "
                     "the data column lines end on c_swing (the large-signal load from vdd) instead of the cell "
                     "design's c_load",
            "source": "one VTC, its input on a floating line (ideal switch opened 0.1 ns before the ramp) vs on an "
                      "ideal source; c_in from a 10 mV step of the ideal source with the ramp held at vdd, c_swing "
                      "from a step from vdd to V"}


def _vtc_mismatch(recs, mc_levels, p_vtc, group, d: TADesign) -> dict[str, Any]:
    """Per-channel input offset (V) and per-sign gain spread from Monte Carlo columns: each
    seed is one column (16 channels) simulated at the three `monte_carlo_levels` sets, compared with the
    tt (no mismatch) runs at the same sets. Per channel, solve

        q_mc - q_tt = (dq/dV) off + g+ q_tt[positive sets] + g- q_tt[negative set]

    (3 equations, 3 unknowns; dq/dV from the fitted model)."""
    keys = [tuple(float(x) for x in lv["v"]) for lv in mc_levels]
    ref: dict[int, np.ndarray] = {}
    by_seed: dict[int, dict[int, np.ndarray]] = {}
    for r in recs:
        if r.point["v"] not in keys:
            continue
        k = keys.index(r.point["v"])
        if r.point["corner"] == "tt" and r.point["temp"] == 27.0:
            ref[k] = np.asarray(r.measures["q"])
        elif r.point["corner"] == "tt_mm":
            by_seed.setdefault(r.point["seed"], {})[k] = np.asarray(r.measures["q"])
    if len(ref) < 3:
        return {"n_columns": 0, "note": "tt reference runs for the Monte Carlo sets failed"}
    est = [channel_mismatch([ref[k] for k in range(3)], [runs[k] for k in range(3)], mc_levels, p_vtc, group, d)
           for _, runs in sorted(by_seed.items()) if len(runs) >= 3]
    if not est:
        return {"n_columns": 0}
    e = np.array(est)  # (seed, channel, 3)
    off, gp, gn = e[..., 0], e[..., 1], e[..., 2]
    col_gain = np.mean(np.concatenate([gp, gn], axis=1), axis=1)
    return {"n_columns": len(est), "seeds": sorted(by_seed),
            "sigma_offset_v": float(np.std(off, ddof=1)),
            "sigma_gain_rel": float(np.std(np.concatenate([gp, gn]), ddof=1)),
            "sigma_offset_v_by_group": [float(np.std(off[:, group == g], ddof=1)) for g in (0, 1)],
            "sigma_gain_rel_by_group": [float(np.std(np.concatenate([gp[:, group == g], gn[:, group == g]]), ddof=1))
                                        for g in (0, 1)],
            "sigma_column_gain_rel": float(np.std(col_gain, ddof=1)) if len(col_gain) > 1 else 0.0,
            "model": "per channel: q = (1 + g[sign]) q_nom(V + off, V_ref); off ~ N(0, sigma_offset_v_by_group[g]), "
                     "g+ and g- ~ N(0, sigma_gain_rel_by_group[g]) independent"}


def channel_mismatch(q_tt: list[np.ndarray], q_mm: list[np.ndarray], mc_levels: list[dict[str, np.ndarray]],
                     p_vtc: dict[str, float], group: np.ndarray, d: TADesign) -> np.ndarray:
    """Each channel's (offset V, gain+, gain-), shape (channel, 3), of one Monte Carlo column from
    its charges q_mm at the three `mc_levels` sets against the mismatch-free q_tt at the same sets:
    q_mm - q_tt = (dq/dV) off + g+ q_tt[positive sets] + g- q_tt[negative set], solved per channel
    (dq/dV from the fitted model p_vtc)."""
    cols = []
    for k, lv in enumerate(mc_levels):
        v, vref = np.asarray(lv["v"]), np.asarray(lv["vref"])
        slope = (vtc_charge(p_vtc, v + 1e-3, vref, group, d.vdd) - vtc_charge(p_vtc, v, vref, group, d.vdd)) / 1e-3
        pos = k != 1
        cols.append((slope, np.where(pos, q_tt[k], 0.0), np.where(pos, 0.0, q_tt[k])))
    a = np.stack([np.stack(c, axis=-1) for c in cols], axis=1)  # (channel, set, unknown)
    dq = np.stack([q_mm[k] - q_tt[k] for k in range(3)], axis=1)  # (channel, set)
    return np.linalg.solve(a, dq[..., None])[..., 0]


def _tdc_quantization(p_tdc: dict[str, float], d: TADesign) -> dict[str, Any]:
    """Code edges of the counter on the fitted TDC ramp: DNL (LSB) over the accumulator voltage,
    and the voltage range that maps to codes 0 .. 2^bits - 1."""
    v = np.linspace(d.vhi - 1.2, d.vhi, 20001)
    t = tdc_time(p_tdc, v, d.vhi)  # decreasing in v
    top = 2**d.output_bits - 1
    edges = np.interp(np.arange(1, top + 1) * d.t_lsb, t[::-1], v[::-1])  # code k starts below edges[k-1]
    widths = -np.diff(edges)
    lsb_v = float(np.mean(widths))
    dnl = widths / lsb_v - 1
    return {"lsb_v": lsb_v, "dnl_max_lsb": float(np.max(np.abs(dnl))), "v_code0": float(edges[0]),
            "v_code_full": float(edges[-1]), "full_scale_s": d.t_tdc}


def _output_range(sweep_all, d: TADesign, n_ch: int, rng: np.random.Generator, p_col: dict[str, float]) -> dict[str, Any]:
    """The TDC transfer at every charge-up current x stop threshold of the output range (the
    standalone TDC testbench with the design's md and vhi changed: 16 levels fitted, 16 held
    out per setting). The macro's TDC is the whole-column fit ``p_col`` at the design's setting;
    another setting adds what the standalone TDC changes from the design's setting:
    t(x) = t_col(x) + t_alone,setting(x) - t_alone,design(x), x = vhi - V_acc, i.e. t0, t1 and
    t1 c2 shifted by the standalone fits' differences (zero at the design's setting)."""
    if (d.md, d.vhi) not in {(m, v) for m in RANGE_CURRENTS for v in RANGE_THRESHOLDS}:
        raise ParameterError(f"the output-range grid ({RANGE_CURRENTS} x {RANGE_THRESHOLDS} V) must contain the "
                             f"design's setting md={d.md}, vhi={d.vhi}")
    fits, jobs = {}, []
    for md in RANGE_CURRENTS:
        for vhi in RANGE_THRESHOLDS:
            x_fs = min(0.55, 1.2 * d.t_tdc * md / p_col["t1"])  # the window, from the ideal 1/current scaling
            lv_fit = np.linspace(vhi - x_fs, vhi + 0.03, n_ch)
            lv_held = np.sort(rng.uniform(vhi - x_fs, vhi - 0.025, n_ch))
            jobs.append((md, vhi, lv_fit, lv_held))
    results = sweep_all([(TdcTestbench(design=replace(d, md=md, vhi=vhi), n_ch=n_ch),
                          [{"v_init": lv_fit}, {"v_init": lv_held}]) for md, vhi, lv_fit, lv_held in jobs])
    for (md, vhi, lv_fit, lv_held), res in zip(jobs, results):
        r_fit, r_held = res.records
        if not (r_fit.ok and r_held.ok):
            raise RuntimeError(f"output range: the TDC runs at md={md}, vhi={vhi} failed: "
                               f"{str(r_fit.error or r_held.error)[:300]}")
        fits[md, vhi] = (fit_tdc(lv_fit, r_fit.measures["t_stop"], vhi, held_out=(lv_held, r_held.measures["t_stop"])),
                         {"v_init": lv_fit, "t_stop": r_fit.measures["t_stop"],
                          "v_init_held_out": lv_held, "t_stop_held_out": r_held.measures["t_stop"]})
    pn = {k: v["value"] for k, v in fits[d.md, d.vhi][0]["params"].items()}
    settings = []
    for (md, vhi), (f, samples) in fits.items():
        pa = {k: v["value"] for k, v in f["params"].items()}
        t0 = p_col["t0"] + pa["t0"] - pn["t0"]
        t1 = p_col["t1"] + pa["t1"] - pn["t1"]
        t1c2 = p_col["t1"] * p_col["c2"] + pa["t1"] * pa["c2"] - pn["t1"] * pn["c2"]
        settings.append({"tdc_current": md, "vhi": vhi, "standalone": f, "samples": samples,
                         "t0": t0, "t1": t1, "c2": t1c2 / t1, "codes_per_volt_rel": float(t1 / p_col["t1"])})
    return {"settings": settings,
            "model": "per setting (charge-up current in units of i0, stop threshold vhi): t_stop = t0 + t1 x (1 + c2 x), "
                     "x = vhi - V_acc: the whole-column fit plus the standalone TDC's change from the design's "
                     "setting; between thresholds, t0, t1 and t1 c2 interpolated linearly",
            "held_out_max_pct_fs": float(max(s["standalone"]["held_out"]["max_pct_fs"] for s in settings)),
            "held_out_rms_pct_fs": float(max(s["standalone"]["held_out"]["rms_pct_fs"] for s in settings)),
            "currents": list(RANGE_CURRENTS), "thresholds_v": list(RANGE_THRESHOLDS)}
