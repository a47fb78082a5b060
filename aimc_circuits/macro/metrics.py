"""Macro metrics (definitions in docs/design.md) and their table, with the AiDAC headline beside ours."""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

__all__ = ["AIDAC", "compute_metrics", "format_metrics"]

#: AiDAC (arXiv 2312.11836) headline for the same 8-bit, 1024-input VMM (in its own process)
AIDAC = {"error_pct": 0.79, "tops": 26.2, "latency_ns": 20.0, "tops_per_watt": 123.8,
         "source": "AiDAC, arXiv 2312.11836 (headline figures)"}


def compute_metrics(macro, n_chips: int | None = None, batch: int | None = None,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Throughput, energy and computing error of `macro` on the default workload (uniform random
    8-bit x and w, one draw per config seed), over `n_chips` chip instances (seeds seed .. seed +
    n_chips - 1), noise on. The headline error is the first chip's; the spread is over all.
    progress: called with a line per chip (done/total, elapsed, remaining)."""
    c = macro.config
    n_chips = c.n_chips if n_chips is None else n_chips
    batch = c.workload_batch if batch is None else batch
    rng = np.random.default_rng(c.seed)
    x = rng.integers(0, 2**c.input_bits, (batch, c.n_inputs))
    half = 2 ** (c.weight_bits - 1)
    w = rng.integers(-half, half, (c.n_inputs, c.n_outputs))
    per_chip = []
    energy = None
    t0 = time.perf_counter()
    for k in range(n_chips):
        mk = macro.with_chip(c.seed + k) if macro.chip.seed is not None else macro
        r = mk.evaluate(x, w, rng=np.random.default_rng(10_000 + c.seed + k), energy=energy is None)
        energy = energy or r.energy_j
        e = r.errors
        rms = float(np.sqrt(np.mean(e**2)))
        per_chip.append({"seed": mk.chip.seed, "error_fs_pct": 100 * rms / mk.full_scale(),
                         "error_sig_pct": 100 * rms / float(np.std(r.y_ideal)),
                         "mean_error_lsb": float(np.mean(e) / np.mean(r.lsb)),
                         "saturated_pct": 100 * float(np.mean(r.saturated))})
        if progress is not None:
            el = time.perf_counter() - t0
            progress(f"chip {k + 1}/{n_chips} ({el:.1f} s elapsed, ~{el / (k + 1) * (n_chips - k - 1):.0f} s to go)")
    t = macro.timing()
    ops = c.ops_per_vmm
    e_tot = energy["total"]
    area = macro.area()

    def spread(key):
        v = np.array([p[key] for p in per_chip])
        return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
                "min": float(v.min()), "max": float(v.max())}

    return {
        "technology": f"sky130 (130 nm, {c.vdd:g} V), {c.corner}, {c.temperature_c:g} C: ngspice-characterized block "
                      f"models" + ("" if (c.corner, c.temperature_c) == ("tt", 27.0) else
                                   " (moved from tt, 27 C by their operating-point laws)"),
        "operating_point": {"corner": c.corner, "temperature_c": c.temperature_c, "vdd": c.vdd},
        "config": {"n_inputs": c.n_inputs, "n_outputs": c.n_outputs, "bits": [c.input_bits, c.weight_bits, c.output_bits],
                   "rows_per_subarray": c.rows_per_subarray, "bits_per_group": c.bits_per_group,
                   "pipelined": c.pipelined, "column_trim": c.column_trim,
                   "nonidealities_on": [n for n in c.nonidealities.names if getattr(c.nonidealities, n)]},
        "ops_per_vmm": ops,
        "latency_ns": t["latency_ns"], "cycle_ns": t["cycle_ns"], "timing_ns": t,
        "tops": ops / (t["cycle_ns"] * 1e-9) / 1e12,
        "energy_per_vmm_pj": e_tot * 1e12,
        "energy_breakdown_pj": {k: v * 1e12 for k, v in energy.items() if k != "total"},
        "tops_per_watt": ops / e_tot / 1e12,
        "area_mm2": {k: v for k, v in area.items() if k not in ("parts_um2", "missing")},
        "area_parts_um2": area["parts_um2"],
        "tops_per_mm2": None if area["total"] is None else ops / (t["cycle_ns"] * 1e-9) / 1e12 / area["total"],
        **({"area_missing": area["missing"]} if "missing" in area else {}),
        "error_fs_pct": per_chip[0]["error_fs_pct"], "error_sig_pct": per_chip[0]["error_sig_pct"],
        "error_fs_pct_chips": spread("error_fs_pct"), "error_sig_pct_chips": spread("error_sig_pct"),
        "saturated_pct": per_chip[0]["saturated_pct"],
        "workload": {"batch": batch, "n_chips": n_chips, "seed": c.seed,
                     "x": f"uniform 0..{2**c.input_bits - 1}", "w": f"uniform -{half}..{half - 1}"},
        "chips": per_chip,
        "calibrations": calibrations_used(macro),
        "aidac": AIDAC,
    }


def calibrations_used(macro) -> dict[str, dict[str, Any]]:
    """The calibration file, schema and content hash of each block model of `macro`."""
    return {f: {"file": m.calibration.source, "schema": m.calibration.data["schema"],
                "content_sha256": m.calibration.data["integrity"]["content_sha256"]}
            for f, m in (("row_driver", macro.row), ("cell", macro.cell), ("time_accumulator", macro.ta))}


def format_metrics(m: dict[str, Any]) -> str:
    """Human-readable table of :func:`compute_metrics`' result."""
    c = m["config"]
    fs, sg = m["error_fs_pct_chips"], m["error_sig_pct_chips"]
    br = m["energy_breakdown_pj"]
    a = m["aidac"]
    lines = [
        f"aimc_circuits macro: {c['bits'][0]}b x {c['bits'][1]}b VMM, {c['n_inputs']} x {c['n_outputs']} "
        f"({c['n_inputs'] // c['rows_per_subarray']} sub-arrays of {c['rows_per_subarray']} rows, "
        f"{c['bits'][1] // c['bits_per_group']} groups of {c['bits_per_group']} bits), {c['bits'][2]}-bit output",
        f"  {m['technology']}",
        f"  workload: {m['workload']['batch']} vectors, x {m['workload']['x']}, w {m['workload']['w']}; "
        f"{m['workload']['n_chips']} chip instances; noise on; column trim: {c['column_trim']}",
        "",
        f"{'metric':<34}{'this macro (sky130)':>22}{'AiDAC headline':>18}",
        f"{'throughput (TOPS)':<34}{m['tops']:>22.2f}{a['tops']:>18.1f}",
        f"{'latency per VMM (ns)':<34}{m['latency_ns']:>22.1f}{a['latency_ns']:>18.1f}",
        f"{'cycle time (ns)':<34}{m['cycle_ns']:>22.1f}{'':>18}",
        f"{'energy efficiency (TOPS/W)':<34}{m['tops_per_watt']:>22.2f}{a['tops_per_watt']:>18.1f}",
        f"{'computing error (% of full scale)':<34}{m['error_fs_pct']:>22.3f}{a['error_pct']:>18.2f}",
        f"{'  over chips: mean +- std':<34}{fs['mean']:>14.3f} +- {fs['std']:.3f}{'':>18}",
        f"{'  over chips: min .. max':<34}{fs['min']:>14.3f} .. {fs['max']:.3f}",
        f"{'computing error (% of signal RMS)':<34}{m['error_sig_pct']:>22.2f}",
        f"{'  over chips: mean +- std':<34}{sg['mean']:>14.2f} +- {sg['std']:.2f}",
        f"{'outputs saturated (%)':<34}{m['saturated_pct']:>22.3f}",
        "",
        f"energy per VMM: {m['energy_per_vmm_pj']:.0f} pJ = "
        + " + ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in br.items()),
        (f"area (estimated from the netlists' devices, no layout): {m['area_mm2']['total']:.1f} mm^2 = "
         + " + ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in m["area_mm2"].items() if k != "total")
         + f"; {m['tops_per_mm2']:.3f} TOPS/mm^2") if m["tops_per_mm2"] is not None else
        "area: not estimated: " + "; ".join(m.get("area_missing", [])),
        f"ops per VMM: {m['ops_per_vmm']} (2 x n_inputs x n_outputs); TOPS = ops / cycle time "
        f"({'pipelined' if c['pipelined'] else 'not pipelined'})",
        "AiDAC figures are its published headline in its own process; ours are sky130, so TOPS/W is not comparable "
        "one to one; TOPS, ns/VMM and error are architecture-level figures.",
    ]
    return "\n".join(lines)
