"""Energy per VMM by block, from the block models' energy fits (averaged over the batch)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import kernel
from .config import MacroConfig
from .fold import reference_word

__all__ = ["Energy", "energy_per_vmm", "energy_at_levels", "mean_levels"]


@dataclass(frozen=True)
class Energy:
    """Mean supply energy per VMM (J) by block (NaN for an empty batch)."""

    row_drivers: float  #: static bias and DAC over the conversion, plus the row line's charge
    cells: float  #: capacitor charging and switch gate drive, the reference column included
    time_accumulators: float  #: one conversion per column
    total: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def energy_per_vmm(config: MacroConfig, row: Any, cell: Any, ta: Any, xi: np.ndarray, w_ob: np.ndarray) -> Energy:
    """Mean energy per VMM over the batch xi (B, n_inputs) for offset-binary weights w_ob.

    Both input-dependent models are linear in the row levels (row driver: e0 + e1 v + (e2 v +
    e3 v_prev) C_line; cells: e_s sum_r v_r c_r + constants), so the batch mean is the energy at
    the batch-mean level of each row: one pass over x, not a (batch, rows) array per block."""
    if xi.shape[0] == 0:
        nan = float("nan")
        return Energy(nan, nan, nan, nan)
    v, v_prev = mean_levels(row, xi)
    return energy_at_levels(config, row, cell, ta, v, v_prev, w_ob)


def mean_levels(row: Any, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean level over the batch xi (B, rows) and the mean of the previous vector's
    level (code 0 before the first), V."""
    n = xi.shape[0]
    table = row.level_table()
    v = kernel.level_sums(xi, table) / n
    return v, v + (table[0] - table[xi[-1]]) / n


def energy_at_levels(config: MacroConfig, row: Any, cell: Any, ta: Any, v: np.ndarray, v_prev: np.ndarray,
                     w_ob: np.ndarray) -> Energy:
    """Energy per VMM at the mean row levels v, v_prev (n_inputs,) for offset-binary weights w_ob."""
    c = config
    codes_all = np.concatenate([w_ob, np.full((c.n_inputs, 1), reference_word(c))], axis=1)
    g = (codes_all[..., None] >> (c.bits_per_group * np.arange(c.groups))) & (2**c.bits_per_group - 1)
    c_sel = g.sum((1, 2)) * cell.cu
    c_tot, _ = row.line_params(c.n_outputs, c_sel)
    e_row = row.energy(v, v_prev, c_tot).sum()
    e_cell = 0.0
    for s in range(c.n_sub):  # the cell energy model is per sub-array column
        sl = slice(s * c.rows_per_subarray, (s + 1) * c.rows_per_subarray)
        e_cell += cell.energy_per_cycle(v[None, sl], codes_all[sl]).sum()
    e_ta = ta.e_conversion * c.n_outputs
    return Energy(float(e_row), float(e_cell), float(e_ta), float(e_row + e_cell + e_ta))
