"""Time accumulator (work in progress, issue #5): netlist, SPICE physics of the VTC and the TDC,
fit recovery, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest

from aimc_circuits.blocks.time_accumulator import AccumulatorTestbench, TADesign, TdcTestbench, VtcTestbench
from aimc_circuits.errors import ParameterError
from aimc_circuits.fit.time_accumulator import fit_tdc, fit_vtc, tdc_time, vtc_charge
from aimc_circuits.paths import netlist_path
from aimc_circuits.spice.sweep import run_sweep

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
    """The pulse lasts from the ramp crossing V_ref to it crossing V: |V_ref - V| / slope, with
    the sign of the product (V < V_ref: positive pulse). 15 % (comparator delays, ramp curvature)."""
    v, vref, m = vtc
    dv = vref - v
    big = np.abs(dv) >= 0.1
    width = np.where(dv > 0, m["t_pos"], m["t_neg"])
    other = np.where(dv > 0, m["t_neg"], m["t_pos"])
    assert np.all(other[big] == 0)
    assert width[big] == pytest.approx(np.abs(dv[big]) / m["ramp_slope"], rel=0.15)
    # the ramp: ~ mr x i0 / C_ramp (MIM 14 x 14 um at ~2 fF/um^2 plus 32 comparator gates): 0.2..0.35 V/ns
    assert 0.2e9 < m["ramp_slope"] < 0.35e9


def test_vtc_charge_carries_sign_and_group_weight(vtc):
    """Charge = pulse width x the pump current 16^g x i0: signed like the product; group 1 pumps
    8..20 x group 0 (16 designed; the measured ratio is recorded in the calibration)."""
    v, vref, m = vtc
    dv = vref - v
    q = np.asarray(m["q"])
    big = np.abs(dv) >= 0.1
    assert np.all(np.sign(q[big]) == np.sign(dv[big]))
    width = m["t_pos"] + m["t_neg"]
    i_eff = q[big] / np.where(dv[big] > 0, 1, -1) / width[big]
    g = GROUP[big]
    i0 = TADesign().i0
    assert np.all((i_eff[g == 0] > 0.7 * i0) & (i_eff[g == 0] < 2.0 * i0))
    ratio = np.median(i_eff[g == 1]) / np.median(i_eff[g == 0])
    assert 8 < ratio < 20


def test_tdc_transfer_monotonic_and_linear():
    """Charge-up TDC: stop time falls with the start level, is 0 above vhi and ~linear in between
    (fit within 2 % of full scale)."""
    d = TADesign()
    lv = np.linspace(0.6, d.vhi + 0.05, N_CH)
    rec = run_sweep(TdcTestbench(n_ch=N_CH), points=[{"v_init": lv}]).records[0]
    assert rec.ok, rec.error
    t = np.asarray(rec.measures["t_stop"])
    assert t[-1] == 0.0
    below = lv < d.vhi - 0.02
    assert np.all(np.diff(t[below]) < 0)
    fit = fit_tdc(lv, t, d.vhi)
    assert fit["fit"]["max_pct_fs"] < 2.0
    # slope ~ C_acc / I_d: 200 fF MIM over ~one unit current (7..12 uA): 15..30 ns/V
    assert 15e-9 < fit["params"]["t1"]["value"] < 30e-9


def test_fit_vtc_recovers_known_parameters():
    rng = np.random.default_rng(1)
    p = {"k0p": 40e-15, "k0n": 35e-15, "k1p": 500e-15, "k1n": 450e-15, "q0p": 1e-15, "q0n": 0.5e-15,
         "q1p": 5e-15, "q1n": 3e-15, "b2": -0.2, "b3": 0.1}
    vref = rng.uniform(0.9, 1.8, 400)
    v = np.clip(vref + rng.uniform(-0.45, 0.45, 400), 0.84, 1.8)
    g = np.arange(400) % 2
    q = vtc_charge(p, v, vref, g, 1.8)
    fit = fit_vtc(v, vref, g, q, 1.8)
    for k, val in p.items():
        assert fit["params"][k]["value"] == pytest.approx(val, rel=1e-3, abs=1e-18)
    assert fit["group_weight_ratio"]["sink"] == pytest.approx(12.5, rel=1e-3)


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
    with pytest.raises(ParameterError, match="i0"):
        TADesign(i0=-1e-6)
    with pytest.raises(ParameterError, match="vmid"):
        TADesign(vmid=1.6)
    with pytest.raises(ParameterError, match="n_sub x groups"):
        AccumulatorTestbench(n_ch=5)
