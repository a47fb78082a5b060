"""A variant's spot check: its shipped behavioral model against fresh SPICE points that no fit
has seen (a few points, for the parametrized test over every registered variant)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SpotCheck"]


@dataclass(frozen=True)
class SpotCheck:
    """Model minus SPICE on fresh points, and the tolerance the variant states for them."""

    errors: np.ndarray  #: one entry per compared quantity, in `units`
    tolerance: float  #: max |error| allowed, in `units`
    units: str
    what: str  #: which points, and where the tolerance comes from

    @property
    def max_abs(self) -> float:
        return float(np.max(np.abs(self.errors)))

    @property
    def passed(self) -> bool:
        return bool(self.errors.size) and self.max_abs < self.tolerance
