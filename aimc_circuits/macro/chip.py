"""One chip instance of a macro: the mismatch draws of every block, from one seed."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import ParameterError
from .config import MacroConfig

__all__ = ["Chip", "draw_chip", "given_chip"]


@dataclass(frozen=True)
class Chip:
    """The mismatch of every block of one chip (None where the effect is off, or for the nominal chip)."""

    seed: int | None  #: None: the nominal (mismatch-free) chip
    row: Any | None  #: the row driver model's draw (per-row offset and gain)
    cell: Any | None  #: the cell model's draw, (rows, n_outputs + 1, groups, bits): last column = reference
    ta: Any | None  #: the time-accumulator model's draw (per-channel offsets and gains, per-column TDC gain)


def draw_chip(seed: int | None, config: MacroConfig, row: Any, cell: Any, ta: Any) -> Chip:
    """All blocks' mismatch from one seed, drawn in a fixed order (row drivers, cells, time
    accumulators) whatever is switched on, so switching an effect off leaves the others' draws."""
    if seed is None:
        return Chip(None, None, None, None)
    c, ni = config, config.nonidealities
    rng = np.random.default_rng(seed)
    rows = row.draw_rows(rng, c.n_inputs)
    rows = replace(rows, d_eps=np.zeros_like(rows.d_eps))  # per-row bit-weight spread: not folded (see evaluator)
    cells = cell.draw_chip(rng, c.n_inputs, c.n_outputs + 1)
    return _switched(Chip(seed, rows, cells, ta.draw_chip(rng, c.n_outputs)), ni)


def _switched(chip: Chip, ni: Any) -> Chip:
    """`chip` with the blocks whose mismatch effect is off in `ni` left out."""
    return Chip(chip.seed, chip.row if ni.row_mismatch else None, chip.cell if ni.cell_mismatch else None,
                chip.ta if ni.ta_mismatch else None)


def given_chip(chip: Chip, config: MacroConfig) -> Chip:
    """A chip from elsewhere (e.g. read back from a SPICE Monte Carlo deck) checked against the
    geometry of `config`, with the blocks whose mismatch is switched off left out."""
    if not isinstance(chip, Chip) or chip.seed is None:
        raise ParameterError(f"chip must be a Chip with a seed (a mismatch draw); got {chip!r:.80}")
    c = config
    shapes = [("row.d_off", None if chip.row is None else chip.row.d_off, (c.n_inputs,)),
              ("cell.cap_err", None if chip.cell is None else chip.cell.cap_err,
               (c.n_inputs, c.n_outputs + 1, c.groups, c.bits_per_group)),
              ("ta.tdc_gain", None if chip.ta is None else chip.ta.tdc_gain, (c.n_outputs,)),
              ("ta.tdc_offset_v", None if chip.ta is None else getattr(chip.ta, "tdc_offset_v", None), (c.n_outputs,))]
    for name, a, want in shapes:
        if a is not None and np.shape(a) != want:
            raise ParameterError(f"chip {name} has shape {np.shape(a)}; this geometry needs {want}")
    return _switched(chip, config.nonidealities)
