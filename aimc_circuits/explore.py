"""`aimc explore SPACE.toml`: design-space exploration of the macro.

A space file sweeps macro configuration fields and block design parameters (cartesian product)::

    [base]                       # MacroConfig fields of every point (default: the reference macro)
    n_chips = 3
    [macro]                      # MacroConfig fields swept
    rows_per_subarray = [64, 128]
    tdc_current = [0.5, 1.0]
    [blocks.row_driver]          # design parameters of a block's variant, swept
    nrep = [32, 64]
    [settings]
    profile = "fast"             # characterization profile of re-characterized blocks

Every combination of block parameters that differs from a block's shipped design is
re-characterized in SPICE (only that block; the sweeps are cached by content, so a rerun or an
overlapping space simulates nothing twice) into ``<out>/calibrations/<key>/``, beside the shipped
calibrations of the other blocks. Each design point's metrics (``Macro.metrics()``) are written
to ``<out>/points/<key>.json`` as soon as they are known: a killed exploration resumes where it
stopped. At the end ``<out>/explore.csv`` and ``explore.json`` hold one row per point, with a
``pareto`` flag (no other point has lower error, higher TOPS/W and higher TOPS/mm2 all at once),
and ``pareto_*.png`` plot TOPS/W and TOPS/mm2 against the error. A point whose configuration is
invalid is recorded with its error and the exploration goes on.
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import shutil
import time
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from .calibrate import PROFILES
from .errors import AimcError, ParameterError, did_you_mean
from .registry import FAMILIES, get_variant

__all__ = ["Space", "explore", "pareto_front", "COLUMNS"]

#: the metrics each row reports (keys of Macro.metrics()), and the design point's own fields
COLUMNS = ("error_fs_pct", "error_sig_pct", "tops", "tops_per_watt", "tops_per_mm2", "area_mm2", "latency_ns",
           "energy_per_vmm_pj", "saturated_pct")
#: objectives of the Pareto front: (metric, +1 more is better / -1 less is better)
OBJECTIVES = (("error_fs_pct", -1), ("tops_per_watt", +1), ("tops_per_mm2", +1))
FORMAT = 1  #: version of the point records


@dataclass(frozen=True)
class Space:
    """A design space: fixed macro fields, swept macro fields, swept block design parameters."""

    base: dict[str, Any] = field(default_factory=dict)
    macro: dict[str, list] = field(default_factory=dict)
    blocks: dict[str, dict[str, list]] = field(default_factory=dict)
    profile: str = "fast"
    source: str = "<space>"

    @classmethod
    def load(cls, path: str | Path) -> "Space":
        p = Path(path)
        if not p.is_file():
            raise ParameterError(f"space file {str(p)!r} is not a file")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ParameterError(f"space file {str(p)!r} is not valid UTF-8 TOML: {exc}") from None
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<space>") -> "Space":
        allowed = ("base", "macro", "blocks", "settings")
        for k in data:
            if k not in allowed:
                raise ParameterError(f"{source}: unknown table [{k}]; allowed: {', '.join(allowed)}."
                                     f"{did_you_mean(k, allowed)}")
        for k in allowed:
            if not isinstance(data.get(k, {}), dict):
                raise ParameterError(f"{source}: [{k}] must be a table (key = value lines); got {data[k]!r}")
        for fam, params in data.get("blocks", {}).items():
            if not isinstance(params, dict):
                raise ParameterError(f"{source}: blocks.{fam} must be a table [blocks.{fam}] of design parameters; "
                                     f"got {params!r}")
        settings = dict(data.get("settings", {}))
        profile = settings.pop("profile", "fast")
        if settings:
            raise ParameterError(f"{source}: unknown [settings] key(s) {sorted(settings)}; allowed: profile")
        if profile not in PROFILES:
            raise ParameterError(f"{source}: settings.profile={profile!r}; allowed: {', '.join(PROFILES)}")
        space = cls(base=dict(data.get("base", {})), macro=dict(data.get("macro", {})),
                    blocks={f: dict(v) for f, v in data.get("blocks", {}).items()}, profile=profile, source=source)
        space.check()
        return space

    def check(self) -> None:
        """Names and values: every swept field a non-empty list, every field known, every value
        accepted by MacroConfig / the block's design class (checked here, before any SPICE)."""
        from .macro import MacroConfig

        names = [f.name for f in fields(MacroConfig)]
        for table, keys in (("base", self.base), ("macro", self.macro)):
            for k in keys:
                if k not in names or k in ("nonidealities", "calibration_dir"):
                    raise ParameterError(f"{self.source}: [{table}] {k!r} is not a MacroConfig field one can "
                                         f"explore.{did_you_mean(k, names)}")
        for k, vals in self.macro.items():
            _check_list(f"{self.source}: macro.{k}", vals)
        for combo in self.macro_points():
            try:
                MacroConfig(**{**self.base, **combo})
            except (TypeError, ParameterError) as exc:
                raise ParameterError(f"{self.source}: the point {combo} is not a valid macro: {exc}") from None
        for fam, params in self.blocks.items():
            if fam not in FAMILIES:
                raise ParameterError(f"{self.source}: [blocks.{fam}] is not a block family; allowed: "
                                     f"{', '.join(FAMILIES)}.{did_you_mean(fam, FAMILIES)}")
            design = self.variant(fam).design()
            dnames = [f.name for f in fields(design)]
            for k, vals in params.items():
                if k not in dnames:
                    raise ParameterError(f"{self.source}: blocks.{fam}.{k} is not a design parameter of "
                                         f"{self.variant(fam).id}; allowed: {', '.join(dnames)}."
                                         f"{did_you_mean(k, dnames)}")
                _check_list(f"{self.source}: blocks.{fam}.{k}", vals)
                for v in vals:
                    design(**{k: v})  # the design's own range check (ParameterError names the value)

    def variant(self, family: str):
        from .macro import MacroConfig

        cfg = MacroConfig(**self.base)
        return get_variant(family, getattr(cfg, f"{family}_variant"))

    def macro_points(self) -> list[dict[str, Any]]:
        return _product(self.macro)

    def block_points(self) -> list[dict[str, dict[str, Any]]]:
        """Each combination of block parameters: {family: {param: value}} (only the families swept)."""
        per_family = {f: _product(p) for f, p in self.blocks.items()}
        return [dict(zip(per_family, combo)) for combo in itertools.product(*per_family.values())] or [{}]


