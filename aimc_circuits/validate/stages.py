"""The block models composed stage by stage, without the evaluator's folding: row levels ->
group column voltages -> time accumulator, each stage callable with another source's values
of its inputs (SPICE's, for the per-stage attribution of ``aimc validate``).

Shapes: B vectors, n_in inputs (S sub-arrays x Rs rows), J data columns; column axis ``J + 1``
puts the reference column *first* (as the slice deck does); group column voltages are
(B, J + 1, S, G). The reference column holds :func:`aimc_circuits.macro.fold.reference_word`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..blocks.cell.mom_bottom_plate.model import CellChip
from ..macro.fold import reference_word

__all__ = ["Stages"]


class Stages:
    """The reference variants' block models of `macro` (a :class:`aimc_circuits.Macro`) on its chip
    instance, noise off, composed column by column."""

    def __init__(self, macro: Any):
        self.m = macro
        c = macro.config
        self.S, self.Rs, self.G, self.J = c.n_sub, c.rows_per_subarray, c.groups, c.n_outputs
        self.bits = c.bits_per_group

    def words(self, w_ob: np.ndarray) -> np.ndarray:
        """(n_in, J + 1) stored words, the reference column first."""
        ref = np.full((w_ob.shape[0], 1), reference_word(self.m.config))
        return np.concatenate([ref, w_ob], axis=1)

    def positions(self) -> np.ndarray:
        """Line position (0 = driver, 1 = far end) of each column's cells as the row model sees
        them: the reference column at the driver, data column j at j / (J - 1)."""
        J = self.J
        return np.concatenate([[0.0], np.linspace(0.0, 1.0, J) if J > 1 else [0.0]])

    def row_levels(self, xi: np.ndarray, w_ob: np.ndarray) -> np.ndarray:
        """(B, n_in, J + 1) levels the cells of each column sample (V)."""
        m, rm = self.m, self.m.row
        n_in = xi.shape[1]
        lv = rm.levels(xi, m.chip.row)
        lv_prev = np.vstack([rm.levels(np.zeros((1, n_in), int), m.chip.row), lv[:-1]])
        if not m.ni.row_settling:
            return np.repeat(lv[:, :, None], self.J + 1, axis=2)
        words = self.words(w_ob)
        codes = (words[..., None] >> (self.bits * np.arange(self.G))) & (2**self.bits - 1)
        cap_err = m.chip.cell.cap_err if m.chip.cell is not None else 0.0
        caps = 2.0 ** np.arange(self.bits) * (1 + self._ref_first(cap_err))
        c_sel = (((codes[..., None] >> np.arange(self.bits)) & 1) * caps).sum((1, 2, 3)) * m.cell.cu
        c_tot, r_line = rm.line_params(self.J, c_sel)
        return np.stack([rm.sampled_levels(lv, lv_prev, c_tot[None, :], r_line, x) for x in self.positions()], axis=2)

    def _ref_first(self, per_col: Any) -> Any:
        """A chip's per-(row, column, ...) array with the reference column (stored last) moved first."""
        a = np.asarray(per_col)
        if a.ndim < 2:
            return a
        return np.concatenate([a[:, -1:], a[:, :-1]], axis=1)

    def _data_load(self) -> float | None:
        """The data columns' end load (F): the VTC input (None: the cell design's own)."""
        return float(self.m.ta.c_end) if self.m.ni.vtc_input_load else None

    def _column_chip(self, cap_err: np.ndarray | None, sl: slice, j: int) -> CellChip | None:
        return None if cap_err is None else CellChip(cap_err=cap_err[sl, j:j + 1])

    def column_voltages(self, v_row: np.ndarray, w_ob: np.ndarray) -> np.ndarray:
        """(B, J + 1, S, G) group column voltages from the sampled levels v_row (B, n_in, J + 1)."""
        m, cm = self.m, self.m.cell
        words = self.words(w_ob)
        cap_err = None if m.chip.cell is None else self._ref_first(m.chip.cell.cap_err)
        V = np.empty((v_row.shape[0], self.J + 1, self.S, self.G))
        for j in range(self.J + 1):
            for s in range(self.S):
                sl = slice(s * self.Rs, (s + 1) * self.Rs)
                V[:, j, s, :] = cm.column_voltages(v_row[:, sl, j], words[sl, j:j + 1], chip=self._column_chip(
                    cap_err, sl, j), load_f=None if j == 0 else self._data_load())[:, 0, :]
        return V

    def line_capacitance(self, w_ob: np.ndarray) -> np.ndarray:
        """(J + 1, S, G) each group column line's capacitance (F), its end load included."""
        m, cm = self.m, self.m.cell
        words = self.words(w_ob)
        cap_err = None if m.chip.cell is None else self._ref_first(m.chip.cell.cap_err)
        out = np.empty((self.J + 1, self.S, self.G))
        for j in range(self.J + 1):
            for s in range(self.S):
                sl = slice(s * self.Rs, (s + 1) * self.Rs)
                out[j, s] = cm.column_capacitance_f(words[sl, j:j + 1], chip=self._column_chip(cap_err, sl, j),
                                                    load_f=None if j == 0 else self._data_load())[0]
        return out

    def accumulator(self, V: np.ndarray, w_ob: np.ndarray) -> dict[str, np.ndarray]:
        """{'v_acc' (V at TDC start), 't_stop' (s)}, each (B, J), from the group column voltages
        when the ramp starts (B, J + 1, S, G), reference column first. The data lines first lose
        the charge their VTC input takes before the crossing (vtc_input_load)."""
        v = V[:, 1:]
        if self.m.ni.vtc_input_load:
            v = self.m.ta.kicked_levels(v, self.line_capacitance(w_ob)[None, 1:])
        out = self.m.ta.convert(v, V[:, :1], chip=self.m.chip.ta)
        return {"v_acc": out["v_acc"], "t_stop": out["t_stop"]}

    def all(self, xi: np.ndarray, w_ob: np.ndarray) -> dict[str, np.ndarray]:
        v_row = self.row_levels(xi, w_ob)
        V = self.column_voltages(v_row, w_ob)
        return {"v_row": v_row, "v_col": V, **self.accumulator(V, w_ob)}
