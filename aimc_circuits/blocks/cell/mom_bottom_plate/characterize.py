"""Characterize the cell variant ``mom_bottom_plate`` in SPICE and fit its behavioral model
(-> ``calibration/cell/mom_bottom_plate.json``).

Profiles: ``fast`` (CI-friendly: columns of 4, 8, 16 rows, the five corners at 27 C and tt at
-40/85 C at a few points, 3 Monte Carlo seeds) and ``full`` (adds 32 rows and the macro's own
column heights, 64 and 128 rows, more levels and points, all 5 corners x 3 temperatures, 30 Monte
Carlo seeds). Columns of 64 rows and more run as resolved decks (:mod:`aimc_circuits.spice.resolve`,
within 15 uV of the library: ~14 s and ~42 s a transient instead of minutes through the library);
their points come from their own random stream, so adding them leaves every other sweep as it was.
The fast profile reaches R = 128 through the fitted R-law (C = R (M + p_row) + p_fix and the 1/C,
1/C^2 injection terms), and warns that it extrapolates.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ....constants import K_BOLTZMANN, SKY130_MOM_UNIT_CAP_F, ZERO_CELSIUS_K
from ....errors import ParameterError
from ....fitting import quality
from ....paths import netlist_path
from ....spice.sweep import PointRecord, SweepResult, combined_provenance, run_sweep
from .design import CellDesign
from .fit import fit_column, fit_energy, fit_mismatch
from .model import column_voltage, full_scale
from .testbench import ColumnTestbench, GateEnergyTestbench

__all__ = ["Profile", "PROFILES", "characterize_cell"]


@dataclass(frozen=True)
class Profile:
    """How much SPICE a characterization runs."""

    rows: tuple[int, ...]  #: column heights simulated for the transfer/fit data
    levels: tuple[float, ...]  #: input levels (fraction of v_fs) of the uniform patterns
    n_random: dict  #: rows -> (fit points, held-out points) of random patterns
    corners: tuple[str, ...]
    temps: tuple[float, ...]
    n_corner_points: int  #: random points per (corner, temperature)
    mc_seeds: int
    mc_rows: int = 4
    #: rows -> (fit points, held-out points) of random patterns at the resolved column heights
    n_random_tall: dict = field(default_factory=dict)


#: the tall columns' random patterns come from default_rng(seed + this), apart from the others
TALL_SEED_OFFSET = 64
#: from this column height on, a column testbench runs as a resolved deck
RESOLVE_FROM_ROWS = 64
#: codes x levels of the tall columns' uniform patterns (each 64/128-row transient costs 14/42 s)
TALL_UNIFORM = ((0, 7, 15), (0.5, 1.0))


PROFILES = {
    "fast": Profile(rows=(4, 8, 16), levels=(0.0, 0.5, 1.0), n_random={4: (8, 6), 8: (16, 12), 16: (4, 4)},
                    corners=("tt", "ss", "ff", "sf", "fs"), temps=(-40.0, 27.0, 85.0), n_corner_points=3,
                    mc_seeds=3),
    "full": Profile(rows=(4, 8, 16, 32), levels=(0.0, 0.25, 0.5, 0.75, 1.0),
                    n_random={4: (20, 10), 8: (40, 30), 16: (12, 8), 32: (8, 6)},
                    corners=("tt", "ss", "ff", "sf", "fs"), temps=(-40.0, 27.0, 85.0), n_corner_points=8,
                    mc_seeds=30, n_random_tall={64: (6, 4), 128: (6, 4)}),
}


def _random_points(rng: np.random.Generator, n: int, rows: int, d: CellDesign) -> list[dict]:
    return [{"vin": rng.uniform(0, d.v_fs, rows).round(6).tolist(),
             "codes": rng.integers(0, d.max_code + 1, (rows, d.groups)).tolist()} for _ in range(n)]


def _uniform_points(rows: int, d: CellDesign, codes, levels) -> list[dict]:
    """Every row the same level and code c (group 1 gets M - c, further groups c)."""
    def row(c: int) -> list[int]:
        return ([c, d.max_code - c] + [c] * (d.groups - 2))[:d.groups]

    return [{"vin": [lv * d.v_fs] * rows, "codes": [row(c)] * rows} for c in codes for lv in levels]


def _column_data(records: list[PointRecord], d: CellDesign, rows: int) -> dict[str, np.ndarray]:
    """Flatten successful records into per-(point, group) arrays: s, n, vcol, vcol_first, settle."""
    s, n, v, vf, sg = [], [], [], [], []
    for r in records:
        if not r.ok:
            continue
        codes = np.asarray(r.point["codes"])
        vin = np.asarray(r.point["vin"])
        for g in range(d.groups):
            s.append(float(codes[:, g] @ vin))
            n.append(float(codes[:, g].sum()))
            v.append(r.measures[f"vcol{g}"])
            vf.append(r.measures[f"vcol_first{g}"])
            sg.append(r.measures[f"settle_g{g}"])
    return {"s": np.array(s), "n": np.array(n), "vcol": np.array(v), "vcol_first": np.array(vf),
            "settle_g": np.array(sg), "rows": np.full(len(s), rows, dtype=float)}


def column_energy_terms(records: list[PointRecord], d: CellDesign) -> tuple[np.ndarray, ...]:
    """Per simulated column: (s, n, rows, supply energy per cycle in J) for the energy fit: the
    sampled code x level sum, the selected units, the rows, and the row drivers' charge from vdd
    plus the reset's from vr."""
    s, n, r, e = [], [], [], []
    for rec in records:
        codes, vin = np.asarray(rec.point["codes"]), np.asarray(rec.point["vin"])
        s.append(float((codes.T @ vin).sum()))
        n.append(float(codes.sum()))
        r.append(float(len(vin)))
        e.append(d.vdd * float(np.clip(rec.measures["q_row"], 0, None).sum()) + d.vr * max(rec.measures["q_reset"], 0.0))
    return np.array(s), np.array(n), np.array(r), np.array(e)


