"""Evaluator speed: `macro.vmm` with every non-ideality on vs float32 numpy matmuls, same run.

B = 4096 vectors on the reference 1024 x 256 macro. Prints, each the best of several repeats:
  * one plain float32 matmul (B, 1024) @ (1024, 256) -- the baseline;
  * the matmuls the model needs: one per capacitor group converted separately (2 groups), done as
    the evaluator does them (8 sub-arrays x [2 groups + reference column]);
  * macro.vmm, everything on (noise, mismatch chip, quantization, clipping);
  * macro.vmm with noise off (rng=None), to show what the noise draws cost;
and the ratios (DESIGN target: vmm <= 1.5 x the model's matmuls, i.e. <= 3 x one plain matmul),
plus evaluated MACs/s. Then where the time goes, in units of the plain matmul: the noise (vmm
minus vmm with noise off), then macro.vmm with noise off again with the compiled stages stubbed
out one after another (the channel pass, then the row levels); what is left is the model's
matmuls as the evaluator runs them (in chunks, a thread per core). Last, the ratio's median and
spread over 10 independent runs, with the load average before and after.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits import Macro  # noqa: E402
from aimc_circuits.macro import kernel  # noqa: E402

B, REPEATS, ROUNDS = 4096, 5, 5


def bests(fns, repeats: int = REPEATS, rounds: int = ROUNDS) -> list[float]:
    """Best time of each function over `rounds` rounds; in a round each function runs one
    untimed call and then `repeats` timed ones back to back. The rounds interleave the functions
    (a noisy machine's slow spells hit the baseline and the evaluator alike); the untimed call
    absorbs the previous function's after-effects (OpenBLAS's worker threads keep spinning
    ~0.1 s after a multithreaded matmul, and slow any other threads by ~1.3x meanwhile)."""
    ts = [[] for _ in fns]
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            fn()
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                ts[k].append(time.perf_counter() - t0)
    return [min(t) for t in ts]


def main() -> None:
    macro = Macro.default()
    c = macro.config
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (B, c.n_inputs))
    w = rng.integers(-128, 128, (c.n_inputs, c.n_outputs))
    xf, wf = x.astype(np.float32), w.astype(np.float32)
    wg = np.concatenate([wf, wf, np.ones((c.n_inputs, 2), np.float32)], axis=1)  # 2 groups + reference
    rows = c.rows_per_subarray

    def model_matmuls():
        for s in range(c.n_sub):
            xf[:, s * rows:(s + 1) * rows] @ wg[s * rows:(s + 1) * rows]

    macro.vmm(x[:8], w)  # fold the chip and these weights once (static, not per call)
    t_mm, t_model, t_vmm, t_quiet = bests([lambda: xf @ wf, model_matmuls,
                                           lambda: macro.vmm(x, w, rng=np.random.default_rng(1)),
                                           lambda: macro.vmm(x, w)])
    macs = B * c.n_inputs * c.n_outputs
    print(f"B = {B}, {c.n_inputs} x {c.n_outputs}, best of {ROUNDS} rounds x {REPEATS} (seconds)")
    print(f"  plain float32 matmul                     {t_mm:.4f}")
    print(f"  model's matmuls (2 groups, per sub-array) {t_model:.4f}  = {t_model / t_mm:.2f} x plain")
    print(f"  macro.vmm, every non-ideality on         {t_vmm:.4f}  = {t_vmm / t_mm:.2f} x plain, "
          f"{t_vmm / t_model:.2f} x the model's matmuls")
    print(f"  macro.vmm, noise off                     {t_quiet:.4f}  = {t_quiet / t_mm:.2f} x plain")
    print(f"ratio vmm / plain matmul: {t_vmm / t_mm:.2f} (target <= 3.0; peer simulator ~2.9)")
    print(f"evaluated MACs/s: {macs / t_vmm:.3e} (plain matmul {macs / t_mm:.3e})")
    breakdown(lambda: macro.vmm(x, w), t_vmm, t_quiet, t_mm)
    spread(xf, wf, lambda: macro.vmm(x, w, rng=np.random.default_rng(1)))


def spread(xf, wf, vmm, runs: int = 10) -> None:
    """The ratio vmm / plain matmul over `runs` independent measurements (each the best of 2 rounds
    x 3), with the machine's load average before and after."""
    load0 = os.getloadavg()
    ratios = []
    for _ in range(runs):
        t_mm, t_vmm = bests([lambda: xf @ wf, vmm], repeats=3, rounds=2)
        ratios.append(t_vmm / t_mm)
    r = np.array(ratios)
    print(f"ratio over {runs} runs: median {np.median(r):.2f}, min {r.min():.2f}, max {r.max():.2f} "
          f"(load average {load0[0]:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} cores)")


def breakdown(vmm, t_vmm: float, t_quiet: float, t_mm: float) -> None:
    """macro.vmm (noise off) with the kernel's stages stubbed out cumulatively (results are wrong
    meanwhile; restored after each call), the configurations interleaved like the main timings."""
    stubs = [("channel / accumulator / TDC / readout pass", "analog", lambda *a: None),
             ("row levels (gather, settling, x checks)", "levels", lambda *a: (0, 0))]

    def stubbed(n: int):
        def fn() -> None:
            saved = {name: getattr(kernel, name) for _, name, _ in stubs[:n]}
            try:
                for _, name, stub in stubs[:n]:
                    setattr(kernel, name, stub)
                vmm()
            finally:
                for name, f in saved.items():
                    setattr(kernel, name, f)
        return fn

    ts = bests([stubbed(n) for n in range(len(stubs) + 1)])
    print("where the time goes (x plain matmul):")
    print(f"  {'noise (unit normals, noise terms; vmm - noise off)':<50s} {(t_vmm - t_quiet) / t_mm:5.2f}")
    for (label, _, _), t_prev, t in zip(stubs, ts, ts[1:]):
        print(f"  {label:<50s} {(t_prev - t) / t_mm:5.2f}")
    print(f"  {'matmuls as the evaluator runs them, and the rest':<50s} {ts[-1] / t_mm:5.2f}")


if __name__ == "__main__":
    main()
