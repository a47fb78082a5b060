"""Resolved decks (aimc_circuits.spice.resolve): the library's device subcircuits as plain
elements and model cards give the same SPICE results as the library, much faster on big decks."""
from __future__ import annotations

import time

import numpy as np
import pytest

from aimc_circuits.blocks.cell.mom_bottom_plate.testbench import ColumnTestbench
from aimc_circuits.pdk import find_pdk
from aimc_circuits.spice.resolve import ResolveError, resolve_deck_body
from aimc_circuits.spice.sweep import run_sweep


def test_resolved_column_matches_the_library(fresh_cache):
    """An 8-row cell column, random points at tt: the column voltages within 30 uV (measured
    0.6 .. 20 uV at tt and ss: the solver's time steps differ; a 4-row column agrees to 7 digits),
    the charge each row delivers within 0.1 % of the largest. (Other corners: the slow tests.)"""
    rng = np.random.default_rng(3)
    pts = [{"vin": rng.uniform(0, 1, 8).tolist(), "codes": rng.integers(0, 16, (8, 2)).tolist()} for _ in range(2)]
    lib = run_sweep(ColumnTestbench(rows=8), points=pts)
    res = run_sweep(ColumnTestbench(rows=8, resolve_devices=True), points=pts)
    for a, b in zip(lib.records, res.records):
        assert a.ok and b.ok
        for k in ("vcol0", "vcol1", "vcol_first0", "vcol_first1"):
            assert abs(a.measures[k] - b.measures[k]) < 30e-6, (a.point["corner"], k)
        qa, qb = np.asarray(a.measures["q_row"]), np.asarray(b.measures["q_row"])
        assert np.max(np.abs(qa - qb)) < 1e-3 * np.max(np.abs(qa))


def test_resolved_deck_and_its_cache(fresh_cache):
    pdk = find_pdk()
    tb = ColumnTestbench(rows=4, resolve_devices=True)
    p = tb.normalize({"vin": [0.5] * 4, "codes": [[3, 12]] * 4})
    deck = tb.deck(p, pdk.lib_line("tt"), pdk)
    inside = deck.split(".subckt", 1)[1]
    assert "sky130_fd_pr__" not in "\n".join(ln for ln in inside.split("\n") if ln[:1] in "xX")
    assert deck.count(".model aimc_") >= 4  # nfet, pfet at two widths, the ground nfet and the reset pfet
    assert list((fresh_cache / "resolved").glob("*.json")), "the harvest is cached"
    t = time.perf_counter()
    assert tb.deck(p, pdk.lib_line("tt"), pdk) == deck
    assert time.perf_counter() - t < 1.0  # from the cache: no ngspice run
    # Monte Carlo corners draw mismatch inside the library's expressions: left to the library
    mm = tb.deck({**p, "corner": "tt_mm", "seed": 1}, pdk.lib_line("tt_mm"), pdk)
    assert "sky130_fd_pr__nfet_01v8" in mm and ".model aimc_" not in mm


def test_unresolvable_expression_is_a_clear_error():
    pdk = find_pdk()
    body = (".subckt a d g s b w=1\nxm d g s b sky130_fd_pr__nfet_01v8 w={w*unknown} l=0.15\n.ends a\n"
            "x1 1 2 0 0 a w=0.5\n")
    with pytest.raises(ResolveError, match=r"cannot evaluate '\{w\*unknown\}' with \['w'\]: name 'unknown' is not defined"):
        resolve_deck_body(body, pdk.lib_line("tt"), pdk.lib, pdk.sha256)


def _charge(deck_body: str, resolve: bool) -> float:
    """Charge (C) a 1 V step delivers through 1 kohm into node n within 1 ns."""
    import subprocess
    import tempfile
    from pathlib import Path

    pdk = find_pdk()
    body = resolve_deck_body(deck_body, pdk.lib_line("tt"), pdk.lib, pdk.sha256) if resolve else deck_body
    text = (f"* m test\n{pdk.lib_line('tt')}\n{body}\nv1 in 0 pulse(0 1 0 10p 10p 1n 2n)\nr1 in n 1k\n"
            ".control\ntran 1p 1n\nmeas tran q integ i(v1) from=0 to=1n\n.endc\n.end\n")
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "m.sp"
        p.write_text(text)
        out = subprocess.run(["ngspice", "-b", str(p)], capture_output=True, text=True).stdout
    return float(next(ln.split("=")[1].split()[0] for ln in out.splitlines() if ln.startswith("q ")))


