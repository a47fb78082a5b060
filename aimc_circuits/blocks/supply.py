"""Supply voltage (vdd) of a block model; numpy only.

A calibration is characterized at its design's supply (1.8 V: the reference). Its ``supply``
section (written by the variant's ``supply.py``) holds how the parameters its operating-point laws
move, and its supply energy, change with vdd: each refitted to the same SPICE testbench at
tt / 27 C with the supply rail moved, and with it everything tied to the rail (the logic levels
and switch gate drive, the cell's column reset level when it is vdd, the time accumulator's ramp
start), while the ideal references stay (the row DAC's unit current, the cell's full-scale level,
the time accumulator's vmid, vhi and bias current i0). The fit supplies are 0.9, 1.0 and 1.1 x
the reference (vdd +- 10 %); the shift from the refit at the reference is fitted by a quadratic in
vdd - vdd_ref through the three. 0.95 and 1.05 x are simulated too and held out of the law: they
measure its interpolation error.

:class:`SupplyTable` reads that section and gives the shifts at any vdd: inside the characterized
supplies by the law; outside them it warns with the range and extrapolates. The supply law is
characterized at tt / 27 C only and added to a corner's and temperature's shifts (for a ``mul``
parameter: its factors multiply): at the other corners that is an approximation, not checked.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import ParameterError
from .operating_point import KINDS, fit_quadratic_law, move, quadratic_law, shift_of, summarize_checks

__all__ = ["FIT_SUPPLY_RATIOS", "HELD_OUT_SUPPLY_RATIOS", "SupplyTable", "build_supply_section", "summarize_supply",
           "supply_grid", "supply_key"]

#: the supplies (x the reference) a supply characterization fits its law on, and those it holds out
FIT_SUPPLY_RATIOS = (0.9, 1.0, 1.1)
HELD_OUT_SUPPLY_RATIOS = (0.95, 1.05)


def supply_key(vdd: float) -> str:
    """'vdd=1.62' etc.: the key of one supply in the calibration files."""
    return f"vdd={float(vdd):.4g}"


def supply_grid(vdd_ref: float) -> tuple[list[float], list[float]]:
    """(fit supplies, held-out supplies) in V around `vdd_ref`."""
    return ([round(vdd_ref * r, 6) for r in FIT_SUPPLY_RATIOS], [round(vdd_ref * r, 6) for r in HELD_OUT_SUPPLY_RATIOS])


def build_supply_section(params: Mapping[str, tuple[str, str, str]], refits: Mapping[float, Mapping[str, float]],
                         vdd_ref: float) -> dict[str, Any]:
    """The ``supply`` section from the refitted parameters at every supply (`refits`: vdd ->
    {name: value}; `params`: name -> (kind, unit, meaning)): shifts from the refit at `vdd_ref`,
    each fitted across the fit supplies by a quadratic."""
    fit_v, held_v = supply_grid(vdd_ref)
    ref = refits[vdd_ref]
    shifts = {v: {p: shift_of(params[p][0], r[p], ref[p]) for p in params} for v, r in refits.items()}
    law = {p: fit_quadratic_law(fit_v, vdd_ref, [shifts[v][p] for v in fit_v], f"supply law of {p}") for p in params}
    return {"params": {p: {"kind": k, "unit": u, "meaning": m} for p, (k, u, m) in params.items()},
            "vdd_ref_v": vdd_ref, "vdd_fit_v": fit_v, "vdd_held_out_v": held_v, "law": law,
            "refit": {supply_key(v): dict(r) for v, r in refits.items()},
            "shifts": {supply_key(v): s for v, s in shifts.items()}}


def summarize_supply(checks: Mapping[str, Mapping[str, float]], vdd_ref: float) -> dict[str, Any]:
    """Worst errors over the fit supplies and over the held-out ones (`checks`: supply_key -> entry)."""
    return summarize_checks(checks, held_out_keys=[supply_key(v) for v in supply_grid(vdd_ref)[1]],
                            names=("fit_supplies", "held_out_supplies"))


@dataclass(frozen=True)
class SupplyTable:
    """The ``supply`` section of one calibration, checked."""

    kinds: dict[str, str]  #: parameter -> "add" | "mul"
    law: dict[str, list[float]]  #: parameter -> [c0, c1, c2] in vdd - vdd_ref
    vdd_ref: float  #: the supply of the reference calibration (V)
    vdd_fit: tuple[float, ...]  #: the supplies the law was fitted on (V)
    source: str = "<memory>"

    @classmethod
    def from_section(cls, section: Mapping[str, Any], source: str, params: Mapping[str, str]) -> "SupplyTable":
        """Parse and check the section; `params`: what the variant's model applies (name -> kind)."""
        from ..calibration_file import CalibrationError

        where = f"{source}: supply"
        try:
            kinds = {str(k): str(v["kind"]) for k, v in section["params"].items()}
            law = {str(p): [float(x) for x in co] for p, co in section["law"].items()}
            vdd_ref = float(section["vdd_ref_v"])
            fit = tuple(float(v) for v in section["vdd_fit_v"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"{where} is malformed ({exc!r}); regenerate it with `aimc calibrate "
                                   f"--only-supply`") from None
        if kinds != dict(params) or not set(kinds.values()) <= set(KINDS):
            raise CalibrationError(f"{where}.params is {kinds}; this model applies {dict(params)}")
        if set(law) != set(kinds) or any(len(co) != 3 or not all(np.isfinite(co)) for co in law.values()):
            raise CalibrationError(f"{where}.law = {law!r}; needed: 3 finite coefficients for each of {sorted(kinds)}")
        if len(fit) < 2 or not all(np.isfinite(fit)) or not 0 < vdd_ref < np.inf:
            raise CalibrationError(f"{where}: vdd_fit_v = {fit!r}, vdd_ref_v = {vdd_ref!r}; needed: at least 2 "
                                   f"finite supplies and a positive reference")
        return cls(kinds=kinds, law=law, vdd_ref=vdd_ref, vdd_fit=fit, source=source)

    @property
    def vdd_range(self) -> tuple[float, float]:
        return min(self.vdd_fit), max(self.vdd_fit)

    def shifts(self, vdd: float, *, warn: bool = True) -> dict[str, float]:
        """{parameter: shift} at supply `vdd` (V)."""
        v = float(vdd)
        if not 0 < v < np.inf:
            raise ParameterError(f"vdd={vdd!r} must be a finite supply > 0 V")
        lo, hi = self.vdd_range
        if warn and not lo - 1e-9 <= v <= hi + 1e-9:
            warnings.warn(f"vdd={v:g} V: {self.source} characterizes {lo:g}..{hi:g} V; extrapolating its supply law",
                          stacklevel=3)
        return {p: quadratic_law(co, v, self.vdd_ref) for p, co in self.law.items()}

    def moved(self, name: str, value: Any, shifts: Mapping[str, float]) -> Any:
        """`value` (the model's parameter `name`) moved by its shift in `shifts`."""
        return move(self.kinds[name], value, shifts[name])
