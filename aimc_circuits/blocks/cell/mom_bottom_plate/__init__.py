"""Cell variant ``mom_bottom_plate``: binary-weighted sky130 MOM unit capacitors per 4-bit group,
bottom-plate sampling through transmission gates, top-plate column reset (``netlists/cell.sp``).

design.py (parameters) | netlist.py (subcircuit text) | testbench.py (SPICE testbenches) |
deck_chip.py (the model chip of a resolved Monte Carlo deck) |
characterize.py (sweeps) | fit.py (lmfit) | calibration.py (typed file) | model.py (behavioral).
"""
