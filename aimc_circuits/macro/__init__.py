"""The macro: configuration, the vectorized array-level evaluator, and its metrics."""
from .config import MacroConfig, Nonidealities
from .evaluator import Chip, Macro

__all__ = ["Chip", "Macro", "MacroConfig", "Nonidealities"]
