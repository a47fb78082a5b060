"""Sweep engine: a testbench x a grid of points -> measured results, batched, parallel, cached.

* Points sharing a deck (same corner and structural parameters) form a **batch** that
  loads the sky130 models once; inside it each point only sends ``alterparam``/``alter``,
  ``setseed``, ``reset`` and ``option temp`` before its analysis.
* Batches run in local worker processes (``python -m aimc_circuits.spice.worker``, one
  ngspice each, ``num_threads`` chosen so workers x threads = cores), or through any ``concurrent.futures.Executor``
  given, e.g. a Dask cluster's (:mod:`.cluster`, ``$AIMC_SCHEDULER``), each batch still in its own process.
* Every finished point is written to the content-addressed cache by the worker itself,
  atomically, before the next point starts: a killed sweep resumes where it stopped.
* A point whose analysis fails (no convergence, timestep too small) is recorded with
  ngspice's message and the sweep goes on; :attr:`SweepResult.failed` lists them.
"""
from __future__ import annotations

import itertools
import math
import os
import pickle
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AimcError, ConvergenceError, ParameterError
from ..paths import cache_dir
from ..pdk import find_pdk
from .cache import PointCache, content_key, decode, encode, file_sha256, libngspice_path
from .testbench import Testbench

__all__ = ["PointRecord", "SweepResult", "combined_provenance", "expand_grid", "run_sweep", "run_sweeps"]


@dataclass(frozen=True)
class PointRecord:
    """One point: its parameters, whether it succeeded, its measures (SI) or error message."""

    point: dict[str, Any]
    ok: bool
    measures: dict[str, Any]
    error: str | None
    cached: bool
    elapsed_s: float


@dataclass
class SweepResult:
    """All points of a sweep, in the order they were requested."""

    testbench: str
    records: list[PointRecord]
    n_simulated: int
    n_cached: int
    n_loads: int
    wall_s: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """What this sweep covered, for a calibration's provenance: testbench, point counts, the
        SPICE time of all its points (whether simulated in this run or taken from the cache of an
        earlier, perhaps interrupted one), corners, temperatures and Monte Carlo seeds."""
        pts = [r.point for r in self.records]
        return {"testbench": self.testbench, "points": len(pts), "simulated": self.n_simulated,
                "cached": self.n_cached, "failed": len(self.failed),
                "spice_s": round(sum(r.elapsed_s for r in self.records), 2), "wall_s": round(self.wall_s, 2),
                "corners": sorted({str(p.get("corner", "tt")) for p in pts}),
                "temperatures_c": sorted({float(p.get("temp", 27.0)) for p in pts}),
                "mc_seeds": sorted({int(p["seed"]) for p in pts if p.get("seed") is not None})}

    @property
    def failed(self) -> list[PointRecord]:
        """Points whose analysis or measurement failed (with ngspice's message in ``error``)."""
        return [r for r in self.records if not r.ok]

    def column(self, name: str) -> np.ndarray:
        """Values of point parameter or scalar measure `name` over all points (NaN where failed)."""
        out = []
        for r in self.records:
            if name in r.point:
                out.append(r.point[name])
            elif r.ok:
                if name not in r.measures:
                    raise KeyError(f"no parameter or measure {name!r}; measures: {sorted(r.measures)}")
                out.append(r.measures[name])
            else:
                out.append(np.nan)
        return np.asarray(out)

    def where(self, **conditions: Any) -> list[PointRecord]:
        """Records whose point parameters equal every given value."""
        return [r for r in self.records if all(r.point.get(k) == v for k, v in conditions.items())]


