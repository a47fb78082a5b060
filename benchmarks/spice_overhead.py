"""SPICE overhead of the sweep engine vs plain `ngspice -b`, measured side by side in one run.

The same batch of inverter transient points (netlists/inverter.sp, tt, 27 C, CL swept)
runs (a) through the sweep engine (cache off, so every point is simulated) and (b) as
plain `ngspice -b` processes on equivalent netlists: the deck the engine builds plus a
`.control` loop doing the same `alterparam`/`reset`/`option temp`/`tran` per point and
`meas` for the same delays and energy. Both split the points into the same number of
batches and run them on all cores. Target: engine / plain <= 1.2.

Also: points/s with one model load per batch vs one model load per point (the cost the
batching removes), and the time of a fully cached re-run.

    python benchmarks/spice_overhead.py [--points 48] [--rounds 2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aimc_circuits.blocks.devices import InverterDelay
from aimc_circuits.pdk import find_pdk
from aimc_circuits.spice.sweep import _batches, _plan, run_sweep


def plain_ngspice(tb: InverterDelay, points: list[dict], workers: int, workdir: Path) -> float:
    """Wall time of the same batches as `ngspice -b` processes running in parallel."""
    norm = [tb.normalize(p) for p in points]
    planned, _ = _plan(tb, norm)
    batches = _batches(planned, workers, None, 8)
    procs, t0 = [], time.perf_counter()
    (workdir / ".spiceinit").write_text("set ngbehavior=hsa\nset ng_nomodcheck\nset num_threads=1\n")
    half, T = 0.9, tb.period
    for b, (deck, items) in enumerate(batches):
        lines = [".control"]
        for it in items:
            lines += list(it.commands) + [it.analysis,
                      f"meas tran tin when v(in)={half} fall=2", f"meas tran tout when v(out)={half} rise=2",
                      f"meas tran e integ i(vdut) from={T} to={2 * T}"]
        lines += [".endc"]
        path = workdir / f"batch{b}.sp"
        path.write_text(deck.replace(".end\n", "\n".join(lines) + "\n.end\n"))
        env = dict(os.environ, OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen(["ngspice", "-b", path.name], cwd=workdir, env=env,
                                      stdout=open(workdir / f"batch{b}.log", "w"), stderr=subprocess.STDOUT))
    for p in procs:
        p.wait()  # ngspice -b exits 1 after a .control-only deck ("no simulations run"): check the log
    elapsed = time.perf_counter() - t0
    for b, (_, items) in enumerate(batches):
        log = (workdir / f"batch{b}.log").read_text()
        if log.count("\ne ") + log.startswith("e ") != len(items):
            raise RuntimeError(f"plain ngspice batch {b} did not finish all points; see {workdir}")
    return elapsed


def engine(tb: InverterDelay, points: list[dict], workers: int, **kw) -> tuple[float, int]:
    t0 = time.perf_counter()
    res = run_sweep(tb, points=points, workers=workers, cache=False, **kw)
    if res.failed:
        raise RuntimeError(f"{len(res.failed)} points failed: {res.failed[0].error}")
    return time.perf_counter() - t0, res.n_loads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved repetitions (medians reported)")
    ap.add_argument("--per-point", type=int, default=6, help="points for the one-load-per-point comparison")
    args = ap.parse_args()
    if shutil.which("ngspice") is None:
        sys.exit("plain `ngspice` binary not found: apt-get install ngspice")
    workers = os.cpu_count() or 1
    tb = InverterDelay()
    points = [{"cl": (2 + 38 * i / max(1, args.points - 1)) * 1e-15} for i in range(args.points)]
    print(f"{args.points} inverter transient points, tt/27 C, {workers} cores, models {find_pdk().source}")
    t_eng, t_cli = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            te, loads = engine(tb, points, workers)
            tc = plain_ngspice(tb, points, workers, Path(tmp))
            t_eng.append(te)
            t_cli.append(tc)
            print(f"  round {r + 1}: engine {te:6.2f} s ({loads} model loads)   plain ngspice -b {tc:6.2f} s")
    me, mc = statistics.median(t_eng), statistics.median(t_cli)
    print(f"engine / plain ngspice -b = {me / mc:.3f}   (target <= 1.2)")

    sub = points[: args.per_point]
    tb_batch, _ = engine(tb, sub, workers)
    tb_point, loads = engine(tb, sub, workers, max_points_per_batch=1)
    print(f"{len(sub)} points: one load per batch {len(sub) / tb_batch:.2f} points/s, "
          f"one load per point ({loads} loads) {len(sub) / tb_point:.2f} points/s "
          f"-> batching speed-up {tb_point / tb_batch:.2f}x")
    with tempfile.TemporaryDirectory() as tmp:
        run_sweep(tb, points=sub, workers=workers, cache_root=Path(tmp))
        t0 = time.perf_counter()
        res = run_sweep(tb, points=sub, workers=workers, cache_root=Path(tmp))
        print(f"cached re-run of {len(sub)} points: {time.perf_counter() - t0:.3f} s, "
              f"{res.n_simulated} simulated")


if __name__ == "__main__":
    main()
