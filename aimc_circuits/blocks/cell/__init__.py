"""The capacitor-grouped multi-bit cell family: one weight = groups of binary-weighted capacitors
charge-shared onto a group column per sub-array. Variants: see :mod:`aimc_circuits.registry`."""
