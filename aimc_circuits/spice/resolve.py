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
device not resolved).

Monte Carlo (``_mm`` corners, ``mismatch_seed``): the library draws each instance's mismatch
inside its expressions (``MC_MM_SWITCH * AGAUSS(mu, a, s)``: mu + a / s x a unit normal, one per
occurrence, instance and use: ngspice evaluates the expression anew wherever a value refers to
it, so the three capacitors of a MOM cell that share one ``ctot_a`` draw independently; measured,
their total spreads 1.41 x less than with one shared draw). Resolved, every draw is an explicit number: each device's library
subcircuit is copied into a second harvest deck with the mismatch switch on and every AGAUSS at
its mean, once as it is and once per occurrence with that one at mean + 1 sigma; the differences
of the copies' element values and card parameters are the sensitivities (the expressions are
linear in each draw), one per (occurrence, value it reaches). In the deck, every instance of the
deck's own subcircuits is specialized on its own (its hierarchical path), and each value of its
devices is the nominal one plus z x its sensitivity, one unit normal z per sensitivity from a
generator seeded by (seed, instance path): reproducible, and independent of the deck's other
instances and their order. The nominal harvest is the corner's without mismatch (``tt`` for
``tt_mm``), the same cache entry.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AimcError

__all__ = ["ResolveError", "resolve_deck_body"]

PDK_PREFIX = "sky130_fd_pr__"
HARVEST_FORMAT = 2  #: version of the cached harvest records
MISMATCH_FORMAT = 2  #: version of the cached mismatch sensitivities
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

    def __init__(self, subs: dict[str, _Subckt], per_instance: bool = False):
        self.subs = subs
        self.per_instance = per_instance  # one specialization per instance path (Monte Carlo)
        self.out: dict[str, list[str]] = {}  # specialized name -> body lines (with device placeholders)
        self.ports: dict[str, tuple[str, ...]] = {}
        self.paths: dict[str, str] = {}  # specialized name -> its instance path (per_instance)
        self.devices: dict[_Device, int] = {}

    def specialize(self, name: str, binding: dict[str, float], path: str = "") -> str:
        ident = repr(sorted(binding.items())) + (f"@{path}" if self.per_instance else "")
        key = name + "__" + hashlib.sha256(ident.encode()).hexdigest()[:10]
        if key in self.out:
            return key
        self.out[key] = []  # (re-entry guard)
        self.ports[key] = self.subs[name].ports
        self.paths[key] = path
        self.out[key] = [self._line(ln, binding, path) for ln in self.subs[name].lines]
        return key

    def instance(self, line: str, binding: dict[str, float] | None, path: str = "") -> str:
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
        spec = self.specialize(sub, b, f"{path}.{name}" if path else name)
        extra = f" m={mult['m']}" if mult else ""
        return f"{name} {' '.join(nodes)} {spec}{extra}"

    def _line(self, ln: str, binding: dict[str, float], path: str) -> str:
        if ln[0] in "xX":
            return self.instance(ln, binding, path)
        return re.sub(r"\{([^}]*)\}", lambda m: repr(_value(m.group(1), binding)), ln)


def _lib_subckt_text(lib: Path, name: str, memo: dict[str, str] = {}) -> str:  # noqa: B006 - a cache
    """The text of the library subcircuit `name` (first definition under the library's folder,
    then under the PDK's ``cells``, which the library includes for some devices)."""
    if name in memo:
        return memo[name]
    pat = re.compile(rf"^\.subckt\s+{re.escape(name)}\s", re.MULTILINE | re.IGNORECASE)
    for f in sorted(lib.parent.rglob("*.spice")) + sorted((lib.parent.parent / "cells").rglob("*.spice")):
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


def _harvest(devices: list[_Device], lib_line: str, lib: Path,
             card_subckts: list[str] | None = None) -> list[dict[str, Any]]:
    """For each device: its elements (kind, name, nodes, value or model + instance params).
    card_subckts: the library subcircuit whose card text each device's cards take (default: the
    device's own; the mismatch harvest's copies take their original's)."""
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
            e["card"] = _card(lib, card_subckts[i] if card_subckts else devices[i].subckt, sel.group(1), show)
    return [{"elements": es} for es in elems]


_AGAUSS = re.compile(r"agauss\s*\(([^(),]*),([^(),]*),([^(),]*)\)", re.IGNORECASE)
_MM_SWITCH = re.compile(r"\bmc_mm_switch\b", re.IGNORECASE)


