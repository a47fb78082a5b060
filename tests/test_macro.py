"""Macro evaluator: exactness of the ideal macro, the fast path against the direct composition
of the block models, each non-ideality's direction and size against its physics, seeds, bad inputs,
configuration, metrics and the CLI. No ngspice needed: everything runs from the shipped calibration."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from aimc_circuits import Macro, MacroConfig, Nonidealities
from aimc_circuits.cli import main
from aimc_circuits.errors import AimcError, ParameterError
from aimc_circuits.macro.fold import reference_word
from aimc_circuits.validate.stages import Stages
from aimc_circuits.constants import K_BOLTZMANN

QUIET = replace(Nonidealities(), row_noise=False, ktc_noise=False, vtc_noise=False, tdc_noise=False,
                quantization=False, clipping=False)


@pytest.fixture(scope="module")
def ref():
    return Macro.default()


def small(ni: Nonidealities, **kw) -> Macro:
    cfg = dict(n_inputs=1024, n_outputs=16, nonidealities=ni, seed=3)
    cfg.update(kw)
    return Macro.from_config(MacroConfig(**cfg))


def workload(rng, b, n_in, n_out):
    return rng.integers(0, 256, (b, n_in)), rng.integers(-128, 128, (n_in, n_out))


# -- ideal ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n_in,rows,n_out,b", [(1024, 128, 256, 5), (256, 32, 7, 33), (128, 128, 1, 1),
                                               (512, 64, 40, 12)])
def test_ideal_macro_is_exact(ref, n_in, rows, n_out, b):
    m = Macro.from_config(MacroConfig(n_inputs=n_in, n_outputs=n_out, rows_per_subarray=rows)).ideal()
    rng = np.random.default_rng(n_in + n_out)
    x, w = workload(rng, b, n_in, n_out)
    x[0] = 255  # extremes: the largest magnitude products
    w[:, 0] = -128
    assert np.array_equal(m.vmm(x, w), x @ w)
    assert np.array_equal(m.vmm(x.astype(float), w.astype(np.int8)), x @ w)


def test_physical_chain_with_everything_off_reproduces_x_at_w():
    """Through the analog kernel (clipping on forces it; nothing clips here): float32 rounding only."""
    m = small(Nonidealities.only("clipping"))
    x, w = workload(np.random.default_rng(0), 64, 1024, 16)
    err = m.vmm(x, w) - x @ w
    assert np.max(np.abs(err)) < 1e-5 * m.full_scale()


# -- fast path vs the block models composed directly ------------------------------------------
def direct_codes(m: Macro, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Continuous TDC code from RowDriverModel -> CellModel -> TimeAccumulatorModel, column by
    column (no folding, no approximations of the fast path), same chip, noise off."""
    xi, wo = m.check_inputs(x, w)
    return Stages(m).all(xi, wo)["t_stop"] / m.ta.design.t_lsb


@pytest.mark.parametrize("n_in,rows,raw_tol,trim_tol", [(1024, 128, 1.0, 1.0), (512, 64, 0.3, 0.2), (256, 32, 0.3, 0.2)])
def test_fast_path_matches_direct_composition_of_block_models(n_in, rows, raw_tol, trim_tol):
    """Every static effect on (one chip's mismatch included), noise off: the folded evaluator's
    continuous code against the direct composition (LSB RMS). 128-row sub-arrays: the fast path
    orders the channels' crossings by their reference levels to first order (see kernel.analog);
    after the per-column gain and offset that the column trim removes on a chip they agree within
    1 LSB (measured 0.45), raw within 1 LSB (0.59). Smaller sub-arrays swing further (first order:
    2.4 LSB at 64 rows, 8.3 at 32), so there the crossing order is taken pair by pair: measured
    0.09 / 0.02 (64 rows) and 0.16 / 0.04 (32 rows) raw / trimmed."""
    m = small(QUIET, n_inputs=n_in, rows_per_subarray=rows)
    x, w = workload(np.random.default_rng(5), 48, n_in, 16)
    xi, wo = m.check_inputs(x, w)
    fast = m._continuous_code(xi, m.fold(wo)[0])
    ref = direct_codes(m, x, w)
    inside = (ref > 0) & (ref < 255)  # the TA model's TDC stops at 0 (V_acc above vhi); the kernel extrapolates
    assert inside.mean() > 0.8
    d = (fast - ref)[inside]
    resid = []
    for j in range(ref.shape[1]):
        k = inside[:, j]
        A = np.column_stack([ref[k, j], np.ones(k.sum())])
        c, *_ = np.linalg.lstsq(A, fast[k, j], rcond=None)
        resid.append(fast[k, j] - A @ c)
    resid = np.concatenate(resid)
    assert np.sqrt(np.mean(resid**2)) < trim_tol
    assert np.sqrt(np.mean(d**2)) < raw_tol


