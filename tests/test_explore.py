"""`aimc explore`: design points, the table and the Pareto front, resuming, re-characterizing
only the blocks whose parameters change, and bad spaces refused by name."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pytest

from aimc_circuits import Macro, MacroConfig
from aimc_circuits.errors import ParameterError
from aimc_circuits.explore import Space, explore, pareto_front
from aimc_circuits.paths import REPO_ROOT

BASE = {"n_chips": 1, "workload_batch": 64}
MACRO = {"tdc_current": [1.0, 2.0], "t_cell_ns": [5.3, 6.3]}


def test_table_metrics_pareto_and_resume(tmp_path):
    """Four macro points: each row is Macro.metrics() of that configuration; the cell phase
    lengthens the latency by exactly its change (the pipelined cycle is the conversion's); the
    table, JSON and plots are written; a rerun evaluates nothing, and a lost point file only
    that point."""
    space = Space.from_dict({"base": BASE, "macro": MACRO})
    rows = explore(space, tmp_path)
    assert [(r["macro.tdc_current"], r["macro.t_cell_ns"]) for r in rows] == [(1.0, 5.3), (1.0, 6.3), (2.0, 5.3), (2.0, 6.3)]
    direct = Macro.from_config(MacroConfig(**BASE, tdc_current=2.0, t_cell_ns=6.3)).metrics()
    for k in ("error_fs_pct", "tops", "tops_per_watt", "tops_per_mm2", "latency_ns"):
        assert rows[3][k] == pytest.approx(direct[k], rel=1e-12), k
    assert rows[1]["latency_ns"] - rows[0]["latency_ns"] == pytest.approx(1.0, abs=1e-9)
    assert rows[1]["tops"] == pytest.approx(rows[0]["tops"], rel=1e-12)
    assert all(r["error"] == "" for r in rows) and any(r["pareto"] for r in rows)
    with open(tmp_path / "explore.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 4 and float(table[3]["error_fs_pct"]) == pytest.approx(rows[3]["error_fs_pct"])
    assert json.loads((tmp_path / "explore.json").read_text())[2]["tops"] == pytest.approx(rows[2]["tops"])
    assert (tmp_path / "pareto_tops_per_watt.png").stat().st_size > 5000
    assert (tmp_path / "pareto_tops_per_mm2.png").stat().st_size > 5000

    lines: list[str] = []
    again = explore(space, tmp_path, progress=lines.append)
    assert again == rows and "(0 evaluated, 4 from" in lines[-1]
    sorted((tmp_path / "points").glob("*.json"))[0].unlink()
    lines.clear()
    explore(space, tmp_path, progress=lines.append)
    assert "(1 evaluated, 3 from" in lines[-1]


def test_an_invalid_point_is_recorded_and_the_rest_goes_on(tmp_path):
    """A cell phase shorter than the calibrated settling is refused by the macro: that row carries
    the error, the others their metrics; it is never on the Pareto front."""
    rows = explore(Space.from_dict({"base": BASE, "macro": {"t_cell_ns": [4.0, 5.3]}}), tmp_path)
    assert "t_cell_ns=4.0" in rows[0]["error"] and rows[0]["error_fs_pct"] is None and not rows[0]["pareto"]
    assert rows[1]["error"] == "" and rows[1]["pareto"]


def test_pareto_front():
    rows = [{"error_fs_pct": 1.0, "tops_per_watt": 10, "tops_per_mm2": 1.0},   # front: best error
            {"error_fs_pct": 2.0, "tops_per_watt": 20, "tops_per_mm2": 1.0},   # front: best TOPS/W
            {"error_fs_pct": 2.0, "tops_per_watt": 15, "tops_per_mm2": 1.0},   # dominated by 1
            {"error_fs_pct": 3.0, "tops_per_watt": 5, "tops_per_mm2": 2.0},    # front: best TOPS/mm2
            {"error_fs_pct": 1.0, "tops_per_watt": 10, "tops_per_mm2": 1.0},   # equal to 0: both stay
            {"error_fs_pct": None, "tops_per_watt": 99, "tops_per_mm2": 9.0}]  # failed point
    assert pareto_front(rows) == [True, True, False, True, True, False]


def test_only_the_blocks_whose_parameters_change_are_recharacterized(tmp_path):
    """row_driver nrep 32 (its shipped design) and 48 x two macro points: one characterization,
    of the row driver with nrep = 48, into a directory that holds the other blocks' shipped
    files; the nrep = 32 points use the shipped calibrations. A rerun characterizes nothing."""
    calls = []

    def fake(variant, params, profile, out_dir, progress):  # stands in for the SPICE characterization
        calls.append((variant.id, params, profile))
        dst = variant.calibration_path(out_dir)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(variant.calibration_path(None), dst)
        return [dst]

    space = Space.from_dict({"base": BASE, "macro": {"tdc_current": [1.0, 2.0]},
                             "blocks": {"row_driver": {"nrep": [32, 48]}}})
    rows = explore(space, tmp_path, characterize=fake)
    assert calls == [("row_driver/dac_follower", {"nrep": 48}, "fast")]
    (cdir,) = (tmp_path / "calibrations").iterdir()
    assert sorted(p.relative_to(cdir).as_posix() for p in cdir.rglob("*.json")) == [
        "cell/mom_bottom_plate.json", "done.json", "row_driver/dac_follower.json",
        "time_accumulator/pump_single_slope.json"]
    assert [r["row_driver.nrep"] for r in rows] == [32, 32, 48, 48] and all(r["error"] == "" for r in rows)
    # the same calibration content: the same metrics (the copy stands in for a real re-fit)
    assert rows[2]["error_fs_pct"] == pytest.approx(rows[0]["error_fs_pct"], rel=1e-12)
    for p in (tmp_path / "points").glob("*.json"):
        p.unlink()
    explore(space, tmp_path, characterize=fake)
    assert len(calls) == 1


@pytest.mark.slow
def test_a_changed_row_driver_is_characterized_in_spice(tmp_path, fresh_cache):
    """The real path: the row driver with twice the replica bias, fast profile, from SPICE. Its
    calibration records the design; more bias current costs row-driver energy."""
    space = Space.from_dict({"base": BASE, "blocks": {"row_driver": {"nrep": [32, 64]}}})
    rows = explore(space, tmp_path)
    (cdir,) = (tmp_path / "calibrations").iterdir()
    cal = json.loads((cdir / "row_driver" / "dac_follower.json").read_text())
    assert cal["design"]["nrep"] == 64 and "nrep=64" in cal["provenance"]["command"]
    assert rows[1]["energy_per_vmm_pj"] > rows[0]["energy_per_vmm_pj"]


@pytest.mark.parametrize("space, message", [
    ({"macro": {"tdc_current": [1.0]}, "grid": {}}, r"unknown table \[grid\]"),
    ({"macro": {"rows_per_subarry": [64]}}, r"'rows_per_subarry' is not a MacroConfig field.*rows_per_subarray"),
    ({"macro": {"tdc_current": 1.0}}, r"macro.tdc_current=1.0 must be a non-empty list"),
    ({"macro": {"tdc_current": []}}, r"macro.tdc_current=\[\] must be a non-empty list"),
    ({"macro": {"n_outputs": [0]}}, r"the point \{'n_outputs': 0\} is not a valid macro"),
    ({"blocks": {"rowdriver": {"nrep": [8]}}}, r"\[blocks.rowdriver\] is not a block family.*row_driver"),
    ({"blocks": {"row_driver": {"nrepp": [8]}}}, r"blocks.row_driver.nrepp is not a design parameter.*nrep"),
    ({"blocks": {"row_driver": {"nrep": [0]}}}, r"nrep"),
    ({"settings": {"profile": "quick"}}, r"settings.profile='quick'; allowed: fast, full"),
    ({"settings": {"chips": 3}}, r"unknown \[settings\] key\(s\) \['chips'\]"),
    ({"macro": 5}, r"\[macro\] must be a table"),
    ({"blocks": {"row_driver": [32]}}, r"blocks.row_driver must be a table"),
])
def test_bad_spaces_are_refused_by_name(space, message):
    with pytest.raises(ParameterError, match=message):
        Space.from_dict(space)


def test_the_shipped_example_space_is_valid_and_the_command_refuses_a_missing_file(tmp_path):
    space = Space.load(REPO_ROOT / "configs" / "explore_example.toml")
    assert len(space.block_points()) * len(space.macro_points()) >= 8 and space.blocks
    proc = subprocess.run([sys.executable, "-m", "aimc_circuits.cli", "explore", str(tmp_path / "nope.toml")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "nope.toml' is not a file" in proc.stderr
