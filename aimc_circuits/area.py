"""Silicon area estimated from the netlists' device sizes (no layout exists yet).

Each block variant lists its parts (``area.py`` of the variant: :class:`NetlistPart` for a
subcircuit of its netlist with the design's parameters, :class:`FixedPart` for what the
netlists leave to ideal sources, such as the weight storage and the counters); this module reads
the subcircuits (devices, nested instances, multipliers, parameter expressions) and sums the
devices' footprints:

* **MOSFET**: (L + 2 SD) x (W + 2 END) per finger-equivalent (x its multiplier), SD = 0.42 um
  (contacted source/drain: poly-to-licon 0.055 + licon 0.17 + diffusion enclosure 0.06 + half the
  0.27 um diffusion spacing), END = 0.235 um (poly endcap 0.13 + half the 0.21 um poly spacing);
  sky130 periphery rules;
* **MOM capacitor** ``sky130_fd_pr__cap_vpp_<W>x<L>_...``: its outline, W x L from the name;
* **MIM capacitor** ``sky130_fd_pr__cap_mim_m3_1`` (w, l): (w + 2 x 0.14) x (l + 2 x 0.14) (cap
  metal spacing), counted beside the devices although it sits on metal 3/4 (an upper bound);
* **poly resistor** ``sky130_fd_pr__res_*_po`` (w, l): (w + 0.4) x (l + 2 x 0.75) (contact heads).

Then a **layout overhead** per part kind, from where it comes: *digital* and the *array* cells
x 1.46 (the device rule above gives 2.56 um^2 for the devices of ``sky130_fd_sc_hd__inv_1``,
nfet 0.65 / 0.15 and pfet 1.0 / 0.15; its LEF size is 1.38 x 2.72 = 3.75 um^2: rails, well and
pins); *analog* (comparators, mirrors, bias, DAC, followers) x 2.92, twice the digital factor for
well separation, guard rings and matching dummies (an assumption: no analog layout was drawn);
capacitors x 1.0 (their outlines include their spacing). Wiring is in the overhead: the cell
array's pitch is far above the 0.34 um metal-1 pitch (see ``docs/area.md``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from .errors import ParameterError

__all__ = ["NetlistPart", "FixedPart", "Footprint", "OVERHEAD", "device_area_um2", "subckt_area_um2",
           "parts_area_um2", "INVERTER_RULE_UM2", "HD_INV1_UM2"]

SD_UM = 0.42  #: contacted source/drain length beside the gate, each side (um)
END_UM = 0.235  #: gate extension past the channel width, each side (um)
MIM_MARGIN_UM = 0.14
RES_WIDTH_MARGIN_UM = 0.4
RES_HEAD_UM = 0.75
HD_INV1_UM2 = 1.38 * 2.72  #: sky130_fd_sc_hd__inv_1, LEF SIZE 1.38 BY 2.72


def _mos_um2(w: float, l: float) -> float:
    return (l + 2 * SD_UM) * (w + 2 * END_UM)


INVERTER_RULE_UM2 = _mos_um2(0.65, 0.15) + _mos_um2(1.0, 0.15)  #: the rule's area of inv_1's devices
#: layout overhead by part kind (see the module doc)
OVERHEAD = {"digital": HD_INV1_UM2 / INVERTER_RULE_UM2, "array": HD_INV1_UM2 / INVERTER_RULE_UM2,
            "analog": 2.0 * HD_INV1_UM2 / INVERTER_RULE_UM2, "capacitor": 1.0}


@dataclass(frozen=True)
class NetlistPart:
    """`count` instances of subcircuit `subckt` of netlist file `netlist` (netlists/<name>.sp or a
    path) with `params` (the rest at the subcircuit's defaults); `kind` picks the overhead."""

    name: str
    netlist: str
    subckt: str
    params: Mapping[str, float] = field(default_factory=dict)
    count: float = 1.0
    kind: str = "analog"


@dataclass(frozen=True)
class FixedPart:
    """`count` x `area_um2` of something the netlists do not hold as devices; `source` says where
    the area comes from. Its overhead is already in it."""

    name: str
    area_um2: float
    count: float = 1.0
    source: str = ""


@dataclass(frozen=True)
class Footprint:
    """A part's devices (um^2, before overhead) by type, and its area with the overhead."""

    mosfet: float = 0.0
    mom: float = 0.0
    mim: float = 0.0
    resistor: float = 0.0

    @property
    def devices(self) -> float:
        return self.mosfet + self.mom + self.mim + self.resistor

    def with_overhead(self, kind: str) -> float:
        if kind not in OVERHEAD:
            raise ParameterError(f"part kind {kind!r}; allowed: {', '.join(OVERHEAD)}")
        return OVERHEAD[kind] * (self.mosfet + self.resistor) + OVERHEAD["capacitor"] * (self.mom + self.mim)

    def __add__(self, other: "Footprint") -> "Footprint":
        return Footprint(self.mosfet + other.mosfet, self.mom + other.mom, self.mim + other.mim,
                         self.resistor + other.resistor)

    def scaled(self, k: float) -> "Footprint":
        return Footprint(self.mosfet * k, self.mom * k, self.mim * k, self.resistor * k)


# -- netlist reading --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Subckt:
    name: str
    defaults: dict[str, str]
    lines: tuple[str, ...]


_KV = re.compile(r"(\w+)\s*=\s*(\{[^}]*\}|\S+)")
_SI = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "meg": 1e6, "g": 1e9}


