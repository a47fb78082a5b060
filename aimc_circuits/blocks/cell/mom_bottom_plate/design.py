"""Design parameters of the cell variant ``mom_bottom_plate`` (SPICE-free; see ``testbench.py``
for the topology and ``netlists/cell.sp`` for the circuit)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ....errors import ParameterError
from ...design import SUPPLY_MAX_V, Design, check_supply, param

__all__ = ["CellDesign"]


@dataclass(frozen=True)
class CellDesign(Design):
    """Electrical design of the cell and its sub-array column. Geometry in um (SPICE
    convention for sky130 devices), everything else SI."""

    weight_bits: int = param(8, "", "bits of a weight magnitude code (stored as groups)", 1, 16, integer=True)
    bits_per_group: int = param(4, "", "capacitor bits per group; must divide weight_bits (at most 64 unit caps "
                                "per bit)", 1, 6, integer=True)
    vdd: float = param(1.8, "V", "supply (above 1.95 V, the devices' model range, it warns)", 0.0, SUPPLY_MAX_V,
                       lo_open=True)
    vr: float = param(1.8, "V", "column reset level (at most vdd)", 0.0)
    v_fs: float = param(1.0, "V", "full-scale row level: the input code 255 maps here (at most vdd)", 0.0,
                        lo_open=True)
    w_sw: float = param(0.42, "um", "sampling transmission-gate width for bit 0; bit k uses w_sw 2^(k//2)", 0.42, 100.0)
    w_gnd: float = param(0.42, "um", "bottom-plate ground nfet width", 0.42, 100.0)
    l_sw: float = param(0.15, "um", "switch length", 0.15, 10.0)
    w_reset: float = param(16.0, "um", "column reset pfet width: restores a 128-row column in t_sample", 0.42, 1000.0)
    c_wire: float = param(0.4e-15, "F", "column wire capacitance per row pitch", 0.0, 1e-12)
    r_wire: float = param(2.0, "ohm", "column wire resistance per row pitch", 0.0, 1e3)
    c_load: float = param(2e-15, "F", "fixed load at the column end: the VTC input", 0.0, 1e-12)
    t_sample: float = param(3e-9, "s", "phase S, column reset on", 0.0, 1e-6, lo_open=True)
    t_gap: float = param(0.1e-9, "s", "non-overlap gaps", 0.0, 1e-6)
    t_ground: float = param(2e-9, "s", "phase G, the column settles", 0.0, 1e-6, lo_open=True)
    t_edge: float = param(50e-12, "s", "phase edge rise/fall time", 0.0, 1e-9, lo_open=True)

    def check(self) -> None:
        if self.weight_bits % self.bits_per_group:
            raise ParameterError(
                f"bits_per_group={self.bits_per_group} must divide weight_bits={self.weight_bits} "
                f"(allowed: {[d for d in range(1, min(self.weight_bits, 6) + 1) if self.weight_bits % d == 0]})")
        for name in ("vr", "v_fs"):
            if getattr(self, name) > self.vdd:
                raise ParameterError(f"CellDesign.{name}={getattr(self, name)} V must be at most vdd={self.vdd} V")
        check_supply(self.vdd, "CellDesign")

    def at_supply(self, vdd: float) -> "CellDesign":
        """This design on supply `vdd` (V): the rail, the switches' gate drive and, where it is the
        rail, the column reset level vr move; the full-scale row level v_fs (an ideal reference) stays."""
        return replace(self, vdd=vdd, vr=vdd if self.vr == self.vdd else self.vr)

    @property
    def groups(self) -> int:
        """Capacitor groups per weight."""
        return self.weight_bits // self.bits_per_group

    @property
    def max_code(self) -> int:
        """Largest group code (2^bits_per_group - 1)."""
        return 2 ** self.bits_per_group - 1

    @property
    def period(self) -> float:
        """One charge-sharing cycle: gap, S, two gaps, G (s). The column is read at its end."""
        return self.t_sample + 3 * self.t_gap + self.t_ground

    @property
    def t_phase_g(self) -> float:
        """Start of phase G within a cycle (s)."""
        return self.t_sample + 3 * self.t_gap
