"""Area parts of the cell variant ``mom_bottom_plate`` (see :mod:`aimc_circuits.area`): one cell
group (switches and MOM unit capacitors from ``netlists/cell.sp``, plus the weight bits' storage
and switch-gate logic, which the SPICE decks drive from ideal sources) and the column reset."""
from __future__ import annotations

from ....area import HD_INV1_UM2, FixedPart, NetlistPart
from .design import CellDesign

__all__ = ["area_parts", "SRAM_BITCELL_UM2", "GATE_LOGIC_INVERTERS_PER_BIT"]

#: the foundry 6T bitcell sky130_fd_bd_sram__sram_sp_cell_opt1 (LEF SIZE 1.31 BY 1.58)
SRAM_BITCELL_UM2 = 1.31 * 1.58
#: switch-gate logic per bit (s = bit AND phase S with its complement sb, g = NOT bit OR phase G):
#: two NAND2 and an inverter, 10 minimum devices, counted as 5 hd inverters' area
GATE_LOGIC_INVERTERS_PER_BIT = 5


def area_parts(d: CellDesign) -> dict[str, list]:
    """{'cell_group': parts of one (row, column, group), 'column_reset': parts of one column line}."""
    bits = d.bits_per_group
    group = [NetlistPart("switches and MOM capacitors", "cell", f"aimc_cell_group{bits}",
                         {"wn": d.w_sw, "wp": d.w_sw, "wg": d.w_gnd, "l": d.l_sw}, kind="array"),
             FixedPart("weight bits (6T SRAM)", SRAM_BITCELL_UM2, bits,
                       "sky130_fd_bd_sram__sram_sp_cell_opt1 LEF 1.31 x 1.58 um"),
             FixedPart("switch-gate logic", GATE_LOGIC_INVERTERS_PER_BIT * HD_INV1_UM2, bits,
                       "2 NAND2 + 1 INV per bit at the hd inverter's 3.75 um^2 per 2 devices")]
    reset = [NetlistPart("column reset", "cell", "aimc_col_reset", {"w": d.w_reset, "l": d.l_sw}, kind="analog")]
    return {"cell_group": group, "column_reset": reset}
