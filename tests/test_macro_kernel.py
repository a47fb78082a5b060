"""The evaluator's compiled kernels (aimc_circuits/macro/kernel.py): unit normals against the
normal distribution, the tanh approximant against tanh, the row-level pass against numpy, and
the threaded evaluator against a single thread. The physics of the pass is tested end to end in
test_macro.py (fast path vs the direct composition of the block models, noise vs kT/C)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtri

from aimc_circuits import Macro, MacroConfig
from aimc_circuits.errors import ParameterError
from aimc_circuits.macro import kernel


def test_standard_normal_is_normal():
    """2M draws: moments, Kolmogorov-Smirnov, tail fractions at 3 and 4 sigma, independence of
    the two 32-bit halves of each 64-bit draw and of neighbours."""
    n = 2_000_000
    z = kernel.standard_normal(np.random.default_rng(11), (n,)).astype(float)
    assert z.dtype == float and z.shape == (n,)
    se = 1 / np.sqrt(n)
    assert abs(z.mean()) < 5 * se
    assert abs(z.std() - 1) < 5 * se / np.sqrt(2)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / n) and abs(stats.kurtosis(z)) < 5 * np.sqrt(24 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    for k, rel in ((3, 0.06), (4, 0.3)):
        p = 2 * stats.norm.sf(k)
        assert abs(np.mean(np.abs(z) > k) / p - 1) < rel, k
    h = n // 2
    assert abs(np.corrcoef(z[:h], z[h:])[0, 1]) < 5 / np.sqrt(h)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 5 / np.sqrt(n)


def test_standard_normal_quantiles_match_scipy():
    """Each 32-bit word maps to Phi^-1((u + 1/2) / 2^32) within 4.5e-4 (linear pieces: 1.4e-4;
    the 16 outermost bins on each side: the rational tail formula), bins' edges included."""
    rng = np.random.default_rng(2)
    edges = (np.arange(kernel._N_BINS, dtype=np.uint64) << np.uint64(32 - kernel._NB_BITS))
    u = np.concatenate([rng.integers(0, 2**32, 200_000, dtype=np.uint64), edges, edges - np.uint64(1),
                        np.array([0, 2**32 - 1], dtype=np.uint64)])
    u = u[u < 2**32]
    got = np.array([kernel._exact(v, kernel._bin_value(v)) for v in u])
    want = ndtri((u.astype(float) + 0.5) / 2**32)
    assert np.max(np.abs(got - want)) < 4.5e-4
    inner = ((u >> np.uint64(20)) >= kernel._N_EXACT) & ((u >> np.uint64(20)) < kernel._N_BINS - kernel._N_EXACT)
    assert np.max(np.abs(got - want)[inner]) < 1.5e-4


def test_standard_normal_seeds():
    a = kernel.standard_normal(np.random.default_rng(5), (3, 7))
    b = kernel.standard_normal(np.random.default_rng(5), (3, 7))
    c = kernel.standard_normal(np.random.default_rng(6), (3, 7))
    assert a.shape == (3, 7) and np.array_equal(a, b) and not np.array_equal(a, c)


def test_tanh_approximant_error():
    x = np.linspace(-10, 10, 200_001).astype(np.float32)
    got = np.array([kernel._tanh(v) for v in x[::7]])
    assert np.max(np.abs(got - np.tanh(x[::7].astype(float)))) < 7.2e-5


@pytest.mark.parametrize("b0", [0, 5])
@pytest.mark.parametrize("mapped", [False, True])
def test_levels_match_numpy(b0, mapped):
    """Le[b, k] = L(x_b[i]) + mu L(x_{b-1}[i]) (code 0 before the first vector) with i = k, or i =
    idx[k] (a tile's matmul rows reading its inputs through an index); xsum over x's own columns,
    (min, max) of the codes."""
    R, cb = 32, 6
    rng = np.random.default_rng(b0)
    x = rng.integers(0, 256, (b0 + cb, R)).astype(np.int32)
    table = rng.random(256).astype(np.float32)
    mu = 0.07
    idx = rng.integers(0, R, 50) if mapped else np.zeros(0, np.int64)
    cols = idx if mapped else np.arange(R)
    Le = np.empty((cb, cols.size), np.float32)
    xsum = np.empty(cb, np.int64)
    lo, hi = kernel.levels(x, b0, b0 + cb, table, mu, idx, Le, xsum)
    xc = x[:, cols]
    prev = table[xc[b0 - 1]] if b0 else np.full(cols.size, table[0])
    want_prev = np.vstack([prev, table[xc[b0:b0 + cb - 1]]])
    np.testing.assert_allclose(Le, table[xc[b0:b0 + cb]] + np.float32(mu) * want_prev, rtol=1e-6)
    assert np.array_equal(xsum, x[b0:b0 + cb].sum(1))
    assert (lo, hi) == (x[b0:b0 + cb].min(), x[b0:b0 + cb].max())


