"""Bad configurations, files and environments get a clear error or a warning naming the value and
what is allowed (the cases of docs/robustness.md not covered by the block and macro tests)."""
from __future__ import annotations

import numpy as np
import pytest

from aimc_circuits import Macro, MacroConfig, Nonidealities
from aimc_circuits.calibrate import calibrate
from aimc_circuits.cli import main
from aimc_circuits.errors import AimcError, ParameterError
from aimc_circuits.paths import cache_dir
from aimc_circuits.spice.cache import PointCache


@pytest.mark.parametrize("kw, match", [
    ({"calibration_dir": 5}, r"calibration_dir=5 must be a directory path"),
    ({"t_cell_ns": float("inf")}, r"t_cell_ns=inf must be a finite time > 0 ns"),
    ({"t_conversion_ns": float("inf")}, r"t_conversion_ns=inf must be a finite time > 0 ns"),
    ({"t_cell_ns": float("nan")}, r"t_cell_ns=nan must be a finite time"),
    ({"unit_cap_f": -1e-15}, r"unit_cap_f=-1e-15 must be a finite number > 0"),
    ({"n_threads": 0}, r"n_threads=0 must be an integer in 1\.\.256"),
    ({"design_trim_seed": -1}, r"design_trim_seed=-1 must be an integer >= 0"),
    ({"allow_edited_calibration": "yes"}, r"allow_edited_calibration='yes' must be true or false"),
])
def test_bad_config_values(kw, match):
    with pytest.raises(ParameterError, match=match):
        MacroConfig(**kw)


def test_config_file_that_is_a_directory_or_not_text(tmp_path):
    with pytest.raises(ParameterError, match="is a directory, not a TOML file"):
        MacroConfig.load(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("n_outputs = 64 # \xe9\n".encode("latin-1"))
    with pytest.raises(ParameterError, match=r"is not UTF-8 text \((invalid start byte|invalid continuation byte) at byte 17\)"):
        MacroConfig.load(bad)
    bad.write_text("calibration_dir = 5\n")
    with pytest.raises(ParameterError, match="calibration_dir=5"):
        MacroConfig.load(bad)


@pytest.mark.parametrize("kw, match", [
    ({"rows_per_subarray": 1024}, r"rows_per_subarray=1024: the cell model was fitted on columns of 4\.\.128 rows"),
    ({"n_inputs": 8, "rows_per_subarray": 1}, r"rows_per_subarray=1: the cell model was fitted on columns of 4\.\.128"),
    ({"n_outputs": 8}, r"n_outputs=8: the row driver's settling model was fitted on row loads of 64\.\.512 columns"),
    ({"n_outputs": 1024}, r"n_outputs=1024: .* row loads of 64\.\.512 columns"),
])
def test_extrapolation_warns_with_the_characterized_range(kw, match):
    with pytest.warns(UserWarning, match=match):
        Macro.from_config(MacroConfig(**kw))


def test_no_extrapolation_warning_where_the_effect_is_off():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Macro.from_config(MacroConfig(n_outputs=8, rows_per_subarray=16, n_inputs=128,
                                      nonidealities=Nonidealities.only("quantization", "vtc_noise")))


def test_cache_directory_that_is_a_file_or_cannot_be_made(tmp_path, monkeypatch):
    f = tmp_path / "file"
    f.write_text("x")
    monkeypatch.setenv("AIMC_CACHE_DIR", str(f))
    with pytest.raises(ParameterError, match=r"AIMC_CACHE_DIR=.*file' is a file, not a directory"):
        cache_dir()
    monkeypatch.setenv("AIMC_CACHE_DIR", str(f / "sub"))
    with pytest.raises(ParameterError, match=r"AIMC_CACHE_DIR=.*sub' cannot be created"):
        cache_dir()


def test_sweep_cache_that_cannot_take_a_point(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(AimcError, match=r"cannot write a finished point to the sweep cache .*AIMC_CACHE_DIR"):
        PointCache(f).put("ab" * 32, {"ok": True})


def test_calibrate_out_that_is_a_file(tmp_path):
    f = tmp_path / "out.json"
    f.write_text("{}")
    with pytest.raises(ParameterError, match=r"--out .*out\.json is a file; give a directory"):
        calibrate("cell", "fast", out_dir=f)


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    assert main(["metrics", "--config", str(tmp_path)]) == 1
    assert "is a directory, not a TOML file" in capsys.readouterr().err
    assert main(["pdk", "install", "--wheel", str(tmp_path / "nope.whl")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["calibrate", "--block", "row-driver"]) == 1
    assert "Did you mean 'row_driver'" in capsys.readouterr().err


def test_vmm_without_rng_is_noise_free_and_said_so(capsys):
    m = Macro.from_config(MacroConfig(n_inputs=256, n_outputs=64, rows_per_subarray=32))
    x = np.random.default_rng(0).integers(0, 256, (16, 256))
    w = np.random.default_rng(1).integers(-128, 128, (256, 64))
    assert np.array_equal(m.vmm(x, w), m.vmm(x, w))
    assert not np.array_equal(m.vmm(x, w, rng=np.random.default_rng(2)), m.vmm(x, w))
    assert "None: noise off" in Macro.vmm.__doc__


def test_report_writes_figures_and_html(tmp_path):
    """`aimc report`: the PNG figures and an HTML summary with the metrics, the error budget and
    every calibration's file and checksum."""
    out = tmp_path / "rep"
    assert main(["report", "--out", str(out), "--chips", "1", "--batch", "32", "--quiet"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["blocks.png", "energy.png", "error.png", "error_budget.png", "index.html"]
    assert all((out / n).read_bytes()[:4] == b"\x89PNG" for n in names if n.endswith(".png"))
    page = (out / "index.html").read_text()
    for text in ("throughput (TOPS)", "vtc_noise", "mom_bottom_plate.json", "dac_follower.json",
                 "pump_single_slope.json", "AiDAC"):
        assert text in page, text
    (tmp_path / "file").write_text("x")
    assert main(["report", "--out", str(tmp_path / "file"), "--quiet"]) == 1
