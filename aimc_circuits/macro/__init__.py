"""The macro: configuration, the vectorized array-level evaluator, and its metrics."""
from .config import MacroConfig, Nonidealities
from .chip import Chip
from .evaluator import Macro
from .result import EvalResult

__all__ = ["Chip", "EvalResult", "Macro", "MacroConfig", "Nonidealities"]
