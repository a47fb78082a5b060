"""Network inference through the macro vs the same network's float32 numpy inference, same batch, same run.

For each workload network: the float network in float32 numpy (the baseline), and inference
through the macro (one chip instance, noise on; the tiles are programmed once before timing, as a
weight-stationary chip is loaded once), with the default mapping (small tiles stored as copies
filling the array) and with every tile stored once (the evaluator then charges a tile only for
the rows and columns it uses). Each the best of 5 runs. Prints the ratios (target <= 4x), and
the floor of an exact evaluation with copies: the float32 matmuls of the array in use alone (each
tile's folded weights, both capacitor groups of every sub-array in use, at the batch the network
gives it), timed the same way in the same run.
"""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits import Macro, MacroConfig  # noqa: E402
from aimc_circuits.nn import MacroNetwork, digits, load_network  # noqa: E402
from aimc_circuits.macro.evaluator import chunk_size  # noqa: E402
from aimc_circuits.macro.parallel import ChunkRunner  # noqa: E402
from aimc_circuits.macro.program import ProgrammedMacro  # noqa: E402
from aimc_circuits.nn.layers import MAPPED  # noqa: E402

ROUNDS = 5


def best(fn, rounds: int = ROUNDS) -> float:
    fn()
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main() -> None:
    warnings.simplefilter("ignore")
    macro = Macro.from_config(MacroConfig(window_trim=True))
    for name in ("mlp", "cnn"):
        d = digits(name)
        net = load_network(name)
        x = d["test_x"]
        mapped = {rep: MacroNetwork(net, d["calib_x"], macro, replicate=rep) for rep in (True, False)}
        for mn in mapped.values():
            mn.forward(x[:4], "macro")  # program the tiles (once per chip)
        f32 = load_network(name)
        for layer in f32.layers:
            if isinstance(layer, MAPPED):
                layer.w, layer.b = layer.w.astype(np.float32), layer.b.astype(np.float32)
        xf = x.astype(np.float32)
        t_float = best(lambda: f32.forward(xf))
        t = {rep: best(lambda: mn.forward(x, "macro", rng=np.random.default_rng(1))) for rep, mn in mapped.items()}
        t_floor = best(matmul_floor(mapped[True], x))
        print(f"{name}: batch {x.shape[0]}, float32 numpy {1e3 * t_float:.2f} ms; macro with copies "
              f"{1e3 * t[True]:.1f} ms = {t[True] / t_float:.1f} x, each tile once {1e3 * t[False]:.1f} ms = "
              f"{t[False] / t_float:.1f} x (target <= 4); the matmuls alone with copies {1e3 * t_floor:.1f} ms = "
              f"{t_floor / t_float:.1f} x")


def matmul_floor(mn, x):
    """A function running the float32 matmuls the copies' evaluation needs for x: every tile
    call's folded weights times random levels of the call's shape, in the evaluator's chunks on
    its threads (BLAS single-threaded in each)."""
    calls = []
    orig = ProgrammedMacro.vmm

    def record(tile, xt, rng=None):
        calls.append((tile.folded, xt.shape[0]))
        return orig(tile, xt, rng)

    ProgrammedMacro.vmm = record
    try:
        mn.forward(x, "macro")
    finally:
        ProgrammedMacro.vmm = orig
    rng = np.random.default_rng(0)
    runner = ChunkRunner.shared()
    work = []  # per call: its chunks' (levels, weights, output), as the evaluator runs them
    for f, b in calls:
        cs = chunk_size(b, runner.n_threads)
        for b0 in range(0, b, cs):
            n = min(b, b0 + cs) - b0
            if f.shared:
                work.append((rng.random((n, f.Rs), dtype=np.float32), f.W[0],
                             np.empty((n, f.W.shape[2]), np.float32)))
            else:
                work.append((rng.random((f.n_matmul, n, f.Rs), dtype=np.float32), f.W,
                             np.empty((f.n_matmul, n, f.W.shape[2]), np.float32)))

    def task(k: int) -> None:
        a, w, out = work[k]
        np.matmul(a, w, out=out)

    return lambda: runner.run(task, len(work))


if __name__ == "__main__":
    main()
