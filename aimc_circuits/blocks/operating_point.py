"""Operating points (process corner x temperature) of a block model; numpy only.

A calibration is characterized at one operating point, tt / 27 C (the *reference*). Its
``operating_points`` section (written by the variant's ``operating_points.py``) holds, for every
process corner, how a few dominant fitted parameters move away from the reference: each such
parameter refitted to the same SPICE testbench at every corner x temperature, and its shift from
the refit at tt / 27 C fitted across the characterized temperatures by a quadratic in T - 27 C
(three temperatures: the quadratic passes through them). A shift is ``add`` (the parameter plus
the shift) or ``mul`` (the parameter times 1 + the shift). Shifts, not the refitted values, are
applied to the reference model, so at tt / 27 C the model is the reference model exactly.

:class:`OperatingPointTable` reads that section and gives the shifts at any corner and any
temperature: inside the characterized temperatures by the fitted law; outside them it warns with
the range and extrapolates the law. An unknown corner is refused with the list.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import ParameterError, did_you_mean

__all__ = ["CORNERS", "KINDS", "T_REF_C", "OperatingPointTable", "fit_quadratic_law", "fit_temperature_law", "move",
           "op_key", "parse_op_key", "quadratic_law"]

#: the process corners an operating-point section covers (sky130's global corners)
CORNERS = ("tt", "ss", "ff", "sf", "fs")
#: how a shift acts on its parameter
KINDS = ("add", "mul")
#: the temperature the temperature law is centred on (C): the reference calibrations' temperature
T_REF_C = 27.0


def op_key(corner: str, temperature_c: float) -> str:
    """'ss@85' etc.: the key of one operating point in the calibration files."""
    return f"{corner}@{float(temperature_c):g}"


def parse_op_key(key: str) -> tuple[str, float]:
    corner, _, t = key.partition("@")
    return corner, float(t)


def fit_quadratic_law(x: Any, x_ref: float, shifts: Any, what: str = "law") -> list[float]:
    """Coefficients [c0, c1, c2] of shift(x) = c0 + c1 (x - x_ref) + c2 (x - x_ref)^2 by least
    squares over the characterized x (a quadratic needs three; fewer give a lower order)."""
    t = np.asarray(x, dtype=float) - x_ref
    y = np.asarray(shifts, dtype=float)
    if t.shape != y.shape or t.size == 0 or not np.all(np.isfinite(y)):
        raise ValueError(f"{what}: {t.size} points and shifts {y!r}")
    deg = min(2, t.size - 1)
    c = np.polynomial.polynomial.polyfit(t, y, deg) if deg else np.array([y.mean()])
    return [float(v) for v in np.pad(c, (0, 3 - c.size))]


def fit_temperature_law(temps_c: Any, shifts: Any) -> list[float]:
    """Coefficients [c0, c1, c2] of shift(T) = c0 + c1 (T - 27) + c2 (T - 27)^2 (see fit_quadratic_law)."""
    return fit_quadratic_law(temps_c, T_REF_C, shifts, "temperature law")


def quadratic_law(coeffs: list[float], x: float, x_ref: float) -> float:
    dx = float(x) - x_ref
    return coeffs[0] + coeffs[1] * dx + coeffs[2] * dx * dx


def _law(coeffs: list[float], temperature_c: float) -> float:
    return quadratic_law(coeffs, temperature_c, T_REF_C)


def move(kind: str, value: Any, shift: float) -> Any:
    """`value` moved by `shift` of `kind` (see KINDS)."""
    return value + shift if kind == "add" else value * (1.0 + shift)


@dataclass(frozen=True)
class OperatingPointTable:
    """The ``operating_points`` section of one calibration, checked."""

    kinds: dict[str, str]  #: parameter -> "add" | "mul"
    laws: dict[str, dict[str, list[float]]]  #: corner -> parameter -> [c0, c1, c2]
    temps_c: tuple[float, ...]  #: the temperatures the laws were fitted on (C)
    source: str = "<memory>"

    @classmethod
    def from_section(cls, section: Mapping[str, Any], source: str, params: Mapping[str, str]) -> "OperatingPointTable":
        """Parse and check the section; `params`: what the variant's model applies (name -> kind)."""
        from ..calibration_file import CalibrationError

        where = f"{source}: operating_points"
        try:
            kinds = {str(k): str(v["kind"]) for k, v in section["params"].items()}
            laws = {str(c): {str(p): [float(x) for x in co] for p, co in ps.items()}
                    for c, ps in section["law"].items()}
            temps = tuple(float(t) for t in section["temps_c"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"{where} is malformed ({exc!r}); regenerate it with `aimc calibrate "
                                   f"--operating-points`") from None
        if kinds != dict(params):
            raise CalibrationError(f"{where}.params is {kinds}; this model applies {dict(params)}")
        if sorted(laws) != sorted(CORNERS):
            raise CalibrationError(f"{where}.law covers corners {sorted(laws)}; needed: {', '.join(CORNERS)}")
        for c, ps in laws.items():
            if set(ps) != set(kinds):
                raise CalibrationError(f"{where}.law.{c} has {sorted(ps)}; needed: {sorted(kinds)}")
            for p, co in ps.items():
                if len(co) != 3 or not all(np.isfinite(co)):
                    raise CalibrationError(f"{where}.law.{c}.{p} = {co!r}; needed: 3 finite coefficients")
        if len(temps) < 2 or not all(np.isfinite(temps)):
            raise CalibrationError(f"{where}.temps_c = {temps!r}; needed: at least 2 temperatures")
        return cls(kinds=kinds, laws=laws, temps_c=temps, source=source)

    @property
    def temperature_range_c(self) -> tuple[float, float]:
        return min(self.temps_c), max(self.temps_c)

    def shifts(self, corner: str, temperature_c: float, *, warn: bool = True) -> dict[str, float]:
        """{parameter: shift} at `corner` and `temperature_c` (C)."""
        if corner not in self.laws:
            raise ParameterError(f"corner={corner!r}; characterized: {', '.join(sorted(self.laws))}"
                                 f"{did_you_mean(corner, list(self.laws))}")
        t = float(temperature_c)
        if not np.isfinite(t) or t <= -273.15:
            raise ParameterError(f"temperature_c={temperature_c!r} must be a finite temperature above -273.15 C")
        lo, hi = self.temperature_range_c
        if warn and not lo <= t <= hi:
            warnings.warn(f"temperature_c={t:g}: {self.source} characterizes {lo:g}..{hi:g} C; extrapolating its "
                          f"temperature law", stacklevel=3)
        return {p: _law(co, t) for p, co in self.laws[corner].items()}

    def moved(self, name: str, value: Any, shifts: Mapping[str, float]) -> Any:
        """`value` (the reference model's parameter `name`) moved by its shift in `shifts`."""
        return move(self.kinds[name], value, shifts[name])


#: the temperatures an operating-point characterization fits its laws on, and the one it holds out
FIT_TEMPS_C = (-40.0, 27.0, 85.0)
HELD_OUT_TEMPS_C = (60.0,)


def operating_grid(fit_temps_c=FIT_TEMPS_C, held_out_temps_c=HELD_OUT_TEMPS_C) -> list[tuple[str, float]]:
    """Every (corner, temperature) an operating-point characterization simulates."""
    return [(c, t) for c in CORNERS for t in (*fit_temps_c, *held_out_temps_c)]


def shift_of(kind: str, value: float, reference: float) -> float:
    """The shift that moves `reference` to `value` (see KINDS)."""
    return value - reference if kind == "add" else value / reference - 1.0


def build_section(params: Mapping[str, tuple[str, str, str]], refits: Mapping[str, Mapping[str, float]],
                  fit_temps_c=FIT_TEMPS_C, held_out_temps_c=HELD_OUT_TEMPS_C) -> dict[str, Any]:
    """The ``operating_points`` section from the refitted parameters at every operating point
    (`refits`: op_key -> {name: value}; `params`: name -> (kind, unit, meaning)). The shifts are
    taken from the refit at tt / 27 C and fitted across `fit_temps_c` per corner."""
    ref = refits[op_key("tt", T_REF_C)]
    shifts = {k: {p: shift_of(params[p][0], v[p], ref[p]) for p in params} for k, v in refits.items()}
    law = {c: {p: fit_temperature_law(fit_temps_c, [shifts[op_key(c, t)][p] for t in fit_temps_c]) for p in params}
           for c in CORNERS}
    return {"params": {p: {"kind": k, "unit": u, "meaning": m} for p, (k, u, m) in params.items()},
            "temps_c": list(fit_temps_c), "held_out_temps_c": list(held_out_temps_c),
            "reference": op_key("tt", T_REF_C), "law": law, "refit": {k: dict(v) for k, v in refits.items()},
            "shifts": shifts}


def check_entry(model: Any, spice: Any, model_ref: Any, spice_ref: Any, scale: float, unit: str) -> dict[str, float]:
    """The model at one operating point against SPICE there, in `unit` (values / `scale`): the
    error itself (rms, max) and the error of the shift from the reference operating point
    (shift_rms, shift_max: what the operating-point law adds to the reference model's own error)."""
    m, s, mr, sr = (np.asarray(a, dtype=float) for a in (model, spice, model_ref, spice_ref))
    err = (m - s) / scale
    shift = ((m - mr) - (s - sr)) / scale
    return {"rms": float(np.sqrt(np.mean(err**2))), "max": float(np.max(np.abs(err))),
            "shift_rms": float(np.sqrt(np.mean(shift**2))), "shift_max": float(np.max(np.abs(shift))),
            "spice_shift_max": float(np.max(np.abs((s - sr) / scale))), "unit": unit, "n": int(err.size)}


def summarize_checks(checks: Mapping[str, Mapping[str, float]], held_out_temps_c=HELD_OUT_TEMPS_C,
                     held_out_keys=None, names=("fit_temps", "held_out_temps")) -> dict[str, Any]:
    """Worst errors over the fit points and over the held-out ones (by default: the held-out
    temperatures at every corner; `held_out_keys`: those keys)."""
    held = set(held_out_keys) if held_out_keys is not None else \
        {op_key(c, t) for c in CORNERS for t in held_out_temps_c}
    out: dict[str, Any] = {}
    for name, keys in zip(names, ([k for k in checks if k not in held], sorted(held & set(checks)))):
        if keys:
            out[name] = {f: max(checks[k][f] for k in keys) for f in ("rms", "max", "shift_rms", "shift_max")}
            out[name]["unit"] = checks[keys[0]]["unit"]
            out[name]["worst_shift"] = max(keys, key=lambda k: checks[k]["shift_rms"])
    return out
