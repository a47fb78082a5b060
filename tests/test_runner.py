"""The ngspice runner on real sky130 devices: settings, typed results, errors."""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from aimc_circuits.errors import NgspiceNotFoundError, SpiceError
from aimc_circuits.pdk import find_pdk
from aimc_circuits.spice.runner import NgspiceSession, ngspice_library, ngspice_version

NFET = "m.xm.msky130_fd_pr__nfet_01v8"


def _deck(body: str, corner: str = "tt") -> str:
    return f"* test\n{find_pdk().lib_line(corner)}\n{body}\n.options klu\n.end\n"


def test_dc_sweep_returns_named_si_arrays(tmp_path):
    body = ("vd d 0 0.05\nvg g 0 0\nxm d g 0 0 sky130_fd_pr__nfet_01v8 w=5 l=1\n"
            f".save vd#branch @{NFET}[vth]\n")
    with NgspiceSession(tmp_path / "run") as ses:
        ses.load(_deck(body))
        sim = ses.analyse("dc vg 0 1.8 0.01")
        op = ses.analyse("op", keep=(f"@{NFET}[vth]",))
    assert sim.scale.shape == (181,) and sim.scale.dtype == np.float64
    np.testing.assert_allclose(sim.scale[[0, -1]], [0.0, 1.8])
    idrain = -sim["vd#branch"]
    assert np.all(np.diff(idrain[60:]) > 0), "drain current must grow with Vg above threshold"
    # Linear-region on-current of a 5/1 um nfet at Vgs=1.8 V, Vds=50 mV: tens of uA
    assert 2e-5 < idrain[-1] < 2e-4
    vth_bsim = float(op[f"@{NFET}[vth]"][0])
    assert 0.3 < vth_bsim < 0.7, "sky130 nfet_01v8 threshold at tt/27 C"
    assert (tmp_path / "run" / "deck.sp").is_file() and (tmp_path / "run" / "ngspice.log").is_file()


def test_runner_matches_plain_ngspice_batch(tmp_path):
    """The deck the runner writes gives the same numbers in plain `ngspice -b` (same settings)."""
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice binary not installed (only the shared library)")
    body = "vd d 0 0.05\nvg g 0 1.2\nxm d g 0 0 sky130_fd_pr__nfet_01v8 w=1 l=0.15\n"
    with NgspiceSession(tmp_path / "run") as ses:
        ses.load(_deck(body))
        shared = -float(ses.analyse("op")["vd#branch"][0])
    deck = (tmp_path / "run" / "deck.sp").read_text().replace(
        ".end\n", ".control\nop\nprint -i(vd)\n.endc\n.end\n")
    (tmp_path / "cli.sp").write_text(deck)
    (tmp_path / ".spiceinit").write_text("set ngbehavior=hsa\nset ng_nomodcheck\n")
    out = subprocess.run(["ngspice", "-b", "cli.sp"], cwd=tmp_path, capture_output=True, text=True).stdout
    cli = float(re.search(r"-i\(vd\) = (\S+)", out).group(1))
    assert shared == pytest.approx(cli, rel=1e-5)


def test_bad_netlist_raises_with_netlist_messages_and_run_dir(tmp_path):
    with NgspiceSession(tmp_path / "run") as ses:
        with pytest.raises(SpiceError) as err:
            ses.load(_deck("xm d g 0 0 sky130_fd_pr__nfet_nonexistent w=1 l=0.15\nvg g 0 1\nvd d 0 1\n"))
    exc = err.value
    assert "nfet_nonexistent" in exc.netlist
    assert "nfet_nonexistent" in exc.messages.lower()
    assert exc.run_dir == tmp_path / "run" and str(exc.run_dir) in str(exc)


def test_missing_library_says_how_to_install(monkeypatch):
    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", "/nonexistent/libngspice.so")
    with pytest.raises(NgspiceNotFoundError, match="apt-get install ngspice libngspice0"):
        ngspice_library()


def test_version_is_reported():
    assert re.fullmatch(r"ngspice-\d+\S*", ngspice_version())
