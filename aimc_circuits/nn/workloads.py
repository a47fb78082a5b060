"""The workload networks: an MLP and a small CNN on scikit-learn's bundled handwritten digits
(1797 8 x 8 images, 10 classes; shipped inside the installed scikit-learn, no download).

* ``mlp``: standardized pixels (they go negative: its first layer runs two passes) -> Dense 64 x
  1024 -> ReLU -> Dense 1024 x 10 (the second layer fills all 1024 rows of a macro);
* ``cnn``: pixels / 16 in 0..1 -> Conv 3x3 1 -> 16 -> ReLU -> MaxPool 2 -> Conv 3x3 16 -> 32 ->
  ReLU -> MaxPool 2 -> Dense 128 x 10.

The split is fixed (1347 training, 450 test images); the quantization's calibration batch is
drawn from the training images. Trained weights ship in ``weights/`` (``python
scripts/train_networks.py`` regenerates them: seconds on 2 cores).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .layers import Conv2d, Dense, Flatten, MaxPool2d, Network, ReLU
from .train import train

__all__ = ["NETWORKS", "digits", "build", "load_network", "train_network", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).with_name("weights")
NETWORKS = ("mlp", "cnn")
CALIBRATION_SAMPLES = 256  #: training images the quantization and the tile trims are calibrated on
_TRAIN = {"mlp": {"epochs": 40, "lr": 1e-3}, "cnn": {"epochs": 40, "lr": 3e-3}}


def digits(name: str) -> dict[str, np.ndarray]:
    """{'train_x', 'train_y', 'test_x', 'test_y', 'calib_x'} in the input format of network `name`."""
    _check(name)
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ParameterError("the digits workload needs scikit-learn (pip install scikit-learn)") from e
    d = load_digits()
    order = np.random.default_rng(2026).permutation(d.target.shape[0])
    x, y = d.data[order].astype(np.float64), d.target[order]
    n_train = 1347
    if name == "mlp":
        mu, sd = x[:n_train].mean(0), x[:n_train].std(0) + 1.0  # +1: blank border pixels have sd 0
        x = (x - mu) / sd
    else:
        x = (x / 16.0).reshape(-1, 1, 8, 8)
    calib = np.random.default_rng(7).choice(n_train, CALIBRATION_SAMPLES, replace=False)
    return {"train_x": x[:n_train], "train_y": y[:n_train], "test_x": x[n_train:], "test_y": y[n_train:],
            "calib_x": x[:n_train][calib]}


def build(name: str, seed: int = 0) -> Network:
    """Network `name` with He-initialized weights."""
    _check(name)
    rng = np.random.default_rng(seed)

    def he(*shape, fan_in):
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)

    if name == "mlp":
        return Network([Dense(he(64, 1024, fan_in=64), np.zeros(1024), name="fc1"), ReLU(),
                        Dense(he(1024, 10, fan_in=1024), np.zeros(10), name="fc2")], (64,), name="mlp")
    return Network([Conv2d(he(16, 1, 3, 3, fan_in=9), np.zeros(16), name="conv1"), ReLU(), MaxPool2d(2),
                    Conv2d(he(32, 16, 3, 3, fan_in=144), np.zeros(32), name="conv2"), ReLU(), MaxPool2d(2),
                    Flatten(), Dense(he(128, 10, fan_in=128), np.zeros(10), name="fc")], (1, 8, 8), name="cnn")


def train_network(name: str, seed: int = 0, progress=None) -> Network:
    """Train network `name` on the digits training split."""
    data = digits(name)
    net = build(name, seed)
    train(net, data["train_x"], data["train_y"], seed=seed, progress=progress, **_TRAIN[name])
    return net


def load_network(name: str) -> Network:
    """The shipped trained network `name`."""
    path = WEIGHTS_DIR / f"{name}.npz"
    if not path.is_file():
        raise ParameterError(f"no trained weights for {name!r} at {path}; run python scripts/train_networks.py")
    return build(name).load_params(path)


def _check(name: str) -> None:
    if name not in NETWORKS:
        raise ParameterError(f"network {name!r}; allowed: {', '.join(NETWORKS)}")