def expand_grid(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Cartesian product of `grid` (name -> sequence of values, or one value)."""
    names, axes = [], []
    for k, v in grid.items():
        vals = [v] if isinstance(v, (str, bytes, int, float)) or v is None else list(v)
        if not vals:
            raise ParameterError(f"grid axis {k!r} is empty")
        names.append(k)
        axes.append(vals)
    return [dict(zip(names, combo)) for combo in itertools.product(*axes)]


@dataclass(frozen=True)
class _Item:
    key: str
    point: dict[str, Any]
    commands: tuple[str, ...]
    analysis: str


def _plan(tb: Testbench, points: list[dict[str, Any]]) -> tuple[list[tuple[str, _Item]], dict[str, Any]]:
    pdk = find_pdk()
    lib_sha = file_sha256(libngspice_path())
    code = tb.code_hash()
    decks: dict[tuple, str] = {}
    planned = []
    for p in points:
        skey = (p["corner"],) + tuple(repr(p[k]) for k in tb.structural)
        if getattr(tb, "resolve_devices", False) and p["seed"] is not None:
            skey += (p["seed"],)  # a resolved Monte Carlo deck carries its draw
        if skey not in decks:
            decks[skey] = tb.deck(p, pdk.lib_line(p["corner"]), pdk)
        deck = decks[skey]
        point_cmds, needs_reset = tb.point_commands(p)
        # alterparam edits the deck (applied by reset); alter edits devices (lost on reset)
        cmds = [c for c in point_cmds if c.startswith("alterparam")]
        if p["seed"] is not None:
            cmds.append(f"setseed {p['seed']}")
            needs_reset = True
        if needs_reset:
            cmds.append("reset")
        cmds += [c for c in point_cmds if not c.startswith("alterparam")]
        cmds.append(f"option temp={p['temp']!r}")
        analysis = tb.analysis(p)
        key = content_key(deck=deck, models=pdk.sha256, libngspice=lib_sha, commands=cmds,
                          analysis=analysis, keep=tb.keep, code=code)
        planned.append((deck, _Item(key, p, tuple(cmds), analysis)))
    prov = {"testbench": tb.name, "pdk": pdk.provenance(), "libngspice": str(libngspice_path()),
            "libngspice_sha256": lib_sha}
    return planned, prov


def combined_provenance(results: list["SweepResult"]) -> dict[str, Any]:
    """Provenance of a characterization made of several sweeps: the tools (PDK, libngspice,
    ngspice version; the same for every sweep) and one :meth:`SweepResult.summary` per sweep."""
    if not results:
        return {"sweeps": []}
    common = {k: v for k, v in results[0].provenance.items() if k != "testbench"}
    for r in results[1:]:
        for k, v in common.items():
            if r.provenance.get(k) != v:
                raise AimcError(f"sweeps of one characterization ran with different {k}: {v!r} vs "
                                f"{r.provenance.get(k)!r}")
    return {**common, "sweeps": [r.summary() for r in results]}


def _batches(planned: list[tuple[str, _Item]], workers: int, max_points: int | None,
             split_min: int) -> list[tuple[str, list[_Item]]]:
    groups: dict[str, list[_Item]] = defaultdict(list)
    for deck, item in planned:
        groups[deck].append(item)
    per_group = max(1, math.ceil(workers / max(1, len(groups))))
    out = []
    for deck, items in groups.items():
        k = min(per_group, max(1, len(items) // split_min))
        if max_points:
            k = max(k, math.ceil(len(items) / max_points))
        size = math.ceil(len(items) / k)
        out += [(deck, items[i:i + size]) for i in range(0, len(items), size)]
    return out


def _run_batch(tb: Testbench, deck: str, items: list[_Item], cache_root: str | None,
               run_root: str, num_threads: int) -> list[dict]:
    """Worker: load `deck` once, simulate every item, store each record as soon as it is done."""
    from .runner import NgspiceSession, ngspice_version

    run_dir = Path(run_root) / f"{tb.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = PointCache(Path(cache_root)) if cache_root else None
    records = []
    with NgspiceSession(run_dir, num_threads=num_threads) as ses:
        ses.load(deck)
        version = ngspice_version()
        for it in items:
            t0 = time.perf_counter()
            rec: dict[str, Any] = {"point": it.point, "ngspice": version, "run_dir": str(run_dir)}
            try:
                for cmd in it.commands:
                    ses.command(cmd)
                sim = ses.analyse(it.analysis, tb.keep)
                rec.update(ok=True, measures=encode(tb.measure(sim, it.point)), error=None)
            except ConvergenceError as exc:
                rec.update(ok=False, measures={}, error=str(exc))
            except (ValueError, ArithmeticError, IndexError, KeyError) as exc:
                rec.update(ok=False, measures={}, error=f"measure failed: {type(exc).__name__}: {exc}")
            rec["elapsed_s"] = time.perf_counter() - t0
            if cache is not None:
                cache.put(it.key, rec)
            records.append(rec)
    return records


def _worker_env(num_threads: int) -> dict[str, str]:
    """Environment of a worker process: single-threaded BLAS (OpenBLAS threads slow ngspice)."""
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", OMP_NUM_THREADS=str(num_threads),
               AIMC_SWEEP_PARENT=str(os.getpid()))
    return env


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_jobs(run_root: Path) -> int:
    """Remove the job files of sweeps whose driver process is gone (killed before it could clean
    up; a job file is named ``<driver pid>-<uuid>``). Returns how many were removed."""
    jobs = Path(run_root) / "jobs"
    n = 0
    for p in jobs.glob("*-*.*"):
        pid = p.name.split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            p.unlink(missing_ok=True)
            n += 1
    return n


def _run_in_subprocess(args: tuple, run_root: Path, num_threads: int) -> list[dict]:
    """Run one batch in a fresh `python -m aimc_circuits.spice.worker` process."""
    jobs = run_root / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    job = jobs / f"{os.getpid()}-{uuid.uuid4().hex}.job"
    job.write_bytes(pickle.dumps(args))
    out = job.with_suffix(".out")
    try:
        proc = subprocess.run([sys.executable, "-m", "aimc_circuits.spice.worker", str(job)],
                              env=_worker_env(num_threads), capture_output=True, text=True)
        if not out.is_file():
            raise AimcError(f"sweep worker died (exit code {proc.returncode}) without a result; "
                            f"finished points are in the cache. stderr:\n{proc.stderr[-3000:]}")
        status, payload = pickle.loads(out.read_bytes())
        if status != "ok":
            raise payload
        return payload
    finally:
        job.unlink(missing_ok=True)
        out.unlink(missing_ok=True)


def run_sweep(tb: Testbench, grid: Mapping[str, Any] | None = None, points: Sequence[Mapping[str, Any]] | None = None,
              *, workers: int | None = None, cache: bool = True, cache_root: Path | None = None,
              max_points_per_batch: int | None = None, split_min: int = 8, retry_failed: bool = False,
              executor: Executor | None = None, isolate: bool = True, progress: bool = False,
              cores: int | None = None) -> SweepResult:
    """Simulate `tb` at every point of `grid` (cartesian) and/or the explicit `points`.

    workers: batches run at once (default: all cores, or the cluster's worker threads).
    cache: reuse and store finished points (in `cache_root`, default
    ``<user cache>/sweeps/<tb.name>``). max_points_per_batch: cap on points per model load (1 =
    one load per point). split_min: a batch is split over idle workers only if each part keeps
    at least this many points. retry_failed: re-run points whose cached record is a failure.
    executor: submit the batches there (any ``concurrent.futures.Executor``); default: the Dask
    cluster named by ``$AIMC_SCHEDULER`` (:mod:`.cluster`) if set, else local threads.
    isolate: each batch in its own worker process, started by the task that runs it (default);
    False runs the batches inside the executor's own threads (a testbench defined in
    ``__main__``; never two ngspice runs at once in one process: use a single-thread executor).
    cores: the local cores this sweep may use (default: all; batches x ngspice threads fill them).
    """
    t_start = time.perf_counter()
    if isolate and type(tb).__module__ == "__main__":
        raise ParameterError(
            f"testbench class {type(tb).__name__} is defined in __main__, which sweep worker processes "
            f"cannot import; move it into an importable module, or pass isolate=False with "
            f"executor=ThreadPoolExecutor(1) to simulate in this process")
    if executor is None:
        from .cluster import cluster_pool, scheduler_address

        address = scheduler_address()
        executor = cluster_pool(address) if address else None
    if executor is None and not isolate:
        raise ParameterError("isolate=False runs the batches in an executor's threads; pass executor="
                             "ThreadPoolExecutor(1) (one ngspice run at a time in this process)")
    raw = (expand_grid(grid) if grid else []) + [dict(p) for p in (points or [])]
    if not raw:
        raise ParameterError("a sweep needs a grid or a list of points (got neither)")
    norm = [tb.normalize(p) for p in raw]
    planned, prov = _plan(tb, norm)
    root = Path(cache_root) if cache_root else cache_dir() / "sweeps" / tb.name
    store = PointCache(root) if cache else None

    results: dict[str, dict] = {}
    cached_keys = set()
    todo, queued = [], set()
    for deck, it in planned:
        rec = store.get(it.key) if store else None
        if rec is not None and (rec["ok"] or not retry_failed):
            results[it.key] = rec
            cached_keys.add(it.key)
        elif it.key not in queued:  # identical points are simulated once
            queued.add(it.key)
            todo.append((deck, it))
    if cores is not None and (isinstance(cores, bool) or not isinstance(cores, int) or cores < 1):
        raise ParameterError(f"cores={cores!r} must be an integer >= 1")
    n_cores = cores or os.cpu_count() or 1
    n_workers = max(1, workers or getattr(executor, "slots", 0) or n_cores)
    batches = _batches(todo, n_workers, max_points_per_batch, split_min) if todo else []
    if batches:
        active = min(n_workers, len(batches))
        # ngspice threads per simulation: share this machine's cores locally; one on a cluster
        # (its worker threads are its concurrency)
        threads = max(1, n_cores // active) if executor is None else 1
        run_root = (root / "runs") if store else cache_dir() / "runs"
        clean_stale_jobs(run_root)
        own = executor is None
        pool = executor or ThreadPoolExecutor(max_workers=active)
        try:
            futures = {}
            for deck, items in batches:
                args = (tb, deck, items, str(root) if store else None, str(run_root), threads)
                fut = (pool.submit(_run_in_subprocess, args, run_root, threads) if isolate
                       else pool.submit(_run_batch, *args))
                futures[fut] = items
            done_pts = 0
            for fut in as_completed(futures):
                items = futures[fut]
                for it, rec in zip(items, fut.result()):
                    results[it.key] = rec
                done_pts += len(items)
                if progress:
                    print(f"[{tb.name}] {done_pts}/{len(todo)} points simulated "
                          f"({time.perf_counter() - t_start:.1f} s)", file=sys.stderr, flush=True)
        finally:
            if own:
                pool.shutdown(wait=True, cancel_futures=True)
    records = []
    versions = set()
    for _, it in planned:
        rec = results[it.key]
        versions.add(rec.get("ngspice"))
        records.append(PointRecord(point=it.point, ok=rec["ok"], measures=decode(rec["measures"]),
                                   error=rec["error"], cached=it.key in cached_keys,
                                   elapsed_s=rec.get("elapsed_s", 0.0)))
    prov["ngspice_version"] = ", ".join(sorted(v for v in versions if v))
    return SweepResult(testbench=tb.name, records=records, n_simulated=len(todo),
                       n_cached=len(cached_keys), n_loads=len(batches),
                       wall_s=time.perf_counter() - t_start, provenance=prov)


def run_sweeps(jobs: Sequence[tuple[Testbench, Sequence[Mapping[str, Any]]]], **kw: Any) -> list[SweepResult]:
    """Several sweeps at once, ``[(testbench, points), ...]`` -> their results in the same order.
    For sweeps of a few points each (one deck per sweep): run one after another, each would keep
    a single core busy. The cores are shared: with n sweeps at once each gets cores / n (its
    batches x ngspice threads; more would oversubscribe the cores with OpenMP threads, which
    slows ngspice many times over). ``kw`` goes to every :func:`run_sweep`."""
    if not jobs:
        return []
    n_cores = kw.pop("cores", None) or os.cpu_count() or 1
    at_once = max(1, min(len(jobs), n_cores))
    with ThreadPoolExecutor(at_once) as pool:
        return list(pool.map(lambda job: run_sweep(job[0], points=job[1], cores=max(1, n_cores // at_once), **kw),
                             jobs))
