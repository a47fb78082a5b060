"""Sweep throughput: 1 and 2 local worker processes, and a Dask LocalCluster of 2 single-thread
worker processes on this machine (each batch in its own ngspice process there too), all in the
same run, each from an empty cache. Prints points/s and the scaling efficiency
(rate / (workers x the 1-worker rate)), and checks that the three runs give identical numbers.

    python benchmarks/cluster_scaling.py [POINTS]     (default 24 inverter transients, 4 per model load)
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from distributed import LocalCluster  # noqa: E402

from aimc_circuits.blocks.devices import InverterDelay  # noqa: E402
from aimc_circuits.spice.cluster import cluster_pool  # noqa: E402
from aimc_circuits.spice.sweep import run_sweep  # noqa: E402

PER_LOAD = 4


def timed(points, **kw):
    with tempfile.TemporaryDirectory() as cache:
        os.environ["AIMC_CACHE_DIR"] = cache
        t0 = time.perf_counter()
        res = run_sweep(InverterDelay(), points=points, max_points_per_batch=PER_LOAD, **kw)
        dt = time.perf_counter() - t0
    assert not res.failed and res.n_simulated == len(points)
    return dt, [r.measures for r in res.records]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    points = [{"cl": (2 + i) * 1e-15} for i in range(n)]
    print(f"{n} inverter transients (sky130 tt), {PER_LOAD} points per model load, {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f}")
    t1, m1 = timed(points, workers=1)
    t2, m2 = timed(points, workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as lc:
        pool = cluster_pool(lc.scheduler_address)
        timed(points[:2], executor=pool)  # warm the workers' imports (not timed)
        tc, mc = timed(points, executor=pool)
        pool.close()
    rate1 = n / t1
    for label, t, k in (("1 local worker", t1, 1), ("2 local workers", t2, 2), ("Dask LocalCluster, 2 workers", tc, 2)):
        print(f"  {label:30s} {t:7.2f} s  {n / t:6.2f} points/s  scaling efficiency {n / t / (k * rate1):.2f}")
    print(f"identical results: local 1 vs 2 workers {m1 == m2}, local vs cluster {m1 == mc}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
