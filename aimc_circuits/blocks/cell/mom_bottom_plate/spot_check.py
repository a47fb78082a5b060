"""Spot check of the cell variant ``mom_bottom_plate``: fresh random column patterns in SPICE."""
from __future__ import annotations

import numpy as np

from ....spice.sweep import run_sweep
from ...spot import SpotCheck
from .model import CellModel
from .testbench import ColumnTestbench

__all__ = ["spot_check"]


def spot_check(model: CellModel, seed: int = 20261124, per_height: int = 3) -> SpotCheck:
    """Random patterns drawn with a seed the calibration never used, simulated at R = 8 (a fitted
    height) and R = 12 (between fitted heights); error in % of each column's full scale.
    Tolerance 0.3 %: the shipped held-out max is ~0.2 %, plus 0.1 % for the unfitted height."""
    rng = np.random.default_rng(seed)
    d = model.design
    errs: list[float] = []
    for rows in (8, 12):
        pts = [{"vin": rng.uniform(0, d.v_fs, rows).tolist(),
                "codes": rng.integers(0, d.max_code + 1, (rows, d.groups)).tolist()} for _ in range(per_height)]
        res = run_sweep(ColumnTestbench(design=d, rows=rows), points=pts)
        for p, r in zip(pts, res.records):
            if not r.ok:
                raise RuntimeError(f"spot-check point failed in SPICE: {r.error}")
            codes = np.asarray(p["codes"])
            weights = sum(codes[:, g] << (d.bits_per_group * g) for g in range(d.groups))
            v = model.column_voltages(np.asarray([p["vin"]]), weights)[0]
            spice = np.array([r.measures[f"vcol{g}"] for g in range(d.groups)])
            errs += list(100 * (v - spice) / model.full_scale(rows))
    return SpotCheck(np.array(errs), 0.3, "% of full scale",
                     f"{2 * per_height} random patterns at R = 8 and 12 rows, tt, 27 C")
