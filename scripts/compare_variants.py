"""The reference macro on each registered time-accumulator variant, side by side: computing error
(10 chips, noise on), throughput, latency, energy by block, TOPS/W, area, the time accumulator's
model against its own held-out SPICE columns, and the error budget (each non-ideality alone, % of
the signal RMS); then the variants' calibrations side by side (a markdown table). From the shipped
calibrations; no ngspice needed.

    python scripts/compare_variants.py          # ~1 min on 2 cores
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits import Macro, MacroConfig  # noqa: E402
from aimc_circuits.registry import variants  # noqa: E402
from aimc_circuits.report import error_budget  # noqa: E402

BUDGET_BATCH = 256  #: vectors of the error budget's workload (the metrics' default workload, fewer vectors)


def results(known: dict[str, dict] | None = None) -> dict[str, tuple[Macro, dict]]:
    """{time-accumulator variant: (the reference macro on it, its metrics)}; `known`: metrics
    already computed, by variant name (a test passes the reference macro's)."""
    known = known or {}
    out = {}
    for v in variants("time_accumulator"):
        macro = Macro.from_config(MacroConfig(time_accumulator_variant=v.name))
        out[v.name] = (macro, known[v.name] if v.name in known else macro.metrics())
    return out


def comparison(res: dict[str, tuple[Macro, dict]] | None = None) -> list[str]:
    """The comparison's lines (the docs quote them; a test recomputes them) from :func:`results`."""
    res = results() if res is None else res
    names = list(res)
    macros = [res[n][0] for n in names]
    ms = [res[n][1] for n in names]
    w = max(22, *(len(n) + 2 for n in names))
    row = lambda label, vals: f"{label:<44s}" + "".join(f"{v:>{w}s}" for v in vals)  # noqa: E731
    out = [row("time-accumulator variant", names)]
    out.append(row("computing error, % FS (chip 0; 10-chip mean)",
                   [f"{m['error_fs_pct']:.3f}; {m['error_fs_pct_chips']['mean']:.3f}" for m in ms]))
    out.append(row("computing error, % of signal RMS (chip 0; mean)",
                   [f"{m['error_sig_pct']:.2f}; {m['error_sig_pct_chips']['mean']:.2f}" for m in ms]))
    out.append(row("mean error, output LSB (chip 0)", [f"{m['chips'][0]['mean_error_lsb']:+.2f}" for m in ms]))
    out.append(row("throughput (TOPS); cycle (ns)", [f"{m['tops']:.2f}; {m['cycle_ns']:.1f}" for m in ms]))
    out.append(row("latency per VMM (ns)", [f"{m['latency_ns']:.1f}" for m in ms]))
    out.append(row("energy per VMM (pJ)", [f"{m['energy_per_vmm_pj']:.0f}" for m in ms]))
    for k in ms[0]["energy_breakdown_pj"]:
        out.append(row(f"  {k.replace('_', ' ')}", [f"{m['energy_breakdown_pj'][k]:.0f}" for m in ms]))
    out.append(row("energy efficiency (TOPS/W)", [f"{m['tops_per_watt']:.2f}" for m in ms]))
    out.append(row("area, time accumulators (mm^2); total", [f"{m['area_mm2']['time_accumulators']:.2f}; "
                                                              f"{m['area_mm2']['total']:.1f}" for m in ms]))
    held = [mk.ta.calibration.data["chain_held_out"] for mk in macros]
    out.append(row("TA model vs held-out SPICE columns (TDC LSB)",
                   [f"{h['rms_lsb']:.2f} RMS, {h['max_lsb']:.2f} max" for h in held]))
    c = macros[0].config
    rng = np.random.default_rng(c.seed)
    x = rng.integers(0, 2**c.input_bits, (BUDGET_BATCH, c.n_inputs))
    wt = rng.integers(-128, 128, (c.n_inputs, c.n_outputs))
    budgets = [error_budget(m, x, wt) for m in macros]
    out.append(f"error budget, % of signal RMS (each alone; {BUDGET_BATCH} vectors, chip 0):")
    for k in budgets[0]:
        out.append(row(f"  {k}", [f"{b[k]['pct_signal']:.2f}" for b in budgets]))
    return out


def calibration_table() -> str:
    """The time-accumulator variants' calibrations side by side, as a markdown table (the variant
    report quotes it; a test checks it against the shipped files)."""
    cals = [v.calibration().load(v.calibration_path()) for v in variants("time_accumulator")]

    def held(c, sec):
        h = c.section(sec)["held_out"]
        return f"{h['rms_pct_fs']:.2f} % RMS, {h['max_pct_fs']:.2f} % max"

    rows = [
        ("VTC + pump charge model, held-out runs (% of the group's charge per volt)", lambda c: held(c, "vtc")),
        ("accumulation, held-out whole columns (% of 1 V)", lambda c: held(c, "accumulator")),
        ("end to end, held-out whole columns (TDC LSB)", lambda c: f"{c.section('chain_held_out')['rms_lsb']:.2f} RMS, "
                                                                f"{c.section('chain_held_out')['max_lsb']:.2f} max"),
        ("C_acc (fF); crossing-order beta", lambda c: f"{1e15 * c.c_acc:.0f}; {c.beta:+.4f}"),
        ("Monte Carlo: VTC offset sigma, groups 0 / 1 (mV)", lambda c: " / ".join(f"{1e3 * x:.1f}" for x in c.sigma_offset)),
        ("Monte Carlo: VTC per-sign gain sigma, groups 0 / 1 (%)", lambda c: " / ".join(f"{100 * x:.1f}" for x in c.sigma_gain)),
        ("Monte Carlo: TDC gain sigma (%)", lambda c: f"{100 * c.sigma_tdc_gain:.1f}"),
        ("TDC: t_lsb / (stop time per volt) (mV per LSB); jitter (ps)",
         lambda c: f"{1e3 * c.design.t_lsb / c.t1:.2f}; {1e12 * c.sigma_tdc_s:.0f}"),
        ("energy per column conversion (pJ)", lambda c: f"{1e12 * c.e_conversion:.1f}"),
        ("conversion: reset + ramp + gap + TDC full scale (ns)",
         lambda c: f"{1e9 * c.t_reset_s:.1f} + {1e9 * c.t_ramp_s:.1f} + {1e9 * c.t_gap_s:.1f} + "
                   f"{1e9 * (c.t_conversion_s - c.t_reset_s - c.t_ramp_s - c.t_gap_s):.1f}"),
        ("SPICE time of the calibration's sweeps (CPU s)", lambda c: f"{sum(s['spice_s'] for s in c.provenance['sweeps']):.0f}"),
    ]
    out = ["| quantity | " + " | ".join(f"`{c.variant}`" for c in cals) + " |", "|---|" + "---|" * len(cals)]
    out += [f"| {label} | " + " | ".join(fn(c) for c in cals) + " |" for label, fn in rows]
    return "\n".join(out)


if __name__ == "__main__":
    print("\n".join(comparison()))
    print()
    print(calibration_table())
