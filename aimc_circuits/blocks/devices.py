"""Device- and gate-level testbenches proving the PDK and simulator work:
MOSFET Id-Vg (threshold voltage) and a sky130 inverter's delay and switching energy."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..paths import netlist_path
from ..spice.measure import crossing, integrate, vth_max_gm
from ..spice.runner import SimResult
from ..spice.testbench import Testbench

__all__ = ["IdVg", "InverterDelay", "DiodeFet"]


@dataclass(frozen=True)
class IdVg(Testbench):
    """Drain current vs gate voltage of one sky130 1.8 V MOSFET at |Vds| = vds (linear region).

    Structural: ``device`` ('nfet' or 'pfet'). Point: ``w``, ``l`` (um), ``vds`` (V).
    Measures: ``vg`` (V), ``id`` (A, magnitude), ``vth`` (V, magnitude, max-gm method).
    """

    name = "idvg"
    params = {"w": 1.0, "l": 0.15, "vds": 0.05}
    structural = {"device": "nfet"}
    keep = ("vd#branch",)

    def body(self, s: Mapping[str, Any]) -> str:
        dev = s["device"]
        if dev not in ("nfet", "pfet"):
            raise ParameterError(f"device={dev!r}; allowed: 'nfet', 'pfet'")
        sign = "" if dev == "nfet" else "-"
        return (f".param w=1 l=0.15 vds=0.05\n"
                f"vd d 0 {{{sign}vds}}\nvg g 0 0\n"
                f"xm d g 0 0 sky130_fd_pr__{dev}_01v8 w={{w}} l={{l}}\n")

    def analysis(self, p: Mapping[str, Any]) -> str:
        return "dc vg 0 1.8 0.01" if p["device"] == "nfet" else "dc vg 0 -1.8 -0.01"

    def check(self, p: Mapping[str, Any]) -> None:
        if not 0.42 <= p["w"] <= 100:
            raise ParameterError(f"w={p['w']} um outside the 1.8 V device range [0.42, 100] um")
        if not 0.15 <= p["l"] <= 100:
            raise ParameterError(f"l={p['l']} um outside the 1.8 V device range [0.15, 100] um")

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        vg = np.abs(sim.scale)
        idrain = np.abs(sim["vd#branch"])
        return {"vg": vg, "id": idrain, "vth": vth_max_gm(vg, idrain, p["vds"])}


@dataclass(frozen=True)
class InverterDelay(Testbench):
    """Propagation delay and energy of a sky130 inverter (netlists/inverter.sp), driven by an
    identical inverter (realistic input slope) and loaded by ``cl``.

    Point: ``cl`` (F), ``vdd`` (V). Measures: ``tphl``, ``tplh``, ``tpd`` (s) and
    ``energy`` (J drawn from vdd by the DUT over one full output cycle, i.e. two transitions).
    """

    name = "inverter"
    params = {"cl": 10e-15, "vdd": 1.8}
    period = 4e-9

    def body(self, s: Mapping[str, Any]) -> str:
        T = self.period
        return (netlist_path("inverter").read_text() +
                f".param cl=10f vdd=1.8\n"
                f"vsup vdd 0 {{vdd}}\nvdut vddut 0 {{vdd}}\n"
                f"vin a 0 pulse(0 {{vdd}} {T / 8:g} 50p 50p {T / 2 - 50e-12:g} {T:g})\n"
                f"xdrv a in vdd 0 aimc_inv\n"
                f"xdut in out vddut 0 aimc_inv\n"
                f"cl out 0 {{cl}}\n")

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"tran 2p {2 * self.period:g}"

    def check(self, p: Mapping[str, Any]) -> None:
        if not 0 < p["cl"] <= 10e-12:
            raise ParameterError(f"cl={p['cl']} F outside (0, 10 pF]")
        if not 0.9 <= p["vdd"] <= 1.98:
            raise ParameterError(f"vdd={p['vdd']} V outside the 1.8 V devices' range [0.9, 1.98] V")

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        t, half, T = sim.scale, p["vdd"] / 2, self.period
        t0 = T  # second period: settled initial conditions
        tin_r = crossing(t, sim["in"], half, rising=False, after=t0)  # driver output falls -> DUT out rises
        tout_r = crossing(t, sim["out"], half, rising=True, after=t0)
        tin_f = crossing(t, sim["in"], half, rising=True, after=tin_r)
        tout_f = crossing(t, sim["out"], half, rising=False, after=tout_r)
        energy = integrate(t, -sim["vdut#branch"] * p["vdd"], t0, t0 + T)
        tplh, tphl = tout_r - tin_r, tout_f - tin_f
        return {"tplh": tplh, "tphl": tphl, "tpd": 0.5 * (tplh + tphl), "energy": energy}


@dataclass(frozen=True)
class DiodeFet(Testbench):
    """Diode-connected sky130 nfet (W/L = 1/0.15 um) biased by a current source ``ib`` (A).

    The operating point is solved with Newton iteration only (no gmin/source stepping,
    at most 4 iterations), so absurd bias currents fail to converge: this is how the
    sweep engine's failure handling is exercised on a real device.
    Measures: ``vgs`` (V).
    """

    name = "diode_fet"
    params = {"ib": 1e-6}
    options = "klu gminsteps=0 srcsteps=0 itl1=4 noopiter"

    def body(self, s: Mapping[str, Any]) -> str:
        return (".param ib=1u\ni1 0 d {ib}\n"
                "xm d d 0 0 sky130_fd_pr__nfet_01v8 w=1 l=0.15\n")

    def analysis(self, p: Mapping[str, Any]) -> str:
        return "op"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"vgs": float(sim["d"][0])}
