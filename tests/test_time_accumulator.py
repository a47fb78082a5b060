"""Time accumulator: netlist, SPICE physics of the VTC and the TDC, fit recovery, the shipped
behavioral model against held-out SPICE, bad inputs."""
from __future__ import annotations

import re

import numpy as np
import pytest

from aimc_circuits.blocks.time_accumulator.pump_single_slope.design import TADesign
from aimc_circuits.blocks.time_accumulator.pump_single_slope.fit import fit_tdc, fit_vtc
from aimc_circuits.blocks.time_accumulator.pump_single_slope.model import (TimeAccumulatorModel, order_charge,
                                                                          tdc_time, vtc_charge)
from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import (AccumulatorTestbench,
                                                                              PipelinedColumnTestbench, TdcTestbench,
                                                                              VtcTestbench, _phases)
from aimc_circuits.errors import ParameterError
from aimc_circuits.paths import netlist_path
from aimc_circuits.spice.sweep import run_sweep, run_sweeps

N_CH = 16
GROUP = np.arange(N_CH) % 2


def test_netlist_header_documents_ports_and_subcircuits():
    text = netlist_path("time_accumulator").read_text()
    for name in ("aimc_ta_bias", "aimc_ta_cmp", "aimc_ta_ramp", "aimc_ta_vtc", "aimc_ta_tdc"):
        assert f".subckt {name}" in text and f".ends {name}" in text
    assert "ports" in text and "Timing" in text and "sky130_fd_pr__cap_mim_m3_1" in text


