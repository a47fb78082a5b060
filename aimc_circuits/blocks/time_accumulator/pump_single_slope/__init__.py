"""Time-accumulator variant ``pump_single_slope``: a shared falling ramp, comparator-pair VTCs
per channel, 16^g-weighted current-steering sink/source pumps on a MIM accumulator, and a
single-slope charge-up TDC with a counter (``netlists/time_accumulator.sp``).

design.py (parameters) | testbench.py (SPICE testbenches) | characterize.py (sweeps) |
fit.py (lmfit) | calibration.py (typed file) | model.py (behavioral).
"""
