"""Sweeps on a real Dask distributed cluster (a LocalCluster of worker processes on this
machine): the same numbers as the local pool for the same points and seeds, each simulation in
its own process, and clear errors for a bad or unreachable scheduler."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from aimc_circuits.blocks.devices import InverterDelay
from aimc_circuits.errors import AimcError, ParameterError
from aimc_circuits.spice import cluster
from aimc_circuits.spice.sweep import run_sweep

POINTS = ([{"cl": c, "corner": "tt"} for c in (5e-15, 20e-15, 40e-15)]
          + [{"cl": 20e-15, "corner": "tt_mm", "seed": s} for s in (1, 2, 3)])


@pytest.fixture(scope="module")
def local_cluster():
    """Two single-threaded worker processes, as a two-machine cluster would have."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as lc:
        with Client(lc) as client:
            yield lc.scheduler_address, set(client.run(os.getpid).values())


def _sim_pids(cache: Path) -> set[int]:
    """The processes that ran ngspice: run directories are named <testbench>-<pid>-<id>."""
    return {int(p.name.split("-")[-2]) for p in (cache / "sweeps" / "inverter" / "runs").glob("inverter-*")}


def test_cluster_sweep_equals_the_local_pool_and_resumes_it(local_cluster, tmp_path, monkeypatch):
    """Nominal points and Monte Carlo seeds (tt_mm), once on the local pool and once through
    $AIMC_SCHEDULER, each from an empty cache: identical measures, bit for bit; on the cluster
    every batch ran in a process of its own, neither a Dask worker nor this one. Then the cluster
    resumes the local run's cache: only a new point is simulated (the key has no host in it)."""
    address, worker_pids = local_cluster
    monkeypatch.setenv("AIMC_CACHE_DIR", str(tmp_path / "local"))
    local = run_sweep(InverterDelay(), points=POINTS, workers=2)
    monkeypatch.setenv("AIMC_CACHE_DIR", str(tmp_path / "dask"))
    monkeypatch.setenv(cluster.SCHEDULER_ENV, address)
    try:
        remote = run_sweep(InverterDelay(), points=POINTS)
        monkeypatch.setenv("AIMC_CACHE_DIR", str(tmp_path / "local"))
        resumed = run_sweep(InverterDelay(), points=POINTS + [{"cl": 60e-15}])
    finally:
        cluster.cluster_pool(address).close()
    assert not local.failed and not remote.failed
    assert remote.n_simulated == len(POINTS) and remote.n_loads == local.n_loads == 2
    for a, b in zip(local.records, remote.records):
        assert a.point == b.point and a.measures == b.measures
    # Monte Carlo seeds really differ (the comparison above is not of identical numbers)
    assert len({r.measures["tpd"] for r in remote.records[3:]}) == 3
    pids = _sim_pids(tmp_path / "dask")
    assert pids and not pids & (worker_pids | {os.getpid()})
    assert (resumed.n_cached, resumed.n_simulated) == (len(POINTS), 1)
    assert resumed.records[-1].measures["tpd"] > resumed.records[2].measures["tpd"]  # 60 fF is slower than 40 fF


@pytest.mark.parametrize("value", ["localhost:8786", "8786", "tcp//x"])
def test_a_malformed_scheduler_address_is_refused_by_name(value, monkeypatch):
    monkeypatch.setenv(cluster.SCHEDULER_ENV, value)
    with pytest.raises(ParameterError, match=rf"AIMC_SCHEDULER={value!r} is not a Dask scheduler address"):
        run_sweep(InverterDelay(), points=POINTS[:1])


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(AimcError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1 s"):
        cluster.cluster_pool("tcp://127.0.0.1:9")


def test_cli_scheduler_option_is_checked(tmp_path):
    """`aimc calibrate --scheduler` takes the address (here a malformed one: refused before any
    SPICE, exit code 1, the value named)."""
    proc = subprocess.run([sys.executable, "-m", "aimc_circuits.cli", "calibrate", "--block", "cell",
                           "--out", str(tmp_path), "--scheduler", "nohost"], capture_output=True, text=True)
    assert proc.returncode == 1 and "--scheduler='nohost' is not a Dask scheduler address" in proc.stderr