def test_default_workload_lands_mid_scale(ref):
    """vhi is chosen so the default workload's codes centre in the 8-bit range: little clipping."""
    x, w = workload(np.random.default_rng(21), 256, 1024, 256)
    r = ref.evaluate(x, w, rng=np.random.default_rng(0), energy=False)
    assert 90 < np.mean(r.codes) < 170 and np.mean(r.saturated) < 0.03


# -- each non-ideality alone: direction and size -------------------------------------------
def noise_sigma(m: Macro, x1: np.ndarray, w: np.ndarray, reps: int = 400) -> np.ndarray:
    """Per-column standard deviation of y over `reps` repeats of one vector (noise only)."""
    x = np.repeat(x1[None, :], reps, axis=0)
    y = m.vmm(x, w, rng=np.random.default_rng(7))
    return y.std(axis=0, ddof=1)


def analytic_ideal_gain(m: Macro) -> float:
    """dy/dV per unit-weighted group channel in the ideal chain: C_col / u (C in Cu, u = row LSB)."""
    t = m.row.level_table()
    return m.config.rows_per_subarray * 15 / float((t[-1] - t[0]) / 255)


def test_ktc_noise_matches_analytic_kT_over_C():
    m = small(Nonidealities.only("ktc_noise"))
    rng = np.random.default_rng(11)
    x1, w = rng.integers(0, 256, 1024), rng.integers(-128, 128, (1024, 16))
    meas = noise_sigma(m, x1, w)
    kt = K_BOLTZMANN * 300.15
    C = 128 * 15.0  # ideal column: bit caps only (Cu)
    codes = (((w + 128)[..., None] >> (4 * np.arange(2))) & 15).reshape(8, 128, 16, 2).sum(1)  # (S, J, G)
    var_sig = kt / (C * m.cell.cu) * (1 + codes / C)
    var_ref = kt / (C * m.cell.cu) * (1 + 8 * 128 / C)
    weight = (16.0 ** np.arange(2) * analytic_ideal_gain(m)) ** 2
    expect = np.sqrt(((var_sig + var_ref) * weight).sum((0, 2)))
    np.testing.assert_allclose(meas, expect, rtol=0.12)  # 400 repeats: sampling error ~3.5 % per column
    assert abs(np.mean(meas / expect) - 1) < 0.03


def test_vtc_and_tdc_noise_match_their_jitter():
    rng = np.random.default_rng(12)
    x1, w = rng.integers(0, 256, 1024), rng.integers(-128, 128, (1024, 16))
    m = small(Nonidealities.only("vtc_noise"))
    s_v = m.ta.sigma_vtc_v
    expect_v = s_v * analytic_ideal_gain(m) * np.sqrt(8 * (1 + 16.0**2))
    assert np.mean(noise_sigma(m, x1, w)) == pytest.approx(expect_v, rel=0.05)
    m = small(Nonidealities.only("tdc_noise"))
    lsb = float(np.mean(np.abs(m.fold(w + 128)[1].alpha)))
    expect_t = lsb * m.ta.sigma_tdc_s / m.ta.design.t_lsb
    assert np.mean(noise_sigma(m, x1, w)) == pytest.approx(expect_t, rel=0.05)


