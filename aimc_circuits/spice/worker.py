"""Sweep worker process: ``python -m aimc_circuits.spice.worker JOB``.

Runs one batch (one deck, many points) in a fresh interpreter, so ngspice's state,
its threads, a crash inside libngspice and the working directory stay out of the
caller's process. JOB is a pickle written by the sweep engine (internal transport,
never stored); the result (records, or the exception) is written next to it as
``JOB.out``. Each finished point is also stored in the cache as soon as it is done.

A worker never outlives the sweep that started it: on Linux the kernel kills it when its
parent dies (``PR_SET_PDEATHSIG``), and a watchdog thread exits it when it finds itself
re-parented (``AIMC_SWEEP_PARENT``: the parent's pid, set by the sweep engine), so killing the
driver, even with SIGKILL, takes its workers down with it.
"""
from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

PARENT_ENV = "AIMC_SWEEP_PARENT"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Exit (SIGKILL from the kernel, or the watchdog) as soon as the sweep's driver is gone."""
    parent = int(os.environ.get(PARENT_ENV, "0") or 0)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if not parent:
        return
    if os.getppid() != parent:  # the driver died before this process got here
        os._exit(3)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="aimc-parent-watch", daemon=True).start()


def main(job_path: str) -> int:
    _die_with_parent()
    job = Path(job_path)
    args = pickle.loads(job.read_bytes())
    from .sweep import _run_batch

    run_root = Path(args[4])
    run_root.mkdir(parents=True, exist_ok=True)
    os.chdir(run_root)  # this process only: anything ngspice writes by relative path lands here

    try:
        out = ("ok", _run_batch(*args))
        rc = 0
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which re-raises
        traceback.print_exc()
        try:
            pickle.dumps(exc)
            out = ("error", exc)
        except Exception:  # noqa: BLE001
            out = ("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
        rc = 1
    tmp = job.with_suffix(".out.tmp")
    tmp.write_bytes(pickle.dumps(out))
    tmp.replace(job.with_suffix(".out"))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
