"""Notebooks (fast profile) and README snippets run as tests."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: notebooks whose fast-profile characterization takes minutes of SPICE from an empty cache: run by
#: `make test-notebooks` (CI runs it after `make test`) and `make test-slow`, so that make test
#: stays under 10 minutes from an empty SPICE cache
SLOW_NOTEBOOKS = {"01_cell.ipynb", "02_row_driver.ipynb", "03_time_accumulator.ipynb"}
NOTEBOOKS = [pytest.param(p, id=p.name, marks=[pytest.mark.slow, pytest.mark.notebook] if p.name in SLOW_NOTEBOOKS
                          else [])
             for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
#: per cell: the time accumulator's fast characterization is one cell (~10 min of SPICE on 2 cores)
NOTEBOOK_CELL_TIMEOUT_S = 1800


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_runs(path, fresh_cache, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("AIMC_PROFILE", "fast")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=NOTEBOOK_CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()


def test_readme_python_snippets_run(fresh_cache, monkeypatch, capsys):
    """Every python block runs; a print whose comment starts with a number prints that number."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert blocks, "README has python snippets"
    for block in blocks:
        capsys.readouterr()
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
        printed = capsys.readouterr().out.split()
        promised = [m.group(1) for m in re.finditer(r"^print\(.*#\s*(-?[\d.]+)", block, re.MULTILINE)]
        assert printed[:len(promised)] == promised


def test_readme_starts_with_the_two_commands():
    lines = [ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.strip()]
    assert lines[1] == "```bash" and lines[2].startswith("make run") and lines[3].startswith("make test")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", text)]


def test_readme_metrics_block_is_what_aimc_metrics_prints(reference_metrics):
    """The README's `make run` block against `format_metrics` now: the same text, every number
    within 0.1 % (BLAS rounding on another CPU may move the last printed digit)."""
    from aimc_circuits.macro.metrics import format_metrics

    text = (ROOT / "README.md").read_text()
    block = text.split("## What `make run` prints")[1].split("```\n")[1]
    now = format_metrics(reference_metrics) + "\n"
    assert re.sub(r"-?\d+\.?\d*", "#", block) == re.sub(r"-?\d+\.?\d*", "#", now)
    np.testing.assert_allclose(_numbers(block), _numbers(now), rtol=1e-3)


def test_readme_headline_numbers_are_the_measured_ones(reference_metrics):
    """The 'Where it stands' table and the block sentence against the metrics and the shipped
    calibrations' recorded held-out quality."""
    from aimc_circuits.registry import get_variant

    m = reference_metrics
    text = (ROOT / "README.md").read_text().split("## Where it stands")[1].split("## Documentation")[0]

    def row(label: str) -> str:
        return next(ln for ln in text.splitlines() if ln.startswith(f"| {label}")).split("|")[2].strip()

    assert row("computing error, % of full scale") == f"{m['error_fs_pct_chips']['mean']:.2f}"
    assert row("computing error, % of signal RMS") == f"{m['error_sig_pct']:.0f}"
    assert row("throughput / latency") == f"{m['tops']:.1f} TOPS / {m['latency_ns']:.0f} ns"
    assert row("energy efficiency") == f"{m['tops_per_watt']:.1f} TOPS/W"
    cal = {f: get_variant(f).calibration().load(get_variant(f).calibration_path()) for f in
           ("cell", "row_driver", "time_accumulator")}
    assert f"cell {cal['cell'].section('model')['held_out']['rms_pct_fs']:.3f} % FS RMS" in text
    assert f"row driver {cal['row_driver'].section('dynamic_model')['held_out']['rms_pct_fs'] / 100:.1f} LSB RMS" in text
    assert f"time accumulator {cal['time_accumulator'].section('chain_held_out')['rms_lsb']:.1f} TDC LSB RMS" in text


def test_docs_do_not_point_outside_the_repository():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "notebooks").glob("*.ipynb"))]:
        assert "../shared" not in path.read_text(), path


def test_fidelity_doc_numbers_are_the_recorded_validation_runs():
    """docs/fidelity.md quotes `aimc validate`'s summary of each recorded run (docs/validation/*.json,
    written by scripts/run_validation.py) verbatim, and the README's fidelity row its RMS."""
    from aimc_circuits.validate.fidelity import split_bound_lines, summary_lines

    doc = (ROOT / "docs" / "fidelity.md").read_text()
    runs = sorted((ROOT / "docs" / "validation").glob("*.json"))
    assert runs
    for path in runs:
        r = json.loads(path.read_text())
        lines = split_bound_lines(r) if "t_stop_pct_fs" in r else summary_lines(r)  # a split bound, or a run
        for line in lines:
            assert line in doc, (path.name, line)
    stands = (ROOT / "README.md").read_text().split("## Where it stands")[1]
    for name in ("small", "column"):
        r = json.loads((ROOT / "docs" / "validation" / f"{name}.json").read_text())
        assert f"{r['fidelity_pct_fs']['rms']:.2f} % FS RMS" in stands, name
    r = json.loads((ROOT / "docs" / "validation" / "mismatch_2x16.json").read_text())
    s = r["mismatch_shift_pct_fs"]
    assert (f"{r['fidelity_pct_fs']['rms']:.2f} % FS RMS; the draw's shift of the output: SPICE {s['spice']['rms']:.2f}, "
            f"model {s['model']['rms']:.2f}, model - SPICE {s['error']['rms']:.2f} % FS RMS") in stands


def test_variant_comparison_block_is_what_the_script_prints(reference_metrics):
    """docs/design.md's side-by-side block of the time-accumulator variants is what
    scripts/compare_variants.py computes now: the same text, every number within 0.1 % or 0.01
    (one unit of the last printed digit of the two-decimal figures near zero, such as the mean
    error in LSB: BLAS rounding on another CPU may move it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("compare_variants", ROOT / "scripts" / "compare_variants.py")
    cv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cv)
    block = (ROOT / "docs" / "design.md").read_text().split("## Circuit variants compared")[1].split("```\n")[1]
    res = cv.results({"pump_single_slope": reference_metrics})  # the reference variant's: computed once
    now = "\n".join(cv.comparison(res)) + "\n"
    assert re.sub(r"-?\d+\.?\d*", "#", block) == re.sub(r"-?\d+\.?\d*", "#", now)
    np.testing.assert_allclose(_numbers(block), _numbers(now), rtol=1e-3, atol=0.011)
    assert cv.calibration_table() in (ROOT / "docs" / "blocks" / "time_accumulator_local_bias.md").read_text()
    # the README's row of the variant
    macro, m = res["pump_local_bias"]
    readme = next(ln for ln in (ROOT / "README.md").read_text().splitlines()
                  if ln.startswith("| the time-accumulator variant `pump_local_bias`"))
    held = macro.ta.calibration.section("chain_held_out")["rms_lsb"]
    assert (f"{m['error_fs_pct_chips']['mean']:.2f} % FS (mean over 10 chips), {m['error_sig_pct_chips']['mean']:.1f} % "
            f"of the signal, {m['tops']:.1f} TOPS / {m['latency_ns']:.1f} ns, {m['tops_per_watt']:.1f} TOPS/W; its model "
            f"{held:.2f} TDC LSB RMS") in readme, readme