def test_quantization_error_is_lsb_over_sqrt12(ref):
    m = small(Nonidealities.only("quantization"))
    x, w = workload(np.random.default_rng(13), 512, 1024, 16)
    r = m.evaluate(x, w)
    assert np.std(r.errors) / np.mean(r.lsb) == pytest.approx(1 / np.sqrt(12), rel=0.05)


def err_rms(m: Macro, x, w, rng=None) -> float:
    return float(np.sqrt(np.mean(m.evaluate(x, w, rng=rng, energy=False).errors ** 2)))


@pytest.mark.parametrize("name,attr", [("cell_mismatch", "sigma_u"), ("row_mismatch", "sigma_gain")])
def test_mismatch_error_scales_linearly_with_sigma(name, attr):
    """Static mismatch errors are linear in the mismatch: doubling sigma doubles the RMS error."""
    x, w = workload(np.random.default_rng(14), 128, 1024, 16)
    errs = []
    for k in (1.0, 2.0):
        cfg = MacroConfig(n_inputs=1024, n_outputs=16, nonidealities=Nonidealities.only(name), seed=3)
        base = Macro.from_config(cfg)
        setattr(base.cell if name == "cell_mismatch" else base.row, attr,
                getattr(base.cell if name == "cell_mismatch" else base.row, attr) * k)
        m = Macro(cfg, base.cell, base.row, base.ta, chip_seed=3)
        errs.append(err_rms(m, x, w))
    assert errs[0] > 0 and errs[1] / errs[0] == pytest.approx(2.0, rel=0.1)


def test_row_settling_error_grows_with_row_load():
    """More columns on a row = more line capacitance and resistance: larger settling error
    (untrimmed: measured 2.8 / 7.9 / 29 % of the signal at 64 / 256 / 512 columns)."""
    rng = np.random.default_rng(15)
    errs = []
    for n_out in (64, 256, 512):
        x, w = workload(rng, 128, 1024, n_out)
        m = small(Nonidealities.only("row_settling"), n_outputs=n_out, column_trim="none")
        errs.append(err_rms(m, x, w) / np.std(x @ w))
    assert errs[2] > 2 * errs[1] > 4 * errs[0] > 0


def test_column_trim_removes_vtc_offsets():
    """VTC input offsets (16 mV sigma per channel) are static per column: the per-column digital
    trim removes most of their error; without a trim they dominate."""
    x, w = workload(np.random.default_rng(16), 128, 1024, 16)
    raw = err_rms(small(Nonidealities.only("ta_mismatch"), column_trim="none"), x, w)
    off = err_rms(small(Nonidealities.only("ta_mismatch"), column_trim="offset"), x, w)
    both = err_rms(small(Nonidealities.only("ta_mismatch")), x, w)
    assert raw > 5 * off and both <= off


def test_column_parasitics_attenuate_by_the_fitted_ratio():
    """Parasitic column capacitance attenuates the signal by C_bits / (C_bits + R p_row + p_fix):
    the readout's design trim gains by the inverse."""
    on, off = small(Nonidealities.only("cell_parasitics")), small(Nonidealities.only("clipping"))
    p = on.cell.params
    c = 128 * 15.0
    expect = (c + 128 * p["p_row"] + p["p_fix"]) / c
    assert on._design_trim()[0] / off._design_trim()[0] == pytest.approx(expect, rel=0.01)


def test_vtc_nonlinearity_is_deterministic_and_significant():
    x, w = workload(np.random.default_rng(17), 128, 1024, 16)
    m = small(Nonidealities.only("vtc_nonlinearity"))
    a, b = m.vmm(x, w), m.vmm(x, w, rng=np.random.default_rng(1))
    assert np.array_equal(a, b)  # no noise in it
    assert err_rms(m, x, w) > 0.01 * np.std(x @ w)


