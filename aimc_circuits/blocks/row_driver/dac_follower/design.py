"""Design parameters of the row-driver variant ``dac_follower`` (SPICE-free; see
``testbench.py`` for the topology and ``netlists/row_driver.sp`` for the circuit)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ....errors import ParameterError
from ...cell.mom_bottom_plate.design import CellDesign
from ...design import Design, param

__all__ = ["INPUT_BITS", "N_CODES", "RowDriverDesign"]

INPUT_BITS = 8  #: the DAC's code bits (the netlist has 8 binary-weighted unit groups)
N_CODES = 2 ** INPUT_BITS


@dataclass(frozen=True)
class RowDriverDesign(Design):
    """Electrical design of the row driver and its row line. Geometry in um, else SI."""

    iu: float = param(0.645e-6, "A", "DAC unit current", 0.0, 1e-3, lo_open=True)
    nlo: int = param(48, "", "always-on offset units (the code-0 level is nlo LSB)", 1, 1024, integer=True)
    nrep: int = param(32, "", "replica bias current in units (I_rep = nrep iu)", 1, 1024, integer=True)
    wu: float = param(0.84, "um", "unit current-source pfet width", 0.42, 100.0)
    lu: float = param(2.0, "um", "unit current-source length", 0.15, 20.0)
    wsw: float = param(0.42, "um", "bit switch width for bit 0 (bit k: wsw 2^k)", 0.42, 100.0)
    rl: float = param(4.1, "um", "load resistor (res_high_po, w = 0.35 um) length", 0.5, 1000.0)
    wrep: float = param(4.0, "um", "replica nfet width", 0.42, 1000.0)
    kf: int = param(10, "", "follower / replica width and current ratio", 1, 100, integer=True)
    lf: float = param(0.3, "um", "replica and follower length", 0.15, 10.0)
    wb: float = param(4.0, "um", "replica bias sink width", 0.42, 1000.0)
    lb: float = param(0.5, "um", "bias sink length", 0.15, 10.0)
    r_cell: float = param(0.4, "ohm", "row wire resistance per cell-group pitch", 0.0, 1e3, lo_open=True)
    c_cell: float = param(1.5e-15, "F", "row wire capacitance per cell-group pitch", 0.0, 1e-12, lo_open=True)
    n_seg: int = param(16, "", "pi-sections of the row line model (even; >= 8 keeps the line within 1 %)", 2, 1024,
                       integer=True)
    cell: CellDesign = field(default_factory=CellDesign)  #: the cells on the row and the phase timing

    def check(self) -> None:
        if self.n_seg % 2:
            raise ParameterError(f"RowDriverDesign.n_seg={self.n_seg} must be an even integer >= 2")

    @property
    def vdd(self) -> float:
        """The supply (V): the cells'."""
        return self.cell.vdd

    def at_supply(self, vdd: float) -> "RowDriverDesign":
        """This design on supply `vdd` (V): the rail and the logic levels move (the cells' design
        with them); the DAC's unit current iu (an ideal reference) stays."""
        return replace(self, cell=self.cell.at_supply(vdd))

    @property
    def t_sample_end(self) -> float:
        """Sampling instant in the settle testbench: G phase, gap, S phase (S off)."""
        c = self.cell
        return c.t_ground + 2 * c.t_gap + c.t_sample

    def driver_params(self) -> str:
        return (f"wu={self.wu} lu={self.lu} wsw={self.wsw} rl={self.rl} wrep={self.wrep} kf={self.kf} "
                f"lf={self.lf} wb={self.wb} lb={self.lb} nrep={self.nrep} nlo={self.nlo}")

    def bias_params(self) -> str:
        return f"iu={self.iu:.6g} nrep={self.nrep} wu={self.wu} lu={self.lu} wb={self.wb} lb={self.lb}"
