"""Parallel execution of the evaluator's chunks: worker threads (one per core by default, or an
injected ``concurrent.futures.Executor``), BLAS held single-threaded while the chunks run (they
already use every core), and reusable per-chunk work arrays."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["ChunkRunner", "default_threads", "has_avx512"]


def default_threads() -> int:
    """Cores this process may use (at most 8)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(n, 8))


def has_avx512() -> bool:
    """Whether this CPU has AVX-512 (its BLAS runs the large matmuls much faster: the chunking follows)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return " avx512f" in line
    except OSError:
        pass
    return False


_LOCK = threading.Lock()
_POOLS: dict[int, ThreadPoolExecutor] = {}
_BLAS: list[Any] = []
_RUNNERS: dict[int, "ChunkRunner"] = {}


def _pool(n: int) -> ThreadPoolExecutor:
    with _LOCK:
        if n not in _POOLS:
            _POOLS[n] = ThreadPoolExecutor(n, thread_name_prefix="aimc-macro")
        return _POOLS[n]


def _blas() -> Any:
    """The BLAS thread controller (finding it costs ~1.5 ms, limiting it ~10 us): made once."""
    with _LOCK:
        if not _BLAS:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        return _BLAS[0]


class ChunkRunner:
    """Runs independent chunk tasks on `n_threads` threads (shared per thread count), or on
    `executor` when given; holds per-shape work arrays for reuse between chunks and calls
    (fresh arrays per chunk cost page faults on every call: measured with 256-vector chunks,
    10 MB each, more than the chunk's pass)."""

    def __init__(self, n_threads: int | None = None, executor: Executor | None = None):
        self.n_threads = default_threads() if n_threads is None else int(n_threads)
        self.executor = executor
        self._free: dict[tuple[int, ...], list[tuple[np.ndarray, ...]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, n_threads: int | None = None) -> "ChunkRunner":
        """The process-wide runner for `n_threads` (its work arrays shared by every macro)."""
        n = default_threads() if n_threads is None else int(n_threads)
        with _LOCK:
            if n not in _RUNNERS:
                _RUNNERS[n] = cls(n)
            return _RUNNERS[n]

    def run(self, task: Callable[[int], None], n: int) -> None:
        """task(0) .. task(n - 1), in parallel when there is more than one."""
        if n == 1 or (self.executor is None and self.n_threads == 1):
            for k in range(n):
                task(k)
            return
        ex = self.executor or _pool(self.n_threads)
        with _blas().limit(limits=1, user_api="blas"):
            list(ex.map(task, range(n)))

    def workspace(self, key: tuple[int, ...], make: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        with self._lock:
            free = self._free.get(key)
            if free:
                return free.pop()
        return make()

    def give_back(self, key: tuple[int, ...], ws: Sequence[np.ndarray]) -> None:
        with self._lock:
            free = self._free.setdefault(key, [])
            if len(free) < max(self.n_threads, 2):
                free.append(tuple(ws))