@pytest.fixture(scope="module")
def vtc():
    vref = np.full(N_CH, 1.3)
    v = vref + np.repeat(np.linspace(-0.4, 0.4, N_CH // 2), 2)  # each difference on both groups
    rec = run_sweep(VtcTestbench(n_ch=N_CH), points=[{"v": v, "vref": vref}]).records[0]
    assert rec.ok, rec.error
    return v, vref, rec.measures


def test_vtc_pulse_width_is_voltage_difference_over_ramp_slope(vtc):
    """Both pulses run from the first crossing to their own crossing + td: the width difference
    t_pos - t_neg is (V_ref - V) / slope (15 %: comparator delays, ramp curvature), and the
    shorter pulse is the fixed extension td (50..400 ps, the same for every channel within 60 ps).
    Levels within 0.15 V of vdd are left out (the ramp's first ~0.4 ns; see V_FIT_MAX)."""
    v, vref, m = vtc
    dv = vref - v
    big = (np.abs(dv) >= 0.1) & (v < 1.65)  # crossings in the ramp's first ~0.4 ns: see V_FIT_MAX
    t_pos, t_neg = np.asarray(m["t_pos"]), np.asarray(m["t_neg"])
    assert (t_pos - t_neg)[big] == pytest.approx(dv[big] / m["ramp_slope"], rel=0.15)
    td = np.minimum(t_pos, t_neg)[big]
    assert 50e-12 < td.min() and td.max() < 400e-12 and np.ptp(td) < 60e-12
    # the ramp: ~ mr x i0 / C_ramp (MIM 14 x 14 um at ~2 fF/um^2 plus 32 comparator gates): 0.2..0.35 V/ns
    assert 0.2e9 < m["ramp_slope"] < 0.35e9


def test_vtc_charge_carries_sign_and_group_weight(vtc):
    """Net charge = width difference x the pump current 16^g x i0: signed like the product; the
    group-1 charge is 16 x group 0 within 15 % (binary group weight of the time accumulation)."""
    v, vref, m = vtc
    dv = vref - v
    q = np.asarray(m["q"])
    big = np.abs(dv) >= 0.1
    assert np.all(np.sign(q[big]) == np.sign(dv[big]))
    i_eff = q[big] / (np.asarray(m["t_pos"]) - np.asarray(m["t_neg"]))[big]
    g = GROUP[big]
    i0 = TADesign().i0
    assert np.all((i_eff[g == 0] > 0.7 * i0) & (i_eff[g == 0] < 2.0 * i0))
    # each difference is applied to both groups: compare charge pairs directly
    ratio = q[big][g == 1] / q[big][g == 0]
    assert np.median(ratio) == pytest.approx(16, rel=0.15)


def test_tdc_transfer_monotonic_and_linear():
    """Charge-up TDC: stop time falls with the start level, is 0 above vhi and ~linear in between
    (fit within 2 % of full scale)."""
    d = TADesign()
    lv = np.linspace(d.vhi - 0.4, d.vhi + 0.05, N_CH)
    rec = run_sweep(TdcTestbench(n_ch=N_CH), points=[{"v_init": lv}]).records[0]
    assert rec.ok, rec.error
    t = np.asarray(rec.measures["t_stop"])
    assert t[-1] == 0.0
    below = lv < d.vhi - 0.02
    assert np.all(np.diff(t[below]) < 0)
    fit = fit_tdc(lv, t, d.vhi)
    assert fit["fit"]["max_pct_fs"] < 2.0
    # slope ~ C_acc / I_d: 200 fF MIM over ~one unit current (7..12 uA): 15..35 ns/V
    assert 15e-9 < fit["params"]["t1"]["value"] < 35e-9


def test_fit_vtc_recovers_known_parameters():
    rng = np.random.default_rng(1)
    p = {"k0p": 18e-15, "k0n": 17e-15, "k1p": 280e-15, "k1n": 265e-15, "c0": 0.2e-15, "c1": 10e-15,
         "e0": -0.2e-15, "e1": -3e-15, "a0": 0.5e-15, "a1": 120e-15, "w": 0.025, "b2": 0.3, "b3": -0.2}
    vref = rng.uniform(0.9, 1.7, 400)
    v = np.clip(vref + np.where(np.arange(400) < 200, rng.normal(0, 0.03, 400), rng.uniform(-0.45, 0.45, 400)),
                0.84, 1.7)
    g = np.arange(400) % 2
    q = vtc_charge(p, v, vref, g, 1.8)
    fit = fit_vtc(v, vref, g, q, 1.8)
    for k, val in p.items():
        assert fit["params"][k]["value"] == pytest.approx(val, rel=1e-3, abs=1e-18), k
    assert fit["group_weight_ratio"]["sink"] == pytest.approx(280 / 18, rel=1e-3)


def test_tdc_time_zero_above_threshold():
    p = {"t0": 0.1e-9, "t1": 20e-9, "c2": 0.3}
    t = tdc_time(p, np.array([1.6, 1.5, 1.0]), 1.5)
    assert t[0] == 0.0 and t[1] == 0.0 and t[2] == pytest.approx(0.1e-9 + 20e-9 * 0.5 * 1.15)


@pytest.mark.parametrize("point, match", [
    ({"v": [1.0] * 3, "vref": [1.0] * N_CH}, "shape"),
    ({"v": [float("nan")] * N_CH, "vref": [1.0] * N_CH}, "finite"),
    ({"v": [2.5] * N_CH, "vref": [1.0] * N_CH}, r"\[0, 1.8\]"),
    ({"vref": [1.0] * N_CH}, "needs 'v'"),
])
def test_bad_levels_are_rejected(point, match):
    with pytest.raises(ParameterError, match=match):
        VtcTestbench(n_ch=N_CH).normalize(point)


def test_bad_design_is_rejected():
    with pytest.raises(ParameterError, match=r"TADesign.i0=-1e-06 is out of range; allowed: number in \(0, 0.001\] A"):
        TADesign(i0=-1e-6)
    with pytest.raises(ParameterError, match="TADesign.vmid=1.9 must be below vdd=1.8 V"):
        TADesign(vmid=1.9)
    with pytest.raises(ParameterError, match="n_sub x groups"):
        AccumulatorTestbench(n_ch=5)


# -- the shipped behavioral model ------------------------------------------------------------
@pytest.fixture(scope="module")
def model():
    return TimeAccumulatorModel.load()


def test_model_reproduces_held_out_spice_columns(model):
    """Whole columns at the macro's levels, simulated in SPICE at calibration time and not used by
    any fit: the model chain (VTC charges -> accumulator -> TDC) gives their stop time within
    8 LSB (stated tolerance; 3.1 LSB RMS, 4.9 max measured, see the README)."""
    ch = model.calibration.section("chain_held_out")
    assert len(ch["v"]) >= 2
    d = model.design
    for v, vref, t in zip(ch["v"], ch["vref"], ch["t_stop_spice"]):
        if not np.isfinite(t):  # beyond the counter's full scale: no stop edge to compare
            continue
        out = model.convert(np.reshape(v, (d.n_sub, d.groups)), np.reshape(vref, (d.n_sub, d.groups)))
        assert abs(out["t_stop"] - t) / d.t_lsb < 8


def test_model_zero_signal_and_sign(model):
    """V = V_ref on every channel (zero product): the code lies in the upper half (vhi is set so
    the default macro workload, whose offset-binary pedestal is negative, lands mid-scale: see
    tests/test_macro.py); a positive product (V below V_ref) lowers the accumulator and raises
    the code."""
    d = model.design
    vref = np.full((d.n_sub, d.groups), 1.5)
    zero = model.convert(vref, vref)["code"]
    pos = model.convert(vref - 0.005, vref)["code"]
    assert 128 <= zero <= 250 and pos > zero


def test_order_charge_limits():
    """Crossing-order term: channels crossing together count each other half (overlapping
    pulses); channels crossing far apart count fully in ramp order."""

    q = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([1.0, 16.0])
    same = np.full((2, 2), 1.5)
    f_same = order_charge(q, same, same, np.arange(2), dw=0.05)
    wf, qf = np.tile(w, 2), q.ravel()
    assert f_same == pytest.approx(0.5 * (wf.sum() * qf.sum() - (wf * qf).sum()))
    lv = np.array([[1.6, 1.4], [1.2, 1.0]])  # crossing order: ch0, ch1, ch2, ch3 (0.2 V apart)
    f_far = order_charge(q, lv, lv, np.arange(2), dw=0.05)
    before = np.cumsum(qf) - qf
    assert f_far == pytest.approx((wf * before).sum())


def test_accumulator_order_and_level_terms_are_needed(model):
    """On held-out whole columns at the macro's levels, the accumulator model with the crossing-
    order and reference-level terms is several times closer to SPICE than without them."""
    acc = model.calibration.section("accumulator")
    assert acc["held_out"]["rms_pct_fs"] < 1.5
    assert acc["held_out_without_order_and_level_terms"]["rms_pct_fs"] > 3 * acc["held_out"]["rms_pct_fs"]


def test_model_noise_and_mismatch_are_seeded(model):
    d = model.design
    rng = np.random.default_rng(0)
    v = rng.uniform(1.3, 1.5, (64, 4, d.n_sub, d.groups))
    vref = np.full((64, 1, d.n_sub, d.groups), 1.4)
    chip = model.draw_chip(np.random.default_rng(7), 4)
    a = model.convert(v, vref, chip, np.random.default_rng(1))["t_stop"]
    b = model.convert(v, vref, chip, np.random.default_rng(1))["t_stop"]
    c = model.convert(v, vref, chip, np.random.default_rng(2))["t_stop"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert chip.offset_v.shape == (4, d.n_sub, d.groups)
    big = model.draw_chip(np.random.default_rng(3), 4000)
    assert np.std(big.offset_v[..., 1]) == pytest.approx(model.sigma_offset[1], rel=0.05)


@pytest.mark.parametrize("v, match", [
    (np.full((3, 5), 1.4), "trailing axes"),
    (np.full((8, 2), np.nan), "NaN"),
    (np.full((8, 2), 2.0), r"\[0, 1.8\]"),
])
def test_model_rejects_bad_levels(model, v, match):
    with pytest.raises(ParameterError, match=match):
        model.convert(v, np.full((8, 2), 1.4))


def test_model_rejects_bad_chip_use(model):
    with pytest.raises(ParameterError, match="n_out"):
        model.draw_chip(np.random.default_rng(0), 0)
    chip = model.draw_chip(np.random.default_rng(0), 3)
    with pytest.raises(ParameterError, match="3 columns"):
        model.convert(np.full((2, 4, 8, 2), 1.4), np.full((2, 1, 8, 2), 1.4), chip)


def test_a_chip_on_fewer_sub_arrays_uses_its_first_ones(model):
    """A slice of 2 sub-arrays on a chip drawn for the design's 8: the charges are those of the
    chip's first 2 sub-arrays (offsets and per-sign gains alike)."""
    d = model.design
    chip = model.draw_chip(np.random.default_rng(4), 3)
    rng = np.random.default_rng(5)
    v = rng.uniform(1.3, 1.6, (2, 3, d.n_sub, d.groups))
    vref = rng.uniform(1.3, 1.6, (2, 1, d.n_sub, d.groups))
    full = model.charges(v, vref, chip)
    part = model.charges(v[..., :2, :], vref[..., :2, :], chip)
    np.testing.assert_allclose(part, full[..., :2, :], rtol=1e-12)
    assert not np.allclose(part, model.charges(v[..., :2, :], vref[..., :2, :]), rtol=1e-3, atol=0)


# -- the VTC input as a load of its floating column line ---------------------------------------
def test_vtc_input_kick_and_capacitance_against_fresh_spice(model):
    """A level between the characterized ones (1.55 V, V_ref 50 mV above), resolved devices: on a
    floating 2 pF line the VTC's charge is that of an ideal source at a lower level (the input pair's
    tail follows the falling ramp and pulls the line down through C_gs before the decision); the
    equivalent charge taken from the line is positive, below the 2.4..2.5 fC the input takes until its
    output has switched, and within the calibration's held-out maximum of its linear fit (the effect
    is < 1.1 mV on 2 pF, near the resolution of the 10 ps transient step). The input capacitance while the ramp
    waits at vdd is a few fF and rises as V nears vdd (the input device turns on)."""
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.characterize import (VTC_INPUT_C_LINE,
                                                                                       VTC_INPUT_DV, VTC_INPUT_PROBE)
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import VtcInputTestbench

    d, v = model.design, 1.55
    pts = [{"v": v + dv, "vref": v + VTC_INPUT_DV} for dv in (-VTC_INPUT_PROBE, 0.0, VTC_INPUT_PROBE)]
    pts += [{"v": v, "vref": v + VTC_INPUT_DV, "c_line": VTC_INPUT_C_LINE}, {"v": 1.25, "vref": 1.3}]
    res = run_sweep(VtcInputTestbench(design=d, resolve_devices=True), points=pts)
    assert all(r.ok for r in res.records)
    qm, q0, qp, qf, low = (r.measures for r in res.records)
    dv_eq = (qf["q"] - q0["q"]) / ((qp["q"] - qm["q"]) / (2 * VTC_INPUT_PROBE))
    q_eff = -dv_eq * VTC_INPUT_C_LINE
    assert 0 < q_eff < 2.6e-15
    held = model.calibration.section("vtc_input")["held_out"]["max_pct_fs"] / 100
    q_at_c0 = model.kick_q0 + model.kick_q1 * (d.vdd - 1.5)
    assert abs(q_eff - (model.kick_q0 + model.kick_q1 * (d.vdd - v))) < held * q_at_c0
    assert 1e-15 < low["c_in"] < q0["c_in"] < 10e-15


def test_the_vtc_input_load_from_the_column_reset_level_against_fresh_spice(model):
    """A level between the characterized ones (1.55 V): the charge the input takes as its line falls
    from vdd (the column reset level, where the comparator is balanced against the held ramp and its
    input pair's gate capacitance is largest) to V, / (vdd - V), exceeds the small-signal capacitance
    at V, and matches the calibration's linear c_swing(V) within 3x its held-out maximum error (1.9 %
    RMS, 2.4 % max). The macro ends the data lines on c_swing at V_C0 (5.4 fF)."""
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import VtcInputTestbench

    d, v = model.design, 1.55
    pt = [{"v": v, "vref": v + 0.05}]
    swing, small = run_sweeps([(VtcInputTestbench(design=d, resolve_devices=True, dv=v - d.vdd), pt),
                               (VtcInputTestbench(design=d, resolve_devices=True), pt)])
    c_sw, c_ss = swing.records[0].measures["c_in"], small.records[0].measures["c_in"]
    sec = model.calibration.section("vtc_input")["swing"]
    fit = sec["fit"]["s0"] + sec["fit"]["s1"] * (d.vdd - v)
    assert c_sw > 1.2 * c_ss
    assert abs(c_sw - fit) < 3 * sec["held_out"]["max_pct"] / 100 * sec["fit"]["c_swing_f"]
    assert model.c_end == pytest.approx(sec["fit"]["c_swing_f"]) and 4e-15 < model.c_end < 7e-15


def test_kicked_levels_is_charge_over_the_line_capacitance(model):
    d = model.design
    v = np.array([1.2, 1.6])
    out = model.kicked_levels(v, 2e-12)
    assert np.allclose(v - out, (model.kick_q0 + model.kick_q1 * (d.vdd - v)) / 2e-12)
    assert np.allclose(model.kicked_levels(v, np.array([1e-13, 1e-12])) - v,
                       -(model.kick_q0 + model.kick_q1 * (d.vdd - v)) / np.array([1e-13, 1e-12]))


# -- the output range (TDC charge-up current x stop threshold) -------------------------------------
def test_output_range_at_the_design_setting_is_the_column_fit(model):
    t0, t1, c2 = model.tdc_transfer(None, model.design.vhi)
    assert (t0[0], t1[0], c2[0]) == (model.p_tdc["t0"], model.p_tdc["t1"], model.p_tdc["c2"])
    assert model.tdc_currents == (0.5, 1.0, 2.0)
    lo, hi = model.threshold_range()
    assert lo < model.design.vhi < hi
    with pytest.raises(ParameterError, match="tdc_current=3.*characterized: 0.5, 1, 2"):
        model.tdc_transfer(3.0, 1.5)
    with pytest.raises(ParameterError, match=r"stop threshold 1.7.*characterized: 1.12..1.62 V"):
        model.tdc_transfer(1.0, 1.7)


def test_output_range_settings_against_fresh_spice(fresh_cache, model):
    """A setting between the characterized thresholds (interpolated) and a lower charge-up
    current, each against a fresh standalone TDC run: the model is the whole-column fit plus the
    standalone change, so it is compared as a change from the design's setting, within the
    held-out accuracy the calibration records for the neighbouring settings (x 1.25 for the
    interpolation and the design setting's own residual); the half current's slope is measured,
    not assumed (1.40x codes per volt)."""
    from dataclasses import replace

    settings = model.calibration.section("output_range")["settings"]

    def held_out_max(md, vhi):  # % of the full-scale time, the settings at md within 0.1 V
        return max(st["standalone"]["held_out"]["max_pct_fs"] for st in settings
                   if st["tdc_current"] == md and abs(st["vhi"] - vhi) <= 0.1 + 1e-9)

    d = model.design
    lv = lambda vhi: np.linspace(vhi - 0.3, vhi - 0.03, N_CH)  # noqa: E731
    cases = [(1.0, d.vhi), (1.0, 1.37), (0.5, d.vhi)]
    res = {c: run_sweep(TdcTestbench(design=replace(d, md=c[0], vhi=c[1]), n_ch=N_CH), points=[{"v_init": lv(c[1])}])
           .records[0].measures["t_stop"] for c in cases}
    ref_spice = res[cases[0]]
    ref_model = tdc_time(model.p_tdc, lv(d.vhi), d.vhi)
    for md, vhi in cases[1:]:
        t0, t1, c2 = model.tdc_transfer(md, vhi)
        m = tdc_time({"t0": t0[0], "t1": t1[0], "c2": c2[0]}, lv(vhi), vhi)
        ok = np.isfinite(res[md, vhi]) & np.isfinite(ref_spice)
        err = (m - ref_model)[ok] - (res[md, vhi] - ref_spice)[ok]
        tol = 1.25e-2 * max(held_out_max(md, vhi), held_out_max(1.0, d.vhi) * 0.25) * d.t_tdc
        assert np.max(np.abs(err)) < tol, (md, vhi, tol, err)
    t1_half = model.tdc_transfer(0.5, d.vhi)[1][0]
    assert 1.3 < t1_half / model.p_tdc["t1"] < 1.5


def _pwl_points(line: str) -> np.ndarray:
    vals = [float(v) for v in line.split("pwl(")[1].rstrip(")").split()]
    return np.array(vals).reshape(-1, 2)


def test_back_to_back_phases_repeat_every_conversion():
    """Two conversions: every phase of the second is the first's shifted by t_total, and between
    them the previous TDC phase ends as the reset begins (one edge). One conversion gives the
    single-conversion testbench's phases."""
    d = TADesign()
    ph1, ph2 = _phases(d, 1), _phases(d, 2)

    def level(pts, t):
        return np.interp(t, pts[:, 0], pts[:, 1])

    T, e, vdd = d.t_total, d.t_edge, d.vdd
    for name in ("rstb", "rst", "run", "conv"):
        p1, p2 = _pwl_points(ph1[name]), _pwl_points(ph2[name])
        assert np.all(np.diff(p2[:, 0]) > 0), name  # time points strictly increasing
        for t in np.linspace(e, T - e, 97):  # away from the wrap edge: the same level a cycle later
            assert level(p2, t + T) == pytest.approx(level(p1, t), abs=1e-12), (name, t)
    rst = _pwl_points(ph2["rst"])
    conv = _pwl_points(ph2["conv"])
    hi, lo = pytest.approx(vdd, abs=1e-6), pytest.approx(0.0, abs=1e-6)
    assert level(rst, T + e) == hi and level(rst, T + d.t_reset - 2 * e) == hi  # reset high for t_reset - 2 edges
    assert level(rst, T + d.t_reset - e / 2) < vdd / 2
    assert level(conv, T - e / 2) == hi and level(conv, T + e) == lo  # the previous TDC phase ends at T
    assert level(_pwl_points(ph2["run"]), T + d.t_run + 2 * e) == hi  # the second ramp starts on time


@pytest.mark.slow
def test_pipelined_testbench_first_conversion_is_the_single_one(fresh_cache):
    """The back-to-back testbench's first conversion starts from the same operating point as the
    single-conversion testbench: the same accumulator voltage at TDC start (within 0.1 mV, the
    solver's steps differ over the longer run) and the second conversion's start state measured."""
    d = TADesign()
    rng = np.random.default_rng(11)
    pt = {"v": 1.5 + rng.normal(0, 0.015, 16), "vref": np.full(16, 1.5)}
    one = run_sweep(AccumulatorTestbench(design=d, resolve_devices=True), points=[pt]).records[0]
    two = run_sweep(PipelinedColumnTestbench(design=d, resolve_devices=True), points=[pt]).records[0]
    assert one.ok and two.ok
    assert two.measures["v_acc"][0] == pytest.approx(one.measures["v_acc"], abs=1e-4)
    assert two.measures["v_ramp_start"][0] == pytest.approx(d.vdd, abs=5e-3)
    assert two.measures["v_acc_start"][0] == pytest.approx(d.vmid, abs=1e-3)
    assert np.all(np.isfinite(two.measures["v_ramp_start"])) and two.measures["v_ramp_end"][1] < d.vdd / 2


# -- the pump study (scripts/ta_pump_study.py) ------------------------------------------------------
def test_pump_study_decks_make_the_stated_edits():
    """The study's alternatives are edits of the shipped netlist: a cascode between each mirror and
    its switches (gates on named ideal references), scaled switch widths, the accumulator and dump
    nodes at the chosen levels, and the whole column's dump node on an ideal unity buffer."""
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.pump_study import (PumpStudyColumnTestbench,
                                                                                    PumpStudyVtcTestbench)
    shipped = VtcTestbench().body({})
    assert PumpStudyVtcTestbench().body({}) == shipped  # no edit: the shipped deck
    b = PumpStudyVtcTestbench(cascode=(1.1, 0.25), switch_scale=(0.5, 0.25), v_acc=0.9, v_dump=0.8).body({})
    assert b.count("xkn nc vcn ns vss") == 1 and b.count("xkp pc vcp ps vdd") == 1  # in the VTC subcircuit
    assert len(re.findall(r" vdum vbn vbp vcn vcp vdd 0 aimc_ta_vtc", b)) == 16
    assert re.search(r"^vcn vcn 0 1.1$", b, re.M) and re.search(r"^vcp vcp 0 0.25$", b, re.M)
    assert "* ideal references" in b
    assert re.search(r"^xss acc pa nc vss \S+ w=\{0.42\*mg\}", b, re.M)
    assert re.search(r"^xsp acc nd pc vdd \S+ w=\{0.63\*mg\}", b, re.M)
    assert re.findall(r"^vacc\d+ acc\d+ 0 (\S+)$", b, re.M) == ["0.9"] * 16
    assert re.findall(r"^vdum vdum 0 (\S+)$", b, re.M) == ["0.8"]
    col = PumpStudyColumnTestbench(track_dump=True).body({})
    assert re.search(r"^evdum vdum 0 acc 0 1$", col, re.M) and not re.search(r"^vdum vdum", col, re.M)
    # isolation: each channel on its own bias cell and / or ramp generator
    for share, n_bias, n_ramp, line in (("ramp", 17, 1, "xv5 v5 vref5 ramp acc5 vdum vbn5 vbp5 "),
                                        ("bias", 1, 17, "xv5 v5 vref5 ramp5 acc5 vdum vbn vbp "),
                                        ("none", 17, 17, "xv5 v5 vref5 ramp5 acc5 vdum vbn5 vbp5 ")):
        b = PumpStudyVtcTestbench(share=share).body({})
        assert len(re.findall(r" aimc_ta_bias i0=", b)) == n_bias and len(re.findall(r" aimc_ta_ramp mr=", b)) == n_ramp
        assert line in b, share
    assert "xr5 ramp5 rstb run vbn5 " in PumpStudyVtcTestbench(share="none").body({})
    b = PumpStudyVtcTestbench(bias_decap_um=30.0).body({})
    assert re.search(r"^xdcn vbn 0 sky130_fd_pr__cap_mim_m3_1 w=30 l=30$", b, re.M)
    assert re.search(r"^xdcp vbp vdd sky130_fd_pr__cap_mim_m3_1 w=30 l=30$", b, re.M)


@pytest.mark.parametrize("kw, match", [({"v_acc": 2.5}, "v_acc=2.5"), ({"v_dump": 0.0}, "v_dump=0.0"),
                                       ({"cascode": (1.1,)}, "cascode="), ({"switch_scale": (0.0, 1.0)}, "switch_scale="),
                                       ({"switch_scale": (0.25, 1.0)}, "switch_scale=(0.25, 1.0) must be two width factors (nfet, pfet) in 0.5..4"),
                                       ({"share": "ramps"}, "share='ramps'; allowed: both, ramp, bias, none"),
                                       ({"share": "none", "bias_decap_um": 30.0}, "bias_decap_um=30.0")])
def test_pump_study_refuses_bad_settings(kw, match):
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.pump_study import PumpStudyVtcTestbench
    with pytest.raises(ParameterError, match=re.escape(match)):
        PumpStudyVtcTestbench(**kw)


@pytest.mark.slow
def test_dump_node_not_the_mirrors_makes_the_charge_depend_on_the_accumulator(fresh_cache):
    """SPICE (resolved, tt): a group-1 channel's net charge moves by more than 5 % per 0.2 V of the
    accumulator level with the dump node at vmid (the steering node's charge is dumped onto C_acc),
    by less than a third of that with the dump node at the accumulator's level, and cascoded
    mirrors (the output conductance) do not remove it (still more than 5 %)."""
    from dataclasses import replace

    from aimc_circuits.blocks.time_accumulator.pump_single_slope.pump_study import PumpStudyVtcTestbench
    d = replace(TADesign(), vmid=0.95)
    vref = np.linspace(1.35, 1.65, 16)
    pt = {"vref": vref, "v": vref + 0.08 * np.where((np.arange(16) // 2) % 2, 1.0, -1.0)}
    cases = [{}, {"track": True}, {"cascode": (1.10, 0.25)}]
    jobs = []
    for kw in cases:
        kw = dict(kw)
        track = kw.pop("track", False)
        jobs += [(PumpStudyVtcTestbench(design=d, resolve_devices=True, v_acc=va, v_dump=va if track else None, **kw),
                  [dict(pt)]) for va in (d.vmid - 0.2, d.vmid + 0.2)]
    res = run_sweeps(jobs)
    assert all(r.records[0].ok for r in res)
    g1 = np.arange(16) % 2 == 1
    change = [float(np.mean(np.abs(res[2 * k + 1].records[0].measures["q"][g1] / res[2 * k].records[0].measures["q"][g1]
                                   - 1))) for k in range(len(cases))]
    shipped, tracked, cascoded = change
    assert shipped > 0.05 and tracked < shipped / 3 and cascoded > 0.05, change


@pytest.mark.slow
def test_channels_couple_through_the_shared_bias_and_ramp_only(fresh_cache):
    """SPICE (resolved, tt): a group-1 probe channel's charge moves by more than 0.5 fC when the
    column's other channels cross the ramp together with it instead of apart, and by less than
    0.05 fC when every channel has its own bias cell and ramp generator."""
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.pump_study import PumpStudyVtcTestbench
    rng = np.random.default_rng(3)
    pts = []
    for apart in (True, False):
        vref = rng.uniform(1.1, 1.7, 16) if apart else 1.5 + rng.normal(0.0, 0.01, 16)
        v = vref + rng.normal(0.0, 0.018, 16)
        vref[1], v[1] = 1.5, 1.518
        pts.append({"v": v, "vref": vref})
    res = run_sweeps([(PumpStudyVtcTestbench(resolve_devices=True, share=share), pts) for share in ("both", "none")])
    assert all(rec.ok for r in res for rec in r.records)
    moves = [r.records[1].measures["q"][1] - r.records[0].measures["q"][1] for r in res]
    assert abs(moves[0]) > 0.5e-15 and abs(moves[1]) < 0.05e-15, moves