def _cat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _gain_offset(data: dict[str, np.ndarray], d: CellDesign) -> tuple[float, float]:
    """Linear fit V_col = vr + offset - gain * s/(R*M) (gain ~ attenuation x v-scale)."""
    u = data["s"] / (data["rows"] * d.max_code)
    slope, icpt = np.polyfit(u, data["vcol"], 1)
    return float(-slope), float(icpt - d.vr)


def characterize_cell(design: CellDesign | None = None, profile: str = "fast", seed: int = 1,
                      progress: bool = False) -> dict[str, Any]:
    """Run the cell sweeps of `profile`, fit the behavioral model, return the calibration dict."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    d, prof = design or CellDesign(), PROFILES[profile]
    rng = np.random.default_rng(seed)
    M = d.max_code
    sweeps: list[SweepResult] = []  # every sweep, for the provenance
    fit_parts, held_parts, uniform_parts, records, failed = [], [], [], [], []
    settle_s = []
    tall_rng = np.random.default_rng(seed + TALL_SEED_OFFSET)
    for R in prof.rows + tuple(prof.n_random_tall):
        tall = R in prof.n_random_tall
        tb = ColumnTestbench(design=d, rows=R, resolve_devices=R >= RESOLVE_FROM_ROWS)
        if tall:
            uni = _uniform_points(R, d, *TALL_UNIFORM)
            n_fit, n_held = prof.n_random_tall[R]
            rand = _random_points(tall_rng, n_fit + n_held, R, d)
        else:
            codes = range(M + 1) if R <= 8 else (0, M // 3, 2 * M // 3, M)
            uni = _uniform_points(R, d, codes, prof.levels)
            n_fit, n_held = prof.n_random[R]
            rand = _random_points(rng, n_fit + n_held, R, d)
        res = run_sweep(tb, points=uni + rand, progress=progress, retry_failed=True)
        sweeps.append(res)
        n_u = len(uni)
        uniform_parts.append(_column_data(res.records[:n_u], d, R))
        fit_parts.append(_column_data(res.records[:n_u + n_fit], d, R))
        held_parts.append(_column_data(res.records[n_u + n_fit:], d, R))
        failed += res.failed
        settle_s += [r.measures["settle_s"] for r in res.records if r.ok and np.isfinite(r.measures["settle_s"])]
        records += [r for r in res.records if r.ok]
    train, held = _cat(fit_parts), _cat(held_parts)
    col = fit_column(train, M, d.vr, d.v_fs, held_out=held)
    p = {k: v["value"] for k, v in col["params"].items()}
    if prof.n_random_tall:
        col["r_law_extrapolation"] = _r_law_extrapolation(train, _cat([train, held]), prof, d)

    # raw circuit error: SPICE vs ideal charge sharing (no parasitics, no injection), % of v_fs
    allp = _cat([train, held])
    ideal = d.vr - allp["s"] / (allp["rows"] * M)
    raw = {}
    for R in prof.rows + tuple(prof.n_random_tall):
        sel = allp["rows"] == R
        part = {k: v[sel] for k, v in allp.items()}
        gain, off = _gain_offset(part, d)
        lin = d.vr + off - gain * part["s"] / (R * M)
        raw[str(R)] = {"error_vs_ideal": quality(part["vcol"] - ideal[sel], d.v_fs),
                       "error_after_gain_offset": quality(part["vcol"] - lin, gain * d.v_fs),
                       "gain": gain / d.v_fs, "offset_v": off,
                       "memory_error": quality(part["vcol"] - part["vcol_first"], gain * d.v_fs),
                       "settle_g_max_s": float(np.max(part["settle_g"]))}

    # effective capacitance per code (uniform patterns, level v_fs, R = 8): C_eff = swing * C_col / (R v_fs)
    u8 = uniform_parts[prof.rows.index(8)] if 8 in prof.rows else uniform_parts[0]
    R8 = float(u8["rows"][0])
    full = np.isclose(u8["s"], u8["n"] * d.v_fs)
    v0 = float(np.mean(u8["vcol"][u8["n"] == 0]))
    c_col8 = R8 * (M + p["p_row"]) + p["p_fix"]
    eff = {}
    for n_, v_ in zip(u8["n"][full], u8["vcol"][full]):
        eff.setdefault(int(round(n_ / R8)), []).append((v0 - v_) * c_col8 / (R8 * d.v_fs))
    eff_codes = {str(c): float(np.mean(v)) for c, v in sorted(eff.items())}
    effective_cap = {
        "rows": int(R8), "values": eff_codes,
        "max_deviation_pct_of_full_code": float(max(abs(v - int(c)) for c, v in eff_codes.items()) / M * 100),
        "note": "from the column swing at level v_fs; includes injection split and junction nonlinearity"}

    # corners and temperatures: gain/offset at R = rows[0]
    R0 = prof.rows[0]
    tb0 = ColumnTestbench(design=d, rows=R0)
    cpts = _random_points(rng, prof.n_corner_points, R0, d)
    combos = [(c, t) for c in prof.corners for t in prof.temps]
    if profile == "fast":  # corners at 27 C, temperatures at tt
        combos = [(c, 27.0) for c in prof.corners] + [("tt", t) for t in prof.temps if t != 27.0]
    cres = run_sweep(tb0, points=[dict(q, corner=c, temp=t) for c, t in combos for q in cpts], progress=progress, retry_failed=True)
    sweeps.append(cres)
    corners = {}
    for c, t in combos:
        data = _column_data(cres.where(corner=c, temp=t), d, R0)
        model = column_voltage(data["s"], data["n"], data["rows"], M, d.vr, p)
        gain, off = _gain_offset(data, d) if len(data["s"]) >= 2 else (float("nan"), float("nan"))
        corners[f"{c}@{t:g}"] = {"gain": gain / d.v_fs, "offset_v": off,
                                 "vs_tt27_model": quality(data["vcol"] - model, d.v_fs)}

    # Monte Carlo mismatch (tt_mm): single-bit patterns at R = mc_rows
    mc, mres = _monte_carlo(d, prof, progress)
    sweeps.append(mres)

    # energy: supply energy per cycle from SPICE (row drivers from vdd, reset from vr), gate drive
    efit = fit_energy(*column_energy_terms(records, d))
    gres = run_sweep(GateEnergyTestbench(design=d), points=[{}], progress=progress, retry_failed=True)
    sweeps.append(gres)
    gate = gres.records[0].measures
    e_gate = [gate[f"e_gate{k}"] for k in range(d.bits_per_group)]
    ep = {k: v["value"] for k, v in efit["params"].items()}
    # expected energy per cell-group per cycle for uniform random codes and levels
    e_array = ep["e_s"] * (M / 2) * (d.v_fs / 2) + ep["e_n"] * (M / 2) + ep["e_r"] / d.groups
    e_gate_avg = 0.5 * sum(e_gate)
    energy = {"supply_fit": efit, "e_gate_per_bit_j": e_gate,
              "e_array_per_cell_group_j": e_array, "e_gate_per_cell_group_j": e_gate_avg,
              "e_per_mac_j": d.groups * (e_array + e_gate_avg),
              "note": "per cycle; uniform random codes and levels; row drivers draw their charge from vdd, "
                      "the column reset from vr; gate drive = every toggling switch gate charged from vdd"}
    cu = SKY130_MOM_UNIT_CAP_F
    # kT/C noise of a 128-row column (analytic: reset kT/C + sampled charge noise of selected caps)
    c_col128 = (128 * (M + p["p_row"]) + p["p_fix"]) * cu
    kt = K_BOLTZMANN * (ZERO_CELSIUS_K + 27.0)
    noise = {"model": "sigma_V^2 = kT/C_col * (1 + C_selected/C_col)", "cu_f": cu, "c_col_128_f": c_col128,
             "sigma_v_128_full_select": float(np.sqrt(kt / c_col128 * 2)),
             "sigma_pct_fs_128": float(100 * np.sqrt(kt / c_col128 * 2) / float(full_scale(128, M, d.v_fs, p["p_row"], p["p_fix"])))}
    timing = {"period_s": d.period, "t_sample_s": d.t_sample, "t_ground_s": d.t_ground, "t_gap_s": d.t_gap,
              "settle_sample_max_s": float(max(settle_s)) if settle_s else float("nan"),
              "settle_ground_max_s": float(max(v["settle_g_max_s"] for v in raw.values()))}
    netlist_sha = hashlib.sha256(netlist_path("cell").read_bytes()).hexdigest()
    return {"profile": profile, "design": d.as_dict(), "model": col, "raw_circuit_error": raw,
            "effective_cap_per_code_cu": effective_cap,
            "corners": corners, "mismatch": mc, "energy": energy, "noise": noise, "timing": timing,
            "dropped_points": [{"point": {k: v for k, v in r.point.items() if k not in ("vin", "codes")},
                                "error": r.error} for r in failed + cres.failed],
            "provenance": {"netlist_sha256": netlist_sha, "random_seed": seed, **combined_provenance(sweeps),
                           "corner": "tt", "temperature_c": 27.0}}


def _r_law_extrapolation(train: dict[str, np.ndarray], every: dict[str, np.ndarray], prof: Profile,
                         d: CellDesign) -> dict[str, Any]:
    """The R-law fitted on the short columns only (prof.rows), evaluated on every point of each
    tall column: how far the fast profile's extrapolation lands from SPICE (% of that column's
    full scale)."""
    top = max(prof.rows)
    short = fit_column({k: v[train["rows"] <= top] for k, v in train.items()}, d.max_code, d.vr, d.v_fs)
    ps = {k: v["value"] for k, v in short["params"].items()}
    out: dict[str, Any] = {"fitted_rows": short["rows"], "params": short["params"]}
    for R in prof.n_random_tall:
        sel = every["rows"] == R
        part = {k: v[sel] for k, v in every.items()}
        err = column_voltage(part["s"], part["n"], part["rows"], d.max_code, d.vr, ps) - part["vcol"]
        out[str(R)] = quality(err, full_scale(R, d.max_code, d.v_fs, ps["p_row"], ps["p_fix"]))
    return out


def _monte_carlo(d: CellDesign, prof: Profile, progress: bool) -> tuple[dict[str, Any], SweepResult]:
    """Relative capacitor errors from single-bit patterns on tt_mm, one chip per seed."""
    R, B = prof.mc_rows, d.bits_per_group
    tb = ColumnTestbench(design=d, rows=R)
    pats = [np.zeros((R, d.groups), dtype=int)]
    for i in range(R):
        for k in range(B):
            c = np.zeros((R, d.groups), dtype=int)
            c[i, :] = 2**k
            pats.append(c)
    pts = [{"corner": "tt_mm", "seed": sd, "vin": [d.v_fs] * R, "codes": c.tolist()}
           for sd in range(1, prof.mc_seeds + 1) for c in pats]
    res = run_sweep(tb, points=pts, progress=progress, retry_failed=True)
    bits, rel, dropped = [], [], []
    n = len(pats)
    for si in range(prof.mc_seeds):
        recs = res.records[si * n:(si + 1) * n]
        if not all(r.ok for r in recs):
            dropped.append(si + 1)
            continue
        for g in range(d.groups):
            base = recs[0].measures[f"vcol{g}"]
            dv = np.array([base - recs[1 + i * B + k].measures[f"vcol{g}"] for i in range(R) for k in range(B)])
            w = np.array([2.0**k for _ in range(R) for k in range(B)])
            unit = dv / w
            u_mean = dv.sum() / w.sum()
            bits += [k for _ in range(R) for k in range(B)]
            rel += list(unit / u_mean - 1)
    fit = fit_mismatch(np.array(bits), np.array(rel))
    fit.update(seeds=[sd for sd in range(1, prof.mc_seeds + 1) if sd not in dropped], dropped_seeds=dropped,
               rows=R, corner="tt_mm",
               source="sky130 MOM cap model card (cap_vpp_01p8x01p8_m1m2_noshield: AGAUSS sigma 1.83% x "
                      "0.851 x sqrt(0.505) = 1.1% on each of the unit's three coupling capacitors, drawn "
                      "independently: 0.787% per unit) plus the switches' PDK mismatch, measured in SPICE")
    return fit, res
