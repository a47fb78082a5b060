"""Where things live: the repository's netlists/calibration folders and the user cache."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO_ROOT", "NETLIST_DIR", "CALIBRATION_DIR", "cache_dir", "pdk_dir", "netlist_path"]

REPO_ROOT = Path(__file__).resolve().parents[1]
NETLIST_DIR = REPO_ROOT / "netlists"
CALIBRATION_DIR = REPO_ROOT / "calibration"


def cache_dir() -> Path:
    """User cache root: $AIMC_CACHE_DIR, else $XDG_CACHE_HOME/aimc_circuits, else ~/.cache/aimc_circuits.
    ParameterError naming the path when it is a file or cannot be created or written."""
    from .errors import ParameterError

    env = os.environ.get("AIMC_CACHE_DIR")
    if env:
        root, what = Path(env), "AIMC_CACHE_DIR"
    else:
        root, what = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aimc_circuits", "the cache"
    if root.exists() and not root.is_dir():
        raise ParameterError(f"{what}={str(root)!r} is a file, not a directory; point it at a writable directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"{what}={str(root)!r} cannot be created ({exc.strerror}); point it at a writable "
                             f"directory") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise ParameterError(f"{what}={str(root)!r} is not writable; point it at a writable directory")
    return root


def pdk_dir() -> Path:
    """Where `aimc pdk install` puts models: $AIMC_PDK_DIR, else ~/.cache/aimc_circuits/pdk
    (independent of $AIMC_CACHE_DIR, so throw-away sweep caches still find the models)."""
    env = os.environ.get("AIMC_PDK_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aimc_circuits" / "pdk"


def netlist_path(name: str) -> Path:
    """Path of `netlists/<name>.sp`; a clear error if it does not exist."""
    path = NETLIST_DIR / f"{name}.sp"
    if not path.is_file():
        known = sorted(p.stem for p in NETLIST_DIR.glob("*.sp"))
        raise FileNotFoundError(f"no netlist {name!r} in {NETLIST_DIR}; known: {', '.join(known) or 'none'}")
    return path