# -- reproducibility -------------------------------------------------------------------------
def test_seeds_reproduce_and_differ(ref):
    x, w = workload(np.random.default_rng(18), 16, 1024, 256)
    a = ref.vmm(x, w, rng=np.random.default_rng(0))
    assert np.array_equal(a, ref.vmm(x, w, rng=np.random.default_rng(0)))
    assert not np.array_equal(a, ref.vmm(x, w, rng=np.random.default_rng(1)))
    other = ref.with_chip(1)
    assert not np.array_equal(a, other.vmm(x, w, rng=np.random.default_rng(0)))
    assert np.array_equal(ref.with_chip(0).vmm(x, w, rng=np.random.default_rng(0)), a)


# -- bad inputs ------------------------------------------------------------------------------
@pytest.mark.parametrize("x,w,match", [
    (np.full((2, 1024), 256), None, "x contains 256; allowed: integers 0..255"),
    (np.full((2, 1024), -1), None, "x contains -1"),
    (None, np.full((1024, 256), 128), "w contains 128; allowed: integers -128..127"),
    (None, np.full((1024, 256), -129), "w contains -129"),
    (np.full((2, 1024), 1.5), None, "non-integer 1.5"),
    (np.full((2, 1024), np.nan), None, "NaN"),
    (np.zeros((2, 1000), int), None, r"x must have shape \(batch, n_inputs=1024\)"),
    (np.zeros(1024, int), None, "x must have shape"),
    (None, np.zeros((1000, 256), int), r"w must have shape \(n_inputs, n_outputs\) = \(1024, 256\)"),
    (np.array([["a"] * 1024]), None, "must be integers"),
])
def test_bad_inputs_raise(ref, x, w, match):
    x = np.zeros((2, 1024), int) if x is None else x
    w = np.zeros((1024, 256), int) if w is None else w
    with pytest.raises(ParameterError, match=match):
        ref.vmm(x, w)


def test_bad_rng_and_configs_raise(ref, tmp_path):
    with pytest.raises(ParameterError, match="rng must be a numpy Generator"):
        ref.vmm(np.zeros((1, 1024), int), np.zeros((1024, 256), int), rng=0)
    for kw, match in [({"n_inputs": 1000}, "multiple of rows_per_subarray"), ({"corner": "xx"}, "corner='xx'"),
                      ({"n_outputs": 0}, "n_outputs=0"), ({"column_trim": "full"}, "column_trim='full'"),
                      ({"temperature_c": 400}, "temperature_c=400")]:
        with pytest.raises(ParameterError, match=match):
            MacroConfig(**kw)
    for kw, match in [({"unit_cap_f": 1e-15}, "unit_cap_f"), ({"output_bits": 10}, "output_bits=10"),
                      ({"n_inputs": 2048}, "time accumulator has 8 x 2"), ({"t_cell_ns": 2.0}, "shorter than")]:
        with pytest.raises(ParameterError, match=match):
            Macro.from_config(MacroConfig(**kw))
    bad = tmp_path / "bad.toml"
    bad.write_text("n_outptus = 3\n")
    with pytest.raises(ParameterError, match="Did you mean 'n_outputs'"):
        MacroConfig.load(bad)
    bad.write_text("[nonidealities]\nktc = false\n")
    with pytest.raises(ParameterError, match="unknown non-ideality 'ktc'"):
        MacroConfig.load(bad)
    bad.write_text("n_outputs = \n")
    with pytest.raises(ParameterError, match="not valid TOML"):
        MacroConfig.load(bad)
    with pytest.raises(AimcError, match="no cell calibration"):
        Macro.from_config(MacroConfig(calibration_dir=str(tmp_path)))


