"""Resolve the sky130 library's device subcircuits of a deck into plain elements and model cards.

Why: ngspice spends most of a large deck's time expanding the library's device subcircuits
(every instance evaluates the library's parameter expressions and gets its own copy of the
binned models: about quadratic in the instance count, 46 s of 54 s for a 32-row cell column;
``benchmarks/spice_time_breakdown.py``). Resolved, each device is a plain ``M``/``R``/``C``
element, and each distinct MOSFET geometry one ``.model`` card.

How: the deck's own subcircuits are specialized for every distinct binding of their parameters
(``{expr}`` evaluated), which makes the geometry of every library device instance a number.
Each distinct (device, geometry) is instantiated once in a small *harvest* deck loaded with the
library: ngspice's expanded listing gives the device's elements with every value evaluated, and
its ``showmod`` the bin it selected and the values of the card's parameter expressions; the card's
other numbers are taken verbatim from the library's text (full precision). Harvests are cached by
content (library hash, corner, devices). The library stays included (``.option scale`` and any
device not resolved). Only corners without mismatch: the ``_mm`` corners draw per-instance
mismatch inside the library's expressions, so their decks are left to the library.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AimcError

__all__ = ["ResolveError", "resolve_deck_body"]

PDK_PREFIX = "sky130_fd_pr__"
HARVEST_FORMAT = 2  #: version of the cached harvest records
_SAFE = {k: getattr(math, k) for k in ("sqrt", "exp", "log", "log10", "sin", "cos", "tan", "pi", "floor", "ceil")}
_SAFE.update(abs=abs, min=min, max=max, pow=pow)


class ResolveError(AimcError):
    """A deck cannot be resolved (an expression or a device this resolver does not handle)."""


@dataclass(frozen=True)
class _Subckt:
    name: str
    ports: tuple[str, ...]
    defaults: dict[str, str]
    lines: tuple[str, ...]


def _logical_lines(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.split("\n"):
        s = raw.strip()
        if not s or s.startswith("*"):
            continue
        if s.startswith("+") and out:
            out[-1] += " " + s[1:].strip()
        else:
            out.append(s)
    return out


_NUM = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)([a-zA-Z]*)$")
_SUFFIX = {"": 1.0, "t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12,
           "f": 1e-15, "a": 1e-18, "mil": 25.4e-6}


def _number(text: str) -> float | None:
    m = _NUM.match(text.strip())
    if not m:
        return None
    suf = m.group(2).lower()
    for k in ("meg", "mil", "t", "g", "k", "m", "u", "n", "p", "f", "a"):
        if suf.startswith(k):
            return float(m.group(1)) * _SUFFIX[k]
    return float(m.group(1)) if suf == "" or suf.isalpha() else None


def _value(text: str, binding: dict[str, float]) -> float:
    """A parameter value: a number, a name bound here, or a {expression} of bound names."""
    t = text.strip()
    if t.startswith("{") and t.endswith("}"):
        t = t[1:-1]
    v = _number(t)
    if v is not None:
        return v
    try:
        return float(eval(t, {"__builtins__": {}}, {**_SAFE, **binding}))  # noqa: S307 - names restricted
    except Exception as exc:  # noqa: BLE001
        raise ResolveError(f"cannot evaluate {text!r} with {sorted(binding)}: {exc}") from None


def _split_instance(line: str) -> tuple[str, list[str], str, dict[str, str]]:
    """An X line: (name, nodes, subcircuit, params)."""
    params = dict(re.findall(r"(\w+)\s*=\s*(\{[^}]*\}|\S+)", line))
    head = re.sub(r"\w+\s*=\s*(\{[^}]*\}|\S+)", "", line).split()
    return head[0], head[1:-1], head[-1], params


def _parse(body: str) -> tuple[list[str], dict[str, _Subckt]]:
    top: list[str] = []
    subs: dict[str, _Subckt] = {}
    cur: list[str] | None = None
    hdr: tuple[str, tuple[str, ...], dict[str, str]] | None = None
    for ln in _logical_lines(body):
        low = ln.lower()
        if low.startswith(".subckt"):
            toks = re.sub(r"(\w+)\s*=\s*", r"\1=", ln).split()
            ports = tuple(t for t in toks[2:] if "=" not in t)
            defaults = dict(t.split("=", 1) for t in toks[2:] if "=" in t)
            hdr, cur = (toks[1], ports, defaults), []
        elif low.startswith(".ends"):
            assert hdr is not None and cur is not None
            subs[hdr[0]] = _Subckt(hdr[0], hdr[1], hdr[2], tuple(cur))
            hdr, cur = None, None
        elif cur is not None:
            cur.append(ln)
        else:
            top.append(ln)
    return top, subs


@dataclass(frozen=True)
class _Device:
    subckt: str
    n_ports: int
    params: tuple[tuple[str, float], ...]

    @property
    def line_params(self) -> str:
        return " ".join(f"{k}={v!r}" for k, v in self.params)


class _Specializer:
    """Specialize the deck's own subcircuits for every binding; collect the library devices."""

    def __init__(self, subs: dict[str, _Subckt]):
        self.subs = subs
        self.out: dict[str, list[str]] = {}  # specialized name -> body lines (with device placeholders)
        self.ports: dict[str, tuple[str, ...]] = {}
        self.devices: dict[_Device, int] = {}

    def specialize(self, name: str, binding: dict[str, float]) -> str:
        key = name + "__" + hashlib.sha256(repr(sorted(binding.items())).encode()).hexdigest()[:10]
        if key in self.out:
            return key
        self.out[key] = []  # (re-entry guard)
        self.ports[key] = self.subs[name].ports
        self.out[key] = [self._line(ln, binding) for ln in self.subs[name].lines]
        return key

    def instance(self, line: str, binding: dict[str, float] | None) -> str:
        name, nodes, sub, params = _split_instance(line)
        if sub.startswith(PDK_PREFIX):
            if binding is None:
                binding = {}
            dev = _Device(sub, len(nodes), tuple(sorted((k.lower(), _value(v, binding)) for k, v in params.items())))
            idx = self.devices.setdefault(dev, len(self.devices))
            return f"@@dev {idx} {name} {' '.join(nodes)}"
        s = self.subs[sub]
        b: dict[str, float] = {}
        for k, v in s.defaults.items():
            b[k] = _value(v, b)
        mult = {}
        for k, v in params.items():
            if k.lower() == "m":
                mult["m"] = v if binding is None else repr(_value(v, binding))
                continue
            b[k] = _value(v, binding or {})
        spec = self.specialize(sub, b)
        extra = f" m={mult['m']}" if mult else ""
        return f"{name} {' '.join(nodes)} {spec}{extra}"

    def _line(self, ln: str, binding: dict[str, float]) -> str:
        if ln[0] in "xX":
            return self.instance(ln, binding)
        return re.sub(r"\{([^}]*)\}", lambda m: repr(_value(m.group(1), binding)), ln)


