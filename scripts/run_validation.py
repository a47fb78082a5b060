"""Run `aimc validate` on the slices documented in docs/fidelity.md and write their reports
(docs/validation/<name>.json) and figures (docs/img/fidelity_<name>.png: model vs SPICE stop time,
and the error histogram).

    python scripts/run_validation.py small        # 8 sub-arrays x 16 rows, 1 column
    python scripts/run_validation.py subarray     # 1 sub-array x 128 rows, 1 column (the reference geometry's
                                                  # row and cell stages; the time accumulator extrapolated)
    python scripts/run_validation.py subarray16   # 1 sub-array x 16 rows, 1 column (minutes: the row and cell
                                                  # stages of a short line, where the kicks are largest)
    python scripts/run_validation.py column --vectors 5   # the whole 1024-input column, 8 x 128 rows, 1 column
                                                  # (hierarchical: each sub-array to the ramp start, then the
                                                  # conversion; about 35 min on 2 cores)
    python scripts/run_validation.py split_2x16 --vectors 10   # what the hierarchical split costs: 2 x 16 rows both ways
    python scripts/run_validation.py split_1x128 --vectors 4   # ... and one 128-row sub-array both ways
    python scripts/run_validation.py mismatch_2x16 --vectors 3  # one Monte Carlo chip (tt_mm, seed 2718): 2 x 16 rows,
                                                  # 4 columns; the chip read back from SPICE's draw into the model
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aimc_circuits.macro.config import MacroConfig  # noqa: E402
from aimc_circuits.validate.fidelity import split_bound, split_bound_lines, summary_lines, validate  # noqa: E402

#: name -> (sub-arrays, rows per sub-array, columns, method, corner); a "split" method runs the slice both
#: ways and writes what the hierarchical split costs (validate.fidelity.split_bound)
SLICES = {"small": (8, 16, 1, "end_to_end", "tt"), "subarray": (1, 128, 1, "end_to_end", "tt"),
          "subarray16": (1, 16, 1, "end_to_end", "tt"), "column": (8, 128, 1, "hierarchical", "tt"),
          "split_2x16": (2, 16, 1, "split", "tt"), "split_1x128": (1, 128, 1, "split", "tt"),
          "mismatch_2x16": (2, 16, 4, "end_to_end", "tt_mm")}


def figure(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fs = report["full_scale_s"]
    ts = np.asarray(report["per_vector"]["t_stop_spice_s"]).ravel() / fs * 100
    tm = np.asarray(report["per_vector"]["t_stop_model_s"]).ravel() / fs * 100
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.plot(ts, tm, "o", ms=4)
    lo, hi = min(ts.min(), tm.min()), max(ts.max(), tm.max())
    a.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    a.set_xlabel("SPICE stop time (% of TDC full scale)")
    a.set_ylabel("evaluator stop time (% FS)")
    a.set_title("model vs SPICE")
    b.hist(tm - ts, bins=min(20, max(5, ts.size // 2)))
    b.set_xlabel("evaluator - SPICE (% FS)")
    b.set_ylabel("outputs")
    b.set_title(f"fidelity {report['fidelity_pct_fs']['rms']:.2f} % FS RMS")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("slice", choices=sorted(SLICES))
    ap.add_argument("--vectors", type=int, default=20)
    ap.add_argument("--workers", type=int)
    args = ap.parse_args()
    subs, rows, cols, method, corner = SLICES[args.slice]
    cfg = MacroConfig().replace(rows_per_subarray=rows, n_inputs=subs * rows, n_outputs=cols)
    out = ROOT / "docs" / "validation"
    out.mkdir(parents=True, exist_ok=True)

    def run(how: str) -> dict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the extrapolation warnings are part of the report's context
            return validate(cfg, vectors=args.vectors, workers=args.workers, method=how, corner=corner,
                            progress=lambda s: print(s, flush=True))
    if method == "split":
        b = split_bound(run("end_to_end"), run("hierarchical"))
        (out / f"{args.slice}.json").write_text(json.dumps(b, indent=1) + "\n")
        print("\n".join(split_bound_lines(b)))
        return 0
    r = run(method)
    (out / f"{args.slice}.json").write_text(json.dumps(r, indent=1) + "\n")
    figure(r, ROOT / "docs" / "img" / f"fidelity_{args.slice}.png")
    print("\n".join(summary_lines(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
