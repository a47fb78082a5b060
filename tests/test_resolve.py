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
    # Monte Carlo corners: resolved too, each instance with its own draw (tests below)
    mm = tb.deck({**p, "corner": "tt_mm", "seed": 1}, pdk.lib_line("tt_mm"), pdk)
    inside = mm.split(".subckt", 1)[1]
    assert "sky130_fd_pr__" not in "\n".join(ln for ln in inside.split("\n") if ln[:1] in "xX")
    assert mm != tb.deck({**p, "corner": "tt_mm", "seed": 2}, pdk.lib_line("tt_mm"), pdk)


def test_unresolvable_expression_is_a_clear_error():
    pdk = find_pdk()
    body = (".subckt a d g s b w=1\nxm d g s b sky130_fd_pr__nfet_01v8 w={w*unknown} l=0.15\n.ends a\n"
            "x1 1 2 0 0 a w=0.5\n")
    with pytest.raises(ResolveError, match=r"cannot evaluate '\{w\*unknown\}' with \['w'\]: name 'unknown' is not defined"):
        resolve_deck_body(body, pdk.lib_line("tt"), pdk.lib, pdk.sha256)


def test_monte_carlo_seed_and_corner_must_go_together():
    """A _mm corner resolved without a seed would harvest random draws; a seed on a corner
    without mismatch means nothing: both refused by name, before any ngspice run."""
    pdk = find_pdk()
    body = ".subckt a d g s b\nxm d g s b sky130_fd_pr__nfet_01v8 w=1 l=0.15\n.ends a\nx1 1 2 0 0 a\n"
    with pytest.raises(ResolveError, match=r"mismatch_seed=None with .*tt_mm"):
        resolve_deck_body(body, pdk.lib_line("tt_mm"), pdk.lib, pdk.sha256)
    with pytest.raises(ResolveError, match=r"mismatch_seed=3 with .* tt'"):
        resolve_deck_body(body, pdk.lib_line("tt"), pdk.lib, pdk.sha256, mismatch_seed=3)
    with pytest.raises(ResolveError, match="non-negative integer"):
        resolve_deck_body(body, pdk.lib_line("tt_mm"), pdk.lib, pdk.sha256, mismatch_seed=-1)


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


# -- Monte Carlo (per-instance mismatch drawn into the resolved deck) ---------------------------

#: one instance of each mismatch-bearing device kind the netlists use, each read as one voltage
_MC_SUB = (".subckt dut n p c v r\n"
           "xn n n 0 0 sky130_fd_pr__nfet_01v8 w=1 l=0.15\n"          # Vgs at 1 uA
           "xp p p 0 0 sky130_fd_pr__pfet_01v8 w=2 l=0.15\n"          # |Vgs| at 1 uA (p below ground)
           "xc c 0 sky130_fd_pr__cap_mim_m3_1 w=4 l=4\n"              # V after 20 uA x 1 ns
           "xv v 0 0 sky130_fd_pr__cap_vpp_01p8x01p8_m1m2_noshield\n"  # V after 0.2 uA x 1 ns
           "xr r 0 0 sky130_fd_pr__res_high_po w=0.35 l=4\n"          # V at 10 uA
           ".ends dut\n")
_MC_NODES = "npcvr"


