"""A macro with a weight matrix loaded (weight-stationary): the unit a network's layer is mapped on.

``Macro.program(w)`` loads a weight matrix of any size up to the macro's, the way a layer tile
is stored in the array: its k inputs on rows 0..k-1, its m outputs on columns 0..m-1; the other
rows hold weight 0 and are driven at code 0, the other columns hold weight 0 and are not read.
With ``row_copies = n`` the k rows are stored n times (rows 0..n k - 1, row r driven by input
r mod k): each column then sums its copies, n x (x @ w) ideally (a small tile's signal grows
against the macro's noise). With ``column_copies = c`` the m columns are stored c times (columns
j, j + m, ..., each with its own mismatch and noise) and read out as their mean.
The chip's output window (``window_trim``) and column trim are set once, after the weights are
loaded, on calibration inputs
with the unused rows at code 0, as the chip's digital back end would do it: on the caller's own
calibration batch (``trim_x``, e.g. the layer's activations on training data) or, without one,
on uniform random codes.

Evaluating a tile costs what its used part costs: the matmuls read only the sub-arrays and rows
in use and the pass only the columns in use (:func:`.fold.restrict`, exact), so a 64-input,
10-output layer is not charged for the 1024 x 256 array it sits in; the sub-arrays whose rows
are all held cost a multiply-add per channel and column. The pass reads the k inputs as given (:func:`.fold.copy_layout`:
copies of rows read each input once where that is cheaper, one matmul over the k inputs for
every sub-array in use, exact). The energy is the whole array's (every row driver, cell and time
accumulator runs).
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks import check_int_codes
from ..errors import ParameterError
from .energy import Energy, energy_at_levels, mean_levels
from .fold import Folded
from .result import EvalResult
from .trim import Readout, column_trim, trim_batch, window_warning

if TYPE_CHECKING:
    from .evaluator import Macro

__all__ = ["ProgrammedMacro"]


class ProgrammedMacro:
    """One chip instance of `macro` with the weights w (k, m) loaded, k row_copies <= n_inputs rows
    and m column_copies <= n_outputs columns in use.

    trim_x: calibration inputs (N, k) codes for the column trim (None: uniform random codes from
    ``config.column_trim_seed``). ``vmm(x, rng)`` takes x (B, k) and gives the m outputs (each
    the sum over the row copies, the mean over the column copies); ``evaluate(x, rng)`` gives
    every column of the array in use (m column_copies, copy c of output j at c m + j).
    ``window_held``: the columns whose output window needs a threshold outside the characterized
    range (warned about unless quiet)."""

    def __init__(self, macro: "Macro", w: Any, trim_x: Any = None, row_copies: int = 1, column_copies: int = 1,
                 quiet: bool = False):
        c = macro.config
        self.macro = macro
        half = 2 ** (c.weight_bits - 1)
        for name, n in (("row_copies", row_copies), ("column_copies", column_copies)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ParameterError(f"{name}={n!r}; allowed: an integer >= 1")
        self.copies, self.column_copies = int(row_copies), int(column_copies)
        wa = np.asarray(w)
        if wa.ndim != 2 or not (1 <= wa.shape[0] * self.copies <= c.n_inputs
                                and 1 <= wa.shape[1] * self.column_copies <= c.n_outputs):
            raise ParameterError(f"w must have shape (k, m) with 1 <= k x row_copies ({self.copies}) <= n_inputs="
                                 f"{c.n_inputs} and 1 <= m x column_copies ({self.column_copies}) <= n_outputs="
                                 f"{c.n_outputs}; got {wa.shape}")
        self.w = check_int_codes("w", wa, half - 1, lo=-half)
        self.rows, self.cols = self.w.shape
        self.w_ob = self.w + half
        self.folded: Folded | None = None  # None: the ideal macro (x @ w exactly)
        self.readout: Readout | None = None
        self.window_held = 0
        if c.nonidealities.any_on:
            xt = trim_batch(c, self.rows) if trim_x is None else self._check_x(trim_x, "trim_x")
            used = self.w_used()
            held: list[int] = []
            self.folded = macro.fold_windowed(self.w_array(), xt, (used.shape[0], used.shape[1], self.rows), held)
            self.window_held = held[0] if held else 0
            if self.window_held and not quiet:
                warnings.warn(window_warning(self.window_held, used.shape[1], self.window_range()), stacklevel=3)
            # the trim's targets on the whole array (every copy of the rows, driven by its input)
            self.readout = column_trim(c, self.folded, used, macro._design_trim(),
                                       lambda xp, f: macro._continuous_code(xp[:, :self.rows], f),
                                       x=np.tile(xt, self.copies))

    def window_range(self) -> tuple[float, float]:
        """The characterized TDC stop thresholds (V) of the output window at this macro's TDC setting."""
        return self.macro.ta.threshold_range(self.macro.config.tdc_current)

    # -- inputs ------------------------------------------------------------------------------
    def _check_x(self, x: Any, name: str = "x", x_range: bool = True) -> np.ndarray:
        """x (B, k) input codes (:meth:`Macro.input_codes`; x_range=False: the pass checks the range)."""
        xa = np.asarray(x)
        if xa.ndim != 2 or xa.shape[1] != self.rows:
            raise ParameterError(f"{name} must have shape (batch, {self.rows}) (the programmed weights' rows); "
                                 f"got {xa.shape}")
        return self.macro.input_codes(xa, name, x_range=x_range)

    # -- evaluation --------------------------------------------------------------------------
    def exact(self, x: np.ndarray) -> np.ndarray:
        """The ideal outputs, row_copies x (x @ w), (B, m), exactly (float64: every partial sum is an
        integer below 2^53)."""
        return self.copies * (x.astype(np.float64) @ self.w.astype(np.float64))

    def vmm(self, x: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        """The macro's estimate of row_copies x (x @ w), (B, m) float; rng draws the noise (None: noise off)."""
        self.macro._check_rng(rng)
        xi = self._check_x(x, x_range=self.folded is None)
        if self.folded is None:
            return self.exact(xi)
        return self.macro._run(xi, self.folded, self.readout, rng, codes=False, column_copies=self.column_copies)[0]

    def evaluate(self, x: Any, rng: np.random.Generator | None = None, energy: bool = True) -> EvalResult:
        """One batch (B, k) through the tile (:class:`.result.EvalResult`, every column in use)."""
        self.macro._check_rng(rng)
        xi = self._check_x(x)
        y_ideal = np.tile(self.exact(xi), self.column_copies)
        e = self.energy(xi) if energy else None
        if self.folded is None:
            lsb = np.full(y_ideal.shape[1], self.macro.full_scale() / 2**self.macro.config.output_bits)
            return EvalResult(y=y_ideal.copy(), y_ideal=y_ideal, errors=np.zeros_like(y_ideal), codes=None,
                              saturated=np.zeros(y_ideal.shape, bool), lsb=lsb, energy=e)
        y, code, sat = self.macro._run(xi, self.folded, self.readout, rng)
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
        used = self.rows * self.copies
        v[:used], vp[:used] = np.tile(v_used, self.copies), np.tile(vp_used, self.copies)
        return energy_at_levels(c, m.row, m.cell, m.ta, v, vp, self.w_array())

    def w_used(self) -> np.ndarray:
        """The offset-binary weight codes of the rows and columns in use: w tiled (row_copies, column_copies)."""
        return np.tile(self.w_ob, (self.copies, self.column_copies))

    def w_array(self) -> np.ndarray:
        """The whole array's offset-binary weight codes (n_inputs, n_outputs): the copies of w in its
        corner, 0 elsewhere."""
        c = self.macro.config
        out = np.full((c.n_inputs, c.n_outputs), 2 ** (c.weight_bits - 1), dtype=np.int64)
        used = self.w_used()
        out[:used.shape[0], :used.shape[1]] = used
        return out
