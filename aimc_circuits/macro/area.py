"""The macro's silicon area by block: each block variant's parts (:mod:`aimc_circuits.area`)
times how many of each unit the configuration has. Estimated from the netlists' device sizes
and the documented layout overheads; no layout exists."""
from __future__ import annotations

from typing import Any

from ..area import parts_area_um2
from ..registry import get_variant
from .config import MacroConfig

__all__ = ["macro_area"]


def macro_area(config: MacroConfig, cell: Any, row: Any, ta: Any) -> dict[str, Any]:
    """{'cells', 'row_drivers', 'time_accumulators', 'total'} in mm^2 and 'parts_um2' (um^2 per
    part of each block, all instances); every area None, and 'missing' saying why, when a block's
    variant lists no area parts. Cell groups: n_inputs x (n_outputs + 1 reference) x groups;
    column resets: one per group column line; row drivers: one per input; time accumulators: one
    per data column."""
    c = config
    units, missing = {}, []
    for f, m in (("cell", cell), ("row_driver", row), ("time_accumulator", ta)):
        v = get_variant(f, getattr(c, f"{f}_variant"))
        module = f"{v.package}.{v.area.split(':')[0]}"
        try:
            units[f] = v.area_parts_function()(m.design)
        except ModuleNotFoundError as exc:  # a variant without an area module: no estimate, said so
            if exc.name != module:
                raise
            missing.append(f"{v.id} lists no area parts ({module} not found)")
    if missing:
        return {"cells": None, "row_drivers": None, "time_accumulators": None, "total": None, "parts_um2": {},
                "missing": missing}
    counts = {("cell", "cell_group"): c.n_inputs * (c.n_outputs + 1) * c.groups,
              ("cell", "column_reset"): c.n_sub * (c.n_outputs + 1) * c.groups,
              ("row_driver", "row"): c.n_inputs, ("time_accumulator", "column"): c.n_outputs}
    parts: dict[str, dict[str, float]] = {}
    for (family, unit), n in counts.items():
        if unit not in units[family]:
            raise KeyError(f"the {family} variant's area parts have no {unit!r} unit (have {sorted(units[family])})")
        block = parts.setdefault(family, {})
        for name, a in parts_area_um2(units[family][unit]).items():
            block[name] = block.get(name, 0.0) + a * n
    mm2 = {k: sum(v.values()) * 1e-6 for k, v in parts.items()}
    return {"cells": mm2["cell"], "row_drivers": mm2["row_driver"], "time_accumulators": mm2["time_accumulator"],
            "total": sum(mm2.values()), "parts_um2": parts}
