"""The digital readout's trims: y = alpha_j (code + 1/2) + beta_j + pedestal sum(x) - ped_j.

* the **design-time trim** (alpha, beta): one per macro configuration, least squares of the
  nominal (mismatch- and noise-free) model's continuous code against x @ w on a batch of the
  default workload (``MacroConfig.design_trim_seed``);
* the **column trim** (``column_trim = "offset"`` or ``"offset_gain"``): after the weights are
  loaded, each column's offset (and gain) is measured once on the chip with a calibration batch
  of known random vectors (``column_trim_seed``, noise averaged out), as a digital back end does.
  Errors the trim cannot remove (input-dependent ones: row gains, nonlinearity, noise) remain.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .config import MacroConfig
from .fold import Folded, pedestal

__all__ = ["Readout", "analog_target", "design_trim", "column_trim", "TRIM_VECTORS"]

TRIM_VECTORS = 256  #: vectors of each trim batch

#: the pass without noise: (x, folded) -> the continuous TDC code (B, J)
ContinuousCode = Callable[[np.ndarray, Folded], np.ndarray]


@dataclass(frozen=True)
class Readout:
    """Per-column readout gain alpha (x @ w units per code) and offset beta (x @ w units)."""

    alpha: np.ndarray
    beta: np.ndarray


def analog_target(config: MacroConfig, x: np.ndarray, w_ob: np.ndarray, ped: np.ndarray) -> np.ndarray:
    """What the analog chain represents, in x @ w units: x @ w - pedestal sum(x) + the row
    driver's code-0 level term `ped` (the trims are fitted against this)."""
    w = w_ob - 2 ** (config.weight_bits - 1)
    return (x @ w).astype(float) - float(pedestal(config)) * x.sum(1)[:, None] + ped[None, :]


def _batch(config: MacroConfig, seed: int, weights: bool) -> tuple[np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2**config.input_bits, (TRIM_VECTORS, config.n_inputs))
    if not weights:
        return x, None
    half = 2 ** (config.weight_bits - 1)
    return x, rng.integers(-half, half, (config.n_inputs, config.n_outputs)) + half


def design_trim(config: MacroConfig, fold_nominal: Callable[[np.ndarray], Folded], code: ContinuousCode
                ) -> tuple[float, float]:
    """(alpha, beta) of the nominal chip: `fold_nominal(w_ob)` folds weights without mismatch."""
    x, w_ob = _batch(config, config.design_trim_seed, weights=True)
    f = fold_nominal(w_ob)
    tn = code(x, f)
    target = analog_target(config, x, w_ob, f.ped)
    A = np.column_stack([tn.ravel(), np.ones(tn.size)])
    (alpha, beta), *_ = np.linalg.lstsq(A, target.ravel(), rcond=None)
    return float(alpha), float(beta)


def column_trim(config: MacroConfig, folded: Folded, w_ob: np.ndarray, design: tuple[float, float],
                code: ContinuousCode) -> Readout:
    """Per-column (alpha_j, beta_j) for this chip and these weights (``config.column_trim``)."""
    J = config.n_outputs
    alpha, beta = design
    if config.column_trim == "none" or not config.nonidealities.any_on:
        return Readout(np.full(J, alpha), np.full(J, beta))
    x, _ = _batch(config, config.column_trim_seed, weights=False)
    tn = code(x, folded)
    target = analog_target(config, x, w_ob, folded.ped)
    if config.column_trim == "offset":
        return Readout(np.full(J, alpha), (target - alpha * tn).mean(0))
    tc, yc = tn - tn.mean(0), target - target.mean(0)
    a = (tc * yc).sum(0) / np.maximum((tc * tc).sum(0), 1e-30)
    return Readout(a, target.mean(0) - a * tn.mean(0))
