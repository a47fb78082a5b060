"""Waveform measurements on simulated vectors (pure numpy, SI units)."""
from __future__ import annotations

import numpy as np

__all__ = ["crossing", "integrate", "value_at", "vth_max_gm"]


def crossing(t: np.ndarray, y: np.ndarray, level: float, rising: bool, after: float = 0.0) -> float:
    """First time after `after` (s) at which `y` crosses `level` in the given direction,
    linearly interpolated. ValueError if it never does."""
    t = np.asarray(t)
    y = np.asarray(y) - level
    s = np.sign(y)
    idx = np.nonzero((s[:-1] <= 0) & (s[1:] > 0) if rising else (s[:-1] >= 0) & (s[1:] < 0))[0]
    idx = idx[t[idx + 1] > after]
    if idx.size == 0:
        raise ValueError(f"signal never crosses {level:g} ({'rising' if rising else 'falling'}) after t={after:g} s")
    i = idx[0]
    return float(t[i] - y[i] * (t[i + 1] - t[i]) / (y[i + 1] - y[i]))


def integrate(t: np.ndarray, y: np.ndarray, t0: float, t1: float) -> float:
    """Trapezoidal integral of y dt over [t0, t1] (s), with interpolated end points."""
    t = np.asarray(t)
    y = np.asarray(y)
    inside = (t > t0) & (t < t1)
    tt = np.concatenate(([t0], t[inside], [t1]))
    yy = np.concatenate(([np.interp(t0, t, y)], y[inside], [np.interp(t1, t, y)]))
    return float(np.sum(0.5 * (yy[1:] + yy[:-1]) * np.diff(tt)))


def value_at(t: np.ndarray, y: np.ndarray, when: float) -> float:
    """y at time `when`, linearly interpolated."""
    return float(np.interp(when, np.asarray(t), np.asarray(y)))


def vth_max_gm(vg: np.ndarray, idrain: np.ndarray, vds: float) -> float:
    """Threshold voltage by maximum-transconductance linear extrapolation (linear region):
    Vth = Vg(gm_max) - Id(gm_max)/gm_max - Vds/2. Inputs as magnitudes (V, A)."""
    vg = np.abs(np.asarray(vg))
    idrain = np.abs(np.asarray(idrain))
    gm = np.gradient(idrain, vg)
    i = int(np.argmax(gm))
    return float(vg[i] - idrain[i] / gm[i] - abs(vds) / 2)
