"""Behavioral model of the cell variant ``mom_bottom_plate``: the group column voltage of a
sub-array from its calibration (``calibration/cell/mom_bottom_plate.json``); numpy only.

Column voltage of one group column with R rows, by charge conservation on the floating
column, in units of the effective unit capacitance Cu (s in Cu*V):

    C     = R * (M + p_row) + p_fix                      column capacitance (Cu)
    s     = sum_i code_i * V_i                           sampled charge (Cu*V)
    n     = sum_i code_i                                 selected unit caps
    sw    = s / C                                        ideal column swing (V)
    V_col = vr + v_ft + q_inj/C + q_2/C^2 + q_c*n/C^2 - sw - a2*sw^2/C

M = 2^bits - 1. p_row: column parasitic per row (wire; expected c_wire/Cu); p_fix: fixed
column load (reset-switch junction, VTC input); v_ft, q_inj, q_2: the reset switch's
feedthrough and charge injection, whose split between column and reference depends on C;
q_c: the part of that split set by which caps (switch impedances) hold the bottom plates;
a2: the voltage dependence of the fixed (junction) capacitance. Full scale of a column =
v_fs * R*M/C. Parameters are fitted over several R so the model extrapolates in R.

``CellModel`` evaluates it vectorized: given row levels (B, R), weight codes (R,) or (R, n_out)
and one chip instance's capacitor mismatch, the group column voltages (B, n_out, groups) and the
energy per cycle. No SPICE; every number comes from the calibration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ....checks import check_int_codes
from ....constants import K_BOLTZMANN, ZERO_CELSIUS_K
from ....errors import ParameterError
from ...model import BlockModel
from .calibration import CellCalibration

__all__ = ["COLUMN_PARAMS", "CellChip", "CellFold", "CellModel", "column_voltage", "column_voltage_c", "full_scale"]

COLUMN_PARAMS = ("p_row", "p_fix", "v_ft", "q_inj", "q_2", "q_c", "a2")


def column_voltage(s: np.ndarray, n: np.ndarray, rows: np.ndarray | int, max_code: int, vr: float,
                   p: dict[str, float]) -> np.ndarray:
    """V_col (V) for sampled charge `s` (code*V summed over rows, Cu*V) and selected unit
    count `n`, for columns with `rows` rows; `p` holds COLUMN_PARAMS. Broadcasts."""
    c = np.asarray(rows, dtype=float) * (max_code + p["p_row"]) + p["p_fix"]
    return column_voltage_c(s, n, c, vr, p)


def column_voltage_c(s, n, c, vr: float, p: dict[str, float]):
    """Same as :func:`column_voltage` with the column capacitance `c` (Cu) given directly
    (e.g. including one chip's capacitor mismatch). Broadcasts."""
    sw = s / c
    return vr + p["v_ft"] + p["q_inj"] / c + (p["q_2"] + p["q_c"] * n) / c**2 - sw - p["a2"] * sw**2 / c


def full_scale(rows: np.ndarray | int, max_code: int, v_fs: float, p_row: float, p_fix: float) -> np.ndarray:
    """Column swing (V) at all codes = M and all inputs = v_fs."""
    rows = np.asarray(rows, dtype=float)
    return v_fs * rows * max_code / (rows * (max_code + p_row) + p_fix)


@dataclass(frozen=True)
class CellChip:
    """One chip instance: relative error of every bit capacitor, shape (R, n_out, groups, bits)."""

    cap_err: np.ndarray


@dataclass(frozen=True)
class CellFold:
    """The cells of one chip and weight matrix as the macro folds them: R rows in S sub-arrays of
    Rs rows, J + 1 columns (the reference column last), G groups. The group column of sub-array
    s sits at ``V = vr - off - sum_r eff[r] L_r / C - a2c (sum_r eff[r] L_r / C)^2`` (the column
    model of the module docstring with the chip's capacitors)."""

    eff: np.ndarray  #: (R, J + 1, G) selected capacitance of each cell group (Cu)
    C: np.ndarray  #: (S, J + 1, G) column capacitance (Cu)
    offset_v: np.ndarray | float  #: (S, J + 1, G) reset injection / feedthrough offset above vr (V), or 0
    a2c: np.ndarray  #: (S, J + 1, G) second-order coefficient a2 / C (1/V)
    ktc_var_v2: np.ndarray  #: (S, J + 1, G) kT/C sampling noise variance (V^2)
    vr: float  #: column reset level (V)


class CellModel(BlockModel):
    """Fitted cell-column model of one calibration. ``CellModel.load()`` reads the shipped one."""

    calibration_class = CellCalibration
    op_params = {"p_row": "add", "p_fix": "add", "v_ft": "add", "q_inj": "add"}
    supply_params = {**op_params, "e_array": "mul", "e_gate": "mul"}

    def setup(self) -> None:
        cal = self.calibration
        self.params = cal.column_params
        self.sigma_u, self.sigma_0 = cal.sigma_u, cal.sigma_0
        self.e_fit = {"e_s": cal.e_s, "e_n": cal.e_n, "e_r": cal.e_r}
        self.e_gate_bit = cal.e_gate_bit
        self.cu = cal.cu

    def _apply_operating_point(self, table, shifts) -> None:
        """The column's attenuation (p_row, p_fix) and offset (v_ft, q_inj) at the operating point."""
        self.params = {k: table.moved(k, v, shifts) if k in self.op_params else v for k, v in self.params.items()}

    def _apply_supply(self, table, shifts) -> None:
        """The column's attenuation and offset, the array energy (e_s, e_n, e_r) and the gate
        drive energy as the supply law moves them (the reset level is the design's vr)."""
        self._apply_operating_point(table, shifts)
        self.e_fit = {k: table.moved("e_array", v, shifts) for k, v in self.e_fit.items()}
        self.e_gate_bit = table.moved("e_gate", np.asarray(self.e_gate_bit, dtype=float), shifts)

    @property
    def fit_rows(self) -> tuple[int, int]:
        """The column heights (rows) the column model was fitted on: (fewest, most)."""
        r = self.calibration.fit_rows
        return int(r.min()), int(r.max())

    @property
    def t_cycle_s(self) -> float:
        """The charge-sharing cycle the model was characterized at (s): the macro's shortest cell phase."""
        return self.calibration.period_s

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

    # -- the macro's folded form -------------------------------------------------------
    def fold(self, words: np.ndarray, chip: CellChip | None, rows_per_subarray: int, bits_per_group: int,
             groups: int, *,
             parasitics: bool = True, injection: bool = True, temperature_c: float = 27.0,
             data_load_f: float | None = None) -> CellFold:
        """:class:`CellFold` of the stored words (R, J + 1) (unsigned, every group's code in
        `bits_per_group` bits, `groups` groups), the chip's capacitor mismatch (None: nominal), sub-arrays of
        `rows_per_subarray` rows. parasitics False: no column parasitic (attenuation,
        nonlinearity); injection False: no reset offsets. data_load_f: the load (F) the data columns
        (all but the last) end on instead of the design's ``c_load`` (None: ``c_load``)."""
        p = self.params
        R, J1 = words.shape
        Rs = rows_per_subarray

        S = R // Rs
        bpg, M, G = bits_per_group, 2**bits_per_group - 1, groups
        codes = (words[..., None] >> (bpg * np.arange(G))) & M  # (R, J+1, G)
        unit = 2.0 ** np.arange(bpg)
        bits = (codes[..., None] >> np.arange(bpg)) & 1
        caps = unit * (1.0 + chip.cap_err) if chip is not None else np.broadcast_to(unit, bits.shape)
        eff = (bits * caps).sum(-1)  # (R, J+1, G) in Cu
        c_bits = caps.sum(-1).reshape(S, Rs, J1, G).sum(1)  # (S, J+1, G)
        n = codes.reshape(S, Rs, J1, G).sum(1).astype(float)
        C = c_bits + (Rs * p["p_row"] + p["p_fix"] if parasitics else 0.0)
        if data_load_f is not None:
            C[:, :-1] += self.extra_load_cu(data_load_f)
        off: np.ndarray | float = 0.0
        if injection:
            off = p["v_ft"] + p["q_inj"] / C + (p["q_2"] + p["q_c"] * n) / C**2
        a2c = p["a2"] / C if parasitics else np.zeros_like(C)
        kt = K_BOLTZMANN * (ZERO_CELSIUS_K + temperature_c)
        return CellFold(eff=eff, C=C, offset_v=off, a2c=a2c, ktc_var_v2=kt / (C * self.cu) * (1 + n / C),
                        vr=self.design.vr)

    def extra_load_cu(self, load_f: float) -> float:
        """A column-end load of `load_f` (F) in place of the design's ``c_load``, in Cu."""
        if not np.isfinite(load_f) or load_f < 0:
            raise ParameterError(f"load_f={load_f!r} must be a capacitance >= 0 F")
        return (load_f - self.design.c_load) / self.cu

    def column_capacitance_f(self, weights: Any, chip: CellChip | None = None,
                             load_f: float | None = None) -> np.ndarray:
        """Each group column's total capacitance (F), (n_out, groups): its bit capacitors, the fitted
        parasitics, and the column-end load (`load_f`, F; None: the design's ``c_load``)."""
        w = np.asarray(weights)
        w2 = w[:, None] if w.ndim == 1 else w
        _, c_bits = self.effective_codes(w2, chip)
        return self._column_cu(c_bits, w2.shape[0], load_f) * self.cu

    def _column_cu(self, c_bits: np.ndarray, rows: int, load_f: float | None) -> np.ndarray:
        """Column capacitance (Cu): bit capacitors, fitted parasitics, the end load."""
        c = c_bits + rows * self.params["p_row"] + self.params["p_fix"]
        return c if load_f is None else c + self.extra_load_cu(load_f)

    # -- the model ---------------------------------------------------------------------
    def column_voltages(self, v_in: Any, weights: Any, chip: CellChip | None = None,
                        rng: np.random.Generator | None = None, temp_c: float = 27.0,
                        load_f: float | None = None) -> np.ndarray:
        """Group column voltages (V), shape (B, n_out, groups) ((B, groups) for 1-D weights).

        v_in: (B, R) row levels in V (0..vdd). weights: (R,) or (R, n_out) codes 0..2^weight_bits-1.
        chip: capacitor mismatch (None: nominal). rng: draws kT/C noise when given. load_f: the
        column-end load (F) in place of the design's ``c_load`` (None: ``c_load``)."""
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
        c = self._column_cu(c_bits, R, load_f)  # (n_out, groups), Cu
        s = np.einsum("br,rjg->bjg", v, eff, optimize=True)
        n = self.group_codes(w2).sum(0)  # (n_out, groups)
        out = column_voltage_c(s, n, c, d.vr, self.params)
        if rng is not None:
            kt = K_BOLTZMANN * (ZERO_CELSIUS_K + temp_c)
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
