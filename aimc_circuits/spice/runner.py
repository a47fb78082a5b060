"""The one module that talks to ngspice (through PySpice's shared-library binding).

An :class:`NgspiceSession` owns the process-wide libngspice instance: it loads one
deck (paying the sky130 model load once), then runs many analyses on it, changing
``.param`` values with ``alterparam``/``reset``, device values with ``alter``, the
temperature with ``option temp`` and the mismatch draw with ``setseed``/``reset``.

Settings the sky130 models need are applied before any deck is read:
``set ngbehavior=hsa`` (HSPICE compatibility), ``set ng_nomodcheck`` (skip model
checks: faster load), ``set num_threads=N`` and ``.options klu`` (sparse solver).

Results come back as :class:`SimResult`: named float64/complex128 numpy arrays in SI
units (V, A, s, Hz, ...). A failed load raises :class:`SpiceError`, a failed analysis
:class:`ConvergenceError`; both carry the netlist, ngspice's messages and the run dir.
"""
from __future__ import annotations

import ctypes.util
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConvergenceError, NgspiceNotFoundError, SpiceError

__all__ = ["SimResult", "NgspiceSession", "ngspice_version", "ngspice_library"]

# Fatal messages only: "gmin/source stepping failed" are warnings when ngspice then recovers
# (e.g. "Transient op finished successfully"), so they do not mark a point as failed.
_FAILURE_PATTERNS = re.compile(
    r"timestep too small|dc solution failed|singular matrix|simulation\(s\) aborted|doAnalyses: ",
    re.IGNORECASE,
)
_LOAD_ERROR_PATTERNS = re.compile(
    r"^error|fatal|unknown (?:model|subckt|parameter)|could not find|undefined|"
    r"no such file|can't find|cannot (?:open|find)|too few parameters",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class SimResult:
    """Vectors of one analysis, in SI units.

    vectors: name -> 1-D array (float64, or complex128 for AC/noise spectra). Names are
        ngspice's, lower case: node voltages by node name (``out``, ``x1.n3``), branch
        currents as ``<source>#branch``, the scale as ``time``/``frequency``/``v-sweep``.
    units: name -> ngspice vector type (``voltage``, ``current``, ``time`` ...).
    """

    analysis: str
    plot: str
    vectors: dict[str, np.ndarray]
    units: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        key = name.lower()
        if key not in self.vectors:
            raise KeyError(f"no vector {name!r} in {self.plot}; have: {', '.join(sorted(self.vectors)[:40])}")
        return self.vectors[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self.vectors

    @property
    def scale(self) -> np.ndarray:
        """The independent variable (time, frequency, sweep value); a length-1 zero for .op."""
        for key in ("time", "frequency", "v-sweep", "i-sweep", "temp-sweep", "res-sweep"):
            if key in self.vectors:
                return self.vectors[key]
        return np.zeros(1)


_SUFFIX = {"t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}


def _spice_number(text: str) -> float:
    """Parse a SPICE number with an optional scale suffix ('5n', '1.2meg', '3e-9')."""
    m = re.fullmatch(r"([-+]?[0-9.]+(?:e[-+]?\d+)?)(meg|[tgkmunpf])?[a-z]*", text.lower())
    if not m:
        raise ValueError(f"not a SPICE number: {text!r}")
    return float(m.group(1)) * _SUFFIX.get(m.group(2) or "", 1.0)


def ngspice_library() -> str:
    """Path or soname of libngspice: $NGSPICE_LIBRARY_PATH, else what the loader finds."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        if not Path(env).is_file():
            raise NgspiceNotFoundError(f"NGSPICE_LIBRARY_PATH={env!r} is not a file")
        return env
    found = ctypes.util.find_library("ngspice")
    if found:
        return found
    for cand in ("/usr/lib/x86_64-linux-gnu/libngspice.so.0", "/usr/lib/aarch64-linux-gnu/libngspice.so.0",
                 "/usr/lib/libngspice.so.0", "/usr/local/lib/libngspice.so"):
        if Path(cand).is_file():
            return cand
    raise NgspiceNotFoundError("libngspice shared library not found")


_SHARED = None  # the process-wide PySpice NgSpiceShared instance


def _shared():
    global _SHARED
    if _SHARED is None:
        logging.getLogger("PySpice").setLevel(logging.CRITICAL)
        try:
            from PySpice.Spice.NgSpice.Shared import NgSpiceShared
        except ImportError as exc:  # pragma: no cover - PySpice is a hard dependency
            raise NgspiceNotFoundError(f"PySpice import failed: {exc}") from exc
        NgSpiceShared.LIBRARY_PATH = ngspice_library()
        try:
            _SHARED = NgSpiceShared.new_instance()
        except OSError as exc:
            raise NgspiceNotFoundError(str(exc)) from exc
    return _SHARED


def ngspice_version() -> str:
    """ngspice's version string, e.g. ``'ngspice-39'`` (loads libngspice in this process)."""
    ng = _shared()
    out = ng.exec_command("version -s")
    m = re.search(r"ngspice-(\S+)", out)
    return f"ngspice-{m.group(1)}" if m else f"ngspice-{ng.ngspice_version}"


class NgspiceSession:
    """One loaded deck in the process-wide ngspice, run in its own run directory.

    The run directory receives ``deck.sp`` (the exact netlist, runnable with plain
    ``ngspice``) and ``ngspice.log``. The caller's working directory is not changed;
    decks must use absolute paths (the library and netlist builders do).
    """

    def __init__(self, run_dir: Path, num_threads: int = 1):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.num_threads = int(num_threads)
        self.deck = ""
        self._ng = _shared()
        self._log = open(self.run_dir / "ngspice.log", "a", encoding="utf-8")
        for cmd in ("set ngbehavior=hsa", "set ng_nomodcheck", f"set num_threads={self.num_threads}"):
            self.command(cmd)

    # -- low level -------------------------------------------------------------------
    def _messages(self) -> str:
        return "\n".join(self._ng._stdout + self._ng._stderr)

    def command(self, cmd: str) -> str:
        """Send one interactive command; return its output. SpiceError if ngspice rejects it."""
        from PySpice.Spice.NgSpice.Shared import NgSpiceCommandError

        self._log.write(f"> {cmd}\n")
        try:
            out = self._ng.exec_command(cmd)
            self._log.write(self._messages() + "\n")
            return out
        except (NgSpiceCommandError, NameError) as exc:
            msgs = self._messages()
            self._log.write(msgs + "\n")
            self._log.flush()
            raise SpiceError(f"ngspice command {cmd!r} failed: {exc}", self.deck, msgs, self.run_dir) from exc

    # -- deck ------------------------------------------------------------------------
    def load(self, deck: str) -> None:
        """Parse `deck` (the sky130 model load happens here: seconds). SpiceError on any error."""
        self.deck = deck
        (self.run_dir / "deck.sp").write_text(deck)
        self._ng.exec_command("destroy all")
        self._ng.clear_output()
        try:
            self._ng.load_circuit(deck)
            failed = False
        except Exception:  # PySpice raises NgSpiceCircuitError with an empty message
            failed = True
        msgs = self._messages()
        self._log.write(f"> load deck.sp\n{msgs}\n")
        self._log.flush()
        bad = [ln for ln in msgs.splitlines() if _LOAD_ERROR_PATTERNS.search(ln) and "warning" not in ln.lower()]
        if failed or bad or "circuit not parsed" in msgs.lower():
            raise SpiceError("ngspice could not load the netlist", deck, msgs, self.run_dir)

    # -- analyses --------------------------------------------------------------------
    def analyse(self, analysis: str, keep: tuple[str, ...] | None = None) -> SimResult:
        """Run one analysis command (``op``, ``tran 1p 3n``, ``dc vg 0 1.8 0.01``, ``ac ...``,
        ``noise ...``) and return its vectors (only those in `keep`, plus the scale, if given).
        ConvergenceError when ngspice reports failure or produces no data."""
        from PySpice.Spice.NgSpice.Shared import NgSpiceCommandError

        before = self._ng.plot_names
        try:
            self._ng.exec_command(analysis)
            err = None
        except (NgSpiceCommandError, NameError) as exc:
            err = exc
        msgs = self._messages()
        self._log.write(f"> {analysis}\n{msgs}\n")
        self._log.flush()
        plots = self._ng.plot_names
        new = plots[0] if plots and plots != before else None
        if new is None or (err is not None and _FAILURE_PATTERNS.search(msgs)):
            raise ConvergenceError(f"analysis {analysis!r} failed", self.deck, msgs, self.run_dir)
        result = self._fetch(new, analysis, keep)
        words = analysis.split()
        if words[0].lower() == "tran" and len(words) >= 3:  # an aborted transient leaves a short plot
            tstop = _spice_number(words[2])
            if result.scale[-1] < tstop * (1 - 1e-6):
                raise ConvergenceError(f"analysis {analysis!r} stopped at t={result.scale[-1]:g} s of {tstop:g} s",
                                       self.deck, msgs, self.run_dir)
        self._ng.exec_command(f"destroy {new}")  # keep ngspice memory flat over long batches
        return result

    def _fetch(self, plot: str, analysis: str, keep: tuple[str, ...] | None) -> SimResult:
        raw = self._ng.plot(None, plot)
        wanted = None if keep is None else {k.lower() for k in keep}
        vectors, units = {}, {}
        for name, vec in raw.items():
            key = name.lower()
            is_scale = key in ("time", "frequency") or key.endswith("-sweep")
            if wanted is not None and key not in wanted and not is_scale:
                continue
            vectors[key] = np.array(vec._data, copy=True)
            units[key] = getattr(vec._type, "name", str(vec._type))
        if wanted is not None:
            missing = wanted - set(vectors)
            if missing:
                raise SpiceError(
                    f"analysis {analysis!r} produced no vector(s) {sorted(missing)}; "
                    f"available: {sorted(k.lower() for k in raw)[:40]}",
                    self.deck, self._messages(), self.run_dir)
        return SimResult(analysis=analysis, plot=plot, vectors=vectors, units=units)

    def close(self) -> None:
        """Remove the circuit from ngspice and close the log."""
        try:
            self._ng.exec_command("destroy all")
            self._ng.exec_command("remcirc")
        except Exception:  # noqa: BLE001 - best effort on teardown
            pass
        self._log.close()

    def __enter__(self) -> "NgspiceSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
