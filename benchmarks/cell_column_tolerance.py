"""Step, tolerance and threads of the cell column's transient at the reference geometry (128 rows).

The cell characterization's column transient (two charge-sharing cycles, tt, resolved devices)
at several settings against a tight reference (10 ps step, reltol 1e-7), on a few random points,
all in one run, one ngspice process at a time. Prints per setting the wall time relative to the
characterization's setting (50 ps, reltol 1e-5, one thread) and the largest error of the column
voltages the characterization reads (both groups, after the first and the second cycle).

    python benchmarks/cell_column_tolerance.py [rows] [points]      # default 128 rows, 3 points
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spice_time_breakdown import deck, resolved, run  # noqa: E402

from aimc_circuits.blocks.cell.mom_bottom_plate.testbench import ColumnTestbench  # noqa: E402

_TB = ColumnTestbench(rows=4)
#: (label, tran step, .options, ngspice threads); the first is the characterization's setting (read
#: from the testbench), the last the reference
SETTINGS = [(f"{_TB.tstep * 1e12:g} ps, {_TB.options}, 1 thread (characterization)", f"{_TB.tstep:.6g}", _TB.options, 1),
            ("50 ps, reltol 1e-5, 2 threads", "50p", "klu reltol=1e-5", 2),
            ("50 ps, reltol 1e-4, 1 thread", "50p", "klu reltol=1e-4", 1),
            ("50 ps, reltol 1e-4, 2 threads", "50p", "klu reltol=1e-4", 2),
            ("100 ps, reltol 1e-4, 1 thread", "100p", "klu reltol=1e-4", 1),
            ("reference: 10 ps, reltol 1e-7", "10p", "klu reltol=1e-7", 1)]


def variant(text: str, rows: int, tstep: str, options: str, threads: int) -> str:
    """The deck at one setting, also measuring both column voltages after the first cycle."""
    period = ColumnTestbench(rows=rows).design.period
    text = re.sub(r"^\.options .*$", f".options {options}", text, flags=re.M)
    text = text.replace("set num_threads=1", f"set num_threads={threads}")
    text = re.sub(r"^tran \S+ (\S+)$", lambda m: f"tran {tstep} {m.group(1)}", text, flags=re.M)
    meas = "".join(f"meas tran first{g} find v(c{g}_{rows}) at={period:.6g}\n" for g in (0, 1))
    return text.replace("rusage all\n", f"rusage all\n{meas}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs="?", type=int, default=128, help="column height (default 128)")
    ap.add_argument("points", nargs="?", type=int, default=3, help="random points (default 3)")
    a = ap.parse_args()
    if a.rows < 1 or a.points < 1:
        ap.error(f"rows={a.rows}, points={a.points}: both must be integers >= 1")
    rows, n_points = a.rows, a.points
    print(f"cell column, {rows} rows, {n_points} random points, tt, resolved devices; one transient = 2 cycles")
    walls = np.zeros((len(SETTINGS), n_points))
    volts = np.zeros((len(SETTINGS), n_points, 4))
    for k in range(n_points):
        base = resolved(deck(rows, False, seed=rows + k))
        for i, (label, step, opts, threads) in enumerate(SETTINGS):
            r = run(variant(base, rows, step, opts, threads), extra=("first0", "first1"))
            walls[i, k] = r["wall"]
            volts[i, k] = [r["v0"], r["v1"], r["first0"], r["first1"]]
            failed = "  NO RESULT (ngspice printed no column voltages: its error is not kept)" if np.isnan(volts[i, k]).any() else ""
            print(f"  point {k}: {label:<50s} {r['wall']:7.1f} s{failed}", flush=True)
    err = 1e6 * np.abs(volts - volts[-1]).max(axis=(1, 2))
    print(f"{'setting':<50s} {'wall (s, mean)':>15s} {'vs characterization':>20s} {'max |dV| (uV)':>14s}")
    for i, (label, *_rest) in enumerate(SETTINGS):
        print(f"{label:<50s} {walls[i].mean():15.1f} {walls[i].mean() / walls[0].mean():20.2f} {err[i]:14.1f}")


if __name__ == "__main__":
    main()
