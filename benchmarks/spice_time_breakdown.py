"""Where ngspice spends a cell-column transient: netlist loading, subcircuit and parameter
expansion of the sky130 library, and the analysis itself (ngspice's own `rusage all`), for column
heights R = 4 .. 32, plus the same column with one capacitor instance per bit (`m=` multiplier)
instead of one per unit capacitor, and the column with the library's devices resolved into plain
elements and cards (aimc_circuits.spice.resolve). Plain `ngspice -b`, one process at a time.

    python benchmarks/spice_time_breakdown.py [R ...]
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits.blocks.cell.mom_bottom_plate.testbench import ColumnTestbench  # noqa: E402
from aimc_circuits.pdk import find_pdk  # noqa: E402
from aimc_circuits.spice.resolve import resolve_deck_body  # noqa: E402


def deck(rows: int, per_bit: bool, seed: int | None = None) -> str:
    """One random point (from `seed`, default `rows`) of the column testbench as a plain deck (the
    point's levels and codes as source values), ending with `rusage all` and the two column voltages."""
    tb = ColumnTestbench(rows=rows)
    rng = np.random.default_rng(rows if seed is None else seed)
    pt = tb.normalize({"vin": rng.uniform(0, 1, rows).tolist(), "codes": rng.integers(0, 16, (rows, 2)).tolist()})
    body = tb.body({})
    for c in tb.point_commands(pt)[0]:
        name, val = re.match(r"alter (\S+) dc=(\S+)", c).groups()
        body = re.sub(rf"^{name} (\S+) (\S+) dc 0$", rf"{name} \1 \2 dc {val}", body, flags=re.M)
    if per_bit:  # the unit capacitors of bit k as one instance with m = mult = 2^k (same PDK mismatch per bit)
        out = []
        for line in body.split("\n"):
            m = re.match(r"^xc(\d+)_(\d+) (\S+ \S+ \S+) (sky130_fd_pr__cap_vpp\S+)$", line)
            if m and m.group(2) != "0":
                continue
            out.append(f"xc{m.group(1)} {m.group(3)} {m.group(4)} m={2 ** int(m.group(1))} mult={2 ** int(m.group(1))}"
                       if m else line)
        body = "\n".join(out)
    return (f"* column R={rows}\n.lib {find_pdk().lib} tt\n.options {tb.options}\n{body}\n.control\n"
            f"set num_threads=1\ntran {tb.tstep:.6g} {2 * tb.design.period:.6g}\nrusage all\n"
            f"print v(c0_{rows})[length(time)-1] v(c1_{rows})[length(time)-1]\n.endc\n.end\n")


def resolved(text: str) -> str:
    """The same deck with the library devices inside its subcircuits resolved."""
    pdk = find_pdk()
    head, rest = text.split("\n.options", 1)
    opts, body_ctl = rest.split("\n", 1)
    body, ctl = body_ctl.split("\n.control", 1)
    return f"{head}\n.options{opts}\n{resolve_deck_body(body, pdk.lib_line('tt'), pdk.lib, pdk.sha256)}\n.control{ctl}"


def run(text: str, extra: tuple[str, ...] = ()) -> dict[str, float]:
    """ngspice -b on the deck: wall time, rusage's times, the final column voltages and the `extra`
    named results (``name = value`` lines, e.g. from ``meas``)."""
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "deck.sp"
        p.write_text(text)
        t0 = time.perf_counter()
        out = subprocess.run(["ngspice", "-b", str(p)], capture_output=True, text=True, cwd=tmp).stdout
        wall = time.perf_counter() - t0

    def num(label: str) -> float:
        m = re.search(rf"{label}\s*=\s*([-\d.e+]+)", out)
        return float(m.group(1)) if m else float("nan")

    return {"wall": wall, "load": num("Netlist loading time"), "expand": num("Subckt and Param expansion time"),
            "analysis": num("Total analysis time \\(seconds\\)"),
            "v0": num(r"v\(c0_\d+\)\[length\(time\)-1\]"), "v1": num(r"v\(c1_\d+\)\[length\(time\)-1\]"),
            **{name: num(rf"\b{name}") for name in extra}}


def main() -> None:
    heights = [int(a) for a in sys.argv[1:]] or [4, 8, 16, 32, 64, 128]
    print("cell column, one transient (2 cycles), tt; seconds from ngspice's rusage; library runs above 32 rows "
          "skipped (expansion ~quadratic)")
    print(f"{'rows':>5} {'wall':>7} {'load':>7} {'expand':>7} {'analysis':>9} {'per-bit caps: wall':>19} "
          f"{'|dV| uV':>8} {'resolved: wall':>15} {'analysis':>9} {'|dV| uV':>8} {'speed-up':>9}")
    resolved(deck(4, False))  # harvest the devices once (cached)
    for r in heights:
        c = run(resolved(deck(r, False)))
        if r <= 32:
            a, b = run(deck(r, False)), run(deck(r, True))
            dv = 1e6 * max(abs(a["v0"] - b["v0"]), abs(a["v1"] - b["v1"]))
            dr = 1e6 * max(abs(a["v0"] - c["v0"]), abs(a["v1"] - c["v1"]))
            print(f"{r:>5} {a['wall']:7.2f} {a['load']:7.2f} {a['expand']:7.2f} {a['analysis']:9.2f} "
                  f"{b['wall']:19.2f} {dv:8.1f} {c['wall']:15.2f} {c['analysis']:9.2f} {dr:8.1f} "
                  f"{a['wall'] / c['wall']:9.1f}")
        else:
            print(f"{r:>5} {'':>7} {'':>7} {'':>7} {'':>9} {'':>19} {'':>8} {c['wall']:15.2f} {c['analysis']:9.2f}")


if __name__ == "__main__":
    main()
