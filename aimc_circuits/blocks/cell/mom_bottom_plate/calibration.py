"""Typed calibration of the cell variant ``mom_bottom_plate``
(``calibration/cell/mom_bottom_plate.json``, written by :mod:`.characterize`)."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from ....calibration_file import Calibration, CalibrationError, Fitted
from .design import CellDesign

__all__ = ["CellCalibration"]

_P = "model.params."


class CellCalibration(Calibration):
    """The fitted column model (``model``), capacitor mismatch, supply energy, the unit
    capacitance and the phase timing the model was characterized with."""

    family: ClassVar[str] = "cell"
    variant: ClassVar[str] = "mom_bottom_plate"
    version: ClassVar[int] = 1
    design_class = CellDesign
    fitted: ClassVar[dict[str, Fitted]] = {
        "p_row": Fitted(_P + "p_row.value", "Cu", "column parasitic per row", 0.0, 20.0),
        "p_fix": Fitted(_P + "p_fix.value", "Cu", "fixed column load (reset junction, VTC input)", 0.0, 1e4),
        "v_ft": Fitted(_P + "v_ft.value", "V", "reset-switch feedthrough", -0.5, 0.5),
        "q_inj": Fitted(_P + "q_inj.value", "Cu V", "reset-switch charge injection", -1e3, 1e3),
        "q_2": Fitted(_P + "q_2.value", "Cu^2 V", "injection split between column and reference", -1e5, 1e5),
        "q_c": Fitted(_P + "q_c.value", "Cu V", "injection split set by the selected caps", -1e3, 1e3),
        "a2": Fitted(_P + "a2.value", "1/V", "voltage dependence of the fixed column capacitance", -100.0, 100.0),
        "sigma_u": Fitted("mismatch.params.sigma_u.value", "", "relative sigma of one unit capacitor", 0.0, 0.2),
        "sigma_0": Fitted("mismatch.params.sigma_0.value", "", "area-independent relative sigma per bit", 0.0, 0.2),
        "e_s": Fitted("energy.supply_fit.params.e_s.value", "J/(Cu V)", "supply energy per sampled charge", -1e-12, 1e-12),
        "e_n": Fitted("energy.supply_fit.params.e_n.value", "J", "supply energy per selected unit cap", -1e-12, 1e-12),
        "e_r": Fitted("energy.supply_fit.params.e_r.value", "J", "supply energy per row", -1e-12, 1e-12),
        "e_gate_bit": Fitted("energy.e_gate_per_bit_j", "J", "switch gate-drive energy per cycle, by bit", 0.0, 1e-11,
                             shape=(-1,)),
        "cu": Fitted("noise.cu_f", "F", "unit capacitance Cu", 0.0, 1e-12, lo_open=True),
        "fit_rows": Fitted("model.rows", "", "column heights (rows) the column model was fitted on", 1, 4096,
                           shape=(-1,)),
        "period_s": Fitted("timing.period_s", "s", "charge-sharing cycle the model was characterized at", 0.0, 1e-6,
                           lo_open=True),
    }
    p_row: float
    p_fix: float
    v_ft: float
    q_inj: float
    q_2: float
    q_c: float
    a2: float
    sigma_u: float
    sigma_0: float
    e_s: float
    e_n: float
    e_r: float
    e_gate_bit: np.ndarray
    cu: float
    fit_rows: np.ndarray
    period_s: float

    def check(self) -> None:
        if self.e_gate_bit.shape != (self.design.bits_per_group,):
            raise CalibrationError(f"{self.source}: energy.e_gate_per_bit_j has {self.e_gate_bit.size} entries; the "
                                   f"design has {self.design.bits_per_group} bits per group")
        if abs(self.period_s - self.design.period) > 1e-12:
            raise CalibrationError(f"{self.source}: timing.period_s = {self.period_s} s differs from the design's "
                                   f"cycle {self.design.period} s")

    @property
    def column_params(self) -> dict[str, float]:
        """The column model's parameters (:data:`.model.COLUMN_PARAMS`)."""
        from .model import COLUMN_PARAMS

        return {k: getattr(self, k) for k in COLUMN_PARAMS}