@pytest.fixture(scope="module")
def mc_cache(tmp_path_factory):
    """One empty cache for the Monte Carlo tests (they share the mismatch harvest)."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("mc") / "cache"
    mp.setenv("AIMC_CACHE_DIR", str(root))
    yield root
    mp.undo()


def _mc_deck(n: int) -> str:
    return _MC_SUB + "".join(f"x{k} n{k} p{k} c{k} v{k} r{k} dut\nin{k} 0 n{k} 1u\nip{k} p{k} 0 1u\n"
                             f"ic{k} 0 c{k} pulse(0 20u 0 1p 1p 1 2)\niv{k} 0 v{k} pulse(0 0.2u 0 1p 1p 1 2)\n"
                             f"ir{k} 0 r{k} 10u\n" for k in range(n))


def _mc_run(body: str, corner: str, seed: int, n: int) -> dict[str, np.ndarray]:
    """Each node's voltage at 1 ns (ngspice, the library's draw seeded by `seed`)."""
    import subprocess
    import tempfile
    from pathlib import Path

    pdk = find_pdk()
    meas = "".join(f"meas tran {c}{k} find v({c}{k}) at=1n\n" for k in range(n) for c in _MC_NODES)
    text = (f"* mc\n{pdk.lib_line(corner)}\n{body}\n.options reltol=1e-6\n"
            f".control\nsetseed {seed}\nreset\ntran 10p 1n\n{meas}.endc\n.end\n")
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "mc.sp"
        f.write_text(text)
        out = subprocess.run(["ngspice", "-b", str(f)], capture_output=True, text=True).stdout
    vals = {}
    for ln in out.splitlines():
        t = ln.split()
        if len(t) >= 3 and t[1] == "=" and t[0][:1] in _MC_NODES and t[0][1:].isdigit():
            vals[t[0]] = float(t[2])
    return {c: np.array([vals[f"{c}{k}"] for k in range(n)]) for c in _MC_NODES}


@pytest.mark.parametrize("n, seeds, rel", [(100, (1,), 0.30),
                                           pytest.param(200, (1, 2), 0.15, marks=pytest.mark.slow)])
def test_resolved_monte_carlo_matches_the_library_statistics(mc_cache, n, seeds, rel):
    """n instances x the seeds of an nfet, a pfet, a MIM and a MOM capacitor and a poly resistor
    on tt_mm: the resolved draws have the library's mean and spread. Tolerances: the spread
    within rel (3 standard errors of the ratio of two spreads of n x seeds samples each), the
    mean within 3 standard errors of the difference. (Measured on 400: spreads 1..7 % apart;
    one draw shared by a MOM cell's three capacitors, as the library does not, spreads 41 % more.)"""
    pdk = find_pdk()
    body = _mc_deck(n)
    lib = [_mc_run(body, "tt_mm", s, n) for s in seeds]
    res = [_mc_run(resolve_deck_body(body, pdk.lib_line("tt_mm"), pdk.lib, pdk.sha256, mismatch_seed=s), "tt_mm", s, n)
           for s in seeds]
    for c in _MC_NODES:
        a, b = np.concatenate([r[c] for r in lib]), np.concatenate([r[c] for r in res])
        assert np.std(a) > 1e-3 * abs(np.mean(a)), f"{c}: the library draws no mismatch"
        assert np.std(b) == pytest.approx(np.std(a), rel=rel), c
        assert abs(np.mean(b) - np.mean(a)) < 3 * np.std(a) * np.sqrt(2 / a.size), c


def test_resolved_monte_carlo_at_zero_draws_is_the_nominal_corner(mc_cache, monkeypatch):
    """With every draw at 0 the resolved tt_mm deck simulates what the library's tt corner does
    (the copies at the mean agree with the nominal harvest, checked when harvesting)."""
    import aimc_circuits.spice.resolve as resolve

    pdk, n = find_pdk(), 2
    body = _mc_deck(n)
    monkeypatch.setattr(resolve, "_instance_draws", lambda seed, path, k: np.zeros(k))
    zero = _mc_run(resolve_deck_body(body, pdk.lib_line("tt_mm"), pdk.lib, pdk.sha256, mismatch_seed=1), "tt_mm", 1, n)
    tt = _mc_run(body, "tt", 1, n)
    for c in _MC_NODES:
        np.testing.assert_allclose(zero[c], tt[c], rtol=1e-6, err_msg=c)


def test_resolved_monte_carlo_draws_belong_to_instances(mc_cache):
    """A draw is set by the seed and the instance's path: the same deck and seed give the same
    deck; two instances of one subcircuit differ; adding an instance leaves the others' draws."""
    import re

    pdk = find_pdk()

    def deck(n: int, seed: int = 1) -> str:
        return resolve_deck_body(_mc_deck(n), pdk.lib_line("tt_mm"), pdk.lib, pdk.sha256, mismatch_seed=seed)

    def delvto(text: str) -> dict[str, str]:
        """instance path -> the nfet's delvto (the specialized subcircuit of each instance)."""
        out, sub = {}, None
        for ln in text.split("\n"):
            if ln.startswith(".subckt"):
                sub = ln.split()[1]
            m = re.search(r"delvto=(\S+)", ln)
            if m and ln.startswith("mxn"):
                out[sub] = m.group(1)
        inst = dict(re.findall(r"^(x\d+) .* (dut__\w+)$", text, re.MULTILINE))
        return {k: out[v] for k, v in inst.items()}

    two, three = delvto(deck(2)), delvto(deck(3))
    assert deck(2) == deck(2) and two != delvto(deck(2, seed=2))
    assert two["x0"] != two["x1"]
    assert {k: three[k] for k in two} == two