def _logical_lines(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split(";")[0].rstrip() if not raw.lstrip().startswith("*") else ""
        if not line.strip():
            continue
        if line.lstrip().startswith("+") and out:
            out[-1] += " " + line.lstrip()[1:]
        else:
            out.append(line.strip())
    return out


@lru_cache(maxsize=16)
def _parse(text: str) -> dict[str, _Subckt]:
    subs: dict[str, _Subckt] = {}
    cur: list[str] | None = None
    name, defaults = "", {}
    for line in _logical_lines(text):
        low = line.lower()
        if low.startswith(".subckt"):
            head = _KV.sub("", line).split()
            name, defaults, cur = head[1], dict(_KV.findall(line)), []
        elif low.startswith(".ends") and cur is not None:
            subs[name] = _Subckt(name, defaults, tuple(cur))
            cur = None
        elif cur is not None:
            cur.append(line)
    return subs


def _value(expr: str, env: Mapping[str, float]) -> float:
    e = expr.strip()
    if e.startswith("{") and e.endswith("}"):
        try:
            return float(eval(e[1:-1], {"__builtins__": {}, "max": max, "min": min, "sqrt": math.sqrt}, dict(env)))
        except Exception as exc:  # noqa: BLE001 - a netlist expression we cannot evaluate
            raise ParameterError(f"netlist expression {e!r}: {exc}") from None
    m = re.fullmatch(r"([-+]?[\d.]+(?:e[-+]?\d+)?)([a-z]*)", e.lower())
    if not m:
        if e in env:
            return float(env[e])
        raise ParameterError(f"netlist value {e!r} is not a number")
    suffix = m.group(2)
    scale = next((v for k, v in sorted(_SI.items(), key=lambda kv: -len(kv[0])) if suffix.startswith(k)), 1.0)
    return float(m.group(1)) * scale


def device_area_um2(model: str, p: Mapping[str, float]) -> Footprint:
    """The footprint of one sky130 device instance (before the multiplier and the overhead)."""
    mdl = model.lower()
    if "fet" in mdl:
        return Footprint(mosfet=_mos_um2(p["w"], p["l"]))
    if "cap_vpp" in mdl:
        m = re.search(r"cap_vpp_(\d+)p(\d+)x(\d+)p(\d+)", mdl)
        if not m:
            raise ParameterError(f"MOM capacitor {model}: no W x L in its name")
        w, l = float(f"{m.group(1)}.{m.group(2)}"), float(f"{m.group(3)}.{m.group(4)}")
        return Footprint(mom=w * l)
    if "cap_mim" in mdl:
        return Footprint(mim=(p["w"] + 2 * MIM_MARGIN_UM) * (p["l"] + 2 * MIM_MARGIN_UM))
    if "res_" in mdl:
        return Footprint(resistor=(p["w"] + RES_WIDTH_MARGIN_UM) * (p["l"] + 2 * RES_HEAD_UM))
    raise ParameterError(f"device model {model}: no area rule (MOSFET, MOM / MIM capacitor, poly resistor)")


def subckt_area_um2(text: str, subckt: str, params: Mapping[str, Any] | None = None) -> Footprint:
    """The devices of one instance of `subckt` in netlist `text`, nested subcircuits included
    (an instance multiplier m or mult counts its devices that many times; ideal elements count 0)."""
    subs = _parse(text)
    if subckt not in subs:
        raise ParameterError(f"subcircuit {subckt!r} not in the netlist; it has {sorted(subs)}")

    def walk(name: str, given: Mapping[str, Any], depth: int) -> Footprint:
        if depth > 20:
            raise ParameterError(f"subcircuit {name!r}: nesting deeper than 20")
        sc = subs[name]
        env: dict[str, float] = {}
        for k, v in sc.defaults.items():
            env[k] = _value(v, env)
        env.update({k: float(v) for k, v in given.items()})
        total = Footprint()
        for line in sc.lines:
            if not line.lower().startswith("x"):
                continue  # R, C, sources: ideal parts or wiring, no device area
            kv = {k: _value(v, env) for k, v in _KV.findall(line)}
            tokens = _KV.sub("", line).split()
            ref = tokens[-1]
            mult = kv.pop("m", kv.pop("mult", 1.0))
            kv.pop("mult", None)
            if ref in subs:
                total = total + walk(ref, kv, depth + 1).scaled(mult)
            elif ref.startswith("sky130_fd_pr__"):
                total = total + device_area_um2(ref, kv).scaled(mult)
            else:
                raise ParameterError(f"instance {tokens[0]} of {name}: {ref!r} is neither a subcircuit of the "
                                     f"netlist nor a sky130 device")
        return total

    return walk(subckt, params or {}, 0)


def _netlist_text(netlist: str) -> str:
    from .paths import netlist_path

    p = Path(netlist)
    return (p if p.suffix == ".sp" and p.is_file() else netlist_path(netlist)).read_text()


def parts_area_um2(parts: list) -> dict[str, float]:
    """{part name: area (um^2) of all its instances, overhead included}."""
    out: dict[str, float] = {}
    for part in parts:
        if isinstance(part, FixedPart):
            a = part.area_um2 * part.count
        else:
            a = subckt_area_um2(_netlist_text(part.netlist), part.subckt, part.params).with_overhead(part.kind) * part.count
        out[part.name] = out.get(part.name, 0.0) + a
    return out
