"""The cell model's chip read back from a resolved Monte Carlo deck (SPICE draw -> model chip).

A resolved ``_mm`` deck (:mod:`aimc_circuits.spice.resolve`) holds every instance's mismatch as
numbers: each MOM unit of a cell group is three coupling capacitors between its plates
(``ccmvpp1p8x1p8``, ``cm1``, ``cm1li``, each drawn on its own) and one to the substrate. Summed per
bit over its 2^k units and divided by 2^k Cu, they are the relative capacitor errors the cell
model's :class:`~.model.CellChip` holds, for the same chip SPICE simulates. The switches' mismatch
(their threshold shifts) has no counterpart in that chip: the model's ``sigma_0`` term stands for it
statistically.
"""
from __future__ import annotations

import re

import numpy as np

from ....errors import ParameterError
from .design import CellDesign
from .model import CellChip

__all__ = ["COUPLING", "chip_from_deck"]

#: a MOM unit's capacitors between its two plates, as the resolved deck names them
COUPLING = ("ccmvpp1p8x1p8", "cm1", "cm1li")


def chip_from_deck(deck: str, design: CellDesign, cu: float, instance: str = r"xcell(?P<row>\d+)_(?P<group>\d+)",
                   n_rows: int | None = None, n_cols: int | None = None) -> CellChip:
    """The capacitor errors of the chip a resolved ``_mm`` deck draws, shape (rows, columns,
    groups, bits): each bit's coupling capacitance over its nominal 2^k cu, minus 1.

    instance: a regular expression for the cell groups' instance names in the deck, with the
    named groups ``row`` and ``group`` (the column testbench's ``xcell<row>_<group>``) and
    optionally ``col`` (the slice deck's ``xc<row>_<col>_<group>``; without it, one column);
    n_rows, n_cols: the rows and columns expected (default: as many as found). A deck whose cells
    are not per-instance specialized (not a resolved Monte Carlo deck) or misses a unit is refused
    by name."""
    units: dict[str, dict[tuple[int, int], float]] = {}
    sub = None
    for ln in deck.split("\n"):
        if ln.startswith(".subckt "):
            sub = ln.split()[1]
            units[sub] = {}
            continue
        m = re.match(r"^cxc(\d+)_(\d+)_(\w+) .* c=(\S+)$", ln)
        if m and sub is not None and m.group(3) in COUPLING:
            key = (int(m.group(1)), int(m.group(2)))
            units[sub][key] = units[sub].get(key, 0.0) + float(m.group(4))
    cells = [(int(m.group("row")), int(m.groupdict().get("col") or 0), int(m.group("group")), m.group("sub"))
             for m in re.finditer(rf"^(?:{instance}) .* (?P<sub>aimc_cell_group\w+)(?: m=\S+)?$", deck, re.MULTILINE)]
    if not cells:
        raise ParameterError("chip_from_deck: no resolved cell-group instances in the deck (a resolved deck on an "
                             "_mm corner is needed)")
    subs = [s for *_, s in cells]
    if len(set(subs)) != len(subs):
        raise ParameterError("chip_from_deck: cell groups share a subcircuit: not a per-instance (Monte Carlo) deck")
    R = n_rows if n_rows is not None else 1 + max(r for r, *_ in cells)
    C = n_cols if n_cols is not None else 1 + max(c for _, c, _, _ in cells)
    err = np.full((R, C, design.groups, design.bits_per_group), np.nan)
    for r, col, g, s in cells:
        if r >= R or col >= C:
            raise ParameterError(f"chip_from_deck: the deck has a cell group at row {r}, column {col}, outside the "
                                 f"{R} rows x {C} columns expected")
        for k in range(design.bits_per_group):
            try:
                c = sum(units[s][(k, u)] for u in range(2 ** k))
            except KeyError:
                raise ParameterError(f"chip_from_deck: cell group row {r} column {col} group {g} ({s}) has no unit "
                                     f"{k}_* coupling capacitors") from None
            err[r, col, g, k] = c / (2 ** k * cu) - 1.0
    if np.isnan(err).any():
        missing = sorted({(int(r), int(c), int(g)) for r, c, g, _ in np.argwhere(np.isnan(err))})
        raise ParameterError(f"chip_from_deck: no cell group in the deck for (row, column, group) {missing[:5]}")
    return CellChip(cap_err=err)
