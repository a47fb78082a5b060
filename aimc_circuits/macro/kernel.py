"""Compiled (numba) kernels of the evaluator's per-vector pass.

The macro's cost per call is its float32 matmuls (BLAS, one per sub-array: both capacitor groups
and the reference column at once) plus one pass over every (sub-array, group, column, vector)
channel charge. In numpy that pass took ~20 array operations per channel and ran at ~4 x the
matmuls (GIL-bound); here it is one fused loop per batch chunk, compiled, releasing the GIL so
the chunks run on a thread per core. It goes vector by vector (the matmuls write a row per
vector) and is vectorized over the columns: the per-channel terms of a vector are scalars there,
both groups of a sub-array share one pass over the column accumulators, and the vector's noise
and readout follow at once (its output row is written contiguously).

Every kernel works on one chunk of vectors (b0..b1) and writes its rows of the caller's outputs,
so the chunks are independent. The maths is the evaluator's (see ``evaluator.py``'s module doc);
two approximations are added here so that the loops vectorize: ``tanh`` as a [7/6] Pade
approximant with its argument clamped at +-4.783 (max abs error 7.0e-5 of the tanh term; on the
reference macro < 4.2e-4 TDC LSB, 4.4e-5 RMS, against the exact tanh), and the unit normals by a
tabulated inverse CDF (quantile error <= 4.5e-4 sigma, tails cut at 6.2 sigma; see
:func:`standard_normal`), drawn inside the pass.
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numba as nb
import numpy as np

__all__ = ["PARAMS", "params", "code_bounds", "levels", "level_sums", "analog", "standard_normal"]

_JIT = {"nogil": True, "cache": True, "fastmath": {"contract", "arcp"}, "error_model": "numpy"}

TANH_CLAMP = 4.783  #: argument clamp of the Pade tanh (minimizes the max error: 7.0e-5)


#: the scalar parameters of :func:`analog`, in the order of its float64 vector ``p`` (see :func:`params`)
PARAMS = ("b2", "b3", "inv_w", "beta_order", "dw", "c_acc", "a2_acc", "v_acc0", "gamma", "vdd", "vhi",
          "kq", "t_lsb", "ped", "w_tot")
(_B2, _B3, _INV_W, _BETA_ORDER, _DW, _C_ACC, _A2_ACC, _V_ACC0, _GAMMA, _VDD, _VHI, _KQ,
 _T_LSB, _PED, _W_TOT) = range(len(PARAMS))
#: the rows of :func:`analog`'s per-column TDC array ``tdc`` (TDC_ROWS, J) float64
TDC_ROWS = ("dvhi", "t0", "t1", "c2", "s_tdc2")


def params(**values: float) -> np.ndarray:
    """The parameter vector of :func:`analog` from every name in :data:`PARAMS`."""
    if set(values) != set(PARAMS):
        raise KeyError(f"kernel parameters: missing {sorted(set(PARAMS) - set(values))}, "
                       f"unknown {sorted(set(values) - set(PARAMS))}")
    return np.array([float(values[k]) for k in PARAMS])


@nb.njit(**_JIT)
def code_bounds(x):  # pragma: no cover - compiled
    """(min, max) of an integer array in one pass."""
    flat = x.ravel()
    lo = flat[0]
    hi = flat[0]
    for v in flat:
        lo = min(lo, v)
        hi = max(hi, v)
    return lo, hi


_F = np.float32
_TC = (_F(TANH_CLAMP), _F(135135.0), _F(17325.0), _F(378.0), _F(62370.0), _F(3150.0), _F(28.0))


@nb.njit(**_JIT)
def _tanh(x):  # pragma: no cover - compiled
    """[7/6] Pade approximant of tanh in float32, argument clamped at +-TANH_CLAMP (max abs error 7.0e-5)."""
    cl, n0, n1, n2, d1, d2, d3 = _TC
    x = min(max(x, -cl), cl)
    x2 = x * x
    return x * (n0 + x2 * (n1 + x2 * (n2 + x2))) / (n0 + x2 * (d1 + x2 * (d2 + d3 * x2)))


# -- unit normals ------------------------------------------------------------------------------
# numpy's ziggurat costs ~10 ns a draw here, as much as the rest of the per-vector pass; the
# evaluator needs one draw per column and vector. Here the bits come from SplitMix64 run as a
# counter-based generator (vectorizes) seeded by one draw from the caller's Generator, and go
# through the inverse CDF on 32 random bits: the top 12 bits pick one of 4096 equal-probability bins, the other 20 the position in it;
# the 4064 inner bins interpolate the quantile function linearly between tabulated knots (max
# error 1.4e-4 sigma), the 16 outermost bins on each side (|z| > 2.9, 0.78 % of draws) use the
# rational tail approximation Abramowitz-Stegun 26.2.23 (abs error < 4.5e-4 sigma). The 32-bit
# resolution truncates the tails at |z| = 6.23 (probability 4.7e-10).
_NB_BITS = 12
_N_BINS = 1 << _NB_BITS
_N_EXACT = 16
_KNOTS = np.concatenate([[0.0], [NormalDist().inv_cdf(i / _N_BINS) for i in range(1, _N_BINS)], [0.0]])
_KNOTS[0], _KNOTS[-1] = _KNOTS[1], _KNOTS[-2]  # bins 0 and N-1 are always solved exactly
_Z0 = _KNOTS[:-1].astype(np.float32)
_DZ = np.diff(_KNOTS).astype(np.float32)


@nb.njit(**_JIT)
def _lower_tail(p):  # pragma: no cover - compiled
    """Phi^-1(p) for p <= 1/2, Abramowitz-Stegun 26.2.23 (abs error < 4.5e-4)."""
    t = math.sqrt(-2.0 * math.log(p))
    return -(t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))))


@nb.njit(**_JIT)
def _bin_value(u):  # pragma: no cover - compiled
    """The linear piece of bin u >> 20 at u's position in it (u: 32 random bits)."""
    i = u >> np.uint64(32 - _NB_BITS)
    fr = (np.float32(u & np.uint64((1 << (32 - _NB_BITS)) - 1)) + np.float32(0.5)) * np.float32(1.0 / (1 << (32 - _NB_BITS)))
    return _Z0[i] + _DZ[i] * fr


