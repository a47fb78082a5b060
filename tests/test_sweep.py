"""Sweep engine on real sky130 devices: physics sanity, corners, temperature, Monte Carlo,
cache, resume after a kill, non-convergence, bad parameters."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from aimc_circuits.blocks.devices import DiodeFet, IdVg, InverterDelay
from aimc_circuits.errors import ParameterError
from aimc_circuits.spice.sweep import expand_grid, run_sweep, run_sweeps


def test_thresholds_corners_and_temperature(fresh_cache):
    """One sweep, two model loads (tt, ss/ff share nothing): sane sky130 physics.

    Vth bounds: 0.3-0.7 V for the 5/1 um nfet at tt/27 C (issue #2); sky130's 1.8 V
    pfet is a high-|Vth| device (~1.0 V in these models), bounded at 0.6-1.2 V.
    Vth tempco: a few -0.1 to -2.5 mV/K is the textbook range for bulk CMOS.
    """
    res = run_sweep(IdVg(), grid={"device": ["nfet", "pfet"], "w": [5.0], "l": [1.0], "temp": [27.0, 85.0]})
    assert not res.failed
    vth = {(r.point["device"], r.point["temp"]): r.measures["vth"] for r in res.records}
    assert 0.3 < vth["nfet", 27.0] < 0.7
    assert 0.6 < vth["pfet", 27.0] < 1.2
    for dev in ("nfet", "pfet"):
        tempco = (vth[dev, 85.0] - vth[dev, 27.0]) / 58.0
        assert -2.5e-3 < tempco < -0.1e-3, (dev, tempco)
    assert res.n_loads == 2  # one model load per device deck, temperatures share it


def test_inverter_corners_order_and_energy(fresh_cache):
    res = run_sweep(InverterDelay(), grid={"corner": ["ss", "tt", "ff"], "cl": [20e-15]})
    tpd = {r.point["corner"]: r.measures["tpd"] for r in res.records}
    assert tpd["ss"] > tpd["tt"] > tpd["ff"] > 0
    # Energy per cycle from the supply: CL*Vdd^2 plus the inverter's own (smaller) caps.
    e = res.records[1].measures["energy"]
    cv2 = 20e-15 * 1.8**2
    assert cv2 < e < 1.5 * cv2


def test_monte_carlo_seeds_are_reproducible(fresh_cache):
    res = run_sweep(IdVg(), points=[{"corner": "tt_mm", "seed": s, "w": 1.0, "l": 0.15} for s in (1, 2, 1)])
    v1, v2, v1b = (r.measures["vth"] for r in res.records)
    assert v1 == v1b, "same seed must give the same mismatch draw"
    # Pelgrom: sigma(Vth) of a 1/0.15 um nfet is ~10-20 mV; two draws differ, by well under 0.1 V
    assert 1e-5 < abs(v1 - v2) < 0.1
    assert res.n_simulated == 2  # the repeated point is simulated once


def test_several_sweeps_at_once_give_each_its_own_results_in_order(fresh_cache):
    """run_sweeps runs one deck per sweep concurrently; each result is the one its sweep alone gives."""
    jobs = [(InverterDelay(), [{"cl": 20e-15}]), (IdVg(), [{"device": "nfet", "w": 5.0, "l": 1.0}]),
            (InverterDelay(), [{"cl": 5e-15}, {"corner": "ss", "cl": 5e-15}])]
    together = run_sweeps(jobs)
    assert [r.testbench for r in together] == ["inverter", "idvg", "inverter"]
    for (tb, pts), res in zip(jobs, together):
        alone = run_sweep(tb, points=pts)
        assert alone.n_cached == len(pts)
        for a, b in zip(res.records, alone.records):
            assert a.measures.keys() == b.measures.keys()
            assert all(np.array_equal(a.measures[k], b.measures[k]) for k in a.measures)
    tpd = [r.measures["tpd"] for r in together[2].records]
    assert tpd[1] > tpd[0] > 0  # ss slower than tt
    assert run_sweeps([]) == []


def test_second_run_is_served_from_cache(fresh_cache):
    grid = {"cl": [5e-15, 10e-15, 20e-15]}
    first = run_sweep(InverterDelay(), grid=grid)
    runs = fresh_cache / "sweeps" / "inverter" / "runs"
    n_run_dirs = len(list(runs.iterdir()))
    second = run_sweep(InverterDelay(), grid=grid)
    assert first.n_simulated == 3 and second.n_simulated == 0 and second.n_cached == 3
    assert second.n_loads == 0 and len(list(runs.iterdir())) == n_run_dirs  # ngspice never started
    for a, b in zip(first.records, second.records):
        assert a.measures == b.measures


def test_cache_key_covers_the_code_that_reads_a_point(monkeypatch):
    """Editing the testbench's module, its base class's module or a measurement helper's module
    changes the code hash in every point's cache key (no stale cached result is served)."""
    import inspect

    from aimc_circuits.blocks import devices
    from aimc_circuits.spice import measure, runner
    from aimc_circuits.spice import testbench as base_module

    tb = InverterDelay()
    before = tb.code_hash()
    real = inspect.getsource
    for mod in (devices, base_module, runner, measure):
        monkeypatch.setattr(inspect, "getsource", lambda obj, _m=mod: real(obj) + ("\n# edited" if obj is _m else ""))
        assert tb.code_hash() != before, mod.__name__
        monkeypatch.setattr(inspect, "getsource", real)
    assert tb.code_hash() == before


def test_killed_sweep_resumes_without_redoing_points(fresh_cache, tmp_path):
    loads = [float(c) * 1e-15 for c in range(2, 26, 2)]  # 12 points, one worker: in order
    script = textwrap.dedent(f"""
        from aimc_circuits.blocks.devices import InverterDelay
        from aimc_circuits.spice.sweep import run_sweep
        run_sweep(InverterDelay(), grid={{"cl": {loads!r}}}, workers=1)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = fresh_cache / "sweeps" / "inverter"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(store.glob("??/*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # finished records only: a write cut by the kill is a '.tmp-*.part' file, never a '*.json'
    done = {p: p.read_bytes() for p in store.glob("??/*.json")}
    assert not any(p.name.startswith(".") for p in done)
    assert 3 <= len(done) < len(loads), "the kill must land mid-sweep"

    resumed = run_sweep(InverterDelay(), grid={"cl": loads})
    assert resumed.n_cached == len(done) and resumed.n_simulated == len(loads) - len(done)
    assert all(p.read_bytes() == b for p, b in done.items()), "finished points are never rewritten"
    reference = run_sweep(InverterDelay(), grid={"cl": loads}, cache=False)
    for a, b in zip(resumed.records, reference.records):
        assert a.measures["tpd"] == pytest.approx(b.measures["tpd"], rel=1e-9)


def test_non_converging_point_is_recorded_and_sweep_goes_on(fresh_cache):
    res = run_sweep(DiodeFet(), grid={"ib": [1e-6, 1.0, 1e-5]})
    ok1, bad, ok2 = res.records
    assert ok1.ok and ok2.ok and not bad.ok
    assert "failed" in bad.error.lower() and res.failed == [bad]
    assert 0.3 < ok1.measures["vgs"] < ok2.measures["vgs"] < 1.5  # Vgs grows with bias current
    assert np.isnan(res.column("vgs")[1])


@pytest.mark.parametrize("point, match", [
    ({"cll": 1e-15}, "no parameter 'cll'.*Did you mean 'cl'"),
    ({"corner": "typ"}, "unknown corner 'typ'"),
    ({"temp": 300}, "temp=300.0 C is outside"),
    ({"cl": float("nan")}, "cl=nan must be finite"),
    ({"cl": "big"}, "cl='big' is not a number"),
    ({"cl": -1e-15}, "cl=-1e-15 F outside"),
    ({"seed": 3}, "seed=3 given for corner 'tt', which has no mismatch"),
    ({"corner": "ff_mm", "seed": -1}, "seed=-1 must be a non-negative integer"),
])
def test_bad_sweep_parameters_are_clear_errors(point, match):
    with pytest.raises(ParameterError, match=match):
        run_sweep(InverterDelay(), points=[point])


def test_grid_expansion_and_empty_inputs():
    assert expand_grid({"a": [1, 2], "b": "x"}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    with pytest.raises(ParameterError, match="grid axis 'a' is empty"):
        expand_grid({"a": []})
    with pytest.raises(ParameterError, match="needs a grid or a list of points"):
        run_sweep(InverterDelay())


def test_any_executor_can_run_the_batches(fresh_cache):
    """The hook a Dask cluster uses: any concurrent.futures executor. Isolated (the default),
    the executor's task starts a worker process per batch; isolate=False simulates in the
    executor's own thread, here this process. Same numbers either way; the caller's working
    directory is left alone."""
    from concurrent.futures import ThreadPoolExecutor

    cwd = os.getcwd()
    res = {}
    for isolate in (True, False):
        with ThreadPoolExecutor(1) as ex:
            res[isolate] = run_sweep(DiodeFet(), grid={"ib": [1e-6, 1e-5]}, executor=ex, isolate=isolate, cache=False)
        assert os.getcwd() == cwd and res[isolate].n_simulated == 2 and not res[isolate].failed
    assert res[True].records[0].measures["vgs"] < res[True].records[1].measures["vgs"]
    assert [r.measures["vgs"] for r in res[True].records] == [r.measures["vgs"] for r in res[False].records]


def test_testbench_in_main_is_a_clear_error(fresh_cache, monkeypatch):
    class Local(DiodeFet):
        pass

    monkeypatch.setattr(Local, "__module__", "__main__")
    with pytest.raises(ParameterError, match="defined in __main__.*isolate=False.*ThreadPoolExecutor"):
        run_sweep(Local(), grid={"ib": [1e-6]})
    with pytest.raises(ParameterError, match="isolate=False.*executor=ThreadPoolExecutor"):
        run_sweep(DiodeFet(), grid={"ib": [1e-6]}, isolate=False)


def test_killing_the_driver_takes_its_workers_down(fresh_cache):
    """SIGKILL to the sweep's driver process only (not its process group): its worker processes
    exit within seconds instead of simulating on as orphans."""
    script = textwrap.dedent("""
        from aimc_circuits.blocks.devices import InverterDelay
        from aimc_circuits.spice.sweep import run_sweep
        run_sweep(InverterDelay(), grid={"cl": [float(c) * 1e-15 for c in range(2, 42)]}, workers=2)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def workers() -> list[int]:
        out = subprocess.run(["pgrep", "-f", "aimc_circuits.spice.worker", "-g", str(proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    deadline = time.time() + 120
    while time.time() < deadline and not workers():
        time.sleep(0.05)
    pids = workers()
    assert pids, "the sweep started its workers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and workers():
        time.sleep(0.1)
    left = workers()
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"orphaned workers {left}"
    # the killed driver's job files are removed by the next sweep on the same cache
    jobs = fresh_cache / "sweeps" / "inverter" / "runs" / "jobs"
    assert any(jobs.iterdir()), "the kill left job files behind"
    run_sweep(InverterDelay(), grid={"cl": [1e-15]}, workers=1)
    assert not any(jobs.iterdir()), sorted(p.name for p in jobs.iterdir())
