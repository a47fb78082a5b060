"""Area parts of the row-driver variant ``dac_follower`` (see :mod:`aimc_circuits.area`): per
row, the driver (DAC, load resistor, follower) and its bias from ``netlists/row_driver.sp``, and
the row's 8-bit input register (digital, not in the netlist)."""
from __future__ import annotations

from ....area import FixedPart, NetlistPart
from .design import RowDriverDesign

__all__ = ["area_parts", "HD_DFRTP1_UM2"]

HD_DFRTP1_UM2 = 11.96 * 2.72  #: sky130_fd_sc_hd__dfrtp_1, LEF SIZE 11.96 BY 2.72


def _params(s: str) -> dict[str, float]:
    return {k: float(v) for k, v in (kv.split("=") for kv in s.split())}


def area_parts(d: RowDriverDesign) -> dict[str, list]:
    """{'row': parts of one row}."""
    return {"row": [NetlistPart("driver (DAC, load, follower)", "row_driver", "aimc_row_driver",
                                _params(d.driver_params()), kind="analog"),
                    NetlistPart("bias", "row_driver", "aimc_row_bias", _params(d.bias_params()), kind="analog"),
                    FixedPart("input register", HD_DFRTP1_UM2, 8, "8 x sky130_fd_sc_hd__dfrtp_1 (LEF 11.96 x 2.72 um)")]}
