"""Row-driver variant ``dac_follower``: binary-weighted pfet current-steering DAC into a poly
load, replica-biased nfet source follower driving the row line (``netlists/row_driver.sp``).

design.py (parameters) | testbench.py (SPICE testbenches) | characterize.py (sweeps) |
fit.py (lmfit) | calibration.py (typed file) | model.py (behavioral).
"""
