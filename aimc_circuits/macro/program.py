"""A macro with a weight matrix loaded (weight-stationary): the unit a network's layer is mapped on.

``Macro.program(w)`` loads a weight matrix of any size up to the macro's, the way a layer tile
is stored in the array: its k inputs on rows 0..k-1, its m outputs on columns 0..m-1; the other
rows hold weight 0 and are driven at code 0, the other columns hold weight 0 and are not read.
The chip's output window (``window_trim``) and column trim are set once, after the weights are
loaded, on calibration inputs
with the unused rows at code 0, as the chip's digital back end would do it: on the caller's own
calibration batch (``trim_x``, e.g. the layer's activations on training data) or, without one,
on uniform random codes.

Evaluating a tile costs what its used part costs: the matmuls read only the sub-arrays and rows
in use and the pass only the columns in use (:func:`.fold.restrict`, exact), so a 64-input,
10-output layer is not charged for the 1024 x 256 array it sits in. The energy is the whole
array's (every row driver, cell and time accumulator runs).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks import check_int_codes
from ..errors import ParameterError
from .energy import Energy, energy_at_levels, mean_levels
from .fold import Folded
from .result import EvalResult
from .trim import Readout, column_trim, trim_batch

if TYPE_CHECKING:
    from .evaluator import Macro

__all__ = ["ProgrammedMacro"]


class ProgrammedMacro:
    """One chip instance of `macro` with the weights w (k, m) loaded (k <= n_inputs, m <= n_outputs).

    trim_x: calibration inputs (N, k) codes for the column trim (None: uniform random codes from
    ``config.column_trim_seed``). ``vmm(x, rng)`` and ``evaluate(x, rng)`` take x (B, k)."""

    def __init__(self, macro: "Macro", w: Any, trim_x: Any = None):
        c = macro.config
        self.macro = macro
        half = 2 ** (c.weight_bits - 1)
        wa = np.asarray(w)
        if wa.ndim != 2 or not (1 <= wa.shape[0] <= c.n_inputs and 1 <= wa.shape[1] <= c.n_outputs):
            raise ParameterError(f"w must have shape (k, m) with 1 <= k <= n_inputs={c.n_inputs} and "
                                 f"1 <= m <= n_outputs={c.n_outputs}; got {wa.shape}")
        self.w = check_int_codes("w", wa, half - 1, lo=-half)
        self.rows, self.cols = self.w.shape
        self.w_ob = self.w + half
        self.folded: Folded | None = None  # None: the ideal macro (x @ w exactly)
        self.readout: Readout | None = None
        if c.nonidealities.any_on:
            xt = trim_batch(c, self.rows) if trim_x is None else self._check_x(trim_x, "trim_x")
            self.folded = macro.fold_windowed(self.w_array(), xt, (self.rows, self.cols), self._place)
            self.readout = column_trim(c, self.folded, self.w_ob, macro._design_trim(),
                                       lambda x, f: macro._continuous_code(self._place(x), f), x=xt)

    # -- inputs ------------------------------------------------------------------------------
    def _check_x(self, x: Any, name: str = "x") -> np.ndarray:
        xa = np.asarray(x)
        if xa.ndim != 2 or xa.shape[1] != self.rows:
            raise ParameterError(f"{name} must have shape (batch, {self.rows}) (the programmed weights' rows); "
                                 f"got {xa.shape}")
        return check_int_codes(name, xa, 2**self.macro.config.input_bits - 1)

    def _place(self, x: np.ndarray) -> np.ndarray:
        """x (B, k) as the restricted matmul reads it: (B, sub-arrays in use x rows read per sub-array)."""
        rs = self.macro.config.rows_per_subarray
        n = rs * -(-self.rows // rs) if self.rows > rs else self.rows  # as :func:`.fold.restrict` lays them out
        if n == x.shape[1]:
            return x
        out = np.zeros((x.shape[0], n), dtype=x.dtype)
        out[:, :x.shape[1]] = x
        return out

    # -- evaluation --------------------------------------------------------------------------
    def exact(self, x: np.ndarray) -> np.ndarray:
        """x @ w exactly (float64: every partial sum is an integer below 2^53)."""
        return x.astype(np.float64) @ self.w.astype(np.float64)

    def vmm(self, x: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        """The macro's estimate of x @ w, (B, m) float; rng draws the noise (None: noise off)."""
        self.macro._check_rng(rng)
        xi = self._check_x(x)
        if self.folded is None:
            return self.exact(xi)
        return self.macro._run(self._place(xi), self.folded, self.readout, rng, codes=False)[0]

    def evaluate(self, x: Any, rng: np.random.Generator | None = None, energy: bool = True) -> EvalResult:
        """One batch (B, k) through the tile (:class:`.result.EvalResult`, m columns)."""
        self.macro._check_rng(rng)
        xi = self._check_x(x)
        y_ideal = self.exact(xi)
        e = self.energy(xi) if energy else None
        if self.folded is None:
            lsb = np.full(self.cols, self.macro.full_scale() / 2**self.macro.config.output_bits)
            return EvalResult(y=y_ideal.copy(), y_ideal=y_ideal, errors=np.zeros_like(y_ideal), codes=None,
                              saturated=np.zeros(y_ideal.shape, bool), lsb=lsb, energy=e)
        y, code, sat = self.macro._run(self._place(xi), self.folded, self.readout, rng)
        ni = self.macro.ni
        return EvalResult(y=y, y_ideal=y_ideal, errors=y - y_ideal,
                          codes=np.floor(code).astype(np.int64) if ni.quantization else code,
                          saturated=sat, lsb=np.abs(self.readout.alpha), energy=e)

    def energy(self, x: np.ndarray) -> Energy:
        """Mean energy per VMM (J) of the whole array over the batch x (B, k): the unused rows at code 0."""
        m = self.macro
        c = m.config
        if x.shape[0] == 0:
            nan = float("nan")
            return Energy(nan, nan, nan, nan)
        v_used, vp_used = mean_levels(m.row, x)
        v = np.full(c.n_inputs, float(m.row.level_table()[0]))
        vp = v.copy()
        v[:self.rows], vp[:self.rows] = v_used, vp_used
        return energy_at_levels(c, m.row, m.cell, m.ta, v, vp, self.w_array())

    def w_array(self) -> np.ndarray:
        """The whole array's offset-binary weight codes (n_inputs, n_outputs): w in its corner, 0 elsewhere."""
        c = self.macro.config
        out = np.full((c.n_inputs, c.n_outputs), 2 ** (c.weight_bits - 1), dtype=np.int64)
        out[:self.rows, :self.cols] = self.w_ob
        return out
