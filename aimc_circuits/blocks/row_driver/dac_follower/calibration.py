"""Typed calibration of the row-driver variant ``dac_follower``
(``calibration/row_driver/dac_follower.json``, written by :mod:`.characterize`)."""
from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ....calibration_file import Calibration, CalibrationError, Fitted
from .design import INPUT_BITS, N_CODES, RowDriverDesign

__all__ = ["RowDriverCalibration"]

_S, _D, _E = "static_model.params.", "dynamic_model.params.", "energy.params."


class RowDriverCalibration(Calibration):
    """The static 256-code transfer model with its residual, the loaded-line dynamic model,
    per-row mismatch statistics, the energy model and the output noise."""

    family: ClassVar[str] = "row_driver"
    variant: ClassVar[str] = "dac_follower"
    version: ClassVar[int] = 1
    design_class = RowDriverDesign
    fitted: ClassVar[dict[str, Fitted]] = {
        "v0": Fitted(_S + "v0.value", "V", "code-0 level", 0.0, 1.95),
        "u": Fitted(_S + "u.value", "V", "unit step of the DAC", 0.0, 0.1, lo_open=True),
        "a2": Fitted(_S + "a2.value", "1/V", "output-dependent compression", -10.0, 10.0),
        **{f"eps{k}": Fitted(_S + f"eps{k}.value", "", f"relative weight error of bit {k}", -0.5, 0.5)
           for k in range(INPUT_BITS)},
        "residual": Fitted("static_model.residual_v", "V", "what the smooth static model leaves, per code",
                           -0.1, 0.1, shape=(N_CODES,)),
        **{k: Fitted(_D + k + ".value", "V" if k in ("s0", "q0", "r0") else "", f"dynamic-error term {k}", -1.0, 1.0)
           for k in ("m", "s0", "s1", "q0", "q1", "r0", "r1")},
        "sigma_off": Fitted("mismatch.sigma_offset_v", "V", "per-row offset sigma", 0.0, 0.1),
        "sigma_gain": Fitted("mismatch.sigma_gain_rel", "", "per-row relative gain sigma", 0.0, 0.5),
        "sigma_eps": Fitted("mismatch.sigma_eps", "", "per-row bit-weight error sigma, by bit", 0.0, 0.5,
                            shape=(INPUT_BITS,)),
        "e0": Fitted(_E + "e0.value", "J", "energy per conversion: static bias and DAC", 0.0, 1e-9),
        "e1": Fitted(_E + "e1.value", "J/V", "energy per conversion per volt of level", -1e-9, 1e-9),
        "e2": Fitted(_E + "e2.value", "J/(F V)", "line charge energy per farad and volt", -10.0, 10.0),
        "e3": Fitted(_E + "e3.value", "J/(F V)", "line charge energy of the previous level", -10.0, 10.0),
        "lsb_v": Fitted("transfer.lsb_v", "V", "endpoint LSB of the SPICE transfer", 0.0, 0.1, lo_open=True),
    }
    v0: float
    u: float
    a2: float
    residual: np.ndarray
    sigma_off: float
    sigma_gain: float
    sigma_eps: np.ndarray
    lsb_v: float

    def check(self) -> None:
        noise = self.data.get("noise", {}).get("per_cols")
        if not isinstance(noise, dict) or not noise:
            raise CalibrationError(f"{self.source}: noise.per_cols (output noise per simulated row load) is missing")
        self.noise_v: dict[int, float] = {}
        for k, v in noise.items():
            try:
                cols, vr = int(k), float(v["v_rms"])
            except (KeyError, TypeError, ValueError):
                raise CalibrationError(f"{self.source}: noise.per_cols.{k} must hold v_rms (V)") from None
            if not (math.isfinite(vr) and 0 <= vr < 0.1):
                raise CalibrationError(f"{self.source}: noise.per_cols.{k}.v_rms = {vr!r} is unphysical; "
                                       f"allowed: [0, 0.1) V")
            self.noise_v[cols] = vr
        settle = self.data.get("settling", {}).get("t_settle_far_0p5lsb_s")
        try:
            cols = sorted({int(str(k).split("x")[0]) for k in settle})
        except (AttributeError, TypeError, ValueError):
            raise CalibrationError(f"{self.source}: settling.t_settle_far_0p5lsb_s (keyed '<columns>x<load code>') "
                                   f"is missing or malformed") from None
        if not cols:
            raise CalibrationError(f"{self.source}: no loaded-line conversions recorded (settling)")
        #: the row loads (columns on a row) the dynamic model was fitted on
        self.load_range_cols: tuple[int, int] = (cols[0], cols[-1])

    @property
    def eps(self) -> np.ndarray:
        return np.array([getattr(self, f"eps{k}") for k in range(INPUT_BITS)])

    @property
    def dynamic_params(self) -> dict[str, float]:
        from .model import DYNAMIC_PARAMS

        return {k: getattr(self, k) for k in DYNAMIC_PARAMS}

    @property
    def energy_params(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("e0", "e1", "e2", "e3")}
