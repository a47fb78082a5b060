"""Design parameters of the time-accumulator variant ``pump_single_slope`` (SPICE-free; see
``testbench.py`` for the topology and ``netlists/time_accumulator.sp`` for the circuit)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from ....errors import ParameterError
from ...design import SUPPLY_MAX_V, Design, check_supply, param

__all__ = ["TADesign"]


@dataclass(frozen=True)
class TADesign(Design):
    """Electrical design and timing of one column's time accumulator (SI units, geometry um)."""

    #: the circuit: ``netlists/<netlist>.sp`` (a variant with the same subcircuits and ports
    #: subclasses this design and names its own netlist; every testbench reads it from here)
    netlist: ClassVar[str] = "time_accumulator"

    i0: float = param(7e-6, "A", "unit current: group g pumps 16^g units, the TDC charge-up md units", 0.0, 1e-3,
                      lo_open=True)
    mr: int = param(16, "", "ramp sink units (slope ~ mr i0 / C_ramp)", 1, 1024, integer=True)
    cr_w: float = param(14.0, "um", "ramp MIM capacitor side", 1.0, 100.0)
    cacc_w: float = param(10.0, "um", "accumulation MIM capacitor side", 1.0, 100.0)
    md: float = param(1.0, "", "TDC charge-up current in units of i0 (pfet width ratio)", 0.0, 64.0, lo_open=True)
    vdd: float = param(1.8, "V", "supply, and the ramp's start (above 1.95 V, the devices' model range, it warns)",
                       0.0, SUPPLY_MAX_V, lo_open=True)
    vmid: float = param(1.15, "V", "accumulator reset level and the pumps' steering level (below vdd)", 0.0,
                        lo_open=True)
    vhi: float = param(1.52, "V", "TDC stop threshold (below vdd)", 0.0, lo_open=True)
    t_reset: float = param(0.3e-9, "s", "reset phase", 0.0, 1e-6, lo_open=True)
    t_ramp: float = param(5.5e-9, "s", "ramp (VTC) phase", 0.0, 1e-6, lo_open=True)
    t_gap: float = param(0.3e-9, "s", "ramp end -> TDC start", 0.0, 1e-6, lo_open=True)
    t_lsb: float = param(100e-12, "s", "counter clock period = TDC LSB", 0.0, 1e-8, lo_open=True)
    output_bits: int = param(8, "", "counter bits", 1, 16, integer=True)
    n_sub: int = param(8, "", "sub-arrays per column", 1, 64, integer=True)
    groups: int = param(2, "", "capacitor groups per weight", 1, 8, integer=True)
    bits_per_group: int = param(4, "", "group weight = 2^(bits_per_group g)", 1, 8, integer=True)
    t_edge: float = param(50e-12, "s", "control edge time", 0.0, 1e-9, lo_open=True)

    def check(self) -> None:
        for name in ("vmid", "vhi"):
            if not getattr(self, name) < self.vdd:
                raise ParameterError(f"TADesign.{name}={getattr(self, name)} must be below vdd={self.vdd} V")
        check_supply(self.vdd, "TADesign")

    def at_supply(self, vdd: float) -> "TADesign":
        """This design on supply `vdd` (V): the rail, the logic levels and the ramp's start move; the
        ideal references vmid, vhi and the bias current i0 stay."""
        return replace(self, vdd=vdd)

    @property
    def t_run(self) -> float:
        """Ramp start (s)."""
        return self.t_reset

    @property
    def t_conv(self) -> float:
        """TDC start (s)."""
        return self.t_reset + self.t_ramp + self.t_gap

    @property
    def t_tdc(self) -> float:
        """TDC full-scale time (s): 2^bits counter periods."""
        return 2**self.output_bits * self.t_lsb

    @property
    def t_total(self) -> float:
        """One conversion: reset, ramp, gap, full-scale TDC (s)."""
        return self.t_conv + self.t_tdc

    def weight(self, g: int) -> int:
        return 2 ** (self.bits_per_group * g)
