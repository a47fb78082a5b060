"""SPICE-free design parameters of a block variant: a frozen dataclass whose every field says
its unit, meaning and allowed range (``param``), validated on construction.

A variant's ``design.py`` declares its ``Design`` subclass; testbenches, characterization,
calibration and behavioral model all take it. Nothing here imports the SPICE layer.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Mapping, TypeVar

from ..errors import ParameterError, did_you_mean

__all__ = ["DEVICE_VDD_MAX_V", "SUPPLY_MAX_V", "Design", "check_supply", "param"]

T = TypeVar("T", bound="Design")

#: the sky130 1.8 V devices' SPICE models are specified for terminal voltages up to this (V)
DEVICE_VDD_MAX_V = 1.95
#: the highest supply a design takes (V): 1.8 V + 10 %, the supply-sensitivity corner
SUPPLY_MAX_V = 1.98


def check_supply(vdd: float, where: str) -> None:
    """Warn when `vdd` is above the devices' model range (the + 10 % supply corner is)."""
    if vdd > DEVICE_VDD_MAX_V:
        warnings.warn(f"{where}: vdd={vdd:g} V is above {DEVICE_VDD_MAX_V} V, the sky130 1.8 V devices' model "
                      f"range: SPICE extrapolates the models there", stacklevel=4)


def param(default: Any, unit: str, meaning: str, lo: float | None = None, hi: float | None = None, *,
          lo_open: bool = False, integer: bool = False) -> Any:
    """A design field: default, unit ('' for a pure number), one-line meaning, allowed range
    [lo, hi] (lo excluded when lo_open), integer-valued or not."""
    return field(default=default, metadata={"unit": unit, "meaning": meaning, "lo": lo, "hi": hi,
                                            "lo_open": lo_open, "integer": integer})


@dataclass(frozen=True)
class Design:
    """Base of the design dataclasses (see the module docstring)."""

    def __post_init__(self) -> None:
        cls = type(self).__name__
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Design):
                continue
            md = f.metadata
            if "unit" not in md:
                continue
            allowed = self.allowed(f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ParameterError(f"{cls}.{f.name}={v!r} must be a finite number; allowed: {allowed}")
            if md["integer"] and v != int(v):
                raise ParameterError(f"{cls}.{f.name}={v!r} must be an integer; allowed: {allowed}")
            lo, hi = md["lo"], md["hi"]
            if (lo is not None and (v < lo or (md["lo_open"] and v == lo))) or (hi is not None and v > hi):
                raise ParameterError(f"{cls}.{f.name}={v!r} is out of range; allowed: {allowed}")
        self.check()

    def check(self) -> None:
        """Checks across fields (subclasses); raise ParameterError naming the values."""

    @classmethod
    def allowed(cls, name: str) -> str:
        """The allowed range of field `name`, in words."""
        md = {f.name: f.metadata for f in fields(cls)}[name]
        lo, hi, unit = md["lo"], md["hi"], md["unit"]
        kind = "integer" if md["integer"] else "number"
        u = f" {unit}" if unit else ""
        if lo is not None and hi is not None:
            return f"{kind} in {'(' if md['lo_open'] else '['}{lo:g}, {hi:g}]{u}"
        if lo is not None:
            return f"{kind} {'>' if md['lo_open'] else '>='} {lo:g}{u}"
        return f"{kind}{u}" if hi is None else f"{kind} <= {hi:g}{u}"

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """Every field: name, default, unit, allowed range, meaning (for docs and `--help`)."""
        out = []
        for f in fields(cls):
            if "unit" not in f.metadata:
                continue
            out.append({"name": f.name, "default": f.default if f.default is not MISSING else None,
                        "unit": f.metadata["unit"], "allowed": cls.allowed(f.name), "meaning": f.metadata["meaning"]})
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """From a mapping (a calibration's ``design`` section); unknown keys raise, naming the
        allowed ones; nested designs are built from their sub-mappings."""
        if not isinstance(data, Mapping):
            raise ParameterError(f"{cls.__name__}: expected a mapping of design fields, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        kw: dict[str, Any] = {}
        for k, v in data.items():
            if k not in known:
                raise ParameterError(f"unknown {cls.__name__} field {k!r}; allowed: {', '.join(known)}."
                                     f"{did_you_mean(k, known)}")
            factory = known[k].default_factory
            if isinstance(v, Mapping) and isinstance(factory, type) and issubclass(factory, Design):
                kw[k] = factory.from_dict(v)
            else:
                kw[k] = v
        return cls(**kw)
