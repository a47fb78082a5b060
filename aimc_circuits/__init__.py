"""aimc_circuits: circuit-accurate modeling of analog in-memory-computing macros (sky130)."""
from .errors import (AimcError, ConvergenceError, NgspiceNotFoundError, ParameterError, PdkNotFoundError,
                     SpiceError)
from .macro import Macro, MacroConfig, Nonidealities
from .pdk import CORNERS, Pdk, find_pdk, install_pdk

__version__ = "0.1.0"
__all__ = [
    "AimcError", "ConvergenceError", "NgspiceNotFoundError", "ParameterError", "PdkNotFoundError", "SpiceError",
    "Macro", "MacroConfig", "Nonidealities", "CORNERS", "Pdk", "find_pdk", "install_pdk", "__version__",
]
