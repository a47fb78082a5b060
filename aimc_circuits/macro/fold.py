"""Folding: the weights, one chip's mismatch and the row loads, once per chip and weight matrix,
into per-sub-array float32 matmul weights and per-channel constants for the compiled pass.

Each block model contributes its folded form (``RowFold``, ``CellFold``, ``TAFold``: see
:mod:`.interfaces`); this module combines them. With L_r the row levels (the gathered table,
plus mu x the previous vector's), the group column of sub-array s, group g, column j gives the
VTC the difference d_ref - d = V - V_ref, linear in L through W[s] (the reference column's row
of the matmul output gives d_ref = vdd - V_ref), plus the constants W0 (see :mod:`.kernel`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import kernel
from .config import MacroConfig

__all__ = ["Folded", "fold", "restrict", "copy_layout", "with_thresholds", "reference_word", "pedestal"]


@dataclass(frozen=True)
class Folded:
    """Everything static of one chip and weight matrix, in the layout the pass reads.
    S sub-arrays of Rs rows, G groups, J columns (+ the reference column)."""

    W: np.ndarray  #: (S, Rs, G (J+1)) float32 matmul weights per sub-array (V per V of row level)
    W0: np.ndarray  #: (S, G (J+1)) float32 constants added to the matmul outputs (V)
    mu: float  #: the previous vector's level share in the gathered row level
    table: np.ndarray  #: (2^input_bits,) float32 static row level per code (V)
    ped: np.ndarray  #: (J,) the row driver's code-0 level term of the readout (x @ w units)
    v0: float  #: the row driver's code-0 level (V)
    u: float  #: the row driver's end-point LSB (V)
    params: np.ndarray  #: the pass's scalars (:data:`.kernel.PARAMS`)
    w_ch: np.ndarray  #: (S G,) group weight of each channel
    a2c_ref: np.ndarray  #: (S, G) the reference column's second-order coefficient
    c_g: np.ndarray  #: (G,) pulse-pair constant charge
    e_g: np.ndarray  #: (G,) its drift with the reference level
    kch: np.ndarray  #: (3, S, G, J) float32 gains below / above V_ref, near-zero amplitude x width
    slope_mean: np.ndarray  #: (S, G) mean small-signal gain (reference column's noise)
    var_q0: np.ndarray  #: (J, S G) channel noise variance (V^2) x small-signal gain^2
    sd_ref: np.ndarray  #: (S, G) the reference column's sampling noise (V)
    tdc_gain: np.ndarray  #: (J,) per-column TDC gain, or empty (nominal)
    tdc: np.ndarray  #: (5, J) float64 each column's TDC setting (:data:`.kernel.TDC_ROWS`)
    S: int
    Rs: int  #: rows of each sub-array the matmul reads (every row, or the rows in use: :func:`restrict`)
    G: int
    J: int
    S_active: int = -1  #: sub-arrays the matmul reads (the others' rows are all constant: -1 = all S)
    shared: bool = False  #: every sub-array in use reads the same Rs inputs: W is (1, Rs, S_active G (J+1)) (:func:`copy_layout`)
    inputs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  #: the input each matmul row reads (empty: row k reads input k)

    @property
    def n_matmul(self) -> int:
        """Sub-arrays whose matmul is computed."""
        return self.S if self.S_active < 0 else self.S_active


def reference_word(config: MacroConfig) -> int:
    """The reference column's stored word: the offset-binary zero of a group (2^(bits_per_group -
    1)) in every group."""
    b = config.bits_per_group
    return sum(2 ** (b - 1) << (b * g) for g in range(config.groups))


def pedestal(config: MacroConfig) -> int:
    """The reference word minus the offset-binary zero: the analog chain computes
    x @ (w - pedestal) (8 for 4-bit groups); the readout adds pedestal x sum(x) back."""
    return reference_word(config) - 2 ** (config.weight_bits - 1)


def fold(config: MacroConfig, row: Any, cell: Any, ta: Any, chip: Any, w_ob: np.ndarray, vhi: Any = None) -> Folded:
    """Fold offset-binary weight codes w_ob (n_inputs, n_outputs) for one chip (see the module doc);
    the TDC at ``config.tdc_current`` and stop thresholds vhi (V, one per column or one for all;
    None: the design's)."""
    c, ni = config, config.nonidealities
    R, J, G, S, Rs = c.n_inputs, c.n_outputs, c.groups, c.n_sub, c.rows_per_subarray
    words = np.concatenate([w_ob, np.full((R, 1), reference_word(c))], axis=1)  # (R, J+1)
    tf = _ta_fold(c, ta, chip, vhi)
    cf = cell.fold(words, chip.cell, Rs, c.bits_per_group, G, parasitics=ni.cell_parasitics,
                   injection=ni.cell_injection, temperature_c=c.temperature_c,
                   data_load_f=tf.c_end if ni.vtc_input_load else None)
    eff, C = cf.eff, cf.C
    c_sel = eff.sum((1, 2)) * cell.cu  # selected cell capacitance on each row (F), reference column included
    rf = row.fold(c_sel, J, chip.row, inl=ni.row_inl, settling=ni.row_settling)
    A, B, m, beta, alpha = rf.A, rf.B, rf.m, rf.gain, rf.offset
    # y = sum_r eff [A + (B + m) alpha] + sum_r eff B beta (L + mu L_prev), mu = m / mean(B): the
    # previous level enters with the array's mean row load (see the evaluator's module doc)
    const = ((A + (B + m) * alpha[:, None])[..., None] * eff).reshape(S, Rs, J + 1, G).sum(1)  # (S, J+1, G)
    Wt = (eff * (B * beta[:, None])[..., None]).reshape(S, Rs, J + 1, G) / C[:, None]
    mu = m / float(B.mean())
    # column: d = vdd - V = vdd - vr - off(n, C) + s/C + a2 (s/C)^2 / C
    delta = tf.vdd - cf.vr - cf.offset_v + const / C  # (S, J+1, G)
    if tf.kick_q0 or tf.kick_q1:  # the data lines lose q0 + q1 d to their VTC input before the crossing:
        k = C[:, :J] * cell.cu  # d -> d (1 + q1 / C) + q0 / C (F)
        Wt[..., :J, :] *= (1.0 + tf.kick_q1 / k)[:, None]
        delta[:, :J] = delta[:, :J] * (1.0 + tf.kick_q1 / k) + tf.kick_q0 / k
    if tf.offset_v is not None:  # VTC input offsets act on V (the reference comparator has none)
        delta[:, :J, :] -= tf.offset_v
    # weights of each sub-array, (Rs, G (J+1)): column g (J+1) + j (j = J: reference column),
    # and the constants delta, (G (J+1)) (the pass adds them to the matmuls' outputs)
    W = np.transpose(Wt, (0, 1, 3, 2)).reshape(S, Rs, G * (J + 1)).astype(np.float32)
    W0 = np.transpose(delta, (0, 2, 1)).reshape(S, G * (J + 1))
    for g in range(G):  # signal columns give V_ref - V directly: the reference subtracted in the weights
        W[:, :, g * (J + 1):g * (J + 1) + J] -= W[:, :, g * (J + 1) + J, None]
        W0[:, g * (J + 1):g * (J + 1) + J] -= W0[:, g * (J + 1) + J, None]
    # noise: voltage variance per channel (V^2), referred to the column charge in the pass
    var_v = np.zeros((S, J + 1, G))
    var_v[:, :J] += tf.vtc_var_v2
    if ni.ktc_noise:
        var_v += cf.ktc_var_v2
    if ni.row_noise:
        var_v += rf.noise_v ** 2 * ((eff * B[..., None] * beta[:, None, None]) ** 2).reshape(
            S, Rs, J + 1, G).sum(1) / C**2
    slope0 = (tf.k_pos + tf.k_neg) / 2 + tf.a_near0  # dq/dx at x = 0, (S, G, J)
    ped = (rf.v0 / rf.u) * (w_ob.astype(np.float64) - 2 ** (c.weight_bits - 1) - pedestal(c)).sum(0)  # (J,)
    noise = ni.vtc_noise or ni.ktc_noise or ni.row_noise
    p = kernel.params(
        b2=tf.b2, b3=tf.b3, inv_w=1.0 / tf.w, beta_order=tf.beta, dw=tf.dw, c_acc=tf.c_acc, a2_acc=tf.acc_a2,
        v_acc0=tf.v_acc0, gamma=tf.gamma, vdd=tf.vdd, vhi=tf.vhi,
        kq=tf.c_acc ** -2 if noise else 0.0, t_lsb=tf.t_lsb,
        ped=pedestal(c), w_tot=S * float(tf.weights.sum()))
    return Folded(
        W=W, W0=W0.astype(np.float32), mu=mu, table=rf.table.astype(np.float32), ped=ped, v0=rf.v0, u=rf.u,
        params=p, w_ch=np.tile(tf.weights, S).astype(np.float64),
        a2c_ref=np.ascontiguousarray(cf.a2c[:, J, :]), c_g=tf.c_g, e_g=tf.e_g,
        kch=np.ascontiguousarray(np.stack([tf.k_pos, tf.k_neg, tf.a_near0 * tf.w]), dtype=np.float32),
        slope_mean=slope0.mean(axis=2),
        var_q0=(slope0**2 * np.transpose(var_v[:, :J, :], (0, 2, 1))).reshape(S * G, J).T.copy(),
        sd_ref=np.sqrt(var_v[:, J, :]),
        tdc_gain=tf.tdc_gain if tf.tdc_gain is not None else np.zeros(0),
        tdc=_tdc_rows(tf, J), S=S, Rs=Rs, G=G, J=J)


def _ta_fold(c: MacroConfig, ta: Any, chip: Any, vhi: Any) -> Any:
    ni = c.nonidealities
    return ta.fold(c.n_sub, c.n_outputs, c.groups, c.bits_per_group, chip.ta, nonlinearity=ni.vtc_nonlinearity,
                   group_weight_error=ni.group_weight_error, acc_tdc_nonlinearity=ni.acc_tdc_nonlinearity,
                   vtc_noise=ni.vtc_noise, tdc_noise=ni.tdc_noise, input_load=ni.vtc_input_load,
                   tdc_current=c.tdc_current, vhi=vhi)


def _tdc_rows(tf: Any, J: int) -> np.ndarray:
    return np.ascontiguousarray(np.stack([tf.dvhi, tf.t0, tf.t1, tf.tdc_c2, np.broadcast_to(tf.tdc_sigma_s, (J,)) ** 2]),
                                dtype=np.float64)


def with_thresholds(f: Folded, config: MacroConfig, ta: Any, chip: Any, vhi: Any) -> Folded:
    """`f` (whole or restricted to its first f.J columns) with the TDC stop thresholds vhi (V, one
    per column of f, or one for all): only the TDC rows change, nothing else is folded again."""
    J = config.n_outputs
    full = np.full(J, float(ta.design.vhi))
    full[:f.J] = vhi
    return replace(f, tdc=np.ascontiguousarray(_tdc_rows(_ta_fold(config, ta, chip, full), J)[:, :f.J]))


def restrict(f: Folded, rows: int, cols: int) -> Folded:
    """The folded form of a tile that uses only input rows 0..rows-1 and columns 0..cols-1 (the
    other rows held at code 0 with weight 0, the other columns holding weight 0 and not read).

    Exact, not an approximation: a row held at code 0 samples the constant level (1 + mu) L(0),
    so its share of every column voltage is a constant, added to W0; the matmul keeps only the
    sub-arrays with rows in use and, in them, those rows (rows past `rows` in the last one get zero
    weights). Columns are independent in the pass, so the unused ones are dropped. Every
    per-row effect of the held rows (their load on the row lines, their noise, their pedestal in
    the readout) stays as folded for the whole array."""
    S, Rs, G, J = f.S, f.Rs, f.G, f.J
    if not 1 <= rows <= S * Rs or not 1 <= cols <= J:
        raise ValueError(f"rows={rows}, cols={cols}: allowed 1..{S * Rs} rows and 1..{J} columns")
    sa = -(-rows // Rs)  # sub-arrays with rows in use
    ra = Rs if sa > 1 else rows  # rows the matmul reads per sub-array
    live = np.zeros((S, Rs), dtype=bool)
    live.reshape(-1)[:rows] = True
    held = np.where(live[..., None], 0.0, (1.0 + f.mu) * float(f.table[0]))  # (S, Rs, 1)
    W0 = f.W0.astype(np.float64) + (f.W.astype(np.float64) * held).sum(1)
    W = np.where(live[:sa, :ra, None], f.W[:sa, :ra], np.float32(0.0))
    keep = np.concatenate([np.arange(g * (J + 1), g * (J + 1) + cols).tolist() + [g * (J + 1) + J]
                           for g in range(G)])  # each group's used columns and its reference column
    return Folded(
        W=np.ascontiguousarray(W[:, :, keep]), W0=np.ascontiguousarray(W0[:, keep], dtype=np.float32),
        mu=f.mu, table=f.table, ped=f.ped[:cols].copy(), v0=f.v0, u=f.u, params=f.params, w_ch=f.w_ch,
        a2c_ref=f.a2c_ref, c_g=f.c_g, e_g=f.e_g, kch=np.ascontiguousarray(f.kch[..., :cols]),
        slope_mean=f.slope_mean, var_q0=np.ascontiguousarray(f.var_q0[:cols]), sd_ref=f.sd_ref,
        tdc_gain=f.tdc_gain[:cols].copy() if f.tdc_gain.shape[0] else f.tdc_gain,
        tdc=np.ascontiguousarray(f.tdc[:, :cols]), S=S, Rs=ra, G=G, J=cols, S_active=sa)


def copy_layout(f: Folded, k: int, rows: int) -> Folded:
    """`f` restricted to a tile (:func:`restrict`) whose `rows` rows in use are copies of k inputs
    (row r driven by input r mod k; k = rows: one copy), reading the tile's k inputs directly:

    * where every sub-array in use holds whole copies of no more than its rows (k <= the rows
      the matmul reads per sub-array), each input once for every sub-array: one matmul (B, k) @
      (k, S_active G (J+1)) instead of one (B, Rs) @ (Rs, G (J+1)) per sub-array. Exact (up to
      float32 rounding): every row sees the same level for the same input code (the rows' own gains
      and offsets are folded into W and W0), so the rows of a sub-array driven by one input add up;
    * otherwise each matmul row reads its input through an index (no copy of the inputs is made).

    The readout's pedestal term counts each input once per copy."""
    if f.shared or f.inputs.size or not 1 <= k <= rows or rows % k:
        raise ValueError(f"k={k}, rows={rows}: the rows in use must be whole copies of k inputs")
    copies = rows // k
    sa, ra = f.n_matmul, f.Rs
    Rs = ra if sa > 1 else rows  # rows per sub-array of the array (one sub-array: every row is read)
    r = np.arange(sa)[:, None] * Rs + np.arange(ra)[None, :]  # physical row of each (sub-array, row read)
    live = r < rows
    p = f.params.copy()
    p[list(kernel.PARAMS).index("ped")] *= copies
    if copies > 1 and k <= ra:
        Wm = np.zeros((k, sa, f.W.shape[2]))
        s_of = np.broadcast_to(np.arange(sa)[:, None], r.shape)
        np.add.at(Wm, ((r % k)[live], s_of[live]), f.W[live].astype(np.float64))
        return replace(f, W=np.ascontiguousarray(Wm.reshape(1, k, -1), dtype=np.float32), Rs=k, params=p, shared=True)
    return replace(f, params=p, inputs=np.where(live, r % k, 0).reshape(-1).astype(np.int64))
