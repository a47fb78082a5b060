"""Training of the small workload networks in numpy (softmax cross-entropy, Adam, mini-batches):
seconds to a minute on 2 cores, deterministic for a seed."""
from __future__ import annotations

import numpy as np

from .layers import Network

__all__ = ["train", "cross_entropy"]


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    n = labels.shape[0]
    loss = float(-np.log(p[np.arange(n), labels] + 1e-12).mean())
    p[np.arange(n), labels] -= 1.0
    return loss, p / n


def train(net: Network, x: np.ndarray, y: np.ndarray, epochs: int = 30, batch: int = 64, lr: float = 2e-3,
          weight_decay: float = 1e-4, seed: int = 0, progress=None) -> list[float]:
    """Train `net` in place; returns the mean loss of each epoch."""
    rng = np.random.default_rng(seed)
    params = [p for layer in net.layers for p in getattr(layer, "params", [])]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, step, history = 0.9, 0.999, 0, []
    for epoch in range(epochs):
        order = rng.permutation(x.shape[0])
        losses = []
        for i in range(0, x.shape[0], batch):
            idx = order[i:i + batch]
            loss, g = cross_entropy(net.forward(x[idx]), y[idx])
            grads = []
            for layer in reversed(net.layers):
                g, gp = layer.backward(g)
                grads = gp + grads
            step += 1
            for k, (p, gk) in enumerate(zip(params, grads)):
                gk = gk + weight_decay * p
                m[k] = b1 * m[k] + (1 - b1) * gk
                v[k] = b2 * v[k] + (1 - b2) * gk * gk
                p -= lr * (m[k] / (1 - b1**step)) / (np.sqrt(v[k] / (1 - b2**step)) + 1e-8)
            losses.append(loss)
        history.append(float(np.mean(losses)))
        if progress:
            progress(f"epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f}")
    return history
