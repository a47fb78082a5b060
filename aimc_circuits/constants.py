"""Physical constants and the few fixed facts of the technology that are not fitted.

Everything the evaluator needs that is neither a physical constant nor a property of the PDK
comes from a calibration file (``calibration/``); fitted numbers never live in code.
"""
from __future__ import annotations

__all__ = ["K_BOLTZMANN", "ZERO_CELSIUS_K", "SKY130_MOM_UNIT_CAP", "SKY130_MOM_UNIT_CAP_F"]

K_BOLTZMANN = 1.380649e-23  #: J/K (exact, SI 2019)
ZERO_CELSIUS_K = 273.15  #: K

#: the cell's unit capacitor: sky130 MOM (vertical parallel plate) metal-1/metal-2 capacitor
SKY130_MOM_UNIT_CAP = "sky130_fd_pr__cap_vpp_01p8x01p8_m1m2_noshield"
#: its capacitance at tt (F): the PDK model card's ctot_a; the cell characterization measures the
#: unit capacitance in SPICE and records it as ``cu_f`` in the cell calibration (a test holds them
#: together); the row-driver testbenches load their rows with it
SKY130_MOM_UNIT_CAP_F = 7.833e-16
