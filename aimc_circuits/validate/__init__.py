"""Validation of the behavioral macro against SPICE of the same slice of the array
(:mod:`.slice_deck`: the deck; :mod:`.stages`: the block models composed stage by stage;
:mod:`.fidelity`: the comparison behind ``aimc validate``)."""
