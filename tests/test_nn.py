"""Networks on the macro: layers, quantization, tiling, programmed tiles, accuracy of the shipped workloads."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from aimc_circuits import Macro, MacroConfig, ParameterError
from aimc_circuits.nn import Conv2d, Dense, MacroNetwork, MaxPool2d, Network, ReLU, digits, load_network, quantize_layer
from aimc_circuits.nn.layers import Flatten
from aimc_circuits.nn.mapping import tile_bounds
from aimc_circuits.nn.train import train

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def macro():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Macro.from_config(MacroConfig(window_trim=True))


# -- float layers ------------------------------------------------------------------------------
def test_conv_im2col_matches_a_direct_convolution():
    rng = np.random.default_rng(0)
    conv = Conv2d(rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3), pad=1)
    x = rng.normal(size=(2, 2, 5, 4))
    y = conv.forward(x)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((2, 3, 5, 4))
    for o in range(3):
        for i in range(5):
            for j in range(4):
                ref[:, o, i, j] = (xp[:, :, i:i + 3, j:j + 3] * conv.w[o]).sum((1, 2, 3)) + conv.b[o]
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


def test_backward_passes_match_finite_differences():
    rng = np.random.default_rng(1)
    net = Network([Conv2d(rng.normal(size=(2, 1, 3, 3)) * 0.5, rng.normal(size=2) * 0.1), ReLU(), MaxPool2d(2),
                   Flatten(), Dense(rng.normal(size=(8, 3)) * 0.5, np.zeros(3))], (1, 4, 4))
    x = rng.normal(size=(3, 1, 4, 4))
    g_out = rng.normal(size=(3, 3))
    net.forward(x)
    g = g_out
    grads = []
    for layer in reversed(net.layers):
        g, gp = layer.backward(g)
        grads = gp + grads
    w = net.layers[0].w
    k = (1, 0, 2, 1)
    eps = 1e-6
    w[k] += eps
    up = (net.forward(x) * g_out).sum()
    w[k] -= 2 * eps
    dn = (net.forward(x) * g_out).sum()
    w[k] += eps
    assert grads[0][k] == pytest.approx((up - dn) / (2 * eps), rel=1e-5, abs=1e-8)


def test_training_learns_the_digits():
    d = digits("mlp")
    net = Network([Dense(np.random.default_rng(0).normal(0, 0.1, (64, 32)), np.zeros(32)), ReLU(),
                   Dense(np.random.default_rng(1).normal(0, 0.1, (32, 10)), np.zeros(10))], (64,))
    loss = train(net, d["train_x"], d["train_y"], epochs=5)
    assert loss[-1] < 0.3 * loss[0]
    assert (net.predict(d["test_x"]) == d["test_y"]).mean() > 0.9


# -- quantization and tiling ------------------------------------------------------------------
def test_int8_backend_is_the_exact_integer_product_with_the_documented_scales():
    rng = np.random.default_rng(2)
    layer = Dense(rng.normal(size=(20, 5)), rng.normal(size=5), name="fc")
    x = rng.normal(size=(40, 20))  # negative inputs: two passes
    ml = quantize_layer(layer, x)
    assert ml.two_pass and ml.w_q.dtype == np.int64 and np.abs(ml.w_q).max() == 127
    assert ml.s_x == pytest.approx(np.abs(x).max() / 255)
    np.testing.assert_allclose(ml.s_w, np.abs(layer.w).max(0) / 127)
    xq = np.rint(x / ml.s_x).astype(np.int64)
    y = ml.forward(x, "int8")
    np.testing.assert_allclose(y, (xq @ ml.w_q) * ml.s_x * ml.s_w + layer.b, rtol=1e-12)
    # 8-bit quantization error of the layer: within a few % of its output range
    assert np.abs(y - layer.forward(x)).max() < 0.03 * np.abs(layer.forward(x)).max()


def test_two_pass_layer_on_tiles_is_the_exact_product_on_an_ideal_macro():
    """Inputs that go negative: both passes run through each tile as one batch (the negative parts
    after the positive ones) and split again; on the ideal macro the result is x_q @ w_q exactly,
    for a layer tiled over rows and columns."""
    rng = np.random.default_rng(4)
    layer = Dense(rng.normal(size=(1100, 300)), np.zeros(300), name="signed")
    x = rng.normal(size=(24, 1100))
    ml = quantize_layer(layer, x)
    assert ml.two_pass and ml.n_tiles(Macro.default()) == 4
    ideal = Macro.default().ideal()
    np.testing.assert_array_equal(ml.product(x, "macro", ideal, chip=0), ml.product(x, "int8"))


def test_tile_bounds_cover_every_row_once():
    assert tile_bounds(2500, 1024) == [(0, 1024), (1024, 2048), (2048, 2500)]
    assert tile_bounds(10, 256) == [(0, 10)]


def test_a_layer_larger_than_a_macro_is_tiled_and_its_partial_sums_added(macro):
    """2100 inputs x 300 outputs: 3 x 2 tiles; noise off, the macro's estimate within its error."""
    rng = np.random.default_rng(3)
    layer = Dense(rng.normal(size=(2100, 300)), np.zeros(300), name="big")
    x = rng.uniform(0, 1, size=(64, 2100))
    ml = quantize_layer(layer, x)
    assert ml.n_tiles(macro) == 6 and not ml.two_pass
    exact = ml.product(x, "int8")
    est = ml.product(x, "macro", macro, chip=0)
    assert len(ml.tiles_for(macro, 0)) == 3 and all(len(r) == 2 for r in ml.tiles_for(macro, 0).values())
    rel = np.sqrt(np.mean((est - exact) ** 2)) / np.sqrt(np.mean(exact**2))
    assert rel < 0.35, rel  # three full tiles' errors (uniform activations, trained-like weights)


