"""Testbench: what a sweep simulates and measures.

A testbench is a small class: a netlist body (``.param`` defaults for the point
parameters, instances of the netlists under test, sources), the analysis command,
and a ``measure`` that turns the simulated vectors into named numbers (SI units).

Parameters come in three kinds:

* **point parameters** (``params``): ``.param`` values changed between points of one
  ngspice session with ``alterparam`` + ``reset`` (no model reload);
* **structural parameters** (``structural``): change the deck itself (number of rows,
  device sizes baked into instance lines ...), so each distinct value is its own
  session and pays its own model load;
* the reserved ``corner`` (deck-level), ``temp`` (``option temp``, per point) and
  ``seed`` (mismatch draw, ``setseed`` + ``reset``, `_mm` corners only).
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError, did_you_mean
from ..pdk import check_corner, is_mismatch_corner
from .runner import SimResult

__all__ = ["Testbench", "RESERVED", "TEMP_RANGE_C"]

RESERVED = ("corner", "temp", "seed")
#: modules (of this package) whose code reads every point's results, hashed into every cache key
MEASUREMENT_MODULES = ("spice.runner", "spice.measure")
#: Allowed simulation temperatures (C): the range the sky130 models are qualified over.
TEMP_RANGE_C = (-55.0, 150.0)


class Testbench(ABC):
    """Base class of all testbenches. Subclasses set ``name``, ``params``, ``structural``
    (both name -> default) and implement :meth:`body`, :meth:`analysis`, :meth:`measure`."""

    name: ClassVar[str] = "testbench"
    params: ClassVar[Mapping[str, float]] = {}
    structural: ClassVar[Mapping[str, Any]] = {}
    #: vectors to fetch from ngspice (None: all). Keep this small for big circuits.
    keep: ClassVar[tuple[str, ...] | None] = None
    #: extra ``.options`` for the deck.
    options: ClassVar[str] = "klu"
    #: resolve the library's device subcircuits into plain elements and model cards before
    #: ngspice sees the deck (:mod:`.resolve`; on ``_mm`` corners each instance's mismatch is
    #: drawn into the deck from the point's seed)
    resolve_devices: ClassVar[bool] = False

    @abstractmethod
    def body(self, s: Mapping[str, Any]) -> str:
        """Netlist body for structural values `s`. Must declare ``.param <p>=...`` for every point parameter."""

    @abstractmethod
    def analysis(self, p: Mapping[str, Any]) -> str:
        """The ngspice analysis command for point `p` (e.g. ``tran 1p 5n``)."""

    @abstractmethod
    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        """Named results (floats or 1-D arrays, SI units) of one simulated point."""

    def check(self, p: Mapping[str, Any]) -> None:
        """Validate block-specific ranges of point `p`; raise ParameterError. Default: nothing."""

    def point_commands(self, p: Mapping[str, Any]) -> tuple[list[str], bool]:
        """Commands that set point `p` in a loaded session, and whether a ``reset`` must follow.
        Default: ``alterparam`` for each point parameter (needs reset)."""
        cmds = [f"alterparam {k}={_fmt(p[k])}" for k in self.params]
        return cmds, bool(cmds)

    # ------------------------------------------------------------------------------
    def code_hash(self) -> str:
        """Hash of the code that makes and reads a point: the testbench's module, the modules of
        its base classes in this package and the SPICE layer's runner and measurement helpers
        (:data:`MEASUREMENT_MODULES`); so editing measure(), a base class or a helper it calls
        invalidates the cache."""
        cls = type(self)
        mod = inspect.getmodule(cls)
        h = hashlib.sha256((inspect.getsource(mod) if mod is not None else inspect.getsource(cls)).encode())
        seen = {mod}
        package = __name__.split(".")[0]
        more = [inspect.getmodule(c) for c in cls.__mro__[1:]] + [importlib.import_module(f"{package}.{m}")
                                                                  for m in MEASUREMENT_MODULES]
        for m in more:
            if m is None or m in seen or not m.__name__.startswith(package + "."):
                continue
            seen.add(m)
            h.update(inspect.getsource(m).encode())
        return h.hexdigest()[:16] + ":" + repr(self)

    def normalize(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """Fill defaults and validate one point; ParameterError names the bad value and the allowed ones."""
        allowed = set(self.params) | set(self.structural) | set(RESERVED)
        for key in point:
            if key not in allowed:
                raise ParameterError(
                    f"testbench {self.name!r} has no parameter {key!r}; allowed: "
                    f"{', '.join(sorted(allowed))}.{did_you_mean(key, allowed)}"
                )
        p: dict[str, Any] = {"corner": "tt", "temp": 27.0, "seed": None}
        p.update(self.structural)
        p.update(self.params)
        p.update(point)
        check_corner(p["corner"])
        p["temp"] = _finite(p["temp"], "temp")
        if not TEMP_RANGE_C[0] <= p["temp"] <= TEMP_RANGE_C[1]:
            raise ParameterError(f"temp={p['temp']} C is outside the allowed range {TEMP_RANGE_C} C")
        if is_mismatch_corner(p["corner"]):
            if p["seed"] is None:
                p["seed"] = 1
            if isinstance(p["seed"], bool) or not isinstance(p["seed"], (int, np.integer)) or p["seed"] < 0:
                raise ParameterError(f"seed={p['seed']!r} must be a non-negative integer")
            p["seed"] = int(p["seed"])
        elif p["seed"] is not None:
            raise ParameterError(
                f"seed={p['seed']!r} given for corner {p['corner']!r}, which has no mismatch; "
                f"use {p['corner']}_mm for Monte Carlo draws"
            )
        for k in self.params:
            p[k] = _finite(p[k], k)
        self.check(p)
        return p

    def deck(self, p: Mapping[str, Any], lib_line: str, pdk: Any = None) -> str:
        """Full netlist for the session that simulates point `p` (`pdk`: the models, needed to
        resolve devices when ``resolve_devices`` is set)."""
        s = {k: p[k] for k in self.structural}
        body = self.body(s)
        for k in self.params:
            if not re.search(rf"^\s*\.param\b.*\b{re.escape(k)}\s*=", body, re.MULTILINE | re.IGNORECASE):
                raise ParameterError(f"testbench {self.name!r}: body declares no `.param {k}=...`")
        if self.resolve_devices:
            if pdk is None:
                raise ParameterError(f"testbench {self.name!r} resolves devices: deck() needs the pdk")
            from .resolve import resolve_deck_body

            seed = p["seed"] if is_mismatch_corner(p["corner"]) else None  # the draw is in the deck
            body = resolve_deck_body(body, lib_line, pdk.lib, pdk.sha256, mismatch_seed=seed)
        return (
            f"* aimc_circuits testbench {self.name} {_fmt_struct(s)}\n"
            f"{lib_line}\n{body.strip()}\n.options {self.options}\n.end\n"
        )


def _finite(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(v):
        raise ParameterError(f"{name}={value!r} must be finite")
    return v


def _fmt(v: Any) -> str:
    return repr(float(v)) if isinstance(v, (int, float, np.floating, np.integer)) else str(v)


def _fmt_struct(s: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(s.items()))