def test_a_subcircuit_multiplier_multiplies_the_resolved_devices(fresh_cache):
    """`m=4` on a subcircuit holding library devices is four copies once resolved (ngspice-39
    ignores such a multiplier for the library's device subcircuits: through the library, m=4
    delivers the charge of one copy; see docs/spice.md)."""
    sub = (".subckt sub a b\nxc a b b sky130_fd_pr__cap_vpp_01p8x01p8_m1m2_noshield\n"
           "xn a a b b sky130_fd_pr__nfet_01v8 w=1 l=0.15\n.ends sub\n")
    copies = sub + "".join(f"x{k} n 0 sub\n" for k in range(4))
    q4 = _charge(copies, resolve=False)
    assert _charge(sub + "xa n 0 sub m=4\n", resolve=True) == pytest.approx(q4, rel=1e-3)
    assert _charge(copies, resolve=True) == pytest.approx(q4, rel=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("make", ["row_transfer", "vtc", "tdc", "gate_energy", "column_ss"])
def test_resolved_block_testbenches_match_the_library(make, fresh_cache):
    """DC transfer of the row driver, a VTC run, a TDC run and the cell's gate energy: the
    resolved decks reproduce the library's results (measured: 4e-7 V, 1e-20 C, 1e-16 s, 3e-21 J)."""
    import dataclasses

    from aimc_circuits.blocks.cell.mom_bottom_plate.testbench import GateEnergyTestbench
    from aimc_circuits.blocks.row_driver.dac_follower.testbench import RowTransferTestbench
    from aimc_circuits.blocks.time_accumulator.pump_single_slope.testbench import TdcTestbench, VtcTestbench

    rng = np.random.default_rng(1)
    vref = rng.uniform(1.0, 1.65, 16)
    cases = {"row_transfer": (RowTransferTestbench(), {}, {"v_row": 2e-6}),
             "vtc": (VtcTestbench(n_ch=16), {"v": np.clip(vref + rng.normal(0, 0.05, 16), 0.84, 1.7).tolist(),
                                             "vref": vref.tolist()}, {"q": 1e-17}),
             "tdc": (TdcTestbench(n_ch=16), {"v_init": np.linspace(1.2, 1.5, 16).tolist()}, {"t_stop": 1e-13}),
             "gate_energy": (GateEnergyTestbench(), {}, {"e_gate": 1e-18}),
             "column_ss": (ColumnTestbench(rows=8), {"vin": rng.uniform(0, 1, 8).tolist(), "corner": "ss",
                                                     "codes": rng.integers(0, 16, (8, 2)).tolist()}, {"vcol0": 30e-6})}
    tb, point, tol = cases[make]
    a = run_sweep(tb, points=[point]).records[0]
    b = run_sweep(dataclasses.replace(tb, resolve_devices=True), points=[point]).records[0]
    assert a.ok and b.ok, (a.error, b.error)
    for k, t in tol.items():
        assert np.max(np.abs(np.asarray(a.measures[k]) - np.asarray(b.measures[k]))) < t, k


def test_concurrent_sweeps_resolving_the_same_devices_both_store_the_harvest(fresh_cache, monkeypatch):
    """Two threads (run_sweeps' concurrent sweeps) resolve the same deck in an empty cache at once:
    each stores the harvest through its own temporary file, neither fails (a shared temporary name
    made the second rename fail), and no temporary file is left."""
    import threading

    from pathlib import Path

    pdk = find_pdk()
    tb = ColumnTestbench(rows=2, resolve_devices=True)
    p = tb.normalize({"vin": [0.5] * 2, "codes": [[3, 12]] * 2})
    real_replace, gate = Path.replace, threading.Barrier(2)

    def replace_together(self, target):
        if self.suffix == ".part":  # both writers have written their file; now both rename it
            gate.wait(timeout=60)
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace_together)
    decks, errors = [], []

    def build():
        try:
            decks.append(tb.deck(p, pdk.lib_line("tt"), pdk))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(decks) == 2 and decks[0] == decks[1]
    assert len(list((fresh_cache / "resolved").glob("*.json"))) == 1
    assert not list((fresh_cache / "resolved").glob("*.part"))
