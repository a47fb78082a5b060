"""Quantizing a trained network and mapping its layers onto macros (weight-stationary).

Each mapped layer (Dense, Conv2d as im2col) is an integer product P = x_q @ w_q between

* the **inputs** x_q: unsigned codes 0..2^input_bits - 1 with one scale per layer,
  s_x = (the calibration batch's largest input) / (2^input_bits - 1); inputs above it saturate at
  the top code (counted in :attr:`MappedLayer.input_clipped`). A layer whose calibration inputs
  go negative runs **two passes**, P = x+ @ w - x- @ w, on the positive and negative parts;
* the **weights** w_q: int8 codes -127..127 with one scale per output channel, s_w[j] =
  max |w[:, j]| / 127 (symmetric: the zero weight is code 0);

and y = s_x s_w[j] P[:, j] + b[j] (the bias and the scales digital). P is computed exactly
(ideal int8) or on macros: the (K, N) weight matrix is cut into tiles of at most n_inputs rows
and n_outputs columns; every tile is its own macro (one chip instance each, :meth:`Macro.program`),
stored in its top-left corner (the unused rows at code 0, the unused columns not read); the
partial sums of the row tiles are added digitally. The column trim of each tile is measured on
the layer's own calibration inputs, as a deployed chip's back end would do it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..macro.trim import window_warning
from .layers import MAPPED, Network

__all__ = ["MappedLayer", "quantize_layer", "tile_bounds", "WEIGHT_CODE_MAX"]

WEIGHT_CODE_MAX = 127  #: symmetric int8 weights: codes -127..127
TRIM_CALIBRATION_VECTORS = 512  #: calibration inputs per tile for its column trim
REPLICA_RANGE = 0.8  #: share of the output codes a replicated tile's calibration outputs may span


def tile_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """[(start, stop)] cutting n into consecutive tiles of at most `size`."""
    return [(a, min(n, a + size)) for a in range(0, n, size)]


@dataclass
class MappedLayer:
    """One Dense / Conv2d layer, quantized; its tiles per chip instance are made on first use."""

    layer: Any
    s_x: float  #: input units per code
    s_w: np.ndarray  #: (N,) weight units per code, per output channel
    w_q: np.ndarray  #: (K, N) int64 codes -127..127
    two_pass: bool  #: the inputs can be negative: P = x+ @ w - x- @ w
    input_bits: int
    calib_codes: np.ndarray  #: (n, K) calibration input codes (both passes' parts) for the tile trims
    index: int = 0  #: the layer's place among the mapped layers (its tiles' chip seeds)
    replicate: bool = True  #: store copies of a small tile's rows (:meth:`replicas`) and columns (averaged)
    tdc_current: float | None = None  #: the layer's output range: TDC charge-up current of its tiles (None: the macro's)
    input_clipped: int = 0  #: inputs above the top code seen so far (they saturate at it)
    tiles: dict = field(default_factory=dict, repr=False)
    #: per chip instance: (columns whose output window is held at the characterized thresholds, columns in use)
    window_held: dict = field(default_factory=dict, repr=False)
    warn_window: bool = True  #: warn (once per chip, for all its tiles) about held windows when the tiles are made

    @property
    def name(self) -> str:
        return self.layer.name

    def codes(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(x+, x-) input codes of the patches x (x- None for a one-pass layer); counts the clipped."""
        top = 2**self.input_bits - 1
        q = np.rint(x / self.s_x)
        self.input_clipped += int((np.abs(q) > top).sum())
        q = np.clip(q, -top, top).astype(np.int64)
        if not self.two_pass:
            return np.maximum(q, 0), None
        return np.maximum(q, 0), np.maximum(-q, 0)

    def product(self, x: np.ndarray, backend: str, macro: Any = None, chip: int = 0,
                rng: np.random.Generator | None = None) -> np.ndarray:
        """P = x_q @ w_q of the patches x (B, K) as float64: 'int8' exact, 'macro' on this layer's tiles."""
        xp, xn = self.codes(x)
        if backend == "int8":
            parts = [(xp, 1.0)] + ([(xn, -1.0)] if xn is not None else [])
            return sum(sign * (xc.astype(np.float64) @ self.w_q.astype(np.float64)) for xc, sign in parts)
        tiles = self.tiles_for(macro, chip)
        B = x.shape[0]
        # a two-pass layer runs both passes through each tile as one batch, the negative parts right
        # after the positive ones (as the chip would run them back to back)
        xs = xp if xn is None else np.concatenate([xp, xn])
        out = np.zeros((B, self.w_q.shape[1]))
        for (r0, r1), row in tiles.items():
            for (c0, c1), tile, rep in row:  # the sum over the row copies, the mean over the column copies
                y = tile.vmm(xs[:, r0:r1], rng)
                out[:, c0:c1] += (y if xn is None else y[:B] - y[B:]) / rep
        return out

    def replicas(self, macro: Any, r0: int, r1: int) -> int:
        """How many copies of rows r0..r1 a tile stores (each input driven on every copy, the sum
        divided digitally): as many as fit in the array's rows and keep the calibration batch's
        outputs inside REPLICA_RANGE of the codes (each column's spread p1..p99 of the exact
        product, its window centred by the window trim). Copies add the signal coherently while the
        macro's noise (VTC comparators: per column, whatever the rows) stays."""
        c = macro.config
        fit = c.n_inputs // (r1 - r0)
        if fit <= 1 or not self.replicate:
            return 1
        xc = self.calib_codes[:, r0:r1].astype(np.float64)
        p = xc @ self.w_q[r0:r1].astype(np.float64)
        spread = float(np.max(np.percentile(p, 99, axis=0) - np.percentile(p, 1, axis=0)))
        lsb = macro.full_scale() / 2**c.output_bits
        return int(max(1, min(fit, REPLICA_RANGE * 2**c.output_bits * lsb // max(spread, 1e-30))))

    def forward(self, x: np.ndarray, backend: str, macro: Any = None, chip: int = 0,
                rng: np.random.Generator | None = None) -> np.ndarray:
        """The layer's float output for input x through the chosen backend ('float', 'int8', 'macro')."""
        if backend == "float":
            return self.layer.forward(x)
        cols = self.layer.patches(x)
        y = self.product(cols, backend, macro, chip, rng) * (self.s_x * self.s_w) + self.layer.b
        return self.layer.unpatch(y, x)

    def tiles_for(self, macro: Any, chip: int) -> dict:
        """{(r0, r1): [((c0, c1), ProgrammedMacro)]} of chip instance `chip` (made once)."""
        key = (id(macro), chip, self.tdc_current, self.replicate)
        if key not in self.tiles:
            c = macro.config
            K, N = self.w_q.shape
            rows = tile_bounds(K, c.n_inputs)
            cols = tile_bounds(N, c.n_outputs)
            tiles, t = {}, 0
            for r0, r1 in rows:
                tiles[(r0, r1)] = []
                rep = self.replicas(macro, r0, r1)
                for c0, c1 in cols:  # every tile its own chip: seed from the instance and the tile
                    m = macro.with_chip(100_003 * chip + 1009 * self.index + t, self.tdc_current)
                    copies = max(1, c.n_outputs // (c1 - c0)) if self.replicate else 1  # averaged digitally
                    tile = m.program(self.w_q[r0:r1, c0:c1], trim_x=self.calib_codes[:, r0:r1], row_copies=rep,
                                     column_copies=copies, quiet=True)
                    tiles[(r0, r1)].append(((c0, c1), tile, rep))
                    t += 1
            self.tiles[key] = tiles
            made = [tile for row in tiles.values() for _, tile, _ in row]
            held = (sum(tl.window_held for tl in made), sum(tl.cols * tl.column_copies for tl in made))
            self.window_held[chip] = held
            if held[0] and self.warn_window:
                warnings.warn(f"layer {self.name!r}: " + window_warning(held[0], held[1], made[0].window_range(),
                                                                        f" of its {len(made)} tiles on chip {chip}"),
                              stacklevel=4)
        return self.tiles[key]

    def n_tiles(self, macro: Any) -> int:
        c = macro.config
        return len(tile_bounds(self.w_q.shape[0], c.n_inputs)) * len(tile_bounds(self.w_q.shape[1], c.n_outputs))


def quantize_layer(layer: Any, calib_in: np.ndarray, input_bits: int = 8, seed: int = 0, index: int = 0) -> MappedLayer:
    """Quantize one Dense / Conv2d layer from its calibration inputs (the float network's
    activations at its input on calibration data)."""
    if not isinstance(layer, MAPPED):
        raise ParameterError(f"layer {getattr(layer, 'name', layer)!r} ({type(layer).__name__}) cannot be mapped on "
                             f"a macro; mapped layers: {', '.join(t.__name__ for t in MAPPED)}")
    w = np.asarray(layer.matrix(), dtype=np.float64)
    if not np.all(np.isfinite(w)) or not np.all(np.isfinite(layer.b)):
        raise ParameterError(f"layer {layer.name!r}: weights or bias contain NaN or inf")
    cols = layer.patches(calib_in)
    if not np.all(np.isfinite(cols)):
        raise ParameterError(f"layer {layer.name!r}: calibration inputs contain NaN or inf")
    top = 2**input_bits - 1
    amax = float(np.abs(cols).max()) if cols.size else 0.0
    if amax == 0.0:
        raise ParameterError(f"layer {layer.name!r}: every calibration input is 0; the input scale needs a nonzero "
                             f"calibration batch")
    s_x = amax / top
    wmax = np.abs(w).max(0)
    s_w = np.where(wmax > 0, wmax / WEIGHT_CODE_MAX, 1.0)
    w_q = np.clip(np.rint(w / s_w), -WEIGHT_CODE_MAX, WEIGHT_CODE_MAX).astype(np.int64)
    two_pass = bool(cols.min() < 0)
    q = np.clip(np.rint(cols / s_x), -top, top).astype(np.int64)
    rng = np.random.default_rng(seed)
    pick = rng.choice(q.shape[0], min(q.shape[0], TRIM_CALIBRATION_VECTORS), replace=False)
    qc = q[pick]
    calib = np.concatenate([np.maximum(qc, 0), np.maximum(-qc, 0)]) if two_pass else qc
    return MappedLayer(layer=layer, s_x=s_x, s_w=s_w, w_q=w_q, two_pass=two_pass, input_bits=input_bits,
                       calib_codes=calib, index=index)


def layer_inputs(net: Network, x: np.ndarray) -> list[np.ndarray]:
    """The float network's input to each of its layers for x."""
    out = []
    for layer in net.layers:
        out.append(x)
        x = layer.forward(x)
    return out
