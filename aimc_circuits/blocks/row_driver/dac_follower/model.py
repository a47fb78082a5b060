"""Behavioral model of the row-driver variant ``dac_follower``, from its calibration
(``calibration/row_driver/dac_follower.json``); numpy only.

Static transfer (superposition of the DAC's bit currents, with a smooth output-dependent
compression from the sources' output conductance and the follower's residual Vgs change):

    V(code) = v0 + u S (1 + a2 u S),   S = sum_k 2^k (1 + eps_k) b_k(code),   eps_0 = 0

Conversion on a loaded line (dynamic error relative to the static level V = V(code), at line
position x in 0..1 from the driver, previous level Vp, selected cell capacitance C_sel and
wire capacitance C_w; all fitted, SI units):

    V_sampled = V + m (Vp - V) + (s0 + s1 V) + (q0 + q1 V) (C_sel + C_w) / 1 pF
                + x (r0 + r1 V) (C_sel + C_w) R_line / 1 ns

(the memory term m: the always-on follower leaves part of the previous level; the load term:
incomplete settling grows with the charge the line must take; the x term: the distributed
RC delay to the far end.)

``RowDriverModel`` evaluates it vectorized: input codes (any shape) -> static row level; with the
row's load (selected cell capacitance, from the weights) and the previous code -> the level each
cell samples at line position x (0 = driver, 1 = far end); per-row mismatch drawn from the fitted
statistics; output noise; energy per conversion.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ....checks import check_int_codes
from ....errors import ParameterError
from ...model import BlockModel
from .calibration import RowDriverCalibration
from .design import INPUT_BITS, N_CODES

__all__ = ["BITS", "DYNAMIC_PARAMS", "RowChip", "RowDriverModel", "RowFold", "check_codes", "code_bits", "dynamic_error",
           "static_level"]

BITS = INPUT_BITS  #: bits of the input code (the DAC's binary-weighted unit groups)
DYNAMIC_PARAMS = ("m", "s0", "s1", "q0", "q1", "r0", "r1")


def code_bits(codes: np.ndarray) -> np.ndarray:
    """Bits of integer codes, shape (..., 8), LSB first."""
    return (np.asarray(codes)[..., None] >> np.arange(BITS)) & 1


def static_level(codes: np.ndarray, v0: float, u: float, a2: float, eps: np.ndarray) -> np.ndarray:
    """V(code) of the static model; eps: (8,) relative bit-weight errors (eps[0] = 0)."""
    w = 2.0 ** np.arange(BITS) * (1.0 + np.asarray(eps))
    s = code_bits(codes) @ w
    return v0 + u * s * (1 + a2 * u * s)


def dynamic_error(p: dict[str, float], v: np.ndarray, v_prev: np.ndarray, x: np.ndarray, c_tot: np.ndarray,
                  r_line: np.ndarray) -> np.ndarray:
    """Sampled level minus static level (V), the model of the module docstring."""
    cn = c_tot / 1e-12
    return (p["m"] * (v_prev - v) + p["s0"] + p["s1"] * v + (p["q0"] + p["q1"] * v) * cn
            + x * (p["r0"] + p["r1"] * v) * c_tot * r_line / 1e-9)


def check_codes(name: str, a: Any, hi: int = N_CODES - 1) -> np.ndarray:
    """Input codes 0..255 (see :func:`check_int_codes`)."""
    return check_int_codes(name, a, hi)


@dataclass(frozen=True)
class RowChip:
    """Per-row driver mismatch of one chip: offset (V), relative gain and bit-weight errors (rows, 8)."""

    d_off: np.ndarray
    d_gain: np.ndarray
    d_eps: np.ndarray


@dataclass(frozen=True)
class RowFold:
    """The row drivers of one chip and weight matrix as the macro folds them (R rows, J columns
    plus the reference column at index J): the level the cell at (r, j) samples is
    ``A[r, j] + B[r, j] (gain[r] L(x) + offset[r]) + m L(x_prev)`` with L = ``table`` (first
    order in the mismatch gain; ``m``: the previous level's share, the same for every cell)."""

    table: np.ndarray  #: (N_CODES,) static level per code (V): the fitted curve, or its end-point line
    v0: float  #: code-0 level of the fitted curve (V)
    u: float  #: end-point LSB of the fitted curve (V)
    gain: np.ndarray  #: (R,) per-row relative gain (1 + mismatch)
    offset: np.ndarray  #: (R,) per-row offset (V), referred to the code-0 level
    A: np.ndarray  #: (R, J + 1) settling offset (V)
    B: np.ndarray  #: (R, J + 1) settling gain on the present level
    m: float  #: settling memory: share of the previous level
    noise_v: float  #: output noise (V rms) at this row load


class RowDriverModel(BlockModel):
    """Fitted row-driver model of one calibration. ``RowDriverModel.load()`` reads the shipped one."""

    calibration_class = RowDriverCalibration
    op_params = {"v0": "add", "u": "mul", "a2": "add", **{f"eps{k}": "add" for k in range(1, BITS)}, "p_static": "mul"}
    supply_params = op_params

    def setup(self) -> None:
        cal = self.calibration
        self.v0, self.u, self.a2, self.eps, self.residual = cal.v0, cal.u, cal.a2, cal.eps, cal.residual
        self.dyn = cal.dynamic_params
        self.sigma_off, self.sigma_gain, self.sigma_eps = cal.sigma_off, cal.sigma_gain, cal.sigma_eps
        self.e = cal.energy_params
        self.noise_v = cal.noise_v
        self.lsb = cal.lsb_v
        self.load_range_cols = cal.load_range_cols

    def _apply_operating_point(self, table, shifts) -> None:
        """The static model (v0, u, a2, bit weights) and the static supply power (e0, e1) at the operating
        point; the INL shape, settling, mismatch and noise stay at the reference."""
        self.v0, self.u, self.a2 = (table.moved(k, getattr(self, k), shifts) for k in ("v0", "u", "a2"))
        self.eps = self.eps + np.array([0.0] + [shifts[f"eps{k}"] for k in range(1, BITS)])
        self.e = {**self.e, "e0": table.moved("p_static", self.e["e0"], shifts),
                  "e1": table.moved("p_static", self.e["e1"], shifts)}

    def _apply_supply(self, table, shifts) -> None:
        """The static model and static power as the supply law moves them; the line's charge
        (energy terms e2, e3) is drawn from the rail, so they scale as vdd (not simulated at other
        supplies)."""
        self._apply_operating_point(table, shifts)
        k = self.vdd / table.vdd_ref
        self.e = {**self.e, "e2": self.e["e2"] * k, "e3": self.e["e3"] * k}

    @property
    def input_bits(self) -> int:
        """Bits of the input code."""
        return INPUT_BITS

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

    # -- the macro's folded form -------------------------------------------------------
    def fold(self, c_sel: np.ndarray, n_cols: int, chip: RowChip | None, *, inl: bool = True,
             settling: bool = True) -> RowFold:
        """:class:`RowFold` for rows loaded by `c_sel` (F, selected cell capacitance per row,
        reference column included) and `n_cols` data columns, cell j at line position
        j / (n_cols - 1) and the reference column at the driver. chip: per-row mismatch (offset
        and gain; the bit-weight spread is not folded); inl False: the fitted curve's end-point
        line; settling False: the static level (``load_range_cols``: the row loads the dynamic
        model was fitted on; the macro warns outside them)."""
        fitted = self.level_table()
        v0 = float(fitted[0])
        u = float((fitted[-1] - v0) / (N_CODES - 1))
        table = fitted if inl else v0 + u * np.arange(N_CODES)
        R = len(c_sel)
        if chip is not None:
            gain = 1.0 + chip.d_gain
            offset = chip.d_off - chip.d_gain * v0
        else:
            gain, offset = np.ones(R), np.zeros(R)
        J = n_cols
        A, B, m = np.zeros((R, J + 1)), np.ones((R, J + 1)), 0.0
        if settling:
            dyn = self.dyn
            c_tot, r_line = self.line_params(J, c_sel)
            cn, kap = c_tot / 1e-12, c_tot * r_line / 1e-9
            xpos = np.append(np.linspace(0.0, 1.0, J) if J > 1 else np.zeros(1), 0.0)  # ref column at the driver
            m = dyn["m"]
            A = (dyn["s0"] + dyn["q0"] * cn)[:, None] + xpos[None, :] * (dyn["r0"] * kap)[:, None]
            B = (1 - m + dyn["s1"] + dyn["q1"] * cn)[:, None] + xpos[None, :] * (dyn["r1"] * kap)[:, None]
        return RowFold(table=table, v0=v0, u=u, gain=gain, offset=offset, A=A, B=B, m=m,
                       noise_v=self.noise_sigma(n_cols))

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

    def noise_sigma(self, n_cols: int) -> float:
        """Integrated output noise (V rms) at the far end, from the nearest simulated row load."""
        k = min(self.noise_v, key=lambda c: abs(c - n_cols))
        return self.noise_v[k]

    def energy(self, v: Any, v_prev: Any, c_tot: Any) -> np.ndarray:
        """Supply energy per conversion (J): static bias/DAC power over the conversion plus the
        charge the line takes."""
        e = self.e
        v, vp, c = (np.asarray(a, dtype=float) for a in (v, v_prev, c_tot))
        return e["e0"] + e["e1"] * v + e["e2"] * c * v + e["e3"] * c * vp