def test_programmed_tile_equals_the_padded_full_macro_noise_off():
    """A tile evaluates exactly what the 1024 x 256 macro gives with that tile in its corner (rows
    at code 0 and weight 0, columns at weight 0), its rows stored `copies` times and each input
    driving all its copies: continuous codes within 1e-3 LSB, whether the copies share one
    matmul over the tile's inputs (64 x 16, 9 x 22, 128 x 8, 100 x 3) or read them through an index (144 x 7)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = Macro.from_config(MacroConfig(column_trim="none"))
    rng = np.random.default_rng(4)
    for k, n, copies, shared in ((64, 10, 1, False), (300, 256, 1, False), (128, 40, 1, False), (64, 10, 16, True),
                                 (9, 16, 22, True), (144, 32, 7, False), (128, 10, 8, True), (100, 5, 3, True)):
        w = rng.integers(-128, 128, (k, n))
        x = rng.integers(0, 256, (32, k))
        p = m.program(w, row_copies=copies)
        assert p.folded.shared == shared
        wf = np.zeros((1024, 256), int)
        wf[:k * copies, :n] = np.tile(w, (copies, 1))
        xf = np.zeros((32, 1024), int)
        xf[:, :k * copies] = np.tile(x, copies)
        full = m.continuous_code(xf, wf)[:, :n]
        tile = m._continuous_code(x, p.folded)
        assert np.abs(full - tile).max() < 1e-3
        np.testing.assert_allclose(p.vmm(x), m.vmm(xf, wf)[:, :n], rtol=0, atol=1e-6 * m.full_scale())
        np.testing.assert_allclose(p.exact(x), xf @ wf[:, :n])


def test_programmed_tile_on_short_sub_arrays_equals_the_padded_full_macro():
    """Sub-arrays of 64 rows take the accumulator's crossing order pair by pair (the exact path):
    held sub-arrays and shared copies there too, within 1e-3 LSB of the padded array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = Macro.from_config(MacroConfig(n_inputs=512, rows_per_subarray=64, column_trim="none"))
    rng = np.random.default_rng(6)
    for k, n, copies in ((40, 12, 1), (40, 12, 3), (100, 7, 2)):
        w = rng.integers(-128, 128, (k, n))
        x = rng.integers(0, 256, (16, k))
        p = m.program(w, row_copies=copies)
        wf = np.zeros((512, 256), int)
        wf[:k * copies, :n] = np.tile(w, (copies, 1))
        xf = np.zeros((16, 512), int)
        xf[:, :k * copies] = np.tile(x, copies)
        assert np.abs(m.continuous_code(xf, wf)[:, :n] - m._continuous_code(x, p.folded)).max() < 1e-3


