"""Back-to-back conversions of one time-accumulator column in SPICE: does the reset phase bring
the ramp back to vdd and C_acc back to vmid before the next conversion, as the pipelined macro's
31.7 ns cycle assumes? Two conversions of the same column levels, one every t_total, for reset
phases t_reset = 0.3 (the design) .. 5 ns (`PipelinedColumnTestbench`, resolved devices, tt);
prints the state each second conversion starts from and how far its result lands from the first
conversion's (which starts from the DC operating point, fully reset).

    python scripts/pipelined_reset.py          (about 10 min of SPICE on 2 cores; cached after)
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits.blocks.time_accumulator.pump_single_slope.characterize import _column_levels  # noqa: E402
from aimc_circuits.blocks.time_accumulator.pump_single_slope.calibration import TACalibration  # noqa: E402
from aimc_circuits.blocks.time_accumulator.pump_single_slope.design import TADesign  # noqa: E402
from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import PipelinedColumnTestbench  # noqa: E402
from aimc_circuits.registry import get_variant  # noqa: E402
from aimc_circuits.spice.sweep import run_sweep  # noqa: E402

RESETS_NS = (0.3, 2.0, 5.0, 10.0, 20.0, 30.0)


def main() -> None:
    d0 = TADesign()
    rng = np.random.default_rng(3)
    _column_levels(rng, d0.n_sub, d0.groups)
    point = _column_levels(rng, d0.n_sub, d0.groups)  # a column whose stop time is inside the range
    v_range = d0.t_tdc / TACalibration.load(get_variant("time_accumulator").calibration_path()).t1
    print(f"TDC input range (full scale): {1e3 * v_range:.0f} mV (the shipped calibration's TDC ramp)")
    print(f"one column, 16 channels, levels around {np.mean(point['vref']):.2f} V; two conversions back to back, "
          f"one every t_total = t_reset + {d0.t_ramp * 1e9:.1f} + {d0.t_gap * 1e9:.1f} + {d0.t_tdc * 1e9:.1f} ns")
    print(f"{'t_reset':>8s} {'ramp: end -> start of the 2nd (V)':>34s} {'C_acc: end -> start (V)':>26s} "
          f"{'bias vbn: 2nd - 1st':>20s} {'2nd - 1st: V_acc at TDC start':>30s}")
    def run(tr: float):  # one design per reset phase: one sweep each, two at a time (one per core)
        d = replace(d0, t_reset=tr * 1e-9)
        return d, run_sweep(PipelinedColumnTestbench(design=d, resolve_devices=True), points=[point],
                            workers=1).records[0]

    with ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
        results = list(pool.map(run, RESETS_NS))
    for tr, (d, r) in zip(RESETS_NS, results):
        if not r.ok:
            print(f"{tr:6.1f} ns  failed: {r.error}")
            continue
        m = r.measures
        dv = m["v_acc"][1] - m["v_acc"][0]
        print(f"{tr:6.1f} ns {m['v_ramp_end'][1]:16.3f} -> {m['v_ramp_start'][1]:.3f} (vdd {d.vdd})"
              f" {m['v_acc_end'][1]:12.3f} -> {m['v_acc_start'][1]:.3f} (vmid {d.vmid})"
              f" {1e3 * (m['v_bias_start'][1] - m['v_bias_start'][0]):+17.1f} mV"
              f" {1e3 * dv:+12.1f} mV = {100 * dv / v_range:+6.1f} % FS")


if __name__ == "__main__":
    main()
