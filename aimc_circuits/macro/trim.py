"""The digital readout's trims: y = alpha_j (code + 1/2) + beta_j + pedestal sum(x) - ped_j.

* the **design-time trim** (alpha, beta): one per macro configuration, least squares of the
  nominal (mismatch- and noise-free) model's continuous code against x @ w on a batch of the
  default workload (``MacroConfig.design_trim_seed``);
* the **output window** (``window_trim = true``, analog): after the weights are loaded, each
  column's TDC stop threshold is set (a per-column trim DAC, an ideal reference in the model,
  limited to the characterized thresholds) so that the trim batch's codes are centred in the
  counter's range: the chip's offsets (VTC offsets, TDC gain spread) and a layer's own offset no
  longer push a column's codes off the range, where no digital trim can recover them;
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

__all__ = ["Readout", "analog_target", "design_trim", "column_trim", "window_thresholds", "window_warning", "trim_batch",
           "TRIM_VECTORS"]

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


def _design_batch(config: MacroConfig) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(config.design_trim_seed)
    x = rng.integers(0, 2**config.input_bits, (TRIM_VECTORS, config.n_inputs))
    half = 2 ** (config.weight_bits - 1)
    return x, rng.integers(-half, half, (config.n_inputs, config.n_outputs)) + half


def design_trim(config: MacroConfig, fold_nominal: Callable[[np.ndarray], Folded], code: ContinuousCode
                ) -> tuple[float, float]:
    """(alpha, beta) of the nominal chip: `fold_nominal(w_ob)` folds weights without mismatch."""
    x, w_ob = _design_batch(config)
    f = fold_nominal(w_ob)
    tn = code(x, f)
    target = analog_target(config, x, w_ob, f.ped)
    A = np.column_stack([tn.ravel(), np.ones(tn.size)])
    (alpha, beta), *_ = np.linalg.lstsq(A, target.ravel(), rcond=None)
    return float(alpha), float(beta)


def column_trim(config: MacroConfig, folded: Folded, w_ob: np.ndarray, design: tuple[float, float],
                code: ContinuousCode, x: np.ndarray | None = None) -> Readout:
    """Per-column (alpha_j, beta_j) for this chip and these weights (``config.column_trim``).
    x: the calibration inputs (B, rows of w_ob); None: TRIM_VECTORS uniform random codes from
    ``config.column_trim_seed`` on every row."""
    J = w_ob.shape[1]
    alpha, beta = design
    if config.column_trim == "none" or not config.nonidealities.any_on:
        return Readout(np.full(J, alpha), np.full(J, beta))
    if x is None:
        x = trim_batch(config)
    tn = code(x, folded)
    target = analog_target(config, x, w_ob, folded.ped)
    if config.column_trim == "offset":
        return Readout(np.full(J, alpha), (target - alpha * tn).mean(0))
    tc, yc = tn - tn.mean(0), target - target.mean(0)
    a = (tc * yc).sum(0) / np.maximum((tc * tc).sum(0), 1e-30)
    return Readout(a, target.mean(0) - a * tn.mean(0))


def trim_batch(config: MacroConfig, rows: int | None = None) -> np.ndarray:
    """The column trim's default calibration inputs: TRIM_VECTORS uniform random codes
    (``column_trim_seed``) on `rows` inputs (None: all)."""
    rng = np.random.default_rng(config.column_trim_seed)
    return rng.integers(0, 2**config.input_bits, (TRIM_VECTORS, config.n_inputs if rows is None else rows))


WINDOW_PERCENTILES = (1.0, 99.0)  #: the trim batch's code spread the output window centres
WINDOW_STEP_V = 0.01  #: threshold step of the window's slope estimate (V)


def window_warning(n_held: str | int, n_cols: int, v_range: tuple[float, float], where: str = "") -> str:
    """The warning for n_held of n_cols columns (where: e.g. " on each of 5 chips") whose output
    window needs a threshold outside v_range."""
    lo, hi = v_range
    return (f"output window: {n_held} of {n_cols} columns{where} need a TDC stop threshold outside the characterized "
            f"{lo:g}..{hi:g} V; held at the end of that range (their codes stay off centre)")


def window_thresholds(code_at: Callable[[np.ndarray], np.ndarray], vhi0: float, v_range: tuple[float, float],
                      n_codes: int, held_out: list | None = None) -> np.ndarray:
    """Per-column stop thresholds (V) that centre the codes of a trim batch in 0..n_codes:
    code_at(vhi) gives its continuous codes (B, J) at thresholds vhi (J,). Two Newton steps on
    the midpoint of the WINDOW_PERCENTILES codes, the slope from a WINDOW_STEP_V step. Thresholds
    the centring would need outside v_range (the characterized ones) are held at its ends, with
    a warning naming how many columns and the range (held_out given: the count of held columns
    is appended to it instead, for the caller to report)."""
    lo, hi = v_range

    def mid(v):
        pl, ph = np.percentile(code_at(v), WINDOW_PERCENTILES, axis=0)
        return (pl + ph) / 2

    m = mid(np.array(vhi0, dtype=float))
    v = np.full(m.shape, float(vhi0))
    for _ in range(2):
        step = np.where(v + WINDOW_STEP_V <= hi, WINDOW_STEP_V, -WINDOW_STEP_V)
        slope = (mid(v + step) - m) / step  # codes per volt of threshold (> 0: a higher threshold stops later)
        want = v - (m - n_codes / 2) / np.where(np.abs(slope) > 1e-9, slope, 1e-9)
        v = np.clip(want, lo, hi)
        m = mid(v)
    held = (want < lo) | (want > hi)
    if held_out is not None:
        held_out.append(int(held.sum()))
    elif held.any():
        import warnings

        warnings.warn(window_warning(int(held.sum()), v.size, v_range), stacklevel=3)
    return v
