"""Typed, versioned, checksummed calibration files (``calibration/<family>/<variant>.json``).

A block variant's calibration class (a :class:`Calibration` subclass in its ``calibration.py``)
names the file's schema (family, variant, version), its design class, and every fitted value the
behavioral model reads (:class:`Fitted`: where it sits in the JSON, unit, meaning, allowed
range). Loading a file:

* checks the envelope (``schema``: the family, variant and version this class reads);
* verifies the checksum over the whole content (``integrity``): a hand-edited file is refused,
  naming the file and the fields that changed (``allow_edited=True``, or the environment variable
  ``AIMC_ALLOW_EDITED_CALIBRATION=1``, accepts it with a warning; ``aimc calibration seal FILE``
  records a deliberate edit in the provenance and re-seals the file);
* reads every fitted value into a typed attribute (float, or an array of the declared shape),
  refusing a missing value, NaN/inf, or a value outside its physical range by name. There are
  no silent defaults.

Only the characterization writes these files (:meth:`Calibration.save`); plain JSON, never pickles.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, TypeVar

import numpy as np

from .errors import AimcError, ParameterError
from .paths import CALIBRATION_DIR

__all__ = ["Calibration", "CalibrationError", "Fitted", "EDITED_ENV", "canonical_sha256", "changed_fields", "jsonable",
           "reseal", "write_json_atomic"]

EDITED_ENV = "AIMC_ALLOW_EDITED_CALIBRATION"
C = TypeVar("C", bound="Calibration")


class CalibrationError(AimcError):
    """A calibration file is missing, corrupt, edited by hand, or holds an unphysical value."""


@dataclass(frozen=True)
class Fitted:
    """One value a behavioral model reads from its calibration."""

    path: str  #: dotted path in the JSON, e.g. "model.params.p_row.value"
    unit: str  #: SI unit ('' for a pure number)
    meaning: str
    lo: float | None = None  #: allowed range [lo, hi] (lo excluded when lo_open)
    hi: float | None = None
    lo_open: bool = False
    shape: tuple[int, ...] | None = None  #: None: a scalar; else an array of this shape (-1: any length)

    def allowed(self) -> str:
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"{'(' if self.lo_open or self.lo is None else '['}{lo}, {hi}{']' if self.hi is not None else ')'}" + (
            f" {self.unit}" if self.unit else "")


def jsonable(o: Any) -> Any:
    """json.dump default: numpy scalars and arrays, paths."""
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=jsonable).encode()


def canonical_sha256(obj: Any) -> str:
    """sha256 of the canonical JSON text of `obj` (sorted keys, no spaces)."""
    return hashlib.sha256(_canonical(obj)).hexdigest()


def _get(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


class Calibration:
    """Base of the typed calibrations (see the module docstring). Subclasses set ``family``,
    ``variant``, ``version``, ``design_class`` and ``fitted`` (attribute name -> Fitted)."""

    family: ClassVar[str]
    variant: ClassVar[str]
    version: ClassVar[int]
    design_class: ClassVar[type]
    fitted: ClassVar[dict[str, Fitted]]

    def __init__(self, data: Mapping[str, Any], source: str = "<memory>", *, allow_edited: bool = False):
        self.source = str(source)
        if not isinstance(data, Mapping):
            raise CalibrationError(f"{self.source}: a calibration is a JSON object, got {type(data).__name__}")
        self._check_schema(data)
        self._verify(data, allow_edited or os.environ.get(EDITED_ENV) == "1")
        self.data = data
        try:
            self.design = self.design_class.from_dict(data["design"])
        except KeyError:
            raise CalibrationError(f"{self.source}: no 'design' section; regenerate it with "
                                   f"`{self.regenerate_command()}`") from None
        except ParameterError as exc:
            raise CalibrationError(f"{self.source}: its design is invalid: {exc}") from None
        for name, spec in self.fitted.items():
            setattr(self, name, self._read(data, name, spec))
        self.check()

    # -- reading ------------------------------------------------------------------------
    @classmethod
    def default_path(cls) -> Path:
        return CALIBRATION_DIR / cls.family / f"{cls.variant}.json"

    @classmethod
    def regenerate_command(cls) -> str:
        return f"aimc calibrate --block {cls.family}/{cls.variant}"

    @classmethod
    def load(cls: type[C], path: Path | str | None = None, *, allow_edited: bool = False) -> C:
        """Read and check a calibration file (default: ``calibration/<family>/<variant>.json``)."""
        p = Path(path) if path is not None else cls.default_path()
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CalibrationError(f"no {cls.family} calibration ({cls.variant}) at {p}; run "
                                   f"`{cls.regenerate_command()}`") from None
        except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
            raise CalibrationError(f"cannot read the {cls.family} calibration {p}: {exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CalibrationError(f"{cls.family} calibration {p} is not valid JSON ({exc}); regenerate it with "
                                   f"`{cls.regenerate_command()}`") from None
        return cls(data, source=str(p), allow_edited=allow_edited)

    def _check_schema(self, data: Mapping[str, Any]) -> None:
        want = {"family": self.family, "variant": self.variant, "version": self.version}
        got = data.get("schema")
        if got != want:
            raise CalibrationError(f"{self.source}: schema {got!r} is not the one {type(self).__name__} reads "
                                   f"({want}); regenerate it with `{self.regenerate_command()}`")

    def _verify(self, data: Mapping[str, Any], allow_edited: bool) -> None:
        integ = data.get("integrity")
        if not isinstance(integ, Mapping) or not isinstance(integ.get("content_sha256"), str):
            raise CalibrationError(f"{self.source}: no integrity checksum; regenerate it with "
                                   f"`{self.regenerate_command()}`")
        content = {k: v for k, v in data.items() if k != "integrity"}
        if canonical_sha256(content) == integ["content_sha256"]:
            return
        changed = changed_fields(data)
        what = ", ".join(changed) if changed else "content outside the recorded fields"
        msg = (f"{self.source} was edited after it was written: {what} changed (checksum mismatch). "
               f"Regenerate it with `{self.regenerate_command()}`; to use a deliberate edit, run "
               f"`aimc calibration seal {self.source}` or set {EDITED_ENV}=1")
        if not allow_edited:
            raise CalibrationError(msg)
        warnings.warn(msg, stacklevel=4)

    def _read(self, data: Mapping[str, Any], name: str, spec: Fitted) -> Any:
        where = f"{self.source}: {spec.path} ({name}, {spec.meaning})"
        try:
            raw = _get(data, spec.path)
        except KeyError:
            raise CalibrationError(f"{where} is missing; regenerate it with `{self.regenerate_command()}`") from None
        try:
            if isinstance(raw, bool):
                raise TypeError
            arr = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise CalibrationError(f"{where} must be a number{'' if spec.shape is None else ' array'}, "
                                   f"got {raw!r:.60}") from None
        if spec.shape is None and arr.ndim:
            raise CalibrationError(f"{where} must be a number, got an array of shape {arr.shape}")
        if spec.shape is not None:
            ok = arr.ndim == len(spec.shape) and all(s in (-1, n) for s, n in zip(spec.shape, arr.shape))
            if not ok:
                raise CalibrationError(f"{where} has shape {arr.shape}; expected {spec.shape} (-1: any)")
        if not np.all(np.isfinite(arr)):
            raise CalibrationError(f"{where} holds NaN or inf; allowed: {spec.allowed()}")
        bad = np.zeros(arr.shape, bool)
        if spec.lo is not None:
            bad |= (arr <= spec.lo) if spec.lo_open else (arr < spec.lo)
        if spec.hi is not None:
            bad |= arr > spec.hi
        if np.any(bad):
            v = arr[bad].ravel()[0] if arr.ndim else float(arr)
            raise CalibrationError(f"{where} = {v!r} is unphysical; allowed: {spec.allowed()}")
        return float(arr) if spec.shape is None else arr

    def check(self) -> None:
        """Checks across fitted values (subclasses); raise CalibrationError naming them."""

    # -- writing ------------------------------------------------------------------------
    @classmethod
    def seal(cls, content: Mapping[str, Any]) -> dict[str, Any]:
        """`content` (a characterization's result) with the schema envelope and the integrity
        checksums (over the whole content, and per fitted value)."""
        body = json.loads(json.dumps({k: v for k, v in content.items() if k not in ("schema", "integrity")},
                                     default=jsonable))
        body = {"schema": {"family": cls.family, "variant": cls.variant, "version": cls.version}, **body}
        return _with_integrity(body, [s.path for s in cls.fitted.values()])

    @classmethod
    def from_content(cls: type[C], content: Mapping[str, Any]) -> C:
        """Seal and check a freshly characterized calibration (raises if it is unphysical)."""
        return cls(cls.seal(content), source=f"<new {cls.family}/{cls.variant} calibration>")

    def save(self, path: Path | str | None = None) -> Path:
        """Write the file atomically (a temporary file renamed over the target)."""
        p = Path(path) if path is not None else self.default_path()
        write_json_atomic(p, self.data)
        self.source = str(p)
        return p

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self.data.get("provenance", {}))

    @property
    def corner(self) -> str:
        """The process corner the behavioral model was characterized at."""
        return str(self._provenance_value("corner"))

    @property
    def temperature_c(self) -> float:
        """The temperature (C) the behavioral model was characterized at."""
        return float(self._provenance_value("temperature_c"))

    def _provenance_value(self, key: str) -> Any:
        try:
            return self.data["provenance"][key]
        except (KeyError, TypeError):
            raise CalibrationError(f"{self.source}: provenance.{key} is missing; regenerate it with "
                                   f"`{self.regenerate_command()}`") from None

    def operating_points(self, params: Mapping[str, str]) -> Any:
        """The ``operating_points`` section as an
        :class:`aimc_circuits.blocks.operating_point.OperatingPointTable` (`params`: the shifted
        parameters the model applies, name -> kind); refused when the file has none."""
        from .blocks.operating_point import OperatingPointTable

        if "operating_points" not in self.data:
            raise CalibrationError(f"{self.source} holds no operating points (corners x temperatures); add them "
                                   f"with `aimc calibrate --block {self.family}/{self.variant} --operating-points`")
        return OperatingPointTable.from_section(self.data["operating_points"], self.source, params)

    def supply(self, params: Mapping[str, str]) -> Any:
        """The ``supply`` section as an :class:`aimc_circuits.blocks.supply.SupplyTable`
        (`params`: the shifted parameters the model applies, name -> kind); refused when the
        file has none."""
        from .blocks.supply import SupplyTable

        if "supply" not in self.data:
            raise CalibrationError(f"{self.source} holds no supply law (vdd +- 10 %); add it with `aimc calibrate "
                                   f"--block {self.family}/{self.variant} --only-supply`")
        return SupplyTable.from_section(self.data["supply"], self.source, params)

    def section(self, name: str) -> Any:
        """A raw section of the file (reports, fit quality), read-only by convention."""
        try:
            return self.data[name]
        except KeyError:
            raise CalibrationError(f"{self.source}: no section {name!r}") from None


def _with_integrity(body: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    fields: dict[str, str] = {}
    for p in paths:
        try:
            fields[p] = canonical_sha256(_get(body, p))[:16]
        except KeyError:
            continue  # reported by name when the file is read
    return {**body, "integrity": {"algorithm": "sha256 of the canonical JSON (sorted keys, no spaces)",
                                  "content_sha256": canonical_sha256(body),
                                  "fields": fields,
                                  "sections": {k: canonical_sha256(v)[:16] for k, v in body.items()}}}


def changed_fields(data: Mapping[str, Any]) -> list[str]:
    """The recorded fields (else the top-level sections) whose content no longer matches."""
    integ = data.get("integrity", {})
    out = []
    for p, h in integ.get("fields", {}).items():
        try:
            if canonical_sha256(_get(data, p))[:16] != h:
                out.append(p)
        except KeyError:
            out.append(f"{p} (removed)")
    if not out:
        for k, h in integ.get("sections", {}).items():
            if k not in data or canonical_sha256(data[k])[:16] != h:
                out.append(k)
        out += [k for k in data if k != "integrity" and k not in integ.get("sections", {})]
    return out


def write_json_atomic(path: Path, data: Any) -> None:
    """JSON (indent 1) to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json.part")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, default=jsonable)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def reseal(path: Path | str, note: str) -> list[str]:
    """Accept a deliberate hand edit of a calibration file: record it (the changed fields, the
    note, the time) in its provenance and recompute its checksums. Returns the changed fields."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"cannot read {p} as JSON: {exc}") from None
    if not isinstance(data, dict) or "integrity" not in data or "schema" not in data:
        raise CalibrationError(f"{p} is not a sealed calibration file (no schema / integrity)")
    if not note or not note.strip():
        raise ParameterError("a note saying what was edited and why is required")
    changed = changed_fields(data)
    content = copy.deepcopy({k: v for k, v in data.items() if k != "integrity"})
    if canonical_sha256(content) == data["integrity"].get("content_sha256"):
        return []
    edits = content.setdefault("provenance", {}).setdefault("edits", [])
    edits.append({"utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "changed": changed, "note": note})
    write_json_atomic(p, _with_integrity(content, list(data["integrity"].get("fields", {}))))
    return changed
