"""The row-driver family: one per input row, turns the input code into the row line's analog level
and drives the row line loaded by every cell on it. Variants: see :mod:`aimc_circuits.registry`."""
