"""A small float network in numpy: the layers a trained model is made of, with their backward
passes (for :mod:`.train`). Images are (batch, channels, height, width).

Dense and Conv2d are the *mapped* layers: each is a matrix product of the layer's input patches
(the input vector, or im2col rows for a convolution) with a (K, N) weight matrix plus a bias,
which :mod:`.mapping` runs on macros. ReLU, MaxPool2d and Flatten are digital.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError

__all__ = ["Dense", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Network", "MAPPED"]


@dataclass
class Dense:
    """y = x @ w + b; w (K, N)."""

    w: np.ndarray
    b: np.ndarray
    name: str = "dense"
    _x: np.ndarray | None = field(default=None, repr=False)

    def patches(self, x: np.ndarray) -> np.ndarray:
        """The rows the macro multiplies: (B, K)."""
        if x.ndim != 2 or x.shape[1] != self.w.shape[0]:
            raise ParameterError(f"layer {self.name!r}: input of shape {x.shape}; expected (batch, {self.w.shape[0]})")
        return x

    def matrix(self) -> np.ndarray:
        return self.w

    def unpatch(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return y

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return self.patches(x) @ self.w + self.b

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        return g @ self.w.T, [self._x.T @ g, g.sum(0)]

    @property
    def params(self) -> list[np.ndarray]:
        return [self.w, self.b]


@dataclass
class Conv2d:
    """2-D convolution, stride 1, zero padding `pad`; w (out, in, kh, kw). As a matrix product:
    the (B H' W', in kh kw) im2col patches @ w reshaped to (in kh kw, out)."""

    w: np.ndarray
    b: np.ndarray
    pad: int = 1
    name: str = "conv"
    _cols: np.ndarray | None = field(default=None, repr=False)
    _shape: tuple[int, ...] | None = field(default=None, repr=False)

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        kh, kw = self.w.shape[2:]
        return h + 2 * self.pad - kh + 1, w + 2 * self.pad - kw + 1

    def patches(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4 or x.shape[1] != self.w.shape[1]:
            raise ParameterError(f"layer {self.name!r}: input of shape {x.shape}; expected (batch, {self.w.shape[1]}, "
                                 f"height, width)")
        B, C, H, W = x.shape
        kh, kw = self.w.shape[2:]
        Ho, Wo = self._out_hw(H, W)
        xp = np.pad(x, ((0, 0), (0, 0), (self.pad, self.pad), (self.pad, self.pad)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (B, C, Ho, Wo, kh, kw)
        return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(B * Ho * Wo, C * kh * kw)

    def matrix(self) -> np.ndarray:
        return self.w.reshape(self.w.shape[0], -1).T

    def unpatch(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        Ho, Wo = self._out_hw(*x.shape[2:])
        return y.reshape(x.shape[0], Ho, Wo, -1).transpose(0, 3, 1, 2)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._cols, self._shape = self.patches(x), x.shape
        return self.unpatch(self._cols @ self.matrix() + self.b, x)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        B, C, H, W = self._shape
        kh, kw = self.w.shape[2:]
        Ho, Wo = self._out_hw(H, W)
        g2 = g.transpose(0, 2, 3, 1).reshape(-1, self.w.shape[0])
        dw = (self._cols.T @ g2).T.reshape(self.w.shape)
        dcols = (g2 @ self.matrix().T).reshape(B, Ho, Wo, C, kh, kw)
        dxp = np.zeros((B, C, H + 2 * self.pad, W + 2 * self.pad))
        for i in range(kh):
            for j in range(kw):
                dxp[:, :, i:i + Ho, j:j + Wo] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        p = self.pad
        return dxp[:, :, p:p + H, p:p + W], [dw, g2.sum(0)]

    @property
    def params(self) -> list[np.ndarray]:
        return [self.w, self.b]


@dataclass
class ReLU:
    name: str = "relu"
    _m: np.ndarray | None = field(default=None, repr=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._m = x > 0
        return np.where(self._m, x, 0.0)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        return g * self._m, []

    params: list = field(default_factory=list, repr=False)


@dataclass
class MaxPool2d:
    """Non-overlapping k x k max pooling (height and width multiples of k)."""

    k: int = 2
    name: str = "maxpool"
    _arg: np.ndarray | None = field(default=None, repr=False)
    _shape: tuple[int, ...] | None = field(default=None, repr=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        B, C, H, W = x.shape
        k = self.k
        if H % k or W % k:
            raise ParameterError(f"layer {self.name!r}: {H} x {W} input is not a multiple of the pool size {k}")
        blocks = x.reshape(B, C, H // k, k, W // k, k).transpose(0, 1, 2, 4, 3, 5).reshape(B, C, H // k, W // k, k * k)
        self._arg, self._shape = blocks.argmax(-1), x.shape
        return blocks.max(-1)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        B, C, H, W = self._shape
        k = self.k
        blocks = np.zeros((B, C, H // k, W // k, k * k))
        np.put_along_axis(blocks, self._arg[..., None], g[..., None], axis=-1)
        return blocks.reshape(B, C, H // k, W // k, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(B, C, H, W), []

    params: list = field(default_factory=list, repr=False)


@dataclass
class Flatten:
    name: str = "flatten"
    _shape: tuple[int, ...] | None = field(default=None, repr=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        return g.reshape(self._shape), []

    params: list = field(default_factory=list, repr=False)


MAPPED = (Dense, Conv2d)  #: the layers that run on macros


@dataclass
class Network:
    """A sequence of layers; ``input_shape`` excludes the batch axis."""

    layers: list
    input_shape: tuple[int, ...]
    name: str = "network"

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x).argmax(1)

    def mapped(self) -> list:
        return [layer for layer in self.layers if isinstance(layer, MAPPED)]

    def save(self, path) -> None:
        arrays = {}
        for i, layer in enumerate(self.layers):
            for k, p in zip(("w", "b"), getattr(layer, "params", [])):
                arrays[f"{i}_{k}"] = p.astype(np.float32)
        np.savez_compressed(path, **arrays)

    def load_params(self, path) -> "Network":
        with np.load(path) as z:
            for i, layer in enumerate(self.layers):
                if isinstance(layer, MAPPED):
                    layer.w, layer.b = z[f"{i}_w"].astype(np.float64), z[f"{i}_b"].astype(np.float64)
        return self
