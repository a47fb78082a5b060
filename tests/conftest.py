"""Shared fixtures. SPICE tests use a throw-away sweep cache so every run really simulates."""
from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("AIMC_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow SPICE run: set AIMC_SLOW=1 (make test-slow) or pass -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty sweep cache for this test (the installed PDK is still found)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("AIMC_CACHE_DIR", str(root))
    return root


@pytest.fixture(scope="session")
def reference_metrics() -> dict:
    """`aimc metrics` of the reference macro (10 chips, 512 vectors), computed once per session."""
    from aimc_circuits import Macro

    return Macro.default().metrics()
