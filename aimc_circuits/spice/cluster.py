"""Sweeps on a Dask distributed cluster.

Give a scheduler address (``aimc calibrate --scheduler tcp://host:port``, ``aimc validate
--scheduler ...``, or the environment variable ``AIMC_SCHEDULER``) and every sweep of the run
sends its batches to that cluster instead of the local process pool. Each batch is one Dask task;
the task starts its own ``python -m aimc_circuits.spice.worker`` process on the worker's machine
(libngspice is one shared instance per process, so two batches never share one, whatever the
workers' thread count). The sweep's cache directory is where every finished point is written, at
once and atomically: on a cluster spanning several machines it must be a shared file system
(``AIMC_CACHE_DIR``), and the workers need the package, ngspice and the sky130 models installed.

Results are the same as the local pool's for the same points and seeds: a point's deck, commands
and analysis do not depend on where it runs, and the cache key does not either. A sweep plans as
many batches as the cluster has worker threads.

If the driver dies, the batches already running on the cluster finish (their points land in the
cache, so a rerun does not redo them) and the queued ones are released by the scheduler with the
driver's client.

Needs the ``dask`` extra: ``pip install '.[dask]'`` (``dask[distributed]``).
"""
from __future__ import annotations

import atexit
import os
from concurrent.futures import Executor, Future
from typing import Any, Callable

from ..errors import AimcError, ParameterError

__all__ = ["SCHEDULER_ENV", "DaskPool", "scheduler_address", "cluster_pool"]

#: environment variable holding the scheduler address a run's sweeps go to
SCHEDULER_ENV = "AIMC_SCHEDULER"
CONNECT_TIMEOUT_S = 10.0  #: how long to wait for the scheduler before giving up

_POOLS: dict[str, "DaskPool"] = {}


class DaskPool(Executor):
    """A ``concurrent.futures.Executor`` on a Dask cluster (the client's executor), plus the
    number of worker threads the sweep engine plans its batches for (``slots``)."""

    def __init__(self, client: Any, address: str):
        self.client = client
        self.address = address
        self._executor = client.get_executor(pure=False)

    @property
    def slots(self) -> int:
        """Worker threads on the cluster now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """The cluster stays up; only this run's client is closed (at exit, or here)."""
        self.close()

    def close(self) -> None:
        _POOLS.pop(self.address, None)
        self.client.close()


def scheduler_address(address: str | None = None) -> str | None:
    """`address`, else ``$AIMC_SCHEDULER``, else None (the local pool). Checked: a Dask address
    is ``scheme://host:port`` (``tcp://``, ``tls://``, ``ws://``, ``inproc://``)."""
    addr = address if address is not None else os.environ.get(SCHEDULER_ENV, "")
    addr = addr.strip()
    if not addr:
        return None
    if "://" not in addr:
        src = "--scheduler" if address is not None else f"${SCHEDULER_ENV}"
        raise ParameterError(f"{src}={addr!r} is not a Dask scheduler address; allowed: scheme://host:port, "
                             f"e.g. tcp://127.0.0.1:8786")
    return addr


def cluster_pool(address: str) -> DaskPool:
    """A pool on the cluster at `address` (one client per address and process, reused)."""
    if address in _POOLS:
        return _POOLS[address]
    try:
        from distributed import Client
    except ImportError as exc:
        raise AimcError(f"scheduler {address!r} given, but dask.distributed is not installed: "
                        f"pip install 'aimc_circuits[dask]'") from exc
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise AimcError(f"cannot reach the Dask scheduler at {address!r} within {CONNECT_TIMEOUT_S:g} s "
                        f"({type(exc).__name__}: {exc}); start one (`dask scheduler`) or unset "
                        f"{SCHEDULER_ENV}") from exc
    pool = _POOLS[address] = DaskPool(client, address)
    return pool


@atexit.register
def _close_all() -> None:  # pragma: no cover - interpreter exit
    for pool in list(_POOLS.values()):
        try:
            pool.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
