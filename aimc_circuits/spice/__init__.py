"""Simulation layer: ngspice runner (the only PySpice user), netlist decks, cache, sweeps."""
from .runner import NgspiceSession, SimResult, ngspice_version

__all__ = ["NgspiceSession", "SimResult", "ngspice_version"]
