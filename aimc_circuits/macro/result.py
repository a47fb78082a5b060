"""The result of :meth:`aimc_circuits.macro.Macro.evaluate`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .energy import Energy

__all__ = ["EvalResult"]


@dataclass(frozen=True)
class EvalResult:
    """One batch through the macro; B vectors, J = n_outputs columns. Every field is always
    present (the ideal macro: codes None, nothing saturated, errors 0)."""

    y: np.ndarray  #: (B, J) float: the macro's estimate of x @ w (integer units)
    y_ideal: np.ndarray  #: (B, J) float: x @ w exactly
    errors: np.ndarray  #: (B, J) float: y - y_ideal
    codes: np.ndarray | None  #: (B, J) output codes (int64; the continuous code when quantization is off); None: ideal
    saturated: np.ndarray  #: (B, J) bool: the code clipped at 0 or 2^output_bits - 1
    lsb: np.ndarray  #: (J,) x @ w units per output code of each column (the readout gain |alpha_j|)
    energy: Energy | None  #: mean energy per VMM by block (J); None when not asked for

    @property
    def energy_j(self) -> dict[str, float] | None:
        """The energy breakdown as a dict (J): row_drivers, cells, time_accumulators, total."""
        return None if self.energy is None else self.energy.as_dict()