def _check_list(name: str, vals: Any) -> None:
    if not isinstance(vals, list) or not vals:
        raise ParameterError(f"{name}={vals!r} must be a non-empty list of values")


def _product(axes: dict[str, list]) -> list[dict[str, Any]]:
    keys = list(axes)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(axes[k] for k in keys))]


def _key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _changed(space: Space, blocks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The families whose parameters differ from their shipped design, with those parameters."""
    out = {}
    for fam, params in blocks.items():
        default = space.variant(fam).design()()
        diff = {k: v for k, v in params.items() if getattr(default, k) != v}
        if diff:
            out[fam] = diff
    return out


def _calibration_dir(space: Space, changed: dict[str, dict[str, Any]], out: Path,
                     characterize: Callable[..., list[Path]], progress: bool) -> str | None:
    """None (the shipped calibrations) when nothing changed; else a directory holding the
    re-characterized blocks and a copy of the others' shipped files."""
    if not changed:
        return None
    key = _key({"changed": changed, "profile": space.profile,
                "variants": {f: space.variant(f).id for f in FAMILIES}})
    cdir = out / "calibrations" / key
    done = cdir / "done.json"
    if done.is_file():
        return str(cdir)
    for fam in FAMILIES:
        v = space.variant(fam)
        dst = v.calibration_path(cdir)
        if fam in changed:
            characterize(v, changed[fam], space.profile, cdir, progress)
        else:
            src = v.calibration_path(None)
            if not src.is_file():
                raise ParameterError(f"{v.id} has no shipped calibration ({src}) to use beside the re-characterized "
                                     f"blocks; run `aimc calibrate --block {v.id}` first")
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    _write_json(done, {"changed": changed, "profile": space.profile})
    return str(cdir)


def _characterize(variant, params: dict[str, Any], profile: str, out_dir: Path, progress: bool) -> list[Path]:
    from .calibrate import calibrate

    design = variant.design()(**params)
    return calibrate(variant.id, profile, out_dir, progress=progress, design=design)


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    tmp.replace(path)


def _evaluate(space: Space, macro_point: dict[str, Any], cal_dir: str | None) -> dict[str, Any]:
    from .macro import Macro, MacroConfig

    cfg = MacroConfig(**{**space.base, **macro_point, "calibration_dir": cal_dir})
    m = Macro.from_config(cfg).metrics()
    return {k: m.get(k) for k in COLUMNS}


def pareto_front(rows: list[dict[str, Any]], objectives=OBJECTIVES) -> list[bool]:
    """For each row: True when no other row is at least as good in every objective and better in
    one (rows with a missing objective are never on the front)."""
    def vec(r):
        vals = [r.get(k) for k, _ in objectives]
        return None if any(v is None for v in vals) else [s * v for (_, s), v in zip(objectives, vals)]

    vecs = [vec(r) for r in rows]
    flags = []
    for i, a in enumerate(vecs):
        if a is None:
            flags.append(False)
            continue
        dominated = any(b is not None and j != i and all(y >= x for x, y in zip(a, b)) and any(y > x for x, y in zip(a, b))
                        for j, b in enumerate(vecs))
        flags.append(not dominated)
    return flags


def explore(space: Space, out: str | Path, progress: Callable[[str], None] | None = None,
            characterize: Callable[..., list[Path]] = _characterize) -> list[dict[str, Any]]:
    """Run every design point of `space` (resuming finished ones from `out`), write the table
    and the Pareto plots, and return the rows."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {str(out)!r} is a file; give a directory")
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda s: None)
    plan = [(b, m) for b in space.block_points() for m in space.macro_points()]
    n_spice = sum(1 for b in space.block_points() if _changed(space, b))
    say(f"{len(plan)} design points ({len(space.block_points())} block designs, {n_spice} to characterize in "
        f"SPICE, {space.profile} profile; x {len(space.macro_points())} macro configurations)")
    rows, t0, n_new = [], time.perf_counter(), 0
    for i, (blocks, mpt) in enumerate(plan):
        changed = _changed(space, blocks)
        pkey = _key({"format": FORMAT, "base": space.base, "macro": mpt, "changed": changed, "profile": space.profile})
        ppath = out / "points" / f"{pkey}.json"
        if ppath.is_file():
            row = json.loads(ppath.read_text())
        else:
            row = {"point": i, **{f"macro.{k}": v for k, v in mpt.items()},
                   **{f"{f}.{k}": v for f, p in blocks.items() for k, v in p.items()}}
            try:
                cal_dir = _calibration_dir(space, changed, out, characterize, progress is not None)
                row.update(_evaluate(space, mpt, cal_dir), error="")
            except AimcError as exc:
                row.update({k: None for k in COLUMNS}, error=str(exc))
            _write_json(ppath, row)
            n_new += 1
        rows.append(row)
        el = time.perf_counter() - t0
        eta = el / n_new * (len(plan) - i - 1) if n_new else 0.0
        say(f"point {i + 1}/{len(plan)} ({n_new} evaluated, {len(rows) - n_new} from {out / 'points'}); "
            f"{el:.0f} s, ETA {eta:.0f} s")
    for r, flag in zip(rows, pareto_front(rows)):
        r["pareto"] = flag
    _write_table(rows, out)
    _plot(rows, out)
    return rows


def _write_table(rows: list[dict[str, Any]], out: Path) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "explore.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
    _write_json(out / "explore.json", rows)


def _plot(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.get("error_fs_pct") is not None]
    for ykey, label in (("tops_per_watt", "TOPS/W"), ("tops_per_mm2", "TOPS/mm$^2$")):
        fig, ax = plt.subplots(figsize=(5.5, 4))
        pts = [r for r in ok if r.get(ykey) is not None]
        ax.scatter([r["error_fs_pct"] for r in pts], [r[ykey] for r in pts], c="0.6", label="design points")
        front = sorted((r for r in pts if r["pareto"]), key=lambda r: r["error_fs_pct"])
        ax.plot([r["error_fs_pct"] for r in front], [r[ykey] for r in front], "o-", c="C3",
                label="Pareto front (error, TOPS/W, TOPS/mm$^2$)")
        for r in pts:
            ax.annotate(str(r["point"]), (r["error_fs_pct"], r[ykey]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xlabel("error (% of full scale, RMS)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / f"pareto_{ykey}.png", dpi=120)
        plt.close(fig)


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    """A short text table of the rows (the design point's fields, error, TOPS, TOPS/W, TOPS/mm2)."""
    own = [k for k in rows[0] if "." in k] if rows else []
    head = ["#"] + own + ["err %FS", "TOPS", "TOPS/W", "TOPS/mm2", "pareto"]
    lines = ["  ".join(f"{h:>10s}" for h in head)]
    for r in rows:
        if r.get("error"):
            cells = [str(r["point"])] + [str(r.get(k)) for k in own] + [f"error: {r['error'][:60]}"]
        else:
            cells = ([str(r["point"])] + [str(r.get(k)) for k in own]
                     + [f"{r['error_fs_pct']:.3f}", f"{r['tops']:.2f}", f"{r['tops_per_watt']:.2f}",
                        f"{r['tops_per_mm2']:.3f}" if r.get("tops_per_mm2") is not None else "-",
                        "*" if r["pareto"] else ""])
        lines.append("  ".join(f"{c:>10s}" for c in cells))
    return lines

