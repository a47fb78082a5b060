"""`aimc calibrate`: regenerate calibration/<block>.json from this toolkit's own SPICE sweeps."""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParameterError, did_you_mean
from .paths import CALIBRATION_DIR

__all__ = ["BLOCKS", "calibrate"]


def _cell(profile: str, progress: bool) -> dict[str, Any]:
    from .blocks.cell_characterize import characterize_cell

    return characterize_cell(profile=profile, progress=progress)


def _row_driver(profile: str, progress: bool) -> dict[str, Any]:
    from .blocks.row_driver_characterize import characterize_row_driver

    return characterize_row_driver(profile=profile, progress=progress)


def _time_accumulator(profile: str, progress: bool) -> dict[str, Any]:
    from .blocks.time_accumulator_characterize import characterize_time_accumulator

    return characterize_time_accumulator(profile=profile, progress=progress)


#: block name -> characterization function (profile, progress) -> calibration dict
BLOCKS: dict[str, Callable[[str, bool], dict[str, Any]]] = {"cell": _cell, "row-driver": _row_driver,
                                                            "time-accumulator": _time_accumulator}
#: blocks still in development: calibrated only when named, not by ``--block all`` (none now)
IN_DEVELOPMENT: frozenset[str] = frozenset()


def calibration_file(block: str) -> str:
    """File name of a block's calibration (``row-driver`` -> ``row_driver.json``)."""
    return block.replace("-", "_") + ".json"
PROFILES = ("fast", "full")


def _jsonable(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def calibrate(block: str, profile: str = "fast", out_dir: Path | None = None, progress: bool = False) -> list[Path]:
    """Characterize `block` ('all' for every block) with `profile` and write its calibration
    JSON (atomically) into `out_dir` (default calibration/). Returns the written paths."""
    names = [b for b in BLOCKS if b not in IN_DEVELOPMENT] if block == "all" else [block]
    for name in names:
        if name not in BLOCKS:
            raise ParameterError(f"unknown block {name!r}; available: {', '.join(BLOCKS)}, all."
                                 f"{did_you_mean(name, BLOCKS)}")
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    out_dir = Path(out_dir) if out_dir else CALIBRATION_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        t0 = time.perf_counter()
        cal = BLOCKS[name](profile, progress)
        cal["provenance"].update(
            command=f"aimc calibrate --block {name} --profile {profile}",
            generated_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            wall_s=round(time.perf_counter() - t0, 1), python=platform.python_version(),
            numpy=np.__version__, lmfit=__import__("lmfit").__version__)
        path = out_dir / calibration_file(name)
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{path.stem}-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(cal, fh, indent=1, default=_jsonable)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        if progress:
            print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        written.append(path)
    return written
