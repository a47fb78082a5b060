"""Behavioral model of the row driver, built from calibration/row_driver.json (no SPICE).

Vectorized numpy: input codes (any shape) -> static row level; with the row's load (selected
cell capacitance, from the weights) and the previous code -> the level each cell samples at
line position x (0 = driver, 1 = far end); per-row mismatch drawn from the fitted statistics;
output noise; energy per conversion.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..blocks.row_driver import N_CODES, RowDriverDesign
from ..errors import AimcError, ParameterError
from ..fit.row_driver import BITS, DYNAMIC_PARAMS, dynamic_error
from .common import check_int_codes, read_calibration

__all__ = ["RowChip", "RowDriverModel", "check_codes"]


def check_codes(name: str, a: Any, hi: int = N_CODES - 1) -> np.ndarray:
    """Input codes 0..255 (see :func:`check_int_codes`)."""
    return check_int_codes(name, a, hi)


@dataclass(frozen=True)
class RowChip:
    """Per-row driver mismatch of one chip: offset (V), relative gain and bit-weight errors (rows, 8)."""

    d_off: np.ndarray
    d_gain: np.ndarray
    d_eps: np.ndarray


class RowDriverModel:
    """Fitted row-driver model. ``RowDriverModel.load()`` reads the shipped calibration."""

    def __init__(self, calibration: dict[str, Any]):
        try:
            self.design = RowDriverDesign.from_dict(calibration["design"])
            sp = calibration["static_model"]["params"]
            self.v0, self.u, self.a2 = (float(sp[k]["value"]) for k in ("v0", "u", "a2"))
            self.eps = np.array([float(sp[f"eps{k}"]["value"]) for k in range(BITS)])
            self.residual = np.asarray(calibration["static_model"]["residual_v"], dtype=float)
            if self.residual.shape != (N_CODES,):
                raise ValueError(f"static_model.residual_v has shape {self.residual.shape}, expected ({N_CODES},)")
            self.dyn = {k: float(calibration["dynamic_model"]["params"][k]["value"]) for k in DYNAMIC_PARAMS}
            mm = calibration["mismatch"]
            self.sigma_off = float(mm["sigma_offset_v"])
            self.sigma_gain = float(mm["sigma_gain_rel"])
            self.sigma_eps = np.asarray(mm["sigma_eps"], dtype=float)
            self.e = {k: float(v["value"]) for k, v in calibration["energy"]["params"].items()}
            noise = calibration["noise"]["per_cols"]
            self.noise_v = {int(k): float(v["v_rms"]) for k, v in noise.items()}
            self.lsb = float(calibration["transfer"]["lsb_v"])
        except (KeyError, TypeError, ValueError) as exc:
            raise AimcError(f"row-driver calibration is missing or malformed ({exc!r}); regenerate it with "
                            f"`aimc calibrate --block row-driver`") from exc
        self.calibration = calibration

    @classmethod
    def load(cls, path: Path | str | None = None) -> "RowDriverModel":
        """Read a calibration JSON (default: calibration/row_driver.json)."""
        return cls(read_calibration("row-driver", path))

    # -- static ------------------------------------------------------------------------
    def level_table(self, chip: RowChip | None = None) -> np.ndarray:
        """Static level of every code: (256,) nominal, or (rows, 256) for a chip's rows."""
        bits = (np.arange(N_CODES)[:, None] >> np.arange(BITS)) & 1  # (256, 8)
        w = 2.0 ** np.arange(BITS)
        if chip is None:
            s = bits @ (w * (1 + self.eps))
            return self.v0 + self.u * s * (1 + self.a2 * self.u * s) + self.residual
        s = (w * (1 + self.eps + chip.d_eps)) @ bits.T  # (rows, 256)
        u = self.u * (1 + chip.d_gain)[:, None]
        return self.v0 + chip.d_off[:, None] + u * s * (1 + self.a2 * u * s) + self.residual

    def levels(self, codes: Any, chip: RowChip | None = None) -> np.ndarray:
        """Static row levels (V) for codes of shape (..., rows) (rows must match the chip)."""
        c = check_codes("codes", codes)
        table = self.level_table(chip)
        if chip is None:
            return table[c]
        if c.ndim < 1 or c.shape[-1] != table.shape[0]:
            raise ParameterError(f"codes have {c.shape[-1] if c.ndim else 0} rows; the chip has {table.shape[0]}")
        return np.take_along_axis(table, c.reshape(-1, table.shape[0]).T, axis=1).T.reshape(c.shape)

    def draw_rows(self, rng: np.random.Generator, rows: int) -> RowChip:
        """Mismatch of `rows` independent row drivers, from the Monte Carlo statistics."""
        if not isinstance(rows, (int, np.integer)) or rows < 1:
            raise ParameterError(f"rows={rows!r} must be a positive integer")
        return RowChip(d_off=self.sigma_off * rng.standard_normal(rows),
                       d_gain=self.sigma_gain * rng.standard_normal(rows),
                       d_eps=self.sigma_eps * rng.standard_normal((rows, BITS)))

    # -- loaded line -------------------------------------------------------------------
    def line_params(self, n_cols: int, c_sel: Any) -> tuple[np.ndarray, float]:
        """(total line capacitance (F) per row, line resistance (ohm)) for `n_cols` columns and
        selected cell capacitance `c_sel` (F, per row)."""
        d = self.design
        c_sel = np.asarray(c_sel, dtype=float)
        if np.any(~np.isfinite(c_sel)) or np.any(c_sel < 0):
            raise ParameterError("c_sel must be finite capacitances >= 0 F")
        if not isinstance(n_cols, (int, np.integer)) or n_cols < 1:
            raise ParameterError(f"n_cols={n_cols!r} must be a positive integer")
        n = n_cols * d.cell.groups
        return c_sel + n * d.c_cell, n * d.r_cell

    def sampled_levels(self, v: Any, v_prev: Any, c_tot: Any, r_line: float, x: Any) -> np.ndarray:
        """Level the cells at position x (0..1) sample, given static level v, previous level
        v_prev and line capacitance c_tot (all broadcast together)."""
        x = np.asarray(x, dtype=float)
        if np.any((x < 0) | (x > 1)):
            raise ParameterError("line positions x must be in [0, 1] (0 = driver, 1 = far end)")
        v = np.asarray(v, dtype=float)
        return v + dynamic_error(self.dyn, v, np.asarray(v_prev, dtype=float), x, np.asarray(c_tot, dtype=float),
                                 float(r_line))

    def position_terms(self, v: np.ndarray, v_prev: np.ndarray, c_tot: np.ndarray, r_line: float):
        """Split the sampled level into a + x b (a: level at the driver, b: far-end minus near-end),
        so an array evaluator can apply the position term with one extra weighted sum."""
        a = self.sampled_levels(v, v_prev, c_tot, r_line, 0.0)
        b = self.sampled_levels(v, v_prev, c_tot, r_line, 1.0) - a
        return a, b

    def noise_sigma(self, n_cols: int = 256) -> float:
        """Integrated output noise (V rms) at the far end, from the nearest simulated load."""
        k = min(self.noise_v, key=lambda c: abs(c - n_cols))
        return self.noise_v[k]

    def energy(self, v: Any, v_prev: Any, c_tot: Any) -> np.ndarray:
        """Supply energy per conversion (J): static bias/DAC power over the conversion plus the
        charge the line takes."""
        e = self.e
        v, vp, c = (np.asarray(a, dtype=float) for a in (v, v_prev, c_tot))
        return e["e0"] + e["e1"] * v + e["e2"] * c * v + e["e3"] * c * vp