@nb.njit(**_JIT)
def _exact(u, z):  # pragma: no cover - compiled
    """z, or the tail formula's quantile where u falls in one of the outermost bins."""
    i = u >> np.uint64(32 - _NB_BITS)
    if i < _N_EXACT:
        return _lower_tail((np.float64(u) + 0.5) / 4294967296.0)
    if i >= _N_BINS - _N_EXACT:
        return -_lower_tail((4294967296.0 - np.float64(u) - 0.5) / 4294967296.0)
    return z


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@nb.njit(**_JIT)
def _splitmix64(z):  # pragma: no cover - compiled
    """SplitMix64's output function (Steele, Lea, Flood 2014): 64 random bits from a counter."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@nb.njit(**_JIT)
def _normals(seed, first, out):  # pragma: no cover - compiled
    """out[m], out[n + m] (out.size = 2 n) from the low and high 32 bits of SplitMix64's output
    number first + m + 1 for `seed` (counter-based: vectorizes; a chunk has its own seed, and each
    vector of it its own counters)."""
    n = out.shape[0] // 2
    lo32 = np.uint64(0xFFFFFFFF)
    c0 = seed + np.uint64(first) * _GOLDEN
    for m in range(n):  # vectorized: every draw from its bin's linear piece
        r = _splitmix64(c0 + np.uint64(m + 1) * _GOLDEN)
        out[m] = _bin_value(r & lo32)
        out[n + m] = _bin_value(r >> np.uint64(32))
    # the outermost bins (0.78 % of draws): their linear pieces lie beyond lo_z, hi_z; flagged in a
    # vectorized pass, then found 8 pairs at a time
    lo_z, hi_z = _Z0[_N_EXACT], _Z0[_N_BINS - _N_EXACT]
    nw = (n + 7) // 8
    flags = np.zeros(8 * nw, dtype=np.uint8)
    for m in range(n):
        flags[m] = (out[m] <= lo_z) | (out[m] >= hi_z) | (out[n + m] <= lo_z) | (out[n + m] >= hi_z)
    words = flags.view(np.uint64)
    for k in range(nw):
        if words[k]:
            for m in range(8 * k, min(n, 8 * k + 8)):
                if flags[m]:
                    r = _splitmix64(c0 + np.uint64(m + 1) * _GOLDEN)
                    out[m] = _exact(r & lo32, out[m])
                    out[n + m] = _exact(r >> np.uint64(32), out[n + m])


def standard_normal(gen: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 unit normals of `shape`: 32 random bits each (SplitMix64, seeded by one draw from
    gen), mapped through the inverse CDF (see the section comment). (:func:`analog` draws its
    own, the same way, vector by vector.)"""
    n = int(np.prod(shape))
    out = np.empty(2 * ((n + 1) // 2), dtype=np.float32)
    if n:
        _normals(np.uint64(gen.integers(0, 2**64, dtype=np.uint64)), 0, out)
    return out[:n].reshape(shape)


@nb.njit(**_JIT)
def level_sums(x, table):  # pragma: no cover - compiled
    """sum over the vectors (rows of x) of table[x], per input (float64); codes already checked."""
    out = np.zeros(x.shape[1])
    for b in range(x.shape[0]):
        xr = x[b]
        for k in range(x.shape[1]):
            out[k] += table[xr[k]]
    return out


@nb.njit(**_JIT)
def levels(x, b0, b1, table, mu, idx, Le, xsum):  # pragma: no cover - compiled
    """Row levels the cells sample for vectors b0..b1-1: Le[b, k] = L(x[b0 + b, i]) + mu L(x[b0 + b - 1, i])
    with i = idx[k] (idx empty: i = k), the previous vector's level (code 0 before the first);
    xsum[b] = sum of x[b0 + b]. Returns (min, max) of the codes read: the caller rejects codes
    outside the table (they are folded into it here, by a mask or a clamp, only so that nothing
    is read outside it)."""
    R = x.shape[1]
    n = Le.shape[1]
    mapped = idx.shape[0] > 0
    top = table.shape[0] - 1
    pow2 = (top & (top + 1)) == 0  # table size a power of two: a mask keeps any code inside it
    cur = np.empty(n, dtype=np.float32)
    prev = np.empty(n, dtype=np.float32)
    if b0 == 0:
        prev[:] = table[0]
    else:
        for k in range(n):
            prev[k] = table[min(max(x[b0 - 1, idx[k] if mapped else k], 0), top)]
    muf = np.float32(mu)
    lo = x[b0, 0]
    hi = x[b0, 0]
    for b in range(b1 - b0):
        xr = x[b0 + b]
        row = Le[b]
        tot = 0
        for k in range(R):
            c = xr[k]
            lo = min(lo, c)
            hi = max(hi, c)
            tot += c
        xsum[b] = tot
        if mapped:
            for k in range(n):
                cur[k] = table[min(max(xr[idx[k]], 0), top)]
        elif pow2:
            for k in range(n):
                cur[k] = table[xr[k] & top]
        else:
            for k in range(n):
                cur[k] = table[min(max(xr[k], 0), top)]
        for k in range(n):
            row[k] = cur[k] + muf * prev[k]
        cur, prev = prev, cur
    return lo, hi


_ZBLK = 16  #: vectors per block of unit normals in :func:`analog`


@nb.njit(**_JIT)
def _sel(y, a, b):  # pragma: no cover - compiled
    """a where y >= 0, else b. (A helper: written inline on two array elements, numba turns the
    choice into two gathers; here both are loaded and blended.)"""
    return a if y >= _F(0.0) else b


@nb.njit(**_JIT)
def _pair(y, y1, c2a, g1a, cra, kpa, kna, c2b, g1b, crb, kpb, knb, ab, inv_w):  # pragma: no cover - compiled
    """One sub-array's two channels at one column, from y, y1 = V_ref - V (groups 0 and 1): their
    VTC charges q, q1 and u, u1 = min(y, 0) (-(V - V_ref) where V is above V_ref)."""
    u = min(y, _F(0.0))
    y = y * (y * c2a + g1a)  # ramp curvature, second order
    q = y * _sel(y, kpa, kna) + cra  # group 0's near-zero term (amplitude < 0.01 LSB) left out
    u1 = min(y1, _F(0.0))
    y1 = y1 * (y1 * c2b + g1b)
    q1 = y1 * _sel(y1, kpb, knb) + ab * _tanh(y1 * inv_w) + crb
    return q, q1, u, u1


@nb.njit(**_JIT)
def _yrow(Y, b_major, s, b, zrow):  # pragma: no cover - compiled
    """The matmul output of sub-array s for vector b: Y[s, b] ((S_active, cb, .) layout) or Y[b, s]
    (b_major: (cb, S_active, .)); zrow (zeros) for a sub-array past those the matmul computed."""
    if b_major:
        return Y[b, s] if s < Y.shape[1] else zrow
    return Y[s, b] if s < Y.shape[0] else zrow


@nb.njit(**_JIT)
def _ref_terms(d, a2c, b2, b3, cg, eg):  # pragma: no cover - compiled
    """A channel's terms from its reference column's d = vdd - V_ref: the reference level with its
    second-order term dr, the ramp's slope factor at it dd, the channel's first-order gain g1,
    second-order coefficient c2 and pulse-pair constant charge cst."""
    dr = d + a2c * d * d
    dd = 1.0 + 2.0 * b2 * dr + 3.0 * b3 * dr * dr
    return dr, dd, dd * (1.0 + 2.0 * a2c * d), b2 + 3.0 * b3 * dr, cg + eg * dr


@nb.njit(**_JIT)
def _exact_order(Y, b_major, zrow, Y0, b, kch, c2, g1, cst, dl, w_ch, beta_o, inv_2dw, inv_w, qb, ub, fj, acc):  # pragma: no cover
    """acc[j] += every channel's charge x (1 + beta sum over the other channels c0 of 16^g(c0)
    s(L - L_c0)) at column j of vector b: the crossing-order term of the time accumulator model
    pair by pair, with the crossing levels L = V_ref - u of that column (O((S G)^2) per column;
    see :func:`aimc_circuits.blocks.time_accumulator.pump_single_slope.model.order_charge`). qb, ub (S G, J), fj (J): work."""
    S = Y0.shape[0]
    J1 = Y0.shape[1] // 2
    J = J1 - 1
    for s in range(S):
        yr, y0r = _yrow(Y, b_major, s, b, zrow), Y0[s]
        qa, qc, ua, uc = qb[2 * s], qb[2 * s + 1], ub[2 * s], ub[2 * s + 1]
        kpa, kna, kpb, knb, ab = kch[0, s, 0], kch[1, s, 0], kch[0, s, 1], kch[1, s, 1], kch[2, s, 1]
        for j in range(J):
            qa[j], qc[j], ua[j], uc[j] = _pair(yr[j] + y0r[j], yr[J1 + j] + y0r[J1 + j], c2[2 * s], g1[2 * s],
                                               cst[2 * s], kpa[j], kna[j], c2[2 * s + 1], g1[2 * s + 1],
                                               cst[2 * s + 1], kpb[j], knb[j], ab[j], inv_w)
    kd = _F(inv_2dw)
    for c1 in range(2 * S):
        fj[:] = 1.0 - 0.5 * beta_o * w_ch[c1]  # the pair c0 = c1 (s = 1/2) left out
        u1r = ub[c1]
        for c0 in range(2 * S):
            # L_c1 - L_c0 = (d_c0 - d_c1) + (u_c0 - u_c1), d = vdd - V_ref: the reference levels
            k0 = _F(0.5 + (dl[c0] - dl[c1]) * inv_2dw)
            wb = _F(beta_o * w_ch[c0])
            u0r = ub[c0]
            for j in range(J):
                fj[j] += wb * min(max(k0 + (u0r[j] - u1r[j]) * kd, _F(0.0)), _F(1.0))
        q1r = qb[c1]
        for j in range(J):
            acc[j] += q1r[j] * fj[j]


@nb.njit(**_JIT)
def analog(Y, b_major, Y0, p, w_ch, a2c_ref, c_g, e_g, kch, slope_mean, sd_ref, var_q0, tdc_gain, tdc, exact_order, noisy,
           seed, b0, xsum, alpha, beta, pedj, readout, quant, clip, top, y_out, code_out, sat_out):  # pragma: no cover
    """The analog chain after the matmuls, for one chunk, and the digital readout.

    Y: (S_a, cb, G (J+1)) float32 (the matmuls' outputs, a row per vector; b_major: (cb, S_a,
    G (J+1))) for the first S_a <= S sub-arrays (the others' inputs are all held: their outputs
    are 0), plus Y0 (S, G (J+1)) float32 (per-channel constants): Y[s, b, g (J+1) + j] +
    Y0[s, g (J+1) + j] = V_ref - V of channel (s, g) at column j, at g (J+1) + J the reference
    column's d = vdd - V_ref. The held sub-arrays' charges are constants (only the crossing-
    order factor of their channels changes with the vector): computed once per chunk.
    p: scalars (:data:`PARAMS`). w_ch (S G): each channel's group weight (any number of groups G;
    two groups take a fused path, and only they the exact crossing order). a2c_ref (S, G): the reference column's second-order coefficient;
    c_g, e_g (G): pulse-pair constant charge; kch (3, S, G, J) float32: the gains for V below and
    above V_ref, the near-zero term's amplitude x its width; slope_mean (S, G) and sd_ref (S, G):
    the reference column's sampling noise (a common charge, sd_ref in V); var_q0 (J, S G): each
    channel's noise variance (V^2) x its small-signal gain^2; tdc_gain (J or 0); tdc (5, J): each
    column's TDC setting (:data:`TDC_ROWS`: its stop threshold's offset from vhi (V), the
    transfer t0 (s), t1 (s/V), c2 (1/V) and the stop-edge jitter variance (s^2)). exact_order: the
    accumulator's crossing-order term pair by pair at every column (:func:`_exact_order`) instead
    of to first order around the reference levels. noisy: draw the noise, J + S G unit normals per
    vector (:func:`_normals` with the call's `seed`, for blocks of 16 vectors at a time, counted from
    the batch's first vector: with b0 a multiple of 16 the draws do not depend on the chunking). Vector by vector
    (b0 + b is the row of the outputs): readout False: y_out = the continuous TDC code; True: the
    readout y (and code_out, sat_out unless they are empty), with quantization / clipping as flagged;
    y_out (B, m) with J = m c: the mean of the c column copies (columns j, j + m, ...) of each output."""
    S = Y0.shape[0]
    GJ1 = Y0.shape[1]
    cb, Sa = (Y.shape[0], Y.shape[1]) if b_major else (Y.shape[1], Y.shape[0])
    Sa = min(Sa, S)
    zrow = np.zeros(GJ1, dtype=np.float32)
    G = w_ch.shape[0] // S  # capacitor groups
    J1 = GJ1 // G
    J = J1 - 1
    SG = S * G
    b2, b3, inv_w = p[_B2], p[_B3], np.float32(p[_INV_W])
    beta_o, dw = p[_BETA_ORDER], p[_DW]
    order = beta_o != 0.0
    exact = exact_order and order and G == 2
    t_lsb = p[_T_LSB]
    inv_cacc, a2_acc, w_tot, inv_2dw = 1.0 / p[_C_ACC], p[_A2_ACC], p[_W_TOT], 1.0 / (2.0 * dw)
    # vhi - V_acc = vhi - v_acc0 - gamma (vdd - vc / SG) + xq (1 + a2 xq)
    v_hi0, gam = p[_VHI] - p[_V_ACC0] - p[_GAMMA] * p[_VDD], p[_GAMMA]
    # per column: the TDC gain in code units, the channels' noise variances in code units^2
    gain = np.empty(J)
    for j in range(J):
        gain[j] = (tdc_gain[j] if tdc_gain.shape[0] else 1.0) / t_lsb
    inv_tl2 = 1.0 / (t_lsb * t_lsb)
    var0 = np.empty(J, dtype=np.float32)
    vq = np.empty((SG, J), dtype=np.float32)
    for j in range(J):
        var0[j] = tdc[4, j] * inv_tl2
    for ch in range(SG):  # charge -> time through each column's TDC ramp t1 / c_acc (kq = 1 / c_acc^2)
        for j in range(J):
            vq[ch, j] = p[_KQ] * tdc[2, j] * tdc[2, j] * var_q0[j, ch] * inv_tl2
    # per channel (of the vector at hand): from the reference column's level
    g1 = np.empty(SG, dtype=np.float32)
    c2 = np.empty(SG, dtype=np.float32)
    cst = np.empty(SG, dtype=np.float32)
    fac = np.ones(SG, dtype=np.float32)
    d1 = np.empty(SG)
    dl = np.empty(SG)
    wa = np.empty(SG)
    # per column (of the vector at hand)
    acc = np.empty(J, dtype=np.float32)
    acc_uw = np.empty(J, dtype=np.float32)
    acc_qu = np.empty(J, dtype=np.float32)
    acc_raw = np.empty(J, dtype=np.float32)
    qb = np.empty((SG if exact else 0, J), dtype=np.float32)  # exact order: every channel's charge, u
    ub = np.empty((SG if exact else 0, J), dtype=np.float32)
    fj = np.empty(J, dtype=np.float32)
    var = np.empty(J, dtype=np.float32)
    tb = np.empty(J)
    yv = np.empty(J)
    m_out = y_out.shape[1]  # J, or J / (column copies): y_out gets the copies' mean
    inv_copies = m_out / J
    nz = J + SG  # unit normals per vector: the columns', then the reference column's
    zblk = np.zeros(2 * ((_ZBLK * nz + 1) // 2), dtype=np.float32)
    lo, hi = (0.5, top + 0.5) if quant else (0.0, top + 1.0)
    # the held sub-arrays (s >= Sa: every input at code 0, V - V_ref constant): their channels'
    # charges and the first-order sums, once per chunk (the fused two-group path)
    held = G == 2 and not exact and Sa < S
    nh = 2 * (S - Sa) if held else 0
    q_h = np.zeros((nh, J), dtype=np.float32)
    uw_h = np.zeros(J, dtype=np.float32)
    qu_h = np.zeros(J, dtype=np.float32)
    raw_h = np.zeros(J, dtype=np.float32)
    if held:
        hc2 = np.empty(2, dtype=np.float32)
        hg1 = np.empty(2, dtype=np.float32)
        hcst = np.empty(2, dtype=np.float32)
        for s in range(Sa, S):
            for g in range(2):
                _, _, hg1[g], hc2[g], hcst[g] = _ref_terms(np.float64(Y0[s, g * J1 + J]), a2c_ref[s, g], b2, b3,
                                                           c_g[g], e_g[g])
            y0r = Y0[s]
            kpa, kna = kch[0, s, 0], kch[1, s, 0]
            kpb, knb, ab = kch[0, s, 1], kch[1, s, 1], kch[2, s, 1]
            w1 = _F(w_ch[2 * s + 1])
            qa, qc = q_h[2 * (s - Sa)], q_h[2 * (s - Sa) + 1]
            for j in range(J):
                q, q1, u, u1 = _pair(y0r[j], y0r[J1 + j], hc2[0], hg1[0], hcst[0], kpa[j], kna[j],
                                     hc2[1], hg1[1], hcst[1], kpb[j], knb[j], ab[j], inv_w)
                qa[j] = q
                qc[j] = q1
                uw_h[j] += u + w1 * u1
                qu_h[j] += u * q + u1 * q1
                raw_h[j] += q + q1
    for b in range(cb):
        if noisy and b % _ZBLK == 0:
            _normals(seed, ((b0 + b) // _ZBLK) * (zblk.shape[0] // 2), zblk)  # by global block: chunking-free
        z = zblk[(b % _ZBLK) * nz:(b % _ZBLK + 1) * nz]
        const = 0.0
        vc = 0.0
        for s in range(S):
            for g in range(G):
                ch = s * G + g
                d = np.float64((Y[b, s, g * J1 + J] if b_major else Y[s, b, g * J1 + J]) if s < Sa else 0.0) \
                    + np.float64(Y0[s, g * J1 + J])
                dl[ch] = d
                dr, d1[ch], g1[ch], c2[ch], cst[ch] = _ref_terms(d, a2c_ref[s, g], b2, b3, c_g[g], e_g[g])
                vc += dr
        if order:  # each channel's pumps see the charge of the channels crossing before it
            for c1 in range(SG):
                wa[c1] = -0.5 * w_ch[c1]  # the channel itself (overlap 1/2) left out
            for c0 in range(SG):
                for c1 in range(SG):
                    wa[c1] += w_ch[c0] * min(max(0.5 + (dl[c0] - dl[c1]) * inv_2dw, 0.0), 1.0)
            for c1 in range(SG):
                fac[c1] = 1.0 + beta_o * wa[c1]
        if noisy:
            var[:] = var0
        for ch in range(SG):
            e = d1[ch] * fac[ch]
            if noisy:  # charge noise through the channels' small-signal gains (and the TDC's jitter, var0)
                e2 = _F(e * e)
                vr = vq[ch]
                for j in range(J):
                    var[j] += vr[j] * e2
                # the reference column's sampling noise: a charge common to all columns
                const -= slope_mean[ch // G, ch % G] * e * sd_ref[ch // G, ch % G] * z[J + ch]
        acc[:] = 0.0
        acc_uw[:] = 0.0
        acc_qu[:] = 0.0
        acc_raw[:] = 0.0
        if exact:  # (the first-order sums stay 0: no correction below)
            _exact_order(Y, b_major, zrow, Y0, b, kch, c2, g1, cst, dl, w_ch, beta_o, inv_2dw, inv_w, qb, ub, fj, acc)
        elif G == 2:
            if held:  # the held sub-arrays' constant charges, with this vector's crossing-order factors
                acc_uw[:] = uw_h
                acc_qu[:] = qu_h
                acc_raw[:] = raw_h
                for s in range(Sa, S):
                    qa, qc = q_h[2 * (s - Sa)], q_h[2 * (s - Sa) + 1]
                    fra, frb = _F(fac[2 * s]), _F(fac[2 * s + 1])
                    for j in range(J):
                        acc[j] += qa[j] * fra + qc[j] * frb
            for s in range(Sa):  # both groups of a sub-array in one pass (half the accumulator traffic)
                yr, y0r = Y[b, s] if b_major else Y[s, b], Y0[s]
                c2a, g1a, cra, fra = c2[2 * s], g1[2 * s], cst[2 * s], fac[2 * s]
                c2b, g1b, crb, frb = c2[2 * s + 1], g1[2 * s + 1], cst[2 * s + 1], fac[2 * s + 1]
                kpa, kna = kch[0, s, 0], kch[1, s, 0]  # gains for V below / above V_ref
                kpb, knb, ab = kch[0, s, 1], kch[1, s, 1], kch[2, s, 1]
                w1 = _F(w_ch[2 * s + 1])
                for j in range(J):
                    q, q1, u, u1 = _pair(yr[j] + y0r[j], yr[J1 + j] + y0r[J1 + j], c2a, g1a, cra, kpa[j], kna[j],
                                         c2b, g1b, crb, kpb[j], knb[j], ab[j], inv_w)
                    acc_uw[j] += u + w1 * u1
                    acc_qu[j] += u * q + u1 * q1
                    acc_raw[j] += q + q1
                    acc[j] += q * fra + q1 * frb
        else:
            for s in range(S):  # any number of groups: one pass per channel
                yr, y0r = _yrow(Y, b_major, s, b, zrow), Y0[s]
                for g in range(G):
                    ch = s * G + g
                    c2a, g1a, cra, fra, wg = c2[ch], g1[ch], cst[ch], fac[ch], _F(w_ch[ch])
                    kpa, kna, aa = kch[0, s, g], kch[1, s, g], kch[2, s, g]
                    o = g * J1
                    for j in range(J):
                        y = yr[o + j] + y0r[o + j]
                        u = min(y, _F(0.0))
                        y = y * (y * c2a + g1a)
                        q = y * _sel(y, kpa[j], kna[j]) + aa[j] * _tanh(y * inv_w) + cra
                        acc_uw[j] += wg * u
                        acc_qu[j] += u * q
                        acc_raw[j] += q
                        acc[j] += q * fra
        # the accumulator and TDC transfer: the stop time in code units
        vhb = v_hi0 + gam * (vc / SG)
        for j in range(J):
            q = acc[j] + const
            if order:  # first-order correction for channels above V_ref (they cross first)
                q += beta_o * (np.float64(acc_raw[j]) * acc_uw[j] - w_tot * acc_qu[j]) * inv_2dw
            xq = q * inv_cacc
            xv = vhb + tdc[0, j] + xq * (1.0 + a2_acc * xq)  # the column's vhi - V_acc
            tb[j] = (tdc[1, j] + tdc[2, j] * xv * (1.0 + tdc[3, j] * xv)) * gain[j]
        if noisy:
            for j in range(J):
                tb[j] += np.sqrt(var[j]) * z[j]
        # the digital readout (into yv; y_out's row is yv, or the mean of its column copies)
        yo = y_out[b0 + b]
        if not readout:
            yv[:] = tb
        else:
            xp = p[_PED] * xsum[b]
            if code_out.shape[0]:
                co, so = code_out[b0 + b], sat_out[b0 + b]
                for j in range(J):
                    code = np.floor(tb[j]) + 0.5 if quant else tb[j]
                    so[j] = clip and (code <= lo or code >= hi)
                    if clip:
                        code = min(max(code, lo), hi)
                    co[j] = code
                    yv[j] = alpha[j] * code + beta[j] + xp - pedj[j]
            else:
                for j in range(J):
                    code = np.floor(tb[j]) + 0.5 if quant else tb[j]
                    if clip:
                        code = min(max(code, lo), hi)
                    yv[j] = alpha[j] * code + beta[j] + xp - pedj[j]
        if m_out == J:
            yo[:] = yv
        else:
            for jj in range(m_out):
                yo[jj] = yv[jj]
            for c in range(1, J // m_out):
                for jj in range(m_out):
                    yo[jj] += yv[c * m_out + jj]
            for jj in range(m_out):
                yo[jj] *= inv_copies
