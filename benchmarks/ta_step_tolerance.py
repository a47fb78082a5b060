"""The time accumulator's whole-column transient: time step and tolerance against a tight reference, same run.

Four whole-column points at the macro's levels (the characterization's column level sets,
resolved devices, tt) simulated with each (step, .options) pair; printed per pair: the CPU
seconds per point (ngspice's own time, load excluded), its ratio to the characterization's
setting (10 ps, klu, reltol 1e-3 by default), and the largest difference from the reference
(2 ps, reltol 1e-5) in the accumulator voltage at TDC start (uV; the TDC's LSB is about 2 mV) and
in the TDC stop time (ps; the LSB is 100 ps). Takes about 10 min on 2 cores.

    python benchmarks/ta_step_tolerance.py
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["AIMC_CACHE_DIR"] = tempfile.mkdtemp(prefix="aimc-ta-step-")  # every point simulated here
from aimc_circuits.blocks.time_accumulator.pump_single_slope.characterize import _column_levels  # noqa: E402
from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import AccumulatorTestbench  # noqa: E402
from aimc_circuits.spice.sweep import run_sweep  # noqa: E402

REFERENCE = (2e-12, "klu reltol=1e-5")
PRESENT = (10e-12, "klu")
CANDIDATES = [PRESENT, (10e-12, "klu reltol=1e-5"), (20e-12, "klu"), (50e-12, "klu"), (25e-12, "klu reltol=1e-5"),
              (50e-12, "klu reltol=1e-5"), (50e-12, "klu reltol=1e-6"), (100e-12, "klu reltol=1e-5")]


def run(step: float, options: str, points: list[dict]) -> tuple[float, np.ndarray, np.ndarray]:
    res = run_sweep(AccumulatorTestbench(n_ch=16, tstep=step, options=options, resolve_devices=True), points=points)
    bad = [r for r in res.records if not r.ok]
    if bad:
        raise SystemExit(f"{step:g} s, {options!r}: {bad[0].error}")
    cpu = sum(r.elapsed_s for r in res.records) / len(res.records)
    return (cpu, np.array([r.measures["v_acc"] for r in res.records]),
            np.array([r.measures["t_stop"] for r in res.records]))


def main() -> None:
    rng = np.random.default_rng(11)
    points = [{k: v.tolist() for k, v in _column_levels(rng, 8, 2).items()} for _ in range(4)]
    _, v_ref, t_ref = run(*REFERENCE, points)
    base = None
    print(f"reference: {REFERENCE[0] * 1e12:g} ps, {REFERENCE[1]!r}; 4 whole-column points")
    print(f"{'step':>6} {'options':>18} {'CPU s/point':>12} {'vs present':>11} {'max |dV_acc| uV':>16} {'max |dt_stop| ps':>17}")
    for step, opts in CANDIDATES:
        cpu, v, t = run(step, opts, points)
        base = base or cpu
        fin = np.isfinite(t) & np.isfinite(t_ref)
        dt = np.max(np.abs(t[fin] - t_ref[fin])) * 1e12 if fin.any() else float("nan")
        print(f"{step * 1e12:5g}p {opts:>18} {cpu:12.1f} {cpu / base:10.2f}x {np.max(np.abs(v - v_ref)) * 1e6:16.0f} "
              f"{dt:17.1f}" + ("   (the characterization's setting)" if (step, opts) == PRESENT else ""), flush=True)


if __name__ == "__main__":
    main()