def _lib_subckt_text(lib: Path, name: str, memo: dict[str, str] = {}) -> str:  # noqa: B006 - a cache
    """The text of the library subcircuit `name` (first definition under the library's folder)."""
    if name in memo:
        return memo[name]
    pat = re.compile(rf"^\.subckt\s+{re.escape(name)}\s", re.MULTILINE | re.IGNORECASE)
    for f in sorted(lib.parent.rglob("*.spice")):
        text = f.read_text(errors="replace")
        m = pat.search(text)
        if m:
            end = text.lower().find(".ends", m.end())
            memo[name] = text[m.start():end]
            return memo[name]
    raise ResolveError(f"no subcircuit {name} under {lib.parent}")


def _card(lib: Path, subckt: str, model: str, show: dict[str, str]) -> str:
    """The library's card `model` (e.g. nshort_model.48) of `subckt`, expressions replaced by the
    values ngspice reported for them (showmod: tnom in kelvin)."""
    text = _lib_subckt_text(lib, subckt)
    m = re.search(rf"^\.model\s+{re.escape(model)}\s+(\w+)\s*\n((?:\s*\+.*\n|\s*\*.*\n)*)", text + "\n",
                  re.MULTILINE | re.IGNORECASE)
    if not m:
        raise ResolveError(f"no card {model} in {subckt}")
    body = " ".join(ln.strip().lstrip("+") for ln in m.group(2).split("\n") if ln.strip().startswith("+"))
    pairs = re.findall(r"(\w+)\s*=\s*(\{[^}]*\}|\S+)", body)
    out = []
    for k, v in pairs:
        kl = k.lower()
        if kl in ("lmin", "lmax", "wmin", "wmax"):
            continue
        if v.startswith("{"):
            if kl not in show:
                raise ResolveError(f"{subckt}: no value reported for {k} = {v}")
            v = repr(float(show[kl]) - 273.15) if kl == "tnom" else show[kl]
        out.append(f"{k}={v}")
    return f"{m.group(1)} " + " ".join(out)


