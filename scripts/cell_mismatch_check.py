"""The cell model's mismatch against Monte Carlo SPICE at the reference column height.

The cell's mismatch model (per-bit capacitor errors, sigma_u / sigma_0 in the calibration) is
fitted on single-bit patterns of a 4-row column on tt_mm. Here a column of R rows (default 128,
the reference sub-array) with one random point (row levels, weight codes) is simulated on tt and
on tt_mm with `--seeds` draws (resolved decks: each instance's PDK mismatch written into the
deck), and the spread of each group column's voltage over the draws is compared with the model's
spread over 4000 of its chip draws for the same point. Prints, per group: the tt column voltage
(SPICE and model), the mismatch draws' mean shift and spread (SPICE, with its 95 % interval from
the chi-square distribution) and the model's spread. Then the same chips in the model: each
draw's unit capacitors read from its deck (the three coupling capacitors of every MOM unit)
as the model's capacitor errors, and the model's column voltage against SPICE's, draw by draw
(the switches' mismatch, in SPICE, has no counterpart in that chip: the model's sigma_0 term
stands for it statistically).

    python scripts/cell_mismatch_check.py [--rows 128] [--seeds 12] [--seed 11]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits.blocks.cell.mom_bottom_plate.deck_chip import chip_from_deck  # noqa: E402
from aimc_circuits.blocks.cell.mom_bottom_plate.model import CellModel  # noqa: E402
from aimc_circuits.blocks.cell.mom_bottom_plate.testbench import ColumnTestbench  # noqa: E402
from aimc_circuits.pdk import find_pdk  # noqa: E402
from aimc_circuits.spice.sweep import run_sweep  # noqa: E402

def deck_chip(tb: ColumnTestbench, point: dict, cu: float):
    """The cell model's chip of the draw a resolved tt_mm column deck holds."""
    pdk = find_pdk()
    return chip_from_deck(tb.deck(tb.normalize(point), pdk.lib_line(point["corner"]), pdk), tb.design, cu,
                          n_rows=tb.rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=128)
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--seed", type=int, default=11, help="the random point's seed")
    a = ap.parse_args()
    model = CellModel.load()
    d, R = model.design, a.rows
    rng = np.random.default_rng(a.seed)
    point = {"vin": rng.uniform(0.0, d.v_fs, R).tolist(), "codes": rng.integers(0, d.max_code + 1, (R, d.groups)).tolist()}
    res = run_sweep(ColumnTestbench(design=d, rows=R, resolve_devices=True),
                    points=[point] + [{**point, "corner": "tt_mm", "seed": s} for s in range(1, a.seeds + 1)],
                    progress=True)
    ok = [r for r in res.records if r.ok]
    if not ok or ok[0].point["corner"] != "tt":
        raise SystemExit(f"the tt run failed: {res.records[0].error}")
    mm = np.array([[r.measures[f"vcol{g}"] for g in range(d.groups)] for r in ok[1:]])
    tt = np.array([ok[0].measures[f"vcol{g}"] for g in range(d.groups)])
    words = np.asarray(point["codes"]) @ (2 ** (d.bits_per_group * np.arange(d.groups)))
    v_in = np.asarray(point["vin"])[None, :]
    mrng = np.random.default_rng(a.seed + 1)
    chips = np.array([model.column_voltages(v_in, words, model.draw_chip(mrng, R, 1))[0] for _ in range(4000)])
    nominal = model.column_voltages(v_in, words)[0]
    n = mm.shape[0]
    lo, hi = (np.sqrt((n - 1) / stats.chi2.ppf(q, n - 1)) for q in (0.975, 0.025))
    print(f"{R}-row column, one random point (seed {a.seed}), {n} tt_mm draws (resolved decks) vs 4000 model chips")
    print(f"{'group':>5} {'tt SPICE (V)':>13} {'tt model (V)':>13} {'mm mean - tt (mV)':>18} "
          f"{'SPICE sd (mV)':>14} {'95 % interval':>16} {'model sd (mV)':>14} {'model / SPICE':>14}")
    for g in range(d.groups):
        sd = np.std(mm[:, g], ddof=1)
        msd = np.std(chips[:, g], ddof=1)
        print(f"{g:5d} {tt[g]:13.5f} {nominal[g]:13.5f} {1e3 * (mm[:, g].mean() - tt[g]):18.3f} {1e3 * sd:14.3f} "
              f"{1e3 * sd * lo:7.3f}..{1e3 * sd * hi:7.3f} {1e3 * msd:14.3f} {msd / sd:14.2f}")
    tb = ColumnTestbench(design=d, rows=R, resolve_devices=True)
    same = np.array([model.column_voltages(v_in, words, deck_chip(tb, r.point, model.cu))[0] for r in ok[1:]])
    err = same - mm
    print("the same chips in the model (capacitors read from each draw's deck), model - SPICE per draw (mV):")
    for g in range(d.groups):
        shift_sp, shift_md = mm[:, g] - tt[g], same[:, g] - nominal[g]  # each draw's mismatch shift
        print(f"  group {g}: shift RMS SPICE {1e3 * np.sqrt(np.mean(shift_sp ** 2)):.3f}, model {1e3 * np.sqrt(np.mean(shift_md ** 2)):.3f}; "
              f"error of the shift RMS {1e3 * np.sqrt(np.mean((shift_md - shift_sp) ** 2)):.3f} "
              f"(correlation {np.corrcoef(shift_md, shift_sp)[0, 1]:.3f}); model - SPICE {1e3 * err[:, g].mean():+.3f} mean, "
              f"{1e3 * err[:, g].std(ddof=1):.3f} sd")


if __name__ == "__main__":
    main()
