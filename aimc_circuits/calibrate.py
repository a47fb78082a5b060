"""`aimc calibrate`: regenerate calibration/<family>/<variant>.json from this toolkit's own SPICE sweeps."""
from __future__ import annotations

import platform
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParameterError
from .registry import parse_block

__all__ = ["PROFILES", "add_operating_points", "calibrate"]

PROFILES = ("fast", "full")


def calibrate(block: str, profile: str = "fast", out_dir: Path | None = None, progress: bool = False,
              design: Any = None) -> list[Path]:
    """Characterize `block` (``all``, a family for its reference variant, or ``family/variant``)
    with `profile`, seal and check its calibration (:class:`aimc_circuits.calibration_file.Calibration`)
    and write it atomically to ``<out_dir or calibration/>/<family>/<variant>.json``. `design`: an
    instance of the variant's design class in place of its default (one variant only; used by
    ``aimc explore``). Returns the written paths."""
    variants = parse_block(block)
    if design is not None:
        if len(variants) != 1 or not isinstance(design, variants[0].design()):
            raise ParameterError(f"design= needs exactly one variant and an instance of its design class; got "
                                 f"{len(variants)} variant(s) and {type(design).__name__}")
        if out_dir is None:
            raise ParameterError("a calibration of a changed design needs --out: the shipped calibration/ "
                                 "holds the reference designs")
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    if out_dir is not None:
        out_dir = Path(out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise ParameterError(f"--out {out_dir} is a file; give a directory (the calibrations go to "
                                 f"<out>/<family>/<variant>.json)")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ParameterError(f"--out {out_dir} cannot be created ({exc.strerror})") from None
    written = []
    for i, v in enumerate(variants):
        t0 = time.perf_counter()
        if progress:
            print(f"calibrating {v.id} ({profile} profile; block {i + 1}/{len(variants)}): SPICE sweeps, then the "
                  f"fits", file=sys.stderr, flush=True)
        kw = {"design": design} if design is not None else {}
        content = v.characterize_function()(profile=profile, progress=progress, **kw)
        changed = "" if design is None else f" (design: {_design_changes(design)})"
        content["provenance"].update(
            command=f"aimc calibrate --block {v.id} --profile {profile}{changed}",
            generated_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            wall_s=round(time.perf_counter() - t0, 1), python=platform.python_version(),
            numpy=np.__version__, lmfit=__import__("lmfit").__version__)
        cal = v.calibration().from_content(content)
        path = cal.save(v.calibration_path(out_dir))
        if progress:
            print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        written.append(path)
    return written


def _design_changes(design: Any) -> str:
    """'name=value, ...' of the fields that differ from the design class's defaults."""
    default = type(design)()
    return ", ".join(f"{f.name}={getattr(design, f.name)!r}" for f in fields(design)
                     if getattr(design, f.name) != getattr(default, f.name)) or "defaults"


def add_operating_points(block: str, calibration_dir: Path | None = None, progress: bool = False,
                         sections: tuple[str, ...] = ("operating_points", "supply")) -> list[Path]:
    """Characterize the operating points of `block`'s calibrations in `calibration_dir` (default:
    calibration/) and write them into those files, re-sealed: the ``operating_points`` section
    (corners x temperatures) and the ``supply`` section (vdd +- 10 % at tt / 27 C), or those of
    `sections`. Returns the written paths."""
    unknown = set(sections) - {"operating_points", "supply"}
    if unknown or not sections:
        raise ParameterError(f"sections={sections!r}; allowed: operating_points, supply")
    what = {"operating_points": ("every corner x temperature", "operating_points_function", "--operating-points"),
            "supply": ("every supply (vdd +- 10 %)", "supply_function", "--only-supply")}
    written = []
    for v in parse_block(block):
        path = v.calibration_path(calibration_dir)
        for name in sections:
            t0 = time.perf_counter()
            model = v.load_model(calibration_dir)
            where, function, flag = what[name]
            if progress:
                print(f"{name.replace('_', ' ')} of {v.id}: SPICE at {where}, then the refits", file=sys.stderr,
                      flush=True)
            section = getattr(v, function)()(model, progress=progress)
            section["provenance"].update(
                command=f"aimc calibrate --block {v.id} {flag}",
                generated_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                wall_s=round(time.perf_counter() - t0, 1))
            path = model.with_operating_points(section, name).calibration.save(path)
            if progress:
                print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        written.append(path)
    return written