def _run(text: str, expect: list[str]) -> dict[str, str]:
    """Run a harvest deck in plain ngspice; the files its control block wrote (all of `expect`)."""
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "harvest.sp"
        p.write_text(text)
        proc = subprocess.run(["ngspice", "-b", str(p)], capture_output=True, text=True, cwd=tmp, timeout=600)
        files = {f.name: f.read_text(errors="replace") for f in Path(tmp).glob("*.txt")}
    missing = [e for e in expect if e not in files]
    if missing:
        raise ResolveError(f"harvest run wrote no {', '.join(missing)}: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return files


def _harvest(devices: list[_Device], lib_line: str, lib: Path) -> list[dict[str, Any]]:
    """For each device: its elements (kind, name, nodes, value or model + instance params)."""
    inst = [lib_line]
    for i, d in enumerate(devices):
        ports = [f"p{i}_{k}" for k in range(d.n_ports)]
        inst.append(f"x{i} {' '.join(ports)} {d.subckt} {d.line_params}")
        inst += [f"rh{i}_{k} {p} 0 1e9" for k, p in enumerate(ports)]
    listing = _run("* aimc harvest\n" + "\n".join(inst) + "\n.control\nop\nlisting e > listing.txt\n.endc\n.end\n",
                   ["listing.txt"])["listing.txt"]
    elems: list[list[dict[str, Any]]] = [[] for _ in devices]
    for ln in listing.split("\n"):
        m = re.match(r"^\s*\d+\s*:\s*([a-z])\.x(\d+)\.(\S+)\s+(.*)$", ln.strip(), re.IGNORECASE)
        if not m:
            continue
        kind, i, local, rest = m.group(1).lower(), int(m.group(2)), m.group(3), m.group(4)
        if kind not in "mrc":
            raise ResolveError(f"{devices[i].subckt}: element kind {kind!r} is not resolved (only M, R, C)")
        toks = re.sub(r"=\s+", "=", rest).split()
        n_nodes = 4 if kind == "m" else 2
        nodes, rest_t = toks[:n_nodes], toks[n_nodes:]
        model = rest_t.pop(0).split(":", 1)[1] if rest_t and "=" not in rest_t[0] else None
        params = dict(t.split("=", 1) for t in rest_t if "=" in t)
        elems[i].append({"kind": kind, "local": local, "nodes": nodes, "model": model, "params": params})
    with_model = [(i, e) for i, es in enumerate(elems) for e in es if e["model"] is not None]
    if with_model:
        def out_name(i: int, e: dict[str, Any]) -> str:
            return f"s{i}_{e['local'].replace('.', '_')}.txt"

        cmds = "".join(f"showmod {e['kind']}.x{i}.{e['local']} > {out_name(i, e)}\n" for i, e in with_model)
        shown = _run("* aimc harvest\n" + "\n".join(inst) + f"\n.control\nop\n{cmds}.endc\n.end\n",
                     [out_name(i, e) for i, e in with_model])
        for i, e in with_model:
            text = shown[out_name(i, e)]
            sel = re.search(r"model\s+x\d+:(\S+)", text)
            if not sel:
                raise ResolveError(f"{devices[i].subckt}: no model reported by showmod for {e['local']}")
            show = {}
            for ln in text.split("\n"):
                mm = re.match(r"^\s*(\w+)\s+(\S+)\s*$", ln)
                if mm:
                    show[mm.group(1).lower()] = mm.group(2)
            e["card"] = _card(lib, devices[i].subckt, sel.group(1), show)
    return [{"elements": es} for es in elems]


def _cache_path(key: str) -> Path:
    from ..paths import cache_dir

    return cache_dir() / "resolved" / f"{key}.json"


def _store(path: Path, harvest: Any) -> None:
    """Write a harvest atomically through a temporary file of this writer's own: concurrent sweeps
    that resolve the same devices each write theirs, and the last rename wins (same content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with open(fd, "w") as f:
            f.write(json.dumps(harvest))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resolve_deck_body(body: str, lib_line: str, lib: Path, models_sha256: str) -> str:
    """The deck body with every library device inside the deck's own subcircuits resolved into
    plain elements and model cards (see the module docstring). Top-level library devices, and
    everything else, are left as they are."""
    top, subs = _parse(body)
    sp = _Specializer(subs)
    new_top = []
    for ln in top:
        _, _, sub, _ = _split_instance(ln) if ln[0] in "xX" else (None, None, None, None)
        new_top.append(sp.instance(ln, None) if sub in subs else ln)
    devices = sorted(sp.devices, key=sp.devices.get)
    if not devices:
        return body
    key = hashlib.sha256(json.dumps([HARVEST_FORMAT, models_sha256, lib_line, [(d.subckt, d.n_ports, d.params) for d in devices]],
                                    default=str).encode()).hexdigest()
    path = _cache_path(key)
    try:
        harvest = json.loads(path.read_text())
    except (OSError, ValueError):
        harvest = _harvest(devices, lib_line, lib)
        _store(path, harvest)
    cards: dict[str, str] = {}

    def expand(line: str) -> list[str]:
        if not line.startswith("@@dev "):
            return [line]
        _, idx, inst, *nodes = line.split()
        out = []
        for e in harvest[int(idx)]["elements"]:
            def node(n: str) -> str:
                m = re.match(rf"^p{idx}_(\d+)$", n)
                if m:
                    return nodes[int(m.group(1))]
                return n if n == "0" else f"{inst}_{n.split('.', 1)[1].replace('.', '_')}"
            ns = " ".join(node(n) for n in e["nodes"])
            name = f"{e['kind']}{inst}_{e['local'].replace('.', '_')}"
            params = " ".join(f"{k}={v}" for k, v in e["params"].items())
            if e["model"] is not None:
                cname = "aimc_" + hashlib.sha256(e["card"].encode()).hexdigest()[:12]
                cards.setdefault(cname, f".model {cname} {e['card']}")
                out.append(f"{name} {ns} {cname} {params}")
            else:
                out.append(f"{name} {ns} {params}")
        return out

    lines = []
    for name, blines in sp.out.items():
        lines.append(f".subckt {name} {' '.join(sp.ports[name])}")
        for ln in blines:
            lines += expand(ln)
        lines.append(f".ends {name}")
    lines += [ln for t in new_top for ln in expand(t)]
    return "\n".join(lines + list(cards.values())) + "\n"
