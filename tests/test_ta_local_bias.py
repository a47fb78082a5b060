"""The time-accumulator variant ``pump_local_bias``: its netlist keeps every switching device off
the column's shared bias lines (checked on the netlist text), and in SPICE its channels barely
couple and it converts back to back (slow)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from aimc_circuits.blocks.time_accumulator.pump_local_bias.design import LocalBiasTADesign
from aimc_circuits.blocks.time_accumulator.pump_single_slope.design import TADesign
from aimc_circuits.paths import netlist_path

SHARED = ("vbn", "vbp")  #: the column's bias lines (one aimc_ta_bias cell per column)
#: the subcircuits that hang on the column's bias lines in a column (the bias cell itself aside)
USERS = ("aimc_ta_vtc", "aimc_ta_ramp", "aimc_ta_tdc", "aimc_ta_lbias")


def subcircuits(text: str) -> dict[str, list[list[str]]]:
    """{name: [element lines as tokens]} of every .subckt in `text`."""
    out, cur = {}, None
    for line in text.splitlines():
        tok = line.split()
        if not tok or line.startswith("*"):
            continue
        if tok[0] == ".subckt":
            cur = out.setdefault(tok[1], [])
        elif tok[0] == ".ends":
            cur = None
        elif cur is not None:
            cur.append(tok)
    return out


def shared_line_loads(name: str) -> list[str]:
    """The elements of netlist `name` on the shared bias lines other than unit feeders of local
    diodes: transistors gated by vbn / vbp whose drain is not a diode-connected node of their
    subcircuit, and subcircuit instances other than aimc_ta_lbias that take vbn / vbp."""
    bad = []
    for sub, elements in subcircuits(netlist_path(name).read_text()).items():
        if sub not in USERS:
            continue
        fets = [t for t in elements if len(t) > 5 and t[5].startswith("sky130_fd_pr__") and "fet" in t[5]]
        diodes = {t[1] for t in fets if t[1] == t[2]}
        for t in fets:
            if t[2] in SHARED and t[1] not in diodes:
                bad.append(f"{sub}.{t[0]} (gate {t[2]}, drain {t[1]})")
        for t in elements:
            cell = next((x for x in t[1:] if x.startswith("aimc_")), None)
            if cell and cell != "aimc_ta_lbias" and set(t[1:t.index(cell)]) & set(SHARED):
                bad.append(f"{sub}.{t[0]} ({cell} on {', '.join(sorted(set(t[1:t.index(cell)]) & set(SHARED)))})")
    return bad


def test_nothing_switching_hangs_on_the_shared_bias_lines():
    """The variant's pumps, comparators, ramp sink and TDC mirror local diodes; the reference
    circuit hangs them all on vbn / vbp (the check finds them there, so it can fail)."""
    assert shared_line_loads(LocalBiasTADesign.netlist) == []
    ref = shared_line_loads(TADesign.netlist)
    assert {"aimc_ta_vtc.xsn (gate vbn, drain ns)", "aimc_ta_vtc.xsq (gate vbp, drain ps)",
            "aimc_ta_ramp.xcs (gate vbn, drain ns)", "aimc_ta_tdc.xsd (gate vbp, drain pd)"} <= set(ref), ref
    assert any("aimc_ta_cmp on vbn" in b for b in ref), ref


def test_design_names_its_netlist_and_keeps_the_ramp_slope_parameters_consistent():
    d, ref = LocalBiasTADesign(), TADesign()
    assert d.netlist == "time_accumulator_local_bias" and netlist_path(d.netlist).is_file()
    assert re.search(r"^\.subckt aimc_ta_lbias ", netlist_path(d.netlist).read_text(), re.M)
    # twice the ramp sink current; the capacitor about twice (its side ~ sqrt 2 x, a little more
    # for the larger reset switch's junction)
    assert d.mr == 2 * ref.mr and 1.7 < (d.cr_w / ref.cr_w) ** 2 < 3.6
    assert d.t_reset > ref.t_reset and d.t_total == pytest.approx(ref.t_total + d.t_reset - ref.t_reset)
    assert np.isclose(d.t_conv - d.t_reset, ref.t_conv - ref.t_reset)


@pytest.mark.slow
def test_channels_barely_couple_and_back_to_back_conversions_agree(fresh_cache):
    """SPICE (resolved, tt): a group-1 probe channel's charge moves by less than 0.4 fC when the
    column's other 14 channels cross the ramp together with it instead of apart (3 draws each;
    the reference circuit: 1.6 fC, `scripts/ta_variant_compare.py`), and a column converting the
    same levels three times back to back, one conversion every t_total with the design's 1 ns
    reset, lands within 1 TDC LSB (2 mV) of the first conversion, which starts from the DC
    operating point."""
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.characterize import _column_levels
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.pump_study import STUDY_OPTIONS, STUDY_TSTEP
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import (PipelinedColumnTestbench,
                                                                                   VtcTestbench)
    from aimc_circuits.spice.sweep import run_sweeps

    d = LocalBiasTADesign()
    n = d.n_sub * d.groups
    rng = np.random.default_rng(17)
    pts = []
    for together in (False, True):
        for _ in range(3):
            vref = 1.5 + rng.normal(0.0, 0.01, n) if together else rng.uniform(1.1, 1.7, n)
            v = vref + rng.normal(0.0, 0.018, n)
            vref[:2], v[:2] = 1.5, (1.5 - 0.018, 1.5 + 0.018)
            pts.append({"v": v, "vref": vref})
    column = _column_levels(np.random.default_rng(4), d.n_sub, d.groups)
    vtc, pipe = run_sweeps([
        (VtcTestbench(design=d, n_ch=n, resolve_devices=True, tstep=STUDY_TSTEP, options=STUDY_OPTIONS), pts),
        (PipelinedColumnTestbench(design=d, resolve_devices=True, conversions=3), [column])])
    assert all(r.ok for r in vtc.records + pipe.records)
    q1 = np.array([r.measures["q"][1] for r in vtc.records])
    assert abs(q1[3:].mean() - q1[:3].mean()) < 0.4e-15, q1
    m = pipe.records[0].measures
    assert np.all(np.abs(m["v_acc"][1:] - m["v_acc"][0]) < 2e-3), m["v_acc"]
    assert np.all(np.abs(m["v_ramp_start"] - m["v_ramp_start"][0]) < 2e-3), m["v_ramp_start"]
    assert np.all(np.abs(m["v_acc_start"] - d.vmid) < 10e-3), m["v_acc_start"]


def test_the_registry_and_the_design_name_the_same_netlist():
    from aimc_circuits.registry import variants

    for v in variants("time_accumulator"):
        assert v.design().netlist == v.netlist, v.id


def test_input_capacitance_testbench_refuses_a_reset_too_short_for_its_window():
    from dataclasses import replace

    from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import VtcInputTestbench
    from aimc_circuits.errors import ParameterError

    VtcInputTestbench(design=LocalBiasTADesign())
    with pytest.raises(ParameterError, match=r"t_reset=1.2e-10 s leaves no window for c_in.*allowed: t_reset > 1.6e-10"):
        VtcInputTestbench(design=replace(TADesign(), t_reset=0.12e-9))
