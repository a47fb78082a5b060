"""Spot check of the row-driver variant ``dac_follower``: fresh loaded conversions in SPICE."""
from __future__ import annotations

import numpy as np

from ....constants import SKY130_MOM_UNIT_CAP_F
from ....spice.sweep import run_sweep
from ...spot import SpotCheck
from .model import RowDriverModel
from .testbench import RowSettleTestbench

__all__ = ["spot_check"]


def spot_check(model: RowDriverModel) -> SpotCheck:
    """Two conversions at the reference row load (256 columns) with a cell load (group code 8)
    the fit never saw; the sampled level at the driver and the far end, in LSB of the row DAC.
    Tolerance 8 LSB: the shipped model's held-out RMS is 3.3 LSB, max 6.4 (the driver does not
    settle within phase S at full load: a known weakness of this circuit)."""
    d = model.design
    tb = RowSettleTestbench(design=d, n_cols=256)
    pts = [{"code": 200, "prev": 37, "load_code": 8}, {"code": 61, "prev": 180, "load_code": 8}]
    res = run_sweep(tb, points=pts)
    errs = []
    for r in res.records:
        if not r.ok:
            raise RuntimeError(f"spot-check point failed in SPICE: {r.error}")
        c_tot, r_line = model.line_params(256, 256 * d.cell.groups * 8 * SKY130_MOM_UNIT_CAP_F)
        v, vp = model.levels(r.point["code"]), model.levels(r.point["prev"])
        for i, x in ((0, 0.0), (-1, 1.0)):
            pred = model.sampled_levels(v, vp, c_tot, r_line, x)
            errs.append(float(pred - r.measures["v_pos"][i]) / model.lsb)
    return SpotCheck(np.array(errs), 8.0, "LSB", "2 code pairs at 256 columns, load code 8, both line ends, tt, 27 C")