def test_programmed_tile_with_noise_equals_the_padded_full_macro():
    """With noise on, the same draws: a tile of copies and the padded full macro agree to float32
    rounding (the noise is drawn per vector and column, whatever the layout and the chunking)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = Macro.default()
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 128, (64, 20))
    x = rng.integers(0, 256, (300, 64))
    xt = rng.integers(0, 256, (256, 64))  # the column trim's calibration inputs
    p = m.program(w, trim_x=xt, row_copies=16)
    tile = p.vmm(x, np.random.default_rng(9))
    full = m.program(np.tile(w, (16, 1)), trim_x=np.tile(xt, 16)).vmm(np.tile(x, 16), np.random.default_rng(9))
    np.testing.assert_allclose(tile, full, rtol=0, atol=1e-6 * m.full_scale())
    assert np.std(tile - p.vmm(x)) > 1e-3 * m.full_scale() / 256  # the noise is on


def test_window_trim_centres_a_small_tile_and_removes_its_clipping():
    """64 rows in use: the held rows move every column's codes up, the chip's offsets spread them
    off the range (22 % clipped on chip 0); the output window centres them."""
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (64, 64))
    x = rng.integers(0, 256, (512, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = Macro.default().program(w).evaluate(x)
        win = Macro.from_config(MacroConfig(window_trim=True)).program(w).evaluate(x)
    assert plain.saturated.mean() > 0.1
    assert win.saturated.mean() < 0.005
    assert abs(np.median(win.codes) - 128) < 16
    lsb = lambda r: np.sqrt(np.mean(r.errors**2)) / r.lsb.mean()  # noqa: E731
    assert lsb(win) < 0.5 * lsb(plain)


# -- the shipped workloads ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_workload_on_the_macro_is_within_one_point_of_int8(name, macro):
    """The done-when of the networks: mean over 5 chips (noise on) within 1 accuracy point of ideal int8."""
    d = digits(name)
    net = load_network(name)
    mn = MacroNetwork(net, d["calib_x"], macro)
    r = mn.evaluate(d["test_x"], d["test_y"], n_chips=5)
    assert r.accuracy_float > 96.0 and abs(r.accuracy_int8 - r.accuracy_float) < 1.0
    assert r.macro_mean > r.accuracy_int8 - 1.0, r.lines()
    assert r.n_macros == {"mlp": 5, "cnn": 3}[name]
    assert r.energy_per_inference_j > 0 and r.latency_ns > macro.timing()["latency_ns"]
    # the README's table row is this evaluation (accuracy within one test image, cost within 1 %)
    row = next(ln for ln in README.read_text().splitlines() if ln.startswith(f"| {name} "))
    nums = [float(v) for v in re.findall(r"-?\d+\.?\d*", row.split("|", 2)[2])]
    acc_f, acc_i, acc_m, acc_s, n_mac, e_nj, lat = nums
    for got, want in ((acc_f, r.accuracy_float), (acc_i, r.accuracy_int8), (acc_m, r.macro_mean), (acc_s, r.macro_std)):
        assert abs(got - want) < 0.25, (row, r.lines())
    assert n_mac == r.n_macros
    assert e_nj == pytest.approx(1e9 * r.energy_per_inference_j, rel=0.01)
    assert lat == pytest.approx(r.latency_ns, rel=0.01)


def test_shipped_weights_are_what_the_training_script_gives():
    from aimc_circuits.nn import train_network

    net = train_network("cnn")
    shipped = load_network("cnn")
    d = digits("cnn")
    a = (net.predict(d["test_x"]) == d["test_y"]).mean()
    b = (shipped.predict(d["test_x"]) == d["test_y"]).mean()
    assert abs(a - b) < 0.01  # the same recipe (BLAS rounding may move a few images)


# -- bad input --------------------------------------------------------------------------------
def test_bad_layers_and_inputs_are_refused_by_name(macro):
    rng = np.random.default_rng(5)
    with pytest.raises(ParameterError, match="'relu'.*cannot be mapped"):
        quantize_layer(ReLU(), np.ones((2, 3)))
    bad = Dense(np.full((4, 2), np.nan), np.zeros(2), name="fcnan")
    with pytest.raises(ParameterError, match="'fcnan'.*NaN"):
        quantize_layer(bad, np.ones((3, 4)))
    with pytest.raises(ParameterError, match="'fc'.*input of shape"):
        quantize_layer(Dense(np.ones((4, 2)), np.zeros(2), name="fc"), np.ones((3, 5)))
    with pytest.raises(ParameterError, match="every calibration input is 0"):
        quantize_layer(Dense(np.ones((4, 2)), np.zeros(2), name="fc"), np.zeros((3, 4)))
    d = digits("mlp")
    mn = MacroNetwork(load_network("mlp"), d["calib_x"][:32], macro)
    with pytest.raises(ParameterError, match="backend='gpu'"):
        mn.forward(d["test_x"][:2], "gpu")
    with pytest.raises(ParameterError, match=r"input of shape \(63,\)"):
        mn.forward(rng.normal(size=(2, 63)), "int8")
    with pytest.raises(ParameterError, match="NaN or inf"):
        mn.forward(np.full((2, 64), np.nan), "macro")
    with pytest.raises(ParameterError, match="network 'resnet'"):
        digits("resnet")
    with pytest.raises(ParameterError, match=r"w must have shape \(k, m\)"):
        macro.program(np.zeros((1025, 3), int))
    p = macro.program(np.zeros((8, 3), int))
    with pytest.raises(ParameterError, match=r"x must have shape \(batch, 8\)"):
        p.vmm(np.zeros((2, 9), int))
    with pytest.raises(ParameterError, match="x contains 256"):
        p.vmm(np.full((2, 8), 256))
    for bad in (0, 2.5, True):
        with pytest.raises(ParameterError, match=f"row_copies={bad!r}; allowed: an integer >= 1"):
            macro.program(np.zeros((8, 3), int), row_copies=bad)
    with pytest.raises(ParameterError, match=r"k x row_copies \(129\) <= n_inputs=1024"):
        macro.program(np.zeros((8, 3), int), row_copies=129)
    with pytest.raises(ParameterError, match=r"m x column_copies \(86\) <= n_outputs=256"):
        macro.program(np.zeros((8, 3), int), column_copies=86)
    with pytest.raises(ParameterError, match="trim_x contains 300"):
        macro.program(np.zeros((8, 3), int), trim_x=np.full((4, 8), 300))


def test_output_range_config_is_checked():
    with pytest.raises(ParameterError, match="tdc_current=-1"):
        MacroConfig(tdc_current=-1)
    with pytest.raises(ParameterError, match="window_trim = true.*column_trim"):
        MacroConfig(window_trim=True, column_trim="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = Macro.from_config(MacroConfig(tdc_current=3.0))
    with pytest.raises(ParameterError, match="tdc_current=3.0; characterized: 0.5, 1, 2"):
        m.vmm(np.zeros((1, 1024), int), np.zeros((1024, 256), int))


def test_a_window_beyond_the_characterized_thresholds_warns_with_the_range():
    """Weights all +127 on 1024 rows driven at 255 on the trim batch: the codes sit far above the
    centre, further than the threshold range can move them."""
    from aimc_circuits.macro.trim import window_thresholds

    with pytest.warns(UserWarning, match=r"3 of 3 columns need a TDC stop threshold outside the characterized 1.1..1.6 V"):
        v = window_thresholds(lambda vhi: np.full((4, 3), 900.0) + 100 * (vhi - 1.5), 1.5, (1.1, 1.6), 256)
    np.testing.assert_allclose(v, 1.1)


def test_held_output_windows_are_reported_once_per_layer(macro):
    """The MLP's tiles hold a few columns' windows at the characterized thresholds on every chip:
    evaluate() reports each such layer once (the range of held columns per chip), a forward on a
    new chip once per layer for all its tiles."""
    d = digits("mlp")
    mn = MacroNetwork(load_network("mlp"), d["calib_x"], macro)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mn.evaluate(d["test_x"][:64], d["test_y"][:64], n_chips=2)
    msgs = [str(w.message) for w in caught if "output window" in str(w.message)]
    assert 1 <= len(msgs) <= len(mn.mapped), msgs
    assert all(re.match(r"layer '(fc1|fc2)': output window: \d+(\.\.\d+)? of (1024|250) columns on each of 2 chips "
                        r"need a TDC stop threshold outside the characterized 1\.12\.\.1\.62 V", m) for m in msgs), msgs
    held = {ml.name: ml.window_held for ml in mn.mapped.values()}
    assert set(held["fc1"]) == {0, 1} and all(h[1] == 1024 for h in held["fc1"].values())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mn.forward(d["test_x"][:8], "macro", chip=7)
    msgs = [str(w.message) for w in caught if "output window" in str(w.message)]
    assert len(msgs) == sum(ml.window_held[7][0] > 0 for ml in mn.mapped.values()), msgs
    assert all(re.search(r"columns of its (4|1) tiles on chip 7 need", m) for m in msgs), msgs


def test_network_command_refuses_bad_options(capsys):
    from aimc_circuits.cli import main

    assert main(["network", "--chips", "0", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "--chips=0 must be an integer >= 1" in err
    with pytest.raises(SystemExit):
        main(["network", "--network", "foo"])
    assert "invalid choice: 'foo'" in capsys.readouterr().err


def test_window_trim_on_the_reference_workload(reference_metrics):
    """docs/macro.md: chip 0, error 2.15 -> 2.13 % FS, saturated 0.68 % -> 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = Macro.from_config(MacroConfig(window_trim=True, n_chips=1)).metrics()
    assert reference_metrics["error_fs_pct"] == pytest.approx(2.153, abs=0.005)
    assert reference_metrics["saturated_pct"] == pytest.approx(0.681, abs=0.01)
    assert m["error_fs_pct"] == pytest.approx(2.132, abs=0.005)
    assert m["saturated_pct"] < 0.01


