"""Monte Carlo (tt_mm) cell-column transients through the sky130 library vs resolved decks, same run.

Through the library each instance draws its mismatch inside the library's expressions; resolved,
each instance's draw is written into the deck (aimc_circuits.spice.resolve). For column heights
R (default 8 16 32): the wall time of one transient of the column testbench on tt_mm (a fresh
sweep cache, one point, deck load included) through the library and resolved, the resolved deck
built with its harvests already cached (they are made once per device set: the first deck's
build time is printed too), and the ratio; for reference the same point resolved on tt (no
mismatch: the deck's subcircuits are shared by their instances there). Their column voltages differ: two different draws of
the same statistics (``tests/test_resolve.py`` compares the statistics).

    python benchmarks/monte_carlo_resolve.py [R ...]
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["AIMC_CACHE_DIR"] = tempfile.mkdtemp(prefix="aimc-mc-bench-")  # every point simulated here
from aimc_circuits.blocks.cell.mom_bottom_plate.testbench import ColumnTestbench  # noqa: E402
from aimc_circuits.pdk import find_pdk  # noqa: E402
from aimc_circuits.spice.sweep import run_sweep  # noqa: E402


def point(rows: int, seed: int) -> dict:
    rng = np.random.default_rng(rows)
    return {"vin": rng.uniform(0, 1, rows).tolist(), "codes": rng.integers(0, 16, (rows, 2)).tolist(),
            "corner": "tt_mm", "seed": seed}


def wall(tb: ColumnTestbench, p: dict) -> float:
    t = time.perf_counter()
    res = run_sweep(tb, points=[p], workers=1)
    if not res.records[0].ok:
        raise RuntimeError(res.records[0].error)
    return time.perf_counter() - t


def main(rows: list[int]) -> None:
    pdk = find_pdk()
    print(f"{'rows':>4} {'library (s)':>12} {'resolved (s)':>13} {'ratio':>6} {'first deck build (s)':>21} "
          f"{'resolved tt (s)':>16}")
    for R in rows:
        tb = ColumnTestbench(rows=R, resolve_devices=True)
        t = time.perf_counter()
        tb.deck(tb.normalize(point(R, 1)), pdk.lib_line("tt_mm"), pdk)  # harvests (cached from here on)
        t_build = time.perf_counter() - t
        t_res = wall(tb, point(R, 2))
        t_lib = wall(ColumnTestbench(rows=R), point(R, 2))
        t_tt = wall(tb, {k: v for k, v in point(R, 2).items() if k not in ("corner", "seed")})
        print(f"{R:4d} {t_lib:12.1f} {t_res:13.1f} {t_lib / t_res:6.1f} {t_build:21.1f} {t_tt:16.1f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [8, 16, 32])