def test_toml_config_round_trip(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text("n_outputs = 32\npipelined = false\n[nonidealities]\nktc_noise = false\n")
    m = Macro.from_config(p)
    assert m.config.n_outputs == 32 and not m.config.nonidealities.ktc_noise
    assert m.timing()["cycle_ns"] == pytest.approx(m.timing()["latency_ns"])


def test_energy_is_the_mean_of_every_vectors_energy(ref):
    """The evaluator averages through the block energy models' linearity; the same number as the
    models applied vector by vector (previous vector's levels, code 0 before the first) to 1e-12."""
    rng = np.random.default_rng(8)
    x, w = rng.integers(0, 256, (40, 1024)), rng.integers(-128, 128, (1024, 256))
    xi, wo = ref.check_inputs(x, w)
    rm, cell = ref.row, ref.cell
    table = rm.level_table()
    v = table[xi]
    v_prev = np.vstack([np.full((1, 1024), table[0]), v[:-1]])
    codes = np.concatenate([wo, np.full((1024, 1), reference_word(ref.config))], axis=1)
    g = (codes[..., None] >> (4 * np.arange(2))) & 15
    c_tot, _ = rm.line_params(256, g.sum((1, 2)) * cell.cu)
    e_row = rm.energy(v, v_prev, c_tot[None, :]).sum(1)
    e_cell = sum(cell.energy_per_cycle(v[:, s * 128:(s + 1) * 128], codes[s * 128:(s + 1) * 128]).sum(1)
                 for s in range(8))
    got = ref.energy(xi, wo)
    assert got.row_drivers == pytest.approx(e_row.mean(), rel=1e-12)
    assert got.cells == pytest.approx(e_cell.mean(), rel=1e-12)
    assert got.total == pytest.approx(e_row.mean() + e_cell.mean() + 256 * ref.ta.e_conversion, rel=1e-12)
    assert np.isnan(ref.evaluate(x[:0], w).energy_j["total"])  # no VMM to average over


# -- metrics and CLI -------------------------------------------------------------------------
def test_metrics_definitions(ref):
    m = ref.metrics(n_chips=3, batch=64)
    t = ref.timing()
    assert m["tops"] == pytest.approx(2 * 1024 * 256 / (t["cycle_ns"] * 1e-9) / 1e12)
    assert m["tops_per_watt"] == pytest.approx(2 * 1024 * 256 / (m["energy_per_vmm_pj"] * 1e-12) / 1e12)
    assert m["energy_per_vmm_pj"] == pytest.approx(sum(m["energy_breakdown_pj"].values()))
    # time accumulators: one conversion per column at the calibrated energy
    assert m["energy_breakdown_pj"]["time_accumulators"] == pytest.approx(256 * ref.ta.e_conversion * 1e12)
    assert t["latency_ns"] == pytest.approx(t["t_cell_ns"] + t["t_conversion_ns"])
    assert 0 < m["error_fs_pct"] < 5 and m["error_sig_pct"] > m["error_fs_pct"]
    assert m["error_fs_pct_chips"]["min"] <= m["error_fs_pct"] <= m["error_fs_pct_chips"]["max"]
    ideal = ref.ideal().metrics(n_chips=2, batch=16)
    assert ideal["error_fs_pct"] == 0.0


def test_cli_metrics_table_and_json(capsys, tmp_path):
    assert main(["metrics", "--chips", "2", "--batch", "32"]) == 0
    out = capsys.readouterr().out
    assert "TOPS/W" in out and "AiDAC" in out and "sky130" in out
    assert main(["metrics", "--json", "--chips", "2", "--batch", "32"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"tops", "tops_per_watt", "latency_ns", "energy_per_vmm_pj", "energy_breakdown_pj", "error_fs_pct",
            "error_sig_pct"} <= d.keys()
    p = tmp_path / "bad.toml"
    p.write_text("corner = 'sss'\n")
    assert main(["metrics", "--config", str(p)]) == 1
    assert "corner='sss'; allowed: tt, ss, ff, sf, fs" in capsys.readouterr().err
    assert main(["metrics", "--corner", "ss", "--temperature", "85", "--chips", "1", "--batch", "16"]) == 0
    assert "sky130 (130 nm, 1.8 V), ss, 85 C" in capsys.readouterr().out


def test_reference_config_file_is_the_default():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "configs" / "reference.toml"
    assert MacroConfig.load(path) == MacroConfig()


# -- capacitor groupings ---------------------------------------------------------------------
@pytest.mark.parametrize("bits_per_group", [1, 2, 4, 8])
def test_any_grouping_is_exact_in_ideal_mode_and_through_the_pass(bits_per_group):
    """8-bit weights as 8, 4, 2 or 1 capacitor groups: the ideal macro is exact, and the compiled
    pass with every fitted effect off but quantization (no clipping: the time accumulator's range
    is sized for 2 groups) is x @ w to within half an output LSB (float32 rounding of codes up to
    ~2e4: < 0.01 LSB more). The fitted VTC model has 2 groups: other groupings fold only linearly."""
    cfg = MacroConfig(n_inputs=256, n_outputs=16, rows_per_subarray=32, bits_per_group=bits_per_group)
    x, w = workload(np.random.default_rng(bits_per_group), 40, 256, 16)
    x[0], w[:, 0] = 255, -128
    ideal = Macro.from_config(cfg.replace(nonidealities=Nonidealities.none()))
    assert np.array_equal(ideal.vmm(x, w), x @ w)
    m = Macro.from_config(cfg.replace(nonidealities=Nonidealities.only("quantization")))
    f, _ = m.fold(w + 128)
    assert f.G == 8 // bits_per_group and f.w_ch.size == 8 * f.G
    r = m.evaluate(x, w)
    lsb = r.lsb.mean()
    assert np.max(np.abs(r.errors)) / lsb < 0.51
    assert np.std(r.errors) / lsb == pytest.approx(1 / np.sqrt(12), rel=0.15)
    if bits_per_group != 4:  # a fitted effect needs the calibrated grouping
        with pytest.raises(ParameterError, match=r"bits_per_group=.* calibration was made for 4"):
            Macro.from_config(cfg.replace(nonidealities=Nonidealities.only("vtc_nonlinearity")))


# -- regression: the reference macro's metrics -----------------------------------------------
#: `aimc metrics --json` of the reference macro before the evaluator was split into modules
#: (commit 707345d; 10 chips, 512 vectors). The split reproduced them bit for bit; drawing the
#: noise as one stream per call (any chunking) then moved the errors by noise only (0.007 % FS).
REFERENCE_METRICS = {"tops": 16.539053627760254, "tops_per_watt": 15.930608166956409, "latency_ns": 37.0,
                     "energy_per_vmm_pj": 32910.73350780724, "error_fs_pct": 2.1539443011570163,
                     "error_fs_mean": 2.2552298084254785, "error_sig_pct": 23.020954994152813}


def test_reference_metrics_are_unchanged():
    """With the VTC input's load on the data column lines switched off, the reference macro's
    metrics are those pinned above (the shipped calibrations, the cell's fitted on 4..128 rows):
    timing and energy deterministic (1e-9), the errors within the noise of the seeds, the
    chip-to-chip spread over sqrt(10) chips (0.088 / 3.2 = 0.028 % FS; 0.3 % of signal). (The
    cell fit on 4..32 rows only gave 2.1445 / 2.2493 / 22.96 %, and 32894.2 pJ.)"""
    cfg = MacroConfig(nonidealities=replace(Nonidealities(), vtc_input_load=False))
    m = Macro.from_config(cfg).metrics()
    for k in ("tops", "tops_per_watt", "latency_ns", "energy_per_vmm_pj"):
        assert m[k] == pytest.approx(REFERENCE_METRICS[k], rel=1e-9), k
    assert m["error_fs_pct"] == pytest.approx(REFERENCE_METRICS["error_fs_pct"], abs=0.03)
    assert m["error_fs_pct_chips"]["mean"] == pytest.approx(REFERENCE_METRICS["error_fs_mean"], abs=0.03)
    assert m["error_sig_pct"] == pytest.approx(REFERENCE_METRICS["error_sig_pct"], abs=0.3)