def test_a_layer_can_use_another_output_range(macro):
    """fc2 of the MLP at 0.5 x i0 (1.40x codes per volt) against 2 x i0 (0.86x): its quantization
    share shrinks, so its error on chip 0 is lower; an unknown layer or current is refused."""
    d = digits("mlp")
    err = {}
    for cur in (0.5, 2.0):
        mn = MacroNetwork(load_network("mlp"), d["calib_x"], macro, tdc_current={"fc2": cur})
        x = mn.mapped[2].layer.patches(np.maximum(mn.net.layers[0].forward(d["test_x"]), 0))
        exact = mn.mapped[2].product(x, "int8")
        est = mn.mapped[2].product(x, "macro", macro, 0, np.random.default_rng(0))
        err[cur] = np.sqrt(np.mean((est - exact) ** 2)) / np.sqrt(np.mean(exact**2))
    assert err[0.5] < err[2.0]
    with pytest.raises(ParameterError, match="layer 'fc9'.*mapped layers"):
        MacroNetwork(load_network("mlp"), d["calib_x"], macro, tdc_current={"fc9": 0.5})
    with pytest.raises(ParameterError, match="tdc_current=3.0; characterized"):
        MacroNetwork(load_network("mlp"), d["calib_x"], macro, tdc_current={"fc2": 3.0})
