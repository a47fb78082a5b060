"""Area parts of the time-accumulator variant ``pump_single_slope`` (see :mod:`aimc_circuits.area`):
per column, the ramp, one VTC and pump per (sub-array, group), the TDC with its accumulator
capacitor and the bias from ``netlists/time_accumulator.sp``, and the column's counter (digital,
not in the netlist)."""
from __future__ import annotations

from ....area import FixedPart, NetlistPart
from .design import TADesign

__all__ = ["area_parts", "HD_DFRTP1_UM2"]

HD_DFRTP1_UM2 = 11.96 * 2.72  #: sky130_fd_sc_hd__dfrtp_1, LEF SIZE 11.96 BY 2.72


def area_parts(d: TADesign) -> dict[str, list]:
    """{'column': parts of one column's time accumulator}."""
    vtcs = [NetlistPart(f"VTC + pump, group {g}", d.netlist, "aimc_ta_vtc", {"mg": d.weight(g)},
                        count=d.n_sub, kind="analog") for g in range(d.groups)]
    return {"column": [NetlistPart("ramp", d.netlist, "aimc_ta_ramp", {"mr": d.mr, "cw": d.cr_w, "cl": d.cr_w}),
                       *vtcs,
                       NetlistPart("TDC (C_acc, charge-up, stop comparator)", d.netlist, "aimc_ta_tdc",
                                   {"md": d.md, "cw": d.cacc_w, "cl": d.cacc_w}),
                       NetlistPart("bias", d.netlist, "aimc_ta_bias", {"i0": d.i0}),
                       FixedPart("counter", HD_DFRTP1_UM2, d.output_bits,
                                 f"{d.output_bits} x sky130_fd_sc_hd__dfrtp_1 (LEF 11.96 x 2.72 um), a ripple counter")]}
