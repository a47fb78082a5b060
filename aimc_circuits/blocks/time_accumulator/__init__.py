"""The column time-accumulator family: converts each sub-array/group column voltage to time,
accumulates the channels with their binary group weights and converts once to an output code.
Variants: see :mod:`aimc_circuits.registry`."""
