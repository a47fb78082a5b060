"""Area estimate: the netlist reader, the footprint rules and their overheads, the macro's area."""
from __future__ import annotations

import warnings

import pytest

from aimc_circuits import Macro, MacroConfig, ParameterError
from aimc_circuits.area import (HD_INV1_UM2, INVERTER_RULE_UM2, OVERHEAD, NetlistPart, device_area_um2,
                                parts_area_um2, subckt_area_um2)
from aimc_circuits.paths import netlist_path


def test_the_digital_overhead_reproduces_the_hd_inverter():
    """The rule's device area of sky130_fd_sc_hd__inv_1 (nfet 0.65 / 0.15, pfet 1.0 / 0.15) times
    the digital overhead is its LEF size, 1.38 x 2.72 um; analog is twice that factor."""
    inv = netlist_path("inverter").read_text()
    fp = subckt_area_um2(inv, "aimc_inv", {"wn": 0.65, "wp": 1.0})
    assert fp.mosfet == pytest.approx(INVERTER_RULE_UM2)
    assert fp.with_overhead("digital") == pytest.approx(HD_INV1_UM2) == pytest.approx(3.7536)
    assert OVERHEAD["analog"] == pytest.approx(2 * OVERHEAD["digital"])


def test_cell_group_devices_by_hand():
    """aimc_cell_group4: 15 MOM units of 1.8 x 1.8 um and 12 switches (TG widths 0.42 x 2^(k//2))."""
    text = netlist_path("cell").read_text()
    fp = subckt_area_um2(text, "aimc_cell_group4", {"wn": 0.42, "wp": 0.42, "wg": 0.42, "l": 0.15})
    assert fp.mom == pytest.approx(15 * 1.8 * 1.8)
    mos = lambda w: (0.15 + 2 * 0.42) * (w + 2 * 0.235)  # noqa: E731
    want = sum(2 * mos(0.42 * 2 ** (k // 2)) + mos(0.42) for k in range(4))
    assert fp.mosfet == pytest.approx(want)


def test_instance_multipliers_and_nested_subcircuits_count():
    """A row segment holds m = ncell cell groups (ngspice ignores that multiplier for the library
    devices inside; the area counts every one); a mult=N m=N device counts N times, not N^2."""
    rd = netlist_path("row_driver").read_text() + netlist_path("cell").read_text()
    one = subckt_area_um2(netlist_path("cell").read_text(), "aimc_cell_group4")
    seg = subckt_area_um2(rd, "aimc_row_seg", {"ncell": 8})
    assert seg.devices == pytest.approx(8 * one.devices)
    drv = subckt_area_um2(rd, "aimc_row_driver")
    unit = device_area_um2("sky130_fd_pr__pfet_01v8", {"w": 0.84, "l": 2.0}).mosfet
    assert drv.mosfet > 255 * unit and drv.mosfet < 1.6 * (255 + 48 + 32) * unit


def test_bad_parts_are_refused_by_name():
    text = netlist_path("cell").read_text()
    with pytest.raises(ParameterError, match="subcircuit 'aimc_nope' not in the netlist"):
        subckt_area_um2(text, "aimc_nope")
    with pytest.raises(ParameterError, match="no area rule"):
        device_area_um2("sky130_fd_pr__diode_pw2nd_05v5", {})
    with pytest.raises(ParameterError, match="part kind 'rf'"):
        parts_area_um2([NetlistPart("x", "cell", "aimc_col_reset", kind="rf")])


def test_macro_area_scales_with_the_array_and_enters_the_metrics(reference_metrics):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = Macro.default().area()
        half = Macro.from_config(MacroConfig(n_outputs=128)).area()
    assert ref["total"] == pytest.approx(ref["cells"] + ref["row_drivers"] + ref["time_accumulators"])
    assert half["time_accumulators"] == pytest.approx(ref["time_accumulators"] / 2)
    assert half["cells"] == pytest.approx(ref["cells"] * 129 / 257, rel=1e-3)  # the reference column stays
    assert half["row_drivers"] == pytest.approx(ref["row_drivers"])
    m = reference_metrics
    assert m["area_mm2"]["total"] == pytest.approx(ref["total"])
    assert m["tops_per_mm2"] == pytest.approx(m["tops"] / ref["total"])


def test_docs_area_table_is_the_reference_macro():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "area.md").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = Macro.default().area()
    rows = re.findall(r"^\| (cell|row driver|time accumulator) \| (.+?) \| ([\d.]+) \|$", text, re.MULTILINE)
    assert len(rows) == sum(len(v) for v in a["parts_um2"].values())
    for block, part, mm2 in rows:
        assert float(mm2) == pytest.approx(a["parts_um2"][block.replace(" ", "_")][part] * 1e-6, abs=6e-4)
    total = float(re.search(r"\*\*total\*\* \| \| \*\*([\d.]+)\*\*", text).group(1))
    assert total == pytest.approx(a["total"], abs=6e-4)


@pytest.mark.parametrize("variant", __import__("aimc_circuits.registry", fromlist=["variants"]).variants(),
                         ids=lambda v: v.id)
def test_every_registered_variant_lists_its_area_parts(variant):
    units = variant.area_parts_function()(variant.design()())
    want = {"cell": {"cell_group", "column_reset"}, "row_driver": {"row"}, "time_accumulator": {"column"}}[variant.family]
    assert set(units) == want
    for parts in units.values():
        assert all(a > 0 for a in parts_area_um2(parts).values())
