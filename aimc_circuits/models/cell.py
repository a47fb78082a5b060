"""Behavioral model of the capacitor-grouped cell column, built from calibration/cell.json.

Vectorized numpy: given row levels (B, R), weight codes (R,) or (R, n_out) and one chip
instance's capacitor mismatch, returns the group column voltages (B, n_out, groups) and the
energy per cycle. No SPICE; every number comes from the calibration file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..blocks.cell import CellDesign
from ..errors import AimcError, ParameterError
from ..fit.cell import COLUMN_PARAMS, column_voltage_c
from .common import check_int_codes, read_calibration

__all__ = ["CellChip", "CellModel", "K_BOLTZMANN"]

K_BOLTZMANN = 1.380649e-23


@dataclass(frozen=True)
class CellChip:
    """One chip instance: relative error of every bit capacitor, shape (R, n_out, groups, bits)."""

    cap_err: np.ndarray


class CellModel:
    """Fitted cell-column model. ``CellModel.load()`` reads the shipped calibration."""

    def __init__(self, calibration: dict[str, Any]):
        try:
            self.design = CellDesign(**calibration["design"])
            self.params = {k: float(calibration["model"]["params"][k]["value"]) for k in COLUMN_PARAMS}
            mm = calibration["mismatch"]["params"]
            self.sigma_u = float(mm["sigma_u"]["value"])
            self.sigma_0 = float(mm["sigma_0"]["value"])
            en = calibration["energy"]
            self.e_fit = {k: float(v["value"]) for k, v in en["supply_fit"]["params"].items()}
            self.e_gate_bit = np.asarray(en["e_gate_per_bit_j"], dtype=float)
            self.cu = float(calibration["noise"]["cu_f"])
        except (KeyError, TypeError) as exc:
            raise AimcError(f"cell calibration is missing or malformed ({exc!r}); regenerate it with "
                            f"`aimc calibrate --block cell`") from exc
        self.calibration = calibration

    @classmethod
    def load(cls, path: Path | str | None = None) -> "CellModel":
        """Read a calibration JSON (default: calibration/cell.json)."""
        return cls(read_calibration("cell", path))

    # -- weights -----------------------------------------------------------------------
    def group_codes(self, weights: Any) -> np.ndarray:
        """Split weight codes 0..2^weight_bits-1 into group codes: (..., groups), group 0 = LSBs."""
        d = self.design
        w = check_int_codes("weights", weights, 2**d.weight_bits - 1)
        shifts = d.bits_per_group * np.arange(d.groups)
        return (w[..., None] >> shifts) & d.max_code

    def sigma_per_bit(self) -> np.ndarray:
        """Relative sigma of bit k's capacitor (2^k units), shape (bits,)."""
        k = np.arange(self.design.bits_per_group)
        return np.sqrt(self.sigma_u**2 / 2.0**k + self.sigma_0**2)

    def draw_chip(self, rng: np.random.Generator, rows: int, n_out: int) -> CellChip:
        """A chip instance: independent capacitor errors for every (row, column, group, bit)."""
        d = self.design
        err = rng.standard_normal((rows, n_out, d.groups, d.bits_per_group), dtype=np.float32)
        return CellChip(cap_err=err * self.sigma_per_bit().astype(np.float32))

    def effective_codes(self, weights: Any, chip: CellChip | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(effective codes (R, n_out, groups) in units of Cu, column capacitance of the bit caps
        (n_out, groups) in Cu) for one chip (None: nominal capacitors)."""
        d = self.design
        codes = self.group_codes(weights)
        if codes.ndim != 3:
            raise ParameterError(f"weights must be (rows,) or (rows, n_out); got shape {np.shape(weights)}")
        R = codes.shape[0]
        if chip is None:
            return codes.astype(np.float64), np.full(codes.shape[1:], float(R * d.max_code))
        if chip.cap_err.shape[:3] != codes.shape:
            raise ParameterError(f"chip mismatch has shape {chip.cap_err.shape[:3]}, weights need {codes.shape}")
        unit = 2.0 ** np.arange(d.bits_per_group)
        bits = (codes[..., None] >> np.arange(d.bits_per_group)) & 1
        caps = unit * (1.0 + chip.cap_err)
        return (bits * caps).sum(-1), caps.sum(-1).sum(0)

    # -- the model ---------------------------------------------------------------------
    def column_voltages(self, v_in: Any, weights: Any, chip: CellChip | None = None,
                        rng: np.random.Generator | None = None, temp_c: float = 27.0) -> np.ndarray:
        """Group column voltages (V), shape (B, n_out, groups) ((B, groups) for 1-D weights).

        v_in: (B, R) row levels in V (0..vdd). weights: (R,) or (R, n_out) codes 0..2^weight_bits-1.
        chip: capacitor mismatch (None: nominal). rng: draws kT/C noise when given."""
        d = self.design
        v = np.asarray(v_in, dtype=np.float64)
        if v.ndim != 2 or not np.all(np.isfinite(v)) or (v.size and (v.min() < 0 or v.max() > d.vdd)):
            raise ParameterError(f"v_in must be a finite (B, rows) array of levels in [0, {d.vdd}] V; "
                                 f"got shape {v.shape}" + ("" if not v.size else f", range [{np.nanmin(v)}, {np.nanmax(v)}]"))
        w = np.asarray(weights)
        one_d = w.ndim == 1
        w2 = w[:, None] if one_d else w
        if w2.shape[0] != v.shape[1]:
            raise ParameterError(f"weights have {w2.shape[0]} rows but v_in has {v.shape[1]}")
        eff, c_bits = self.effective_codes(w2, chip)
        R = v.shape[1]
        c = c_bits + R * self.params["p_row"] + self.params["p_fix"]  # (n_out, groups), Cu
        s = np.einsum("br,rjg->bjg", v, eff, optimize=True)
        n = self.group_codes(w2).sum(0)  # (n_out, groups)
        out = column_voltage_c(s, n, c, d.vr, self.params)
        if rng is not None:
            kt = K_BOLTZMANN * (273.15 + temp_c)
            sigma = np.sqrt(kt / (c * self.cu) * (1 + n / c))
            out = out + sigma * rng.standard_normal(out.shape)
        return out[:, 0, :] if one_d else out

    def full_scale(self, rows: int) -> float:
        """Column swing (V) at every code = max and every level = v_fs, nominal caps."""
        d, p = self.design, self.params
        return d.v_fs * rows * d.max_code / (rows * (d.max_code + p["p_row"]) + p["p_fix"])

    def energy_per_cycle(self, v_in: Any, weights: Any) -> np.ndarray:
        """Supply energy (J) of one charge-sharing cycle of each column, shape (B, n_out):
        array (row drivers + reset, fitted to SPICE) plus switch gate drive (per toggling bit)."""
        v = np.asarray(v_in, dtype=np.float64)
        w = np.asarray(weights)
        w2 = w[:, None] if w.ndim == 1 else w
        codes = self.group_codes(w2)  # (R, n_out, groups)
        s = np.einsum("br,rjg->bj", v, codes.astype(np.float64), optimize=True)
        n = codes.sum((0, 2))
        # gate drive per group code (a table over the 2^bits_per_group codes), summed per column
        d = self.design
        per_code = ((np.arange(d.max_code + 1)[:, None] >> np.arange(d.bits_per_group)) & 1) @ self.e_gate_bit
        e_gate = per_code[codes].sum((0, 2))
        e = self.e_fit
        return e["e_s"] * s + e["e_n"] * n + e["e_r"] * v.shape[1] + e_gate
