"""Characterize the row-driver variant ``dac_follower`` in SPICE and fit its behavioral model
(-> ``calibration/row_driver/dac_follower.json``).

Sweeps: the static transfer over all 256 codes (tt/27 C, every corner x temperature, Monte
Carlo rows on tt_mm), conversions on loaded row lines (64..512 columns, several cell loads,
random code / previous-code pairs, with held-out pairs), far-end settling waveforms, supply
energy, static power and integrated output noise.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ....constants import SKY130_MOM_UNIT_CAP_F as CU
from ....errors import ParameterError
from ....paths import netlist_path
from ....spice.sweep import SweepResult, combined_provenance, run_sweep, run_sweeps
from .design import N_CODES, RowDriverDesign
from .fit import fit_dynamic, fit_energy, fit_static, inl_dnl, settle_time, static_stats
from .testbench import RowNoiseTestbench, RowSettleTestbench, RowTransferTestbench

__all__ = ["Profile", "PROFILES", "characterize_row_driver"]


@dataclass(frozen=True)
class Profile:
    n_cols: tuple[int, ...]  #: row loads simulated (columns on the row)
    load_codes: tuple[int, ...]  #: cell group codes held by every cell of the row
    n_pairs: tuple[int, int]  #: random (code, prev) pairs per load: fit, held out
    corners: tuple[str, ...]
    temps: tuple[float, ...]
    mc_seeds: int
    corner_settle: tuple[str, ...]  #: corners with loaded conversions at the reference load
    noise_cols: tuple[int, ...]


PROFILES = {
    "fast": Profile(n_cols=(64, 256, 512), load_codes=(4, 15), n_pairs=(4, 2), corners=("tt", "ss", "ff", "sf", "fs"),
                    temps=(-40.0, 27.0, 85.0), mc_seeds=8, corner_settle=("ss", "ff"), noise_cols=(256,)),
    "full": Profile(n_cols=(64, 128, 256, 512), load_codes=(0, 4, 8, 15), n_pairs=(6, 3),
                    corners=("tt", "ss", "ff", "sf", "fs"), temps=(-40.0, 27.0, 85.0), mc_seeds=40,
                    corner_settle=("ss", "ff", "sf", "fs"), noise_cols=(64, 256, 512)),
}
REFERENCE_COLS = 256


def _pairs(rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    """(code, prev) pairs: the extremes first, then uniform random."""
    fixed = [(255, 0), (0, 255), (128, 128)]
    rand = [tuple(int(v) for v in rng.integers(0, N_CODES, 2)) for _ in range(max(0, n - len(fixed)))]
    return (fixed + rand)[:n]


def characterize_row_driver(design: RowDriverDesign | None = None, profile: str = "fast", seed: int = 2,
                            progress: bool = False) -> dict[str, Any]:
    """Run the row-driver sweeps of `profile`, fit the behavioral model, return the calibration dict."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    d, prof = design or RowDriverDesign(), PROFILES[profile]
    rng = np.random.default_rng(seed)
    failed = []

    # static transfer: tt/27, corners x temperatures, Monte Carlo
    ttb = RowTransferTestbench(design=d)
    combos = [(c, t) for c in prof.corners for t in prof.temps]
    mc_pts = [{"corner": "tt_mm", "seed": s} for s in range(1, prof.mc_seeds + 1)]
    sweeps: list[SweepResult] = []  # every sweep, for the provenance
    tres = run_sweep(ttb, points=[{"corner": c, "temp": t} for c, t in combos] + mc_pts, progress=progress,
                     retry_failed=True)
    failed += tres.failed
    nominal = tres.where(corner="tt", temp=27.0)[0].measures
    v_static = np.asarray(nominal["v_row"])
    static_fit = fit_static(v_static)
    transfer = {"v_row": v_static, "v_dac": np.asarray(nominal["v_dac"]), **inl_dnl(v_static),
                "static_power_w": {"min": float(d.cell.vdd * np.min(nominal["i_vdd"])),
                                   "max": float(d.cell.vdd * np.max(nominal["i_vdd"])),
                                   "mean": float(d.cell.vdd * np.mean(nominal["i_vdd"]))}}
    corners = {}
    for c, t in combos:
        recs = [r for r in tres.where(corner=c, temp=t) if r.ok]
        if recs:
            corners[f"{c}@{t:g}"] = static_stats(np.asarray(recs[0].measures["v_row"]), v_static)
    mc_curves = [np.asarray(r.measures["v_row"]) for r in tres.records if r.ok and r.point["corner"] == "tt_mm"]
    mismatch = _mismatch(mc_curves, v_static, static_fit)
    mismatch["seeds"] = [r.point["seed"] for r in tres.records if r.ok and r.point["corner"] == "tt_mm"]

    # loaded conversions
    fit_rows, held_rows, waves = [], [], []
    n_fit, n_held = prof.n_pairs
    jobs, job_tags = [], []
    for n_cols in prof.n_cols:
        pts, tags = [], []
        for lc in prof.load_codes:
            prs = _pairs(rng, n_fit + n_held)
            for i, (code, prev) in enumerate(prs):
                pts.append({"code": code, "prev": prev, "load_code": lc})
                tags.append(i >= n_fit)
        jobs.append((RowSettleTestbench(design=d, n_cols=n_cols), pts))
        job_tags.append((n_cols, tags))
    # one deck per line length, a dozen points each: the lengths run at once
    for res, (n_cols, tags) in zip(run_sweeps(jobs, progress=progress, retry_failed=True), job_tags):
        sweeps.append(res)
        failed += res.failed
        for r, held in zip(res.records, tags):
            if not r.ok:
                continue
            row = _settle_row(r, n_cols, d, v_static)
            (held_rows if held else fit_rows).append(row)
            waves.append((n_cols, r.point["load_code"], r.point["code"], r.measures))
    dyn = fit_dynamic(_stack(fit_rows), held_out=_stack(held_rows), lsb=transfer["lsb_v"])
    settling = _settling_summary(waves, v_static, transfer["lsb_v"], d)
    energy = fit_energy(_stack(fit_rows + held_rows))
    energy["static_power_w"] = transfer["static_power_w"]

    # corner conversions at the reference load
    cset = {}
    tb_ref = RowSettleTestbench(design=d, n_cols=REFERENCE_COLS)
    cpts = [{"code": code, "prev": prev, "load_code": 8, "corner": c}
            for c in prof.corner_settle for code, prev in ((255, 0), (0, 255), (128, 64))]
    cres = run_sweep(tb_ref, points=cpts, progress=progress, retry_failed=True)
    sweeps.append(cres)
    failed += cres.failed
    for c in prof.corner_settle:
        v_c = np.asarray(tres.where(corner=c, temp=27.0)[0].measures["v_row"])
        errs = [float((r.measures["v_pos"][-1] - v_c[r.point["code"]]) / transfer["lsb_v"])
                for r in cres.where(corner=c) if r.ok]
        cset[c] = {"far_end_error_vs_own_static_lsb": errs, "max_abs_lsb": float(np.max(np.abs(errs))) if errs else None}

    # noise
    noise = {}
    for n_cols in prof.noise_cols:
        nres = run_sweep(RowNoiseTestbench(design=d, n_cols=n_cols), points=[{}], progress=progress,
                         retry_failed=True)
        sweeps.append(nres)
        r = nres.records[0]
        if r.ok:
            noise[str(n_cols)] = {"v_rms": r.measures["v_noise"], "lsb": r.measures["v_noise"] / transfer["lsb_v"]}
        else:
            failed.append(r)
    provenance = combined_provenance([tres] + sweeps)
    return {"profile": profile, "design": d.as_dict(),
            "transfer": transfer, "static_model": static_fit, "corners": corners, "corner_settle": cset,
            "mismatch": mismatch, "dynamic_model": dyn, "settling": settling, "energy": energy,
            "noise": {"band_hz": [1e3, 1e11], "code": 128, "load_code": 8, "per_cols": noise},
            "dropped_points": [{"point": {k: v for k, v in r.point.items()}, "error": r.error} for r in failed],
            "provenance": {"netlist_sha256": hashlib.sha256(netlist_path("row_driver").read_bytes()).hexdigest(),
                           "cell_netlist_sha256": hashlib.sha256(netlist_path("cell").read_bytes()).hexdigest(),
                           "random_seed": seed, **provenance, "corner": "tt", "temperature_c": 27.0}}