def _draw_count(text: str) -> int:
    """The AGAUSS draws of a library subcircuit's text (comment lines left out)."""
    return sum(len(_AGAUSS.findall(ln)) for ln in text.split("\n") if not ln.lstrip().startswith("*"))


def _mismatch_copy(text: str, name: str, new: str, k: int) -> str:
    """The library subcircuit `text` (``.subckt name ...`` up to its ``.ends``) as `new`, its
    mismatch switch on and every AGAUSS draw at its mean, draw k (k >= 0) at mean + 1 sigma."""
    count = itertools.count()

    def draw(m: re.Match) -> str:
        mu, a, sig = m.groups()
        return f"(({mu})+({a})/({sig}))" if next(count) == k else f"({mu})"

    lines = [ln if ln.lstrip().startswith("*") else _AGAUSS.sub(draw, ln) for ln in text.split("\n")]
    body = _MM_SWITCH.sub("1", "\n".join(lines))
    body = re.sub(rf"^(\.subckt\s+){re.escape(name)}(?=\s)", lambda m: m.group(1) + new, body, count=1,
                  flags=re.IGNORECASE)
    return f"{body}\n.ends {new}\n"


def _card_values(card: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", card))


def _differences(nominal: dict[str, str], shifted: dict[str, str]) -> dict[str, float]:
    out = {}
    for k, v in shifted.items():
        a, b = _number(nominal.get(k, "")), _number(v)
        if a is not None and b is not None and b != a:
            out[k] = b - a
    return out


def _harvest_mismatch(devices: list[_Device], base_lib_line: str, lib: Path,
                      nominal: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """For each device, its independent draws: every value (an element's instance parameter,
    "params", or a card parameter, "card") that one AGAUSS of its library subcircuit reaches, with
    its change at +1 sigma of that AGAUSS (the others at their mean). The copies at the mean are
    checked against the nominal harvest."""
    texts = {d.subckt: _lib_subckt_text(lib, d.subckt) for d in devices}
    counts = {name: _draw_count(t) for name, t in texts.items()}
    index = {name: j for j, name in enumerate(texts)}
    defs, copies, card_subckts, where = [], [], [], []  # where: (device index, draw k or -1)
    for name, text in texts.items():
        if counts[name]:
            defs += [_mismatch_copy(text, name, f"aimc_mm{index[name]}_{k + 1}", k) for k in range(-1, counts[name])]
    for i, d in enumerate(devices):
        j = index[d.subckt]
        for k in range(-1, counts[d.subckt]):
            copies.append(_Device(f"aimc_mm{j}_{k + 1}", d.n_ports, d.params))
            card_subckts.append(d.subckt)
            where.append((i, k))
    out: list[list[dict[str, Any]]] = [[] for _ in devices]
    if not copies:
        return out
    got = _harvest(copies, base_lib_line + "\n" + "".join(defs), lib, card_subckts)
    mean = {i: got[n]["elements"] for n, (i, k) in enumerate(where) if k < 0}
    for i, elems in mean.items():  # the copy at the mean is the library without mismatch
        for e, e0 in zip(elems, nominal[i]["elements"]):
            off = {}
            for a, b in ((e0["params"], e["params"]), (_card_values(e0.get("card", "")), _card_values(e.get("card", "")))):
                off.update({k: v for k, v in _differences(a, b).items() if abs(v) > 1e-9 * abs(_number(a[k]) or 0.0)})
            if e["local"] != e0["local"] or off:
                raise ResolveError(f"{devices[i].subckt}: its copy without mismatch differs from the library at "
                                   f"{e0['local']}: {off or e['local']}")
    for n, (i, k) in enumerate(where):
        if k < 0:
            continue
        for e, e0 in zip(got[n]["elements"], mean[i]):
            for kind, a, b in (("params", e0["params"], e["params"]),
                               ("card", _card_values(e0.get("card", "")), _card_values(e.get("card", "")))):
                out[i] += [{"local": e["local"], "where": kind, "name": name, "sens": v}
                           for name, v in _differences(a, b).items()]
    return out


def _instance_draws(seed: int, path: str, n: int) -> np.ndarray:
    """n unit normals for the device instance at `path` (seeded by seed and path only)."""
    h = hashlib.sha256(f"aimc-mismatch/{seed}/{path}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little")).standard_normal(n)


def _shifted(e: dict[str, Any], draws: list[dict[str, Any]], z: np.ndarray) -> tuple[dict[str, str], str | None]:
    """An element's instance parameters and card with the draws z (one per entry of draws) applied."""
    params, card = dict(e["params"]), e.get("card")
    for zk, d in zip(z, draws):
        if d["local"] != e["local"]:
            continue
        k, shift = d["name"], float(zk) * d["sens"]
        if d["where"] == "params":
            params[k] = repr(float(_number(params[k])) + shift)
        else:
            card = re.sub(rf"(?<=\s){re.escape(k)}=(\S+)", lambda m: f"{k}={float(_number(m.group(1))) + shift!r}",
                          card, count=1)
    return params, card


def base_corner_lib_line(lib_line: str) -> str:
    """The ``.lib`` statement of the corner without mismatch (``tt`` for ``tt_mm``)."""
    return re.sub(r"_mm(\s*)$", r"\1", lib_line.rstrip())


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


def _cached(key: str, make) -> Any:
    path = _cache_path(key)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        value = make()
        _store(path, value)
        return value


def resolve_deck_body(body: str, lib_line: str, lib: Path, models_sha256: str, mismatch_seed: int | None = None) -> str:
    """The deck body with every library device inside the deck's own subcircuits resolved into
    plain elements and model cards (see the module docstring). Top-level library devices, and
    everything else, are left as they are. mismatch_seed (with a ``_mm`` corner's lib_line):
    each instance's mismatch drawn here, seeded by it and the instance's path."""
    mm = mismatch_seed is not None
    if mm != (base_corner_lib_line(lib_line) != lib_line.rstrip()):
        raise ResolveError(f"mismatch_seed={mismatch_seed!r} with {lib_line.strip()!r}: a seed goes with a _mm "
                           "corner's .lib line and only with one (a _mm harvest without it would draw at random)")
    if mm and (isinstance(mismatch_seed, bool) or not isinstance(mismatch_seed, (int, np.integer)) or mismatch_seed < 0):
        raise ResolveError(f"mismatch_seed={mismatch_seed!r} must be a non-negative integer")
    top, subs = _parse(body)
    sp = _Specializer(subs, per_instance=mm)
    new_top = []
    for ln in top:
        _, _, sub, _ = _split_instance(ln) if ln[0] in "xX" else (None, None, None, None)
        new_top.append(sp.instance(ln, None) if sub in subs else ln)
    devices = sorted(sp.devices, key=sp.devices.get)
    if not devices:
        return body
    harvest_line = base_corner_lib_line(lib_line) if mm else lib_line
    dev_key = [(d.subckt, d.n_ports, d.params) for d in devices]
    key = hashlib.sha256(json.dumps([HARVEST_FORMAT, models_sha256, harvest_line, dev_key], default=str).encode()).hexdigest()
    harvest = _cached(key, lambda: _harvest(devices, harvest_line, lib))
    sens: list[list[dict[str, Any]]] = [[] for _ in devices]
    if mm:
        mkey = hashlib.sha256(json.dumps(["mismatch", MISMATCH_FORMAT, HARVEST_FORMAT, models_sha256, harvest_line, dev_key],
                                         default=str).encode()).hexdigest()
        sens = _cached(mkey, lambda: _harvest_mismatch(devices, harvest_line, lib, harvest))
    cards: dict[str, str] = {}

    def expand(line: str, path: str) -> list[str]:
        if not line.startswith("@@dev "):
            return [line]
        _, idx, inst, *nodes = line.split()
        draws = sens[int(idx)]
        z = _instance_draws(int(mismatch_seed), f"{path}.{inst}", len(draws)) if draws else None
        out = []
        for e in harvest[int(idx)]["elements"]:
            def node(n: str) -> str:
                m = re.match(rf"^p{idx}_(\d+)$", n)
                if m:
                    return nodes[int(m.group(1))]
                return n if n == "0" else f"{inst}_{n.split('.', 1)[1].replace('.', '_')}"
            ns = " ".join(node(n) for n in e["nodes"])
            name = f"{e['kind']}{inst}_{e['local'].replace('.', '_')}"
            values, card = _shifted(e, draws, z) if draws else (e["params"], e.get("card"))
            params = " ".join(f"{k}={v}" for k, v in values.items())
            if e["model"] is not None:
                cname = "aimc_" + hashlib.sha256(card.encode()).hexdigest()[:12]
                cards.setdefault(cname, f".model {cname} {card}")
                out.append(f"{name} {ns} {cname} {params}")
            else:
                out.append(f"{name} {ns} {params}")
        return out

    lines = []
    for name, blines in sp.out.items():
        lines.append(f".subckt {name} {' '.join(sp.ports[name])}")
        for ln in blines:
            lines += expand(ln, sp.paths[name])
        lines.append(f".ends {name}")
    lines += [ln for t in new_top for ln in expand(t, "")]
    return "\n".join(lines + list(cards.values())) + "\n"
