"""`aimc report`: the macro's figures as PNG files and an HTML summary (metrics beside AiDAC's
headline, the error budget, the calibrations' fit quality and provenance). No SPICE, no Jupyter:
everything comes from the calibration files and the evaluator."""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import ParameterError
from .macro import Macro, Nonidealities

__all__ = ["error_budget", "write_report"]


def error_budget(macro: Macro, x: np.ndarray, w: np.ndarray, seed: int = 0) -> dict[str, dict[str, float]]:
    """RMS error of each non-ideality switched on alone (and of all on), in % of the signal RMS
    and of full scale, on the batch (x, w), noise drawn from `seed`."""
    sig = float(np.std(x @ w))
    out = {}
    for name in [*Nonidealities().names, "all on"]:
        mk = macro if name == "all on" else macro.with_nonidealities(Nonidealities.only(name))
        e = mk.evaluate(x, w, rng=np.random.default_rng(seed), energy=False).errors
        rms = float(np.sqrt(np.mean(e**2)))
        out[name] = {"pct_signal": 100 * rms / sig, "pct_fs": 100 * rms / mk.full_scale()}
    return out


def _table(rows: list[list[Any]], head: list[str]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def write_report(out_dir: Path | str, macro: Macro | None = None, n_chips: int = 10, batch: int = 512,
                 progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write the figures (PNG) and ``index.html`` into `out_dir`; returns the written files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .macro.metrics import format_metrics

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out} is a file; give a directory for the report")
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _line: None)
    macro = macro or Macro.default()
    c = macro.config
    say(f"metrics: {n_chips} chips x {batch} vectors")
    m = macro.metrics(n_chips=n_chips, batch=batch)
    rng = np.random.default_rng(c.seed)
    x = rng.integers(0, 2**c.input_bits, (min(batch, 256), c.n_inputs))
    half = 2 ** (c.weight_bits - 1)
    w = rng.integers(-half, half, (c.n_inputs, c.n_outputs))
    say("error budget: each non-ideality alone")
    budget = error_budget(macro, x, w)
    r = macro.evaluate(x, w, rng=np.random.default_rng(1), energy=False)
    files: list[Path] = []

    def save(fig, name: str) -> None:
        p = out / name
        fig.tight_layout()
        fig.savefig(p, dpi=110)
        plt.close(fig)
        files.append(p)

    lsb = float(np.mean(r.lsb))
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].hist((r.errors / lsb).ravel(), bins=80)
    ax[0].set(xlabel="error (output LSB)", ylabel="outputs", title="computing error, chip 0, noise on")
    k = min(8, c.n_outputs)
    ax[1].plot(r.y_ideal[:, :k].ravel() / 1e6, r.y[:, :k].ravel() / 1e6, ".", ms=2)
    lim = float(np.abs(r.y_ideal[:, :k]).max()) / 1e6
    ax[1].plot([-lim, lim], [-lim, lim], "k-", lw=0.5)
    ax[1].set(xlabel="x @ w (1e6)", ylabel="macro y (1e6)", title=f"macro vs ideal, {k} columns")
    save(fig, "error.png")

    names = [n for n in budget if n != "all on"]
    names.sort(key=lambda n: budget[n]["pct_signal"])
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.barh(names, [budget[n]["pct_signal"] for n in names])
    ax.set(xlabel="RMS error, % of signal RMS (each effect alone)", title="error budget")
    save(fig, "error_budget.png")

    br = m["energy_breakdown_pj"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([k.replace("_", " ") for k in br], list(br.values()))
    ax.set(ylabel="energy per VMM (pJ)", title=f"energy: {m['energy_per_vmm_pj']:.0f} pJ per VMM")
    save(fig, "energy.png")

    rd = macro.row.calibration.section("transfer")
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    ax[0].plot(rd["inl_lsb"])
    ax[0].set(xlabel="input code", ylabel="INL (LSB)", title="row driver static transfer (SPICE)")
    ch = macro.ta.calibration.section("chain_held_out")
    ax[1].bar(range(len(ch["t_err_lsb"])), ch["t_err_lsb"])
    ax[1].set(xlabel="held-out column", ylabel="model - SPICE (TDC LSB)", title="time accumulator, end to end")
    save(fig, "blocks.png")

    say("writing index.html")
    a = m["aidac"]
    metrics_rows = [["throughput (TOPS)", f"{m['tops']:.2f}", a["tops"]],
                    ["latency per VMM (ns)", f"{m['latency_ns']:.1f}", a["latency_ns"]],
                    ["energy efficiency (TOPS/W)", f"{m['tops_per_watt']:.2f}", a["tops_per_watt"]],
                    ["computing error (% of full scale), chip 0", f"{m['error_fs_pct']:.3f}", a["error_pct"]],
                    ["computing error (% FS), mean +- std over chips",
                     f"{m['error_fs_pct_chips']['mean']:.3f} +- {m['error_fs_pct_chips']['std']:.3f}", ""],
                    ["computing error (% of signal RMS)", f"{m['error_sig_pct']:.2f}", ""],
                    ["area (mm^2, estimated from the netlists' devices)",
                     "not estimated" if m["tops_per_mm2"] is None else f"{m['area_mm2']['total']:.1f}", ""],
                    ["TOPS/mm^2", "" if m["tops_per_mm2"] is None else f"{m['tops_per_mm2']:.3f}", ""]]
    budget_rows = [[n, f"{v['pct_signal']:.2f}", f"{v['pct_fs']:.3f}"]
                   for n, v in sorted(budget.items(), key=lambda kv: -kv[1]["pct_signal"])]
    cal_rows = []
    for fam, model in (("row_driver", macro.row), ("cell", macro.cell), ("time_accumulator", macro.ta)):
        cal = model.calibration
        p = cal.provenance
        cal_rows.append([f"{fam}/{cal.variant}", cal.source, cal.data.get("profile", ""), p.get("generated_utc", ""),
                         p.get("command", ""), p.get("ngspice_version", ""), p.get("pdk", {}).get("source", ""),
                         cal.data["integrity"]["content_sha256"][:16]])
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>aimc_circuits report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}} table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:3px 8px;text-align:left}} img{{max-width:100%}}</style></head><body>
<h1>aimc_circuits macro report</h1><p>generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p>
<pre>{html.escape(format_metrics(m))}</pre>
<h2>Metrics</h2>{_table(metrics_rows, ['metric', 'this macro (sky130)', 'AiDAC headline'])}
<h2>Computing error</h2><img src="error.png" alt="error histogram and scatter">
<h2>Error budget (each effect alone, {len(x)} vectors)</h2>{_table(budget_rows, ['non-ideality', '% of signal', '% of FS'])}
<img src="error_budget.png" alt="error budget">
<h2>Energy</h2><img src="energy.png" alt="energy breakdown">
<h2>Blocks</h2><img src="blocks.png" alt="block characterization">
<h2>Calibrations</h2>{_table(cal_rows, ['block', 'file', 'profile', 'generated', 'command', 'ngspice', 'PDK', 'sha256'])}
</body></html>
"""
    index = out / "index.html"
    index.write_text(doc)
    files.append(index)
    return files
