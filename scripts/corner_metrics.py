"""The reference macro's metrics over process corners x temperatures and over the supply (vdd
+- 10 % at tt / 27 C), and the operating-point and supply laws' checks against SPICE, ->
docs/corners.json and the generated tables of docs/corners.md.

    .venv/bin/python scripts/corner_metrics.py            # all corners x -40, 27, 60, 85 C, 5 supplies (~6 min)
    .venv/bin/python scripts/corner_metrics.py --check    # only rewrite the tables from the JSON

Every number in the tables comes from the JSON or the shipped calibrations
(tests/test_operating_points.py regenerates the tables and compares, and recomputes rows).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aimc_circuits.blocks.operating_point import CORNERS, HELD_OUT_TEMPS_C  # noqa: E402
from aimc_circuits.blocks.supply import supply_key  # noqa: E402
from aimc_circuits.registry import FAMILIES, get_variant  # noqa: E402

JSON_PATH = ROOT / "docs" / "corners.json"
MD_PATH = ROOT / "docs" / "corners.md"
TEMPS_C = (-40.0, 27.0, 60.0, 85.0)
#: the supplies of the supply table (V; tt / 27 C): the laws' fit points 1.62, 1.8, 1.98 and the held-out 1.71, 1.89
SUPPLIES_V = (1.62, 1.71, 1.8, 1.89, 1.98)
#: the recorded metrics' workload (the reference macro's defaults)
FIELDS = ("error_fs_pct", "error_sig_pct", "mean_error_lsb", "saturated_pct", "tops", "latency_ns", "tops_per_watt",
          "energy_per_vmm_pj")


def metrics_row(corner: str, temperature_c: float, n_chips: int | None = None, vdd: float = 1.8) -> dict[str, float]:
    """The numbers one table row records, from ``Macro.from_config(...).metrics()``."""
    import warnings

    import numpy as np

    from aimc_circuits.macro import Macro, MacroConfig

    cfg = MacroConfig(corner=corner, temperature_c=temperature_c, vdd=vdd)
    if n_chips is not None:
        cfg = cfg.replace(n_chips=n_chips)
    with warnings.catch_warnings():  # 1.98 V is above the devices' model range: the law was characterized there
        warnings.filterwarnings("ignore", message=".*model range")
        m = Macro.from_config(cfg).metrics()
    chips = m["chips"]
    return {"corner": corner, "temperature_c": temperature_c, "vdd": vdd,
            "error_fs_pct": m["error_fs_pct_chips"]["mean"], "error_fs_pct_std": m["error_fs_pct_chips"]["std"],
            "error_sig_pct": m["error_sig_pct_chips"]["mean"],
            "mean_error_lsb": float(np.mean([c["mean_error_lsb"] for c in chips])),
            "saturated_pct": float(np.mean([c["saturated_pct"] for c in chips])),
            "tops": m["tops"], "latency_ns": m["latency_ns"], "tops_per_watt": m["tops_per_watt"],
            "energy_per_vmm_pj": m["energy_per_vmm_pj"], "energy_breakdown_pj": m["energy_breakdown_pj"],
            "n_chips": m["workload"]["n_chips"], "batch": m["workload"]["batch"]}


def _metric_cells(r: dict, latency: bool = True) -> str:
    """The metric columns of one table row (error .. energy breakdown)."""
    e = r["energy_breakdown_pj"]
    parts = " / ".join(f"{e.get(k, 0.0) / 1e3:.2f}" for k in ("row_drivers", "cells", "time_accumulators"))
    cells = [f"{r['error_fs_pct']:.2f} +- {r['error_fs_pct_std']:.2f}", f"{r['error_sig_pct']:.1f}",
             f"{r['mean_error_lsb']:+.2f}", f"{r['saturated_pct']:.2f}", f"{r['tops']:.2f}",
             *([f"{r['latency_ns']:.1f}"] if latency else []), f"{r['tops_per_watt']:.2f}",
             f"{r['energy_per_vmm_pj'] / 1e3:.2f}", parts]
    return " | ".join(cells)


def metrics_table(rows: list[dict]) -> str:
    out = ["| corner | T (C) | error (% FS, mean over chips) | error (% of signal) | mean error (LSB) | "
           "saturated (%) | TOPS | latency (ns) | TOPS/W | energy / VMM (nJ) | row / cell / TA (nJ) |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['corner']} | {r['temperature_c']:g} | {_metric_cells(r)} |" for r in rows]
    return "\n".join(out)


def checks_table() -> str:
    """Per block: the operating-point law against SPICE, worst over the corners, at the fit
    temperatures and at the held-out one."""
    out = ["| block | what is compared | at the fit temperatures (-40, 27, 85 C): error / error of the shift, RMS "
           "(max) | held out (60 C): error / error of the shift, RMS (max) | SPICE's own shift, max |",
           "|---|---|---|---|---|"]
    for f in FAMILIES:
        sec = get_variant(f).load_model().calibration.section("operating_points")
        parts = [("", sec["checks"], sec["summary"])] if f != "time_accumulator" else \
            [(k, sec["checks"][k], sec["summary"][k]) for k in sec["checks"]]
        if f == "cell":
            parts.append(("128 rows", sec["checks_rows"]["128"], sec["summary_rows"]["128"]))
        for part, checks, summ in parts:
            what = {"row_driver": "static transfer, 256 codes", "cell": "column voltages, 4 + 16 + 64 + 128 rows",
                    "vtc": "VTC charges, 16 channels", "tdc": "standalone TDC stop times, 16 levels",
                    "column": "whole columns (16 VTCs, C_acc, TDC), stop time, 2 runs at tt/27 and 60 C",
                    "128 rows": "column voltages, 128 rows (the macro's)"}[part or f]
            out.append(_check_row(f, what, checks, summ, ("fit_temps", "held_out_temps")))
    return "\n".join(out)


def supply_metrics_table(rows: list[dict]) -> str:
    out = ["| vdd (V) | error (% FS, mean over chips) | error (% of signal) | mean error (LSB) | saturated (%) | "
           "TOPS | TOPS/W | energy / VMM (nJ) | row / cell / TA (nJ) |", "|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['vdd']:.2f} | {_metric_cells(r, latency=False)} |" for r in rows]
    return "\n".join(out)


def supply_checks_table() -> str:
    """Per block: the supply law against SPICE at the fit and the held-out supplies."""
    out = ["| block | what is compared | at the fit supplies (1.62, 1.8, 1.98 V): error / error of the shift, RMS "
           "(max) | held out (1.71, 1.89 V): error / error of the shift, RMS (max) | SPICE's own shift, max |",
           "|---|---|---|---|---|"]
    what = {"row_driver": "static transfer, 256 codes", "cell": "column voltages, 4 + 16 + 64 + 128 rows",
            "128 rows": "column voltages, 128 rows (the macro's)", "cell energy": "array energy per cycle",
            "vtc": "VTC charges, 16 channels", "column": "whole columns (16 VTCs, C_acc, TDC), stop time, 2 runs",
            "column_tdc": "the whole columns' TDC (held at 1.8 V) on SPICE's accumulator level, stop time",
            "energy": "energy per conversion"}
    for f in FAMILIES:
        sec = get_variant(f).load_model().calibration.section("supply")
        if f == "time_accumulator":
            parts = [(k, sec["checks"][k], sec["summary"][k]) for k in sec["checks"]]
        else:
            parts = [(f, sec["checks"], sec["summary"])]
        if f == "cell":
            parts += [("128 rows", sec["checks_rows"]["128"], sec["summary_rows"]["128"]),
                      ("cell energy", sec["checks_energy"], sec["summary_energy"])]
        for part, checks, summ in parts:
            out.append(_check_row(f, what[part], checks, summ, ("fit_supplies", "held_out_supplies")))
    return "\n".join(out)


def _check_row(family: str, what: str, checks: dict, summ: dict, names: tuple[str, str]) -> str:
    unit = next(iter(checks.values()))["unit"]
    spice = max(q["spice_shift_max"] for q in checks.values())

    def cell(s):
        return "n/a" if s is None else f"{s['rms']:.3g} ({s['max']:.3g}) / {s['shift_rms']:.3g} ({s['shift_max']:.3g}) {unit}"
    return f"| {family.replace('_', ' ')} | {what} | {cell(summ.get(names[0]))} | {cell(summ.get(names[1]))} | {spice:.3g} {unit} |"


def write_tables(rows: list[dict], supply_rows: list[dict]) -> None:
    text = MD_PATH.read_text()
    for name, table in (("metrics", metrics_table(rows)), ("checks", checks_table()),
                        ("supply-metrics", supply_metrics_table(supply_rows)), ("supply-checks", supply_checks_table())):
        pat = re.compile(rf"(<!-- {name}-table -->\n).*?(<!-- /{name}-table -->)", re.S)
        if not pat.search(text):
            raise SystemExit(f"{MD_PATH} has no <!-- {name}-table --> block")
        text = pat.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)
    MD_PATH.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only rewrite the tables from docs/corners.json")
    args = ap.parse_args()
    if not args.check:
        rows, supply_rows = [], []
        t0 = time.perf_counter()
        for c in CORNERS:
            for t in TEMPS_C:
                rows.append(metrics_row(c, t))
                print(f"{c}@{t:g}: {rows[-1]['error_fs_pct']:.2f} % FS ({time.perf_counter() - t0:.0f} s)", flush=True)
        for v in SUPPLIES_V:
            supply_rows.append(metrics_row("tt", 27.0, vdd=v))
            print(f"{supply_key(v)}: {supply_rows[-1]['error_fs_pct']:.2f} % FS ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
        JSON_PATH.write_text(json.dumps({"temps_c": TEMPS_C, "held_out_temps_c": HELD_OUT_TEMPS_C, "rows": rows,
                                         "supplies_v": SUPPLIES_V, "supply_rows": supply_rows,
                                         "command": "scripts/corner_metrics.py"}, indent=1) + "\n")
    data = json.loads(JSON_PATH.read_text())
    write_tables(data["rows"], data["supply_rows"])
    print(f"wrote {MD_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
