"""Regenerate the README's figures: docs/img/block_diagram.png (the macro's signal chain and the
toolkit's data flow) and docs/img/error.png (the reference macro's computing error, from
`aimc report`).   python scripts/make_doc_figures.py"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def boxes(ax, row, y, h, color):
    xs = []
    x = 0.01
    for text, w in row:
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.005", fc=color, ec="k", lw=0.8))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8)
        xs.append((x, w))
        x += w + 0.025
    for (x0, w0), (x1, _) in zip(xs, xs[1:]):
        ax.add_patch(FancyArrowPatch((x0 + w0, y + h / 2), (x1, y + h / 2), arrowstyle="-|>", mutation_scale=10))


def block_diagram(path: Path) -> None:
    fig, ax = plt.subplots(figsize=(12, 3.6))
    ax.set_axis_off()
    ax.set_xlim(0, 1.08)
    ax.set_ylim(0, 1)
    ax.text(0.01, 0.93, "the macro: one 8b x 8b VMM, 1024 inputs x 256 outputs", fontsize=10, weight="bold")
    boxes(ax, [("x: 1024 codes\n0..255", 0.09), ("row drivers\nDAC + follower\n(1 per row)", 0.12),
               ("cell array\n1024 x 256 cells\n2 groups x 4 bits\n(MOM caps)", 0.14),
               ("group column lines\n8 sub-arrays x 128 rows\ncharge sharing", 0.17),
               ("time accumulator\n(1 per column)\n16 VTCs -> pumps\n-> C_acc -> TDC", 0.15),
               ("digital readout\ntrim, pedestal", 0.11), ("y: 256 outputs\n~ x @ w", 0.09)],
          0.5, 0.34, "#dbe9f6")
    ax.text(0.01, 0.36, "the toolkit: from transistors to metrics", fontsize=10, weight="bold")
    boxes(ax, [("netlists/*.sp\nsky130 devices", 0.11), ("SPICE sweeps\nngspice, cached", 0.11),
               ("lmfit fits", 0.09), ("calibration/\n<family>/<variant>.json", 0.16),
               ("behavioral\nblock models", 0.11), ("Macro\nvectorized evaluator", 0.15),
               ("metrics, report\nTOPS, TOPS/W, error", 0.14)],
          0.04, 0.25, "#e6f2df")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    block_diagram(out / "block_diagram.png")
    from aimc_circuits.report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        write_report(tmp, n_chips=1, batch=256)
        shutil.copy(Path(tmp) / "error.png", out / "error.png")
    print(f"wrote {out / 'block_diagram.png'} and {out / 'error.png'}")


if __name__ == "__main__":
    main()