def _settle_row(r, n_cols: int, d: RowDriverDesign, v_static: np.ndarray) -> dict[str, np.ndarray]:
    """One conversion as arrays over the line positions x = 0 (driver) .. 1 (far end)."""
    m, p = r.measures, r.point
    n = d.n_seg + 1
    c_sel = n_cols * d.cell.groups * p["load_code"] * CU
    c_wire = n_cols * d.cell.groups * d.c_cell
    return {"x": np.linspace(0.0, 1.0, n), "v": np.asarray(m["v_pos"]),
            "v_target": np.full(n, v_static[p["code"]]), "v_prev": np.full(n, v_static[p["prev"]]),
            "c_sel": np.full(n, c_sel), "c_wire": np.full(n, c_wire), "n_cols": np.full(n, float(n_cols)),
            "r_line": np.full(n, n_cols * d.cell.groups * d.r_cell),
            "e_vdd": np.full(n, m["e_vdd"] / n), "t_conv": np.full(n, m["t_conv"])}


def _stack(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not rows:
        raise RuntimeError("no successful row-driver conversions to fit")
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def _settling_summary(waves, v_static, lsb, d: RowDriverDesign) -> dict[str, Any]:
    """Far-end settling time to 0.5 LSB of the static level, per (n_cols, load_code): worst case."""
    out: dict[str, Any] = {}
    for n_cols, lc, code, m in waves:
        t = settle_time(np.asarray(m["t_grid"]), np.asarray(m["v_far_t"]), float(v_static[code]), 0.5 * lsb)
        key = f"{n_cols}x{lc}"
        out[key] = max(out.get(key, 0.0), t)
    return {"t_settle_far_0p5lsb_s": out, "t_sample_s": d.cell.t_sample + d.cell.t_gap,
            "note": "worst case over the simulated code pairs; inf: not within 0.5 LSB by the end of S"}


def _mismatch(curves: list[np.ndarray], v_nom: np.ndarray, nominal_fit: dict) -> dict[str, Any]:
    """Per-row (one row driver per Monte Carlo seed) spread of offset, gain, bit weights and INL."""
    if not curves:
        return {"n": 0}
    fits = [fit_static(v) for v in curves]
    off = np.array([f["params"]["v0"]["value"] for f in fits]) - nominal_fit["params"]["v0"]["value"]
    gain = np.array([f["params"]["u"]["value"] for f in fits]) / nominal_fit["params"]["u"]["value"] - 1
    eps = np.array([[f["params"][f"eps{k}"]["value"] for k in range(1, 8)] for f in fits])
    eps_nom = np.array([nominal_fit["params"][f"eps{k}"]["value"] for k in range(1, 8)])
    stats = [inl_dnl(v) for v in curves]
    return {"n": len(curves), "sigma_offset_v": float(np.std(off, ddof=1)) if len(off) > 1 else 0.0,
            "sigma_gain_rel": float(np.std(gain, ddof=1)) if len(gain) > 1 else 0.0,
            "sigma_eps": [0.0] + (np.std(eps - eps_nom, axis=0, ddof=1).tolist() if len(eps) > 1 else [0.0] * 7),
            "inl_max_lsb": [s["inl_max_lsb"] for s in stats], "dnl_max_lsb": [s["dnl_max_lsb"] for s in stats],
            "inl_max_lsb_mean": float(np.mean([s["inl_max_lsb"] for s in stats])),
            "inl_max_lsb_worst": float(np.max([s["inl_max_lsb"] for s in stats])),
            "dnl_max_lsb_worst": float(np.max([s["dnl_max_lsb"] for s in stats])),
            "inl_sigma_lsb_per_code_max": float(np.max(np.std([s["inl_lsb"] for s in stats], axis=0))),
            "model": "row level = v0 + d_off + u (1 + d_gain) S (1 + a2 u S), S = sum_k 2^k (1 + eps_k + d_eps_k) b_k; "
                     "d_off ~ N(0, sigma_offset_v), d_gain ~ N(0, sigma_gain_rel), d_eps_k ~ N(0, sigma_eps[k])"}
