"""The time-accumulator variants side by side in SPICE (resolved devices, tt, 27 C): what the
local-bias variant changes against the reference circuit.

For each registered time-accumulator variant, on its own design:

* the ramp slope and the energy of one column's 16 VTCs over a conversion (the VTC testbench at
  the macro's levels);
* the channels' coupling: a group-0 and a group-1 probe channel (V_ref 1.5 V, V = V_ref -+ 18 mV)
  among 14 others that cross the ramp apart from them (V_ref 1.1..1.7 V) or together with them
  (V_ref 1.5 V +- 10 mV), 3 draws each: how far the probes' charges move (the pump study's part 5);
* back-to-back conversions: one whole column converting the same levels three times, one
  conversion every t_total (its reset phase included), for two level sets: the ramp and C_acc at
  each conversion's start and V_acc at TDC start of the second and third against the first (which
  starts from the DC operating point).

    python scripts/ta_variant_compare.py        # ~7 min on 2 cores from an empty cache
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits.blocks.time_accumulator.pump_single_slope.characterize import (  # noqa: E402
    _column_levels, _macro_levels)
from aimc_circuits.blocks.time_accumulator.pump_single_slope.pump_study import STUDY_OPTIONS, STUDY_TSTEP  # noqa: E402
from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import (  # noqa: E402
    PipelinedColumnTestbench, VtcTestbench)
from aimc_circuits.registry import variants  # noqa: E402
from aimc_circuits.spice.sweep import run_sweeps  # noqa: E402

CONTEXTS = 3  #: random draws of the other 14 channels, apart and together


def coupling_points(n: int) -> list[dict[str, np.ndarray]]:
    """CONTEXTS level sets with the others apart, then CONTEXTS with them together."""
    rng = np.random.default_rng(17)
    out = []
    for together in (False, True):
        for _ in range(CONTEXTS):
            vref = 1.5 + rng.normal(0.0, 0.01, n) if together else rng.uniform(1.1, 1.7, n)
            v = vref + rng.normal(0.0, 0.018, n)
            vref[:2], v[:2] = 1.5, (1.5 - 0.018, 1.5 + 0.018)
            out.append({"v": v, "vref": vref})
    return out


def main() -> None:
    t0 = time.perf_counter()
    designs = [(v.name, v.design()()) for v in variants("time_accumulator")]
    d = designs[0][1]
    n = d.n_sub * d.groups
    crng = np.random.default_rng(3)
    _column_levels(crng, d.n_sub, d.groups)
    columns = [_column_levels(crng, d.n_sub, d.groups) for _ in range(2)]
    macro = _macro_levels(np.random.default_rng(1), n)
    jobs = []
    for _, dv in designs:
        jobs.append((VtcTestbench(design=dv, n_ch=n, resolve_devices=True, tstep=STUDY_TSTEP, options=STUDY_OPTIONS),
                     [macro] + coupling_points(n)))
        jobs.append((PipelinedColumnTestbench(design=dv, resolve_devices=True, conversions=3), columns))
    res = run_sweeps(jobs, progress=True)
    print(f"{'variant':<20s} {'ramp slope':>11s} {'16 VTCs, energy':>16s} {'probe charge moves, apart -> together':>40s}")
    for k, (name, dv) in enumerate(designs):
        recs = res[2 * k].records
        q = np.array([r.measures["q"][:2] for r in recs[1:]])
        move = 1e15 * (q[CONTEXTS:].mean(axis=0) - q[:CONTEXTS].mean(axis=0))
        print(f"{name:<20s} {recs[0].measures['ramp_slope'] / 1e9:7.3f} V/ns {1e12 * recs[0].measures['e_vdd']:12.2f} pJ"
              f"   group 0 {move[0]:+7.3f} fC, group 1 {move[1]:+7.3f} fC")
    print("\nthree conversions back to back (t_reset of the design): start of each conversion, and V_acc at TDC start"
          " against the first's")
    for k, (name, dv) in enumerate(designs):
        for j, r in enumerate(res[2 * k + 1].records):
            m = r.measures
            dva = 1e3 * (m["v_acc"][1:] - m["v_acc"][0])
            ramp = " ".join(f"{x:.3f}" for x in m["v_ramp_start"])
            acc = " ".join(f"{x:.3f}" for x in m["v_acc_start"])
            print(f"{name if j == 0 else '':<20s} t_reset {dv.t_reset * 1e9:.1f} ns, column {j}: ramp {ramp} V, "
                  f"C_acc {acc} V; 2nd {dva[0]:+6.1f} mV, 3rd {dva[1]:+6.1f} mV")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
