"""Calibration files: schema, checksum (a hand-edited value is refused by name, or accepted
deliberately), physical ranges, no silent defaults; the evaluator's layers (no fitting, plotting
or SPICE modules imported to evaluate)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

from aimc_circuits import Macro, MacroConfig
from aimc_circuits.calibration_file import EDITED_ENV, CalibrationError, reseal
from aimc_circuits.cli import main
from aimc_circuits.registry import get_variant


def copy_calibrations(tmp_path) -> dict[str, dict]:
    """The shipped calibrations copied under tmp_path/<family>/<variant>.json; returns their data."""
    out = {}
    for family in ("cell", "row_driver", "time_accumulator"):
        v = get_variant(family)
        data = json.loads(v.calibration_path().read_text())
        dst = v.calibration_path(tmp_path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(json.dumps(data, indent=1))
        out[family] = data
    return out


def write(tmp_path, family: str, data: dict):
    get_variant(family).calibration_path(tmp_path).write_text(json.dumps(data, indent=1))


@pytest.mark.parametrize("family, path, factor, field", [
    ("cell", ("model", "params", "q_inj", "value"), 1.5, "model.params.q_inj.value"),
    ("time_accumulator", ("accumulator", "params", "c_acc", "value"), 2.0, "accumulator.params.c_acc.value"),
    ("row_driver", ("mismatch", "sigma_gain_rel"), 1.1, "mismatch.sigma_gain_rel"),
])
def test_hand_edited_value_is_refused_naming_the_field(tmp_path, family, path, factor, field):
    data = copy_calibrations(tmp_path)[family]
    node = data
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] *= factor
    write(tmp_path, family, data)
    cfg = MacroConfig(calibration_dir=str(tmp_path))
    with pytest.raises(CalibrationError, match=rf"{family}/.*json was edited after it was written: "
                                               rf"{re.escape(field)} changed"):
        Macro.from_config(cfg)
    # a deliberate edit: accepted with a warning, or sealed into the file with a note
    with pytest.warns(UserWarning, match="edited after it was written"):
        Macro.from_config(cfg.replace(allow_edited_calibration=True))
    changed = reseal(get_variant(family).calibration_path(tmp_path), note="what-if study")
    assert changed == [field]
    sealed = json.loads(get_variant(family).calibration_path(tmp_path).read_text())
    assert sealed["provenance"]["edits"][-1]["changed"] == [field]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Macro.from_config(cfg)
    assert not [w for w in caught if "edited" in str(w.message)]


def test_edit_outside_the_fitted_values_names_the_section(tmp_path):
    data = copy_calibrations(tmp_path)["cell"]
    data["corners"]["ss@27"]["gain"] = 2.0
    write(tmp_path, "cell", data)
    with pytest.raises(CalibrationError, match="corners changed"):
        Macro.from_config(MacroConfig(calibration_dir=str(tmp_path)))


def test_environment_override(tmp_path, monkeypatch):
    data = copy_calibrations(tmp_path)["cell"]
    data["model"]["params"]["v_ft"]["value"] += 1e-3
    write(tmp_path, "cell", data)
    monkeypatch.setenv(EDITED_ENV, "1")
    with pytest.warns(UserWarning, match=r"model\.params\.v_ft\.value changed"):
        get_variant("cell").load_model(tmp_path)


@pytest.mark.parametrize("family, path, value, match", [
    ("cell", ("model", "params", "p_row", "value"), -1e3, r"model\.params\.p_row\.value \(p_row, column parasitic "
                                                          r"per row\) = -1000\.0 is unphysical; allowed: \[0, 20\] Cu"),
    ("cell", ("model", "params", "p_row", "value"), float("nan"), r"p_row.*holds NaN or inf"),
    ("time_accumulator", ("accumulator", "params", "c_acc", "value"), 0.0, r"c_acc.*= 0\.0 is unphysical; "
                                                                          r"allowed: \(0, 1e-10\] F"),
    ("cell", ("noise", "cu_f"), -7e-16, r"noise\.cu_f .* is unphysical"),
    ("row_driver", ("static_model", "residual_v"), [0.0] * 10, r"residual_v .* has shape \(10,\); expected \(256,\)"),
    ("time_accumulator", ("tdc", "standalone", "mc_sigma_gain_rel"), None, r"mc_sigma_gain_rel .* is missing"),
    ("cell", ("energy", "e_gate_per_bit_j"), "x", r"e_gate_per_bit_j .* must be a number array"),
])
def test_unphysical_or_missing_values_are_refused_by_name(tmp_path, family, path, value, match):
    data = copy_calibrations(tmp_path)[family]
    node = data
    for k in path[:-1]:
        node = node[k]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    write(tmp_path, family, data)
    with pytest.warns(UserWarning, match="edited after it was written"), pytest.raises(CalibrationError, match=match):
        get_variant(family).load_model(tmp_path, allow_edited=True)


def test_schema_and_checksum_are_required(tmp_path):
    data = copy_calibrations(tmp_path)["cell"]
    write(tmp_path, "cell", {k: v for k, v in data.items() if k != "integrity"})
    with pytest.raises(CalibrationError, match="no integrity checksum"):
        get_variant("cell").load_model(tmp_path)
    write(tmp_path, "cell", {**data, "schema": {**data["schema"], "version": 99}})
    with pytest.raises(CalibrationError, match=r"schema .* is not the one CellCalibration reads"):
        get_variant("cell").load_model(tmp_path)
    write(tmp_path, "cell", {**data, "schema": {**data["schema"], "variant": "other"}})
    with pytest.raises(CalibrationError, match="regenerate it with `aimc calibrate --block cell/mom_bottom_plate`"):
        get_variant("cell").load_model(tmp_path)


def test_seal_command(tmp_path, capsys):
    data = copy_calibrations(tmp_path)["row_driver"]
    path = get_variant("row_driver").calibration_path(tmp_path)
    assert main(["calibration", "seal", str(path), "--note", "nothing"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    data["dynamic_model"]["params"]["m"]["value"] = 0.0
    write(tmp_path, "row_driver", data)
    assert main(["calibration", "seal", str(path), "--note", "no memory term"]) == 0
    assert "dynamic_model.params.m.value" in capsys.readouterr().out
    get_variant("row_driver").load_model(tmp_path)


def test_evaluation_imports_no_fitting_plotting_or_spice_modules():
    """`import aimc_circuits; Macro.default().vmm(...)` in a fresh interpreter: no lmfit, scipy's
    statistics / optimization / special functions, matplotlib, PySpice or the SPICE layer (numba
    itself loads scipy's bare package, and scipy.linalg's LAPACK bindings at its first compiled
    call); import + construction well under 1 s (~0.3 s measured here)."""
    code = ("import sys, time; t = time.perf_counter(); import aimc_circuits as ac; import numpy as np; "
            "m = ac.Macro.default(); t = time.perf_counter() - t; "
            "m.vmm(np.zeros((2, 1024), int), np.zeros((1024, 256), int)); "
            "heavy = ('scipy.stats', 'scipy.optimize', 'scipy.special', 'scipy.interpolate'); "
            "bad = [k for k in sys.modules if k.split('.')[0] in ('lmfit', 'matplotlib', 'PySpice') "
            "or k.startswith(heavy) or k.startswith('aimc_circuits.spice') "
            "or k.endswith(('.fit', '.testbench', '.characterize', '.spot_check'))]; "
            "print(sorted(bad)); print(t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]", out[0]
    assert float(out[1]) < 1.0  # import + Macro.default(): measured 0.29 s on this 2-core machine


def test_shipped_calibration_cu_is_the_macro_default():
    m = Macro.default()
    assert m.config.unit_cap_f is None
    assert np.isclose(Macro.from_config(MacroConfig(unit_cap_f=m.cell.cu)).cell.cu, m.cell.cu)