def test_thread_count_executor_and_chunking_do_not_change_results():
    """One noise stream per call, drawn block by block: 1 thread, one per core, an injected
    executor or any chunk size, the same noise. The same chunks give the same y bit for bit. Other
    chunks give the same y up to the float32 rounding of the BLAS matmuls, which on some CPUs
    depends on the rows of a call (an AVX-512 OpenBLAS: up to 4.4e-5 LSB measured). So they are
    compared with the quantization off (a rounding difference cannot flip a code there), within
    1e-3 LSB; another noise draw moves the outputs by 4.4 LSB RMS."""
    base = MacroConfig(n_inputs=256, n_outputs=8, rows_per_subarray=32, seed=2)
    cfg = base.replace(nonidealities=replace(base.nonidealities, quantization=False))
    m = Macro.from_config(cfg)
    lsb = m.full_scale() / 2**cfg.output_bits
    rng = np.random.default_rng(0)
    x, w = rng.integers(0, 256, (700, 256)), rng.integers(-128, 128, (256, 8))
    y_threads = m.vmm(x, w, rng=np.random.default_rng(9))
    one = Macro.from_config(cfg.replace(n_threads=1))
    assert one.runner.n_threads == 1
    np.testing.assert_allclose(one.vmm(x, w, rng=np.random.default_rng(9)), y_threads, rtol=0, atol=1e-3 * lsb)
    with ThreadPoolExecutor(3) as ex:
        injected = Macro.from_config(cfg, executor=ex)
        assert injected.runner.executor is ex
        assert np.array_equal(injected.vmm(x, w, rng=np.random.default_rng(9)), y_threads)  # the same chunks
    for chunk in (16, 112, 512):  # the noise is drawn per 16-vector block of the batch: any chunking
        chunked = Macro.from_config(cfg.replace(chunk_vectors=chunk))
        np.testing.assert_allclose(chunked.vmm(x, w, rng=np.random.default_rng(9)), y_threads, rtol=0,
                                   atol=1e-3 * lsb, err_msg=f"chunk_vectors={chunk}")
    r = m.evaluate(x, w, rng=np.random.default_rng(9), energy=False)
    assert np.array_equal(r.y, y_threads)
    assert np.sqrt(np.mean((m.vmm(x, w, rng=np.random.default_rng(10)) - y_threads) ** 2)) > lsb  # the noise is seen
    with pytest.raises(ParameterError, match="chunk_vectors=100 must be a multiple of 16"):
        MacroConfig(chunk_vectors=100)


def test_any_integer_layout_gives_the_same_result():
    """Fortran order, strided views, lists, other widths and byte orders of the same codes."""
    m = Macro.from_config(MacroConfig(n_inputs=256, n_outputs=8, rows_per_subarray=32, seed=1))
    rng = np.random.default_rng(0)
    x, w = rng.integers(0, 256, (300, 256)), rng.integers(-128, 128, (256, 8))
    y = m.vmm(x, w, rng=np.random.default_rng(3))
    for xv in (np.asfortranarray(x), np.repeat(x, 2, axis=1)[:, ::2], x.tolist(), x.astype(np.uint8),
               x.astype(">i4"), x.astype(np.uint64)):
        assert np.array_equal(m.vmm(xv, w, rng=np.random.default_rng(3)), y)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64])
def test_out_of_range_codes_raise_in_every_integer_dtype(dtype):
    m = Macro.from_config(MacroConfig(n_inputs=256, n_outputs=8, rows_per_subarray=32))
    w = np.zeros((256, 8), int)
    bad = -3 if np.issubdtype(dtype, np.signedinteger) and np.iinfo(dtype).max < 256 else 300
    x = np.zeros((600, 256), dtype=dtype)
    x[-1, -1] = bad  # in the last chunk
    for call in (m.vmm, m.evaluate):
        with pytest.raises(ParameterError, match=f"x contains {bad}; allowed: integers 0..255"):
            call(x, w)
