"""Sweep worker process: ``python -m aimc_circuits.spice.worker JOB``.

Runs one batch (one deck, many points) in a fresh interpreter, so ngspice's state,
its threads, a crash inside libngspice and the working directory stay out of the
caller's process. JOB is a pickle written by the sweep engine (internal transport,
never stored); the result (records, or the exception) is written next to it as
``JOB.out``. Each finished point is also stored in the cache as soon as it is done.
"""
from __future__ import annotations

import os
import pickle
import sys
import traceback
from pathlib import Path


def main(job_path: str) -> int:
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
