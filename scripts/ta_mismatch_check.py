"""The time accumulator's VTC mismatch from resolved Monte Carlo decks against its calibration.

The calibration's VTC mismatch (per-channel input offset and per-sign gain spread) was extracted
from 6 Monte Carlo columns through the sky130 library. Here the same extraction (the
characterization's three level sets per column, against tt runs) runs on `--seeds` columns as
resolved decks (each instance's PDK draw written into the deck), and prints both, with the 95 %
interval of the resolved estimate from the chi-square distribution, and the time per run.

    python scripts/ta_mismatch_check.py [--seeds 12]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits.blocks.time_accumulator.pump_single_slope.characterize import _vtc_mismatch, monte_carlo_levels  # noqa: E402
from aimc_circuits.blocks.time_accumulator.pump_single_slope.model import TimeAccumulatorModel  # noqa: E402
from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import VtcTestbench  # noqa: E402
from aimc_circuits.spice.sweep import run_sweep  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=12)
    a = ap.parse_args()
    model = TimeAccumulatorModel.load()
    d, cal = model.design, model.calibration.section("mismatch")
    p_vtc = {k: v["value"] for k, v in model.calibration.section("vtc")["params"].items()}
    n_ch = d.n_sub * d.groups
    group = np.arange(n_ch) % d.groups
    levels = monte_carlo_levels(n_ch)
    pts = [dict(lv) for lv in levels] + [{**lv, "corner": "tt_mm", "seed": s} for s in range(1, a.seeds + 1) for lv in levels]
    t = time.perf_counter()
    res = run_sweep(VtcTestbench(design=d, n_ch=n_ch, resolve_devices=True), points=pts, progress=True)
    wall = time.perf_counter() - t
    got = _vtc_mismatch([r for r in res.records if r.ok], levels, p_vtc, group, d)
    n = got["n_columns"]
    print(f"VTC mismatch, {n} resolved tt_mm columns x 16 channels ({len(pts)} runs, {res.n_simulated} simulated "
          f"in {wall:.0f} s) vs the calibration's {cal['n_columns']} library columns")

    def interval(sd: float, k: int) -> str:
        lo, hi = (np.sqrt((k - 1) / stats.chi2.ppf(q, k - 1)) for q in (0.975, 0.025))
        return f"{sd * lo:.4g}..{sd * hi:.4g}"

    rows = [("offset sigma, group 0 (mV)", 1e3 * got["sigma_offset_v_by_group"][0], 1e3 * cal["sigma_offset_v_by_group"][0], 8 * n),
            ("offset sigma, group 1 (mV)", 1e3 * got["sigma_offset_v_by_group"][1], 1e3 * cal["sigma_offset_v_by_group"][1], 8 * n),
            ("per-sign gain sigma, group 0 (%)", 100 * got["sigma_gain_rel_by_group"][0], 100 * cal["sigma_gain_rel_by_group"][0], 16 * n),
            ("per-sign gain sigma, group 1 (%)", 100 * got["sigma_gain_rel_by_group"][1], 100 * cal["sigma_gain_rel_by_group"][1], 16 * n),
            ("column-mean gain sigma (%)", 100 * got["sigma_column_gain_rel"], 100 * cal["sigma_column_gain_rel"], n)]
    print(f"{'quantity':<34} {'resolved':>9} {'95 % interval':>16} {'calibration':>12}")
    for name, r, c, k in rows:
        print(f"{name:<34} {r:9.3f} {interval(r, k):>16} {c:12.3f}")


if __name__ == "__main__":
    main()
