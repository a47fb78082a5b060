"""The array-level evaluator: an 8-bit x 8-bit, n_inputs x n_outputs VMM from the fitted block models.

Signal chain (one VMM, every block from its calibration):

1. **Row driver** (per row r): code x -> static level L(x) (fitted 256-code curve: INL/DNL), the
   chip's per-row offset and gain, then the level the cells sample before it settles
   (``RowDriverModel`` dynamic model: previous code, the row's cell load, far-end drop along
   the line, column j at position j / (n_outputs - 1); the reference column sits at the driver).
2. **Cells** (per row x column x group): offset-binary weight codes w + 128 split into 4-bit
   group codes; bit capacitors with the chip's mismatch; **column charge sharing** per
   sub-array and group (``CellModel``: parasitic attenuation, reset injection/feedthrough
   offsets, the column nonlinearity, kT/C noise).
3. **Time accumulator** (per column): 8 sub-arrays x 2 groups VTC channels against the
   reference column (codes 8 / 8), the fitted VTC charge (ramp curvature, extra gain near zero,
   per-sign gains, group weighting 16^g), the chip's per-channel offsets and gains, the
   accumulator and TDC transfer, comparator jitter, the counter (quantization, clipping).
4. **Readout** (digital, exact): y = alpha_j (code + 1/2) + beta_j + 8 sum(x) - (v0 / u) sum_r (w - 8),
   removing the reference-code pedestal and the row driver's code-0 level from the known inputs
   and weights. ``column_trim="none"``: alpha, beta are one design-time trim per macro
   configuration (least squares on the nominal, mismatch- and noise-free model). ``"offset"`` /
   ``"offset_gain"`` (default): after the weights are loaded, each column's offset (and gain) is
   measured once on the chip with a calibration batch of 256 known random vectors (noise
   averaged out), as a digital back end does; errors the trim cannot remove (input-dependent
   ones: row gains, nonlinearity, noise) remain.

Cost: everything static (weights, mismatch of one chip, row loads, offsets, 1/C) is folded once
into per-sub-array weight matrices and per-channel constants (``fold``), so a call costs one
float32 matmul per sub-array (both groups and the reference column at once: 2 matmul-equivalents)
plus one compiled pass (:mod:`.kernel`, numba) over the (sub-array, group, column, vector)
charges, in chunks of CHUNK vectors on a thread per core (BLAS single-threaded inside them).

Approximations of the fast path (quantified against the direct composition of the block models
in ``tests/test_macro.py``, noise off, codes inside the range: about 0.5 LSB RMS after the column
trim, dominated by the crossing-order term below):

* row mismatch is offset + gain (first order in the gain); the per-row bit-weight spread of the
  Monte Carlo fit (INL spread between rows, sigma <= 1.0 LSB per code measured) is not modeled;
* the previous-code term of the row settling uses the sub-array's mean row load (the load
  differs between rows by a few %: error ~0.1 % of the previous level's share);
* the ramp curvature D(d) is applied to second order around the reference crossing
  (cubic term b3 dd^3 left out: < 0.1 % of a channel's charge for |dd| < 50 mV); group 0's
  near-zero term (a0 w, < 0.01 LSB) left out; tanh of the near-zero term as a [7/6] Pade
  approximant (abs error 7e-5 of the term, < 1e-3 LSB);
* the accumulator's crossing-order term (each channel's pumps see the charge the channels
  crossing before them delivered): pairwise over the channels' reference levels, plus the first-
  order correction for channels whose V is above V_ref (they cross first); the clipping of the
  pairwise overlap weight is applied on the reference levels only (0.6 LSB RMS on 128-row
  sub-arrays). Sub-arrays of fewer rows swing further (2.4 LSB at 64 rows, 8.3 at 32): there the
  pass takes the term pair by pair at every column, as the model does (EXACT_ORDER_BELOW_ROWS;
  ~27 ms more per 4096 vectors x 256 columns here: vmm 2.3x slower at 64 rows);
* noise (row, kT/C, VTC) is referred to the column charge through each channel's small-signal
  gain at zero difference (an upper bound: the gain is highest there), one draw per column;
  row-driver noise is treated as independent per column (it is common to the row); the unit
  normals come from an inverse-CDF table on 32 random bits (quantile error <= 4.5e-4 sigma,
  tails cut at 6.2 sigma; see :func:`.kernel.standard_normal`).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from ..errors import ParameterError
from ..models.cell import K_BOLTZMANN, CellChip, CellModel
from ..models.common import check_int_codes
from ..models.row_driver import RowChip, RowDriverModel
from ..fit.time_accumulator import V_C0
from ..models.time_accumulator import TAChip, TimeAccumulatorModel
from . import kernel
from .config import MacroConfig, Nonidealities

__all__ = ["Chip", "Macro"]

REF_CODE = 8  #: reference column's code in every group (offset-binary zero of a 4-bit group)
#: sub-arrays of fewer rows get the accumulator's crossing-order term pair by pair at every column
#: (their channel swings are larger: to first order around the reference levels it is off by 2.4 LSB
#: RMS at 64 rows, 8.3 at 32, against 0.6 at 128; the pairs cost ~27 ms per 4096 vectors x 256 columns)
EXACT_ORDER_BELOW_ROWS = 128
CHUNK = 128  #: vectors per chunk (fastest of 64..512 here, median over 40 calls: 3.03 vs 3.24 x plain at 256)
N_THREADS = max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8))


_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()


def _shared(name: str) -> Any:
    """Process-wide helpers made once on first use: "pool", the evaluator's worker threads (one
    per core); "blas", the BLAS thread controller (finding it costs ~1.5 ms, limiting it ~10 us)."""
    with _SHARED_LOCK:
        if name not in _SHARED:
            _SHARED[name] = (ThreadPoolExecutor(N_THREADS, thread_name_prefix="aimc-macro") if name == "pool"
                             else ThreadpoolController())
        return _SHARED[name]


class _Workspaces:
    """Per-chunk work arrays (row levels, matmul outputs), reused between chunks
    and calls: fresh arrays per chunk cost page faults on every call (measured with 256-vector
    chunks, 10 MB each: more than the chunk's kernel)."""

    def __init__(self) -> None:
        self._free: dict[tuple[int, ...], list[tuple[np.ndarray, ...]]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, int, int, int]) -> tuple[np.ndarray, ...]:
        with self._lock:
            free = self._free.get(key)
            if free:
                return free.pop()
        S, G, J, Rs, cb = key
        return np.empty((cb, S * Rs), dtype=np.float32), np.empty((S, cb, G * (J + 1)), dtype=np.float32)

    def put(self, key: tuple[int, int, int, int, int], ws: tuple[np.ndarray, ...]) -> None:
        with self._lock:
            free = self._free.setdefault(key, [])
            if len(free) < N_THREADS:
                free.append(ws)


_workspaces = _Workspaces()


@dataclass(frozen=True)
class Chip:
    """One chip instance: the mismatch draws of all blocks (None where the effect is off)."""

    seed: int | None
    row: RowChip | None
    cell: CellChip | None  #: (rows, n_outputs + 1, groups, bits): last column = reference column
    ta: TAChip | None


class Macro:
    """The macro evaluator. ``Macro.default()``: the reference macro and the shipped calibration."""

    def __init__(self, config: MacroConfig, cell: CellModel, row: RowDriverModel, ta: TimeAccumulatorModel,
                 chip_seed: int | None = None):
        self.config, self.cell, self.row, self.ta = config, cell, row, ta
        self._check_calibrations()
        ni = config.nonidealities
        self.ni = ni
        self.chip = self._draw_chip(chip_seed)
        self._fold_cache: tuple[bytes, dict[str, Any]] | None = None
        self._trim_cache: tuple[float, float] | None = None

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: MacroConfig | str | Path | None = None) -> "Macro":
        """A macro from a MacroConfig or a TOML file (None: the reference macro). The chip
        instance is ``config.seed``."""
        if config is None:
            config = MacroConfig()
        elif isinstance(config, (str, Path)):
            config = MacroConfig.load(config)
        elif not isinstance(config, MacroConfig):
            raise ParameterError(f"config must be a MacroConfig or a TOML path, got {type(config).__name__}")
        d = config.calibration_dir
        paths = {b: (Path(d) / f"{b}.json" if d else None) for b in ("cell", "row_driver", "time_accumulator")}
        return cls(config, CellModel.load(paths["cell"]), RowDriverModel.load(paths["row_driver"]),
                   TimeAccumulatorModel.load(paths["time_accumulator"]), chip_seed=config.seed)

    @classmethod
    def default(cls) -> "Macro":
        """The reference macro (DESIGN.md section 2) with the shipped calibration, chip seed 0."""
        return cls.from_config(MacroConfig())

    def _with(self, config: MacroConfig, chip_seed: int | None) -> "Macro":
        return Macro(config, self.cell, self.row, self.ta, chip_seed=chip_seed)

    def ideal(self) -> "Macro":
        """The same macro with every non-ideality, quantization and clipping off: vmm == x @ w."""
        return self._with(self.config.replace(nonidealities=Nonidealities.none()), None)

    def with_nonidealities(self, ni: Nonidealities) -> "Macro":
        """The same chip instance with another set of modeled effects."""
        return self._with(self.config.replace(nonidealities=ni), self.chip.seed)

    def with_chip(self, seed: int) -> "Macro":
        """Another chip instance (mismatch draw `seed`) of the same design."""
        return self._with(self.config.replace(seed=seed), seed)

    def _check_calibrations(self) -> None:
        c, cd, td = self.config, self.cell.design, self.ta.design
        checks = [("weight_bits", c.weight_bits, cd.weight_bits), ("bits_per_group", c.bits_per_group, cd.bits_per_group),
                  ("output_bits", c.output_bits, td.output_bits), ("input_bits", c.input_bits, 8),
                  ("vdd", c.vdd, cd.vdd)]
        for name, want, have in checks:
            if want != have:
                raise ParameterError(f"{name}={want} but the calibration was made for {have}; regenerate the "
                                     f"calibrations for that design (`aimc calibrate`)")
        if not np.isclose(c.unit_cap_f, self.cell.cu, rtol=1e-3, atol=0.0):
            raise ParameterError(f"unit_cap_f={c.unit_cap_f} F but the cell calibration's Cu is {self.cell.cu} F")
        prov = self.cell.calibration.get("provenance", {})
        corner, temp = prov.get("corner", "tt"), float(prov.get("temperature_c", 27.0))
        if c.corner != corner or c.temperature_c != temp:
            raise ParameterError(f"corner={c.corner!r}, temperature_c={c.temperature_c} but the shipped behavioral "
                                 f"models are for {corner!r} at {temp:g} C (corner/temperature shifts are recorded "
                                 f"in the calibrations, not yet applied)")
        if c.groups != 2:
            raise ParameterError(f"weight_bits / bits_per_group = {c.groups} capacitor groups; the fitted VTC model "
                                 f"(gains k0, k1: group 1 weighs 16) and the evaluator's pass have 2")
        if c.n_sub > td.n_sub or c.groups != td.groups:
            raise ParameterError(f"n_inputs={c.n_inputs} / rows_per_subarray={c.rows_per_subarray} = {c.n_sub} "
                                 f"sub-arrays x {c.groups} groups; the time accumulator has {td.n_sub} x {td.groups} "
                                 f"VTC channels")
        if not 1 <= c.n_outputs <= 512:
            raise ParameterError(f"n_outputs={c.n_outputs}: the row driver is characterized for row loads of "
                                 f"64..512 columns (allowed 1..512)")
        t_cell, t_conv = self.timing()["t_cell_ns"], self.timing()["t_conversion_ns"]
        cal_cell, cal_conv = self._cal_timing()
        if t_cell < cal_cell - 1e-9 or t_conv < cal_conv - 1e-9:
            raise ParameterError(f"t_cell_ns={t_cell}, t_conversion_ns={t_conv}: shorter than the calibrated "
                                 f"{cal_cell:.2f} / {cal_conv:.2f} ns (the settling and TDC models were fitted there)")

    def _cal_timing(self) -> tuple[float, float]:
        return (float(self.cell.calibration["timing"]["period_s"]) * 1e9,
                float(self.ta.calibration["timing"]["t_conversion_s"]) * 1e9)

    def timing(self) -> dict[str, float]:
        """Phase times (ns): cell phase, VTC phase, conversion, latency and cycle time."""
        cal_cell, cal_conv = self._cal_timing()
        t_cell = self.config.t_cell_ns or cal_cell
        t_conv = self.config.t_conversion_ns or cal_conv
        tm = self.ta.calibration["timing"]
        t_vtc = (tm["t_reset_s"] + tm["t_ramp_s"] + tm["t_gap_s"]) * 1e9
        latency = t_cell + t_conv
        # pipelined: the next vector's row/cell phase runs while this one's TDC converts; the
        # column lines must hold through the VTC ramp, the accumulator through the whole conversion
        cycle = max(t_cell + t_vtc, t_conv) if self.config.pipelined else latency
        return {"t_cell_ns": t_cell, "t_vtc_ns": t_vtc, "t_conversion_ns": t_conv, "latency_ns": latency,
                "cycle_ns": cycle}

    def _draw_chip(self, seed: int | None) -> Chip:
        """All blocks' mismatch from one seed, drawn in a fixed order whatever is switched on."""
        if seed is None:
            return Chip(None, None, None, None)
        c, ni = self.config, self.ni
        rng = np.random.default_rng(seed)
        row = self.row.draw_rows(rng, c.n_inputs)
        row = RowChip(row.d_off, row.d_gain, np.zeros_like(row.d_eps))  # bit-weight spread: see module doc
        cell = self.cell.draw_chip(rng, c.n_inputs, c.n_outputs + 1)
        ta = self.ta.draw_chip(rng, c.n_outputs)
        return Chip(seed, row if ni.row_mismatch else None, cell if ni.cell_mismatch else None,
                    ta if ni.ta_mismatch else None)

    # -- input checks ----------------------------------------------------------------------
    def check_inputs(self, x: Any, w: Any, x_range: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """x: (B, n_inputs) codes 0..2^input_bits-1; w: (n_inputs, n_outputs) codes -2^(wb-1)..2^(wb-1)-1.
        Returns (x, w + 2^(wb-1)) as integer arrays; ParameterError otherwise (nothing clipped).
        x_range=False leaves the range of an integer x to the evaluator's pass (which checks it
        while it reads x, and raises the same error)."""
        c = self.config
        xa, wa = np.asarray(x), np.asarray(w)
        if xa.ndim != 2 or xa.shape[1] != c.n_inputs:
            raise ParameterError(f"x must have shape (batch, n_inputs={c.n_inputs}); got {xa.shape}")
        if wa.shape != (c.n_inputs, c.n_outputs):
            raise ParameterError(f"w must have shape (n_inputs, n_outputs) = ({c.n_inputs}, {c.n_outputs}); got {wa.shape}")
        half = 2 ** (c.weight_bits - 1)
        top = 2**c.input_bits - 1
        if xa.dtype.kind in "iu" and xa.size:  # no copy, unless the compiled pass cannot read the dtype
            if not xa.dtype.isnative:
                xa = xa.astype(xa.dtype.newbyteorder("="))
            if x_range or xa.dtype == np.uint64:  # one compiled pass
                self._check_x_bounds(*kernel.code_bounds(xa))
            xi = xa.astype(np.int64) if xa.dtype == np.uint64 else xa  # the pass mixes x with signed ints
        else:
            xi = check_int_codes("x", xa, top)
        wi = check_int_codes("w", wa, half - 1, lo=-half)
        return xi, wi + half

    def _check_x_bounds(self, lo: int, hi: int) -> None:
        top = 2**self.config.input_bits - 1
        if lo < 0 or hi > top:
            raise ParameterError(f"x contains {lo if lo < 0 else hi}; allowed: integers 0..{top}")

    def _ref_word(self) -> int:
        """The reference column's stored word: REF_CODE in every group."""
        return sum(REF_CODE << (self.config.bits_per_group * g) for g in range(self.config.groups))

    def _pedestal(self) -> int:
        """The reference word minus the offset-binary zero: the analog chain computes
        x @ (w - pedestal) (8 for 4-bit groups); the readout adds pedestal x sum(x) back."""
        return self._ref_word() - 2 ** (self.config.weight_bits - 1)

    def _analog_target(self, x: np.ndarray, w_ob: np.ndarray, ped: np.ndarray) -> np.ndarray:
        """What the analog chain represents, in x @ w units: x @ w - pedestal sum(x) + the row
        driver's code-0 level term `ped` (the readout trims are fitted against this)."""
        w = w_ob - 2 ** (self.config.weight_bits - 1)
        return (x @ w).astype(float) - float(self._pedestal()) * x.sum(1)[:, None] + ped[None, :]

    # -- static fold -----------------------------------------------------------------------
    def fold(self, w_ob: np.ndarray) -> dict[str, Any]:
        """Fold weights (offset-binary codes (R, J)), the chip's mismatch and the row loads into
        per-sub-array float32 weight matrices and per-channel constants (cached for the last w)."""
        key = w_ob.tobytes()
        if self._fold_cache is not None and self._fold_cache[0] == key:
            return self._fold_cache[1]
        f = self._fold(w_ob)
        f["alpha"], f["beta"] = self._column_trim(f, w_ob)
        self._fold_cache = (key, f)
        return f

    def _column_trim(self, f: dict[str, Any], w_ob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-column readout gain and offset (alpha_j, beta_j) for this chip and these weights."""
        c = self.config
        J = c.n_outputs
        alpha, beta = self._trim()
        if c.column_trim == "none" or not self.ni.any_on:
            return np.full(J, alpha), np.full(J, beta)
        x = np.random.default_rng(54321).integers(0, 2**c.input_bits, (256, c.n_inputs))
        tn = self._tn(x, f, None)
        target = self._analog_target(x, w_ob, f["ped"])
        if c.column_trim == "offset":
            return np.full(J, alpha), (target - alpha * tn).mean(0)
        tc, yc = tn - tn.mean(0), target - target.mean(0)
        a = (tc * yc).sum(0) / np.maximum((tc * tc).sum(0), 1e-30)
        return a, target.mean(0) - a * tn.mean(0)

    def _fold(self, w_ob: np.ndarray) -> dict[str, Any]:
        c, ni, cm, rm, tm = self.config, self.ni, self.cell, self.row, self.ta
        R, J, G, S, Rs = c.n_inputs, c.n_outputs, c.groups, c.n_sub, c.rows_per_subarray
        bpg, M = c.bits_per_group, 2**c.bits_per_group - 1
        cd, p = cm.design, cm.params
        w_all = np.concatenate([w_ob, np.full((R, 1), self._ref_word())], axis=1)  # (R, J+1)
        codes = (w_all[..., None] >> (bpg * np.arange(G))) & M  # (R, J+1, G)
        unit = 2.0 ** np.arange(bpg)
        bits = (codes[..., None] >> np.arange(bpg)) & 1
        caps = unit * (1.0 + self.chip.cell.cap_err) if self.chip.cell is not None else np.broadcast_to(unit, bits.shape)
        eff = (bits * caps).sum(-1)  # (R, J+1, G) in Cu
        c_bits = caps.sum(-1).reshape(S, Rs, J + 1, G).sum(1)  # (S, J+1, G)
        n = codes.reshape(S, Rs, J + 1, G).sum(1).astype(float)
        C = c_bits + (Rs * p["p_row"] + p["p_fix"] if ni.cell_parasitics else 0.0)
        # row driver: static level L(x) = beta_r L_nom(x) + alpha_r; sampled = A + B level + m level_prev
        fitted = rm.level_table()
        v0 = float(fitted[0])
        u = float((fitted[-1] - v0) / 255.0)
        table = fitted if ni.row_inl else v0 + u * np.arange(256)
        if self.chip.row is not None:
            beta = 1.0 + self.chip.row.d_gain
            alpha = self.chip.row.d_off - self.chip.row.d_gain * v0
        else:
            beta, alpha = np.ones(R), np.zeros(R)
        A = np.zeros((R, J + 1))
        B = np.ones((R, J + 1))
        m = 0.0
        if ni.row_settling:
            dyn = rm.dyn
            c_sel = eff.sum((1, 2)) * cm.cu  # selected cell capacitance on the row (F), reference column included
            c_tot, r_line = rm.line_params(J, c_sel)
            cn, kap = c_tot / 1e-12, c_tot * r_line / 1e-9
            xpos = np.append(np.linspace(0.0, 1.0, J) if J > 1 else np.zeros(1), 0.0)  # ref column at the driver
            m = dyn["m"]
            A = (dyn["s0"] + dyn["q0"] * cn)[:, None] + xpos[None, :] * (dyn["r0"] * kap)[:, None]
            B = (1 - m + dyn["s1"] + dyn["q1"] * cn)[:, None] + xpos[None, :] * (dyn["r1"] * kap)[:, None]
        # y = sum_r eff [A + (B + m) alpha] + sum_r eff B beta (L + mu L_prev), mu = m / mean(B): the
        # previous level enters with the array's mean row load (see the module doc)
        const = ((A + (B + m) * alpha[:, None])[..., None] * eff).reshape(S, Rs, J + 1, G).sum(1)  # (S, J+1, G)
        Wt = (eff * (B * beta[:, None])[..., None]).reshape(S, Rs, J + 1, G) / C[:, None]
        mu = m / float(B.mean())
        # column: d = vdd - V = vdd - vr - off(n, C) + s/C + a2 (s/C)^2 / C
        off = 0.0
        if ni.cell_injection:
            off = p["v_ft"] + p["q_inj"] / C + (p["q_2"] + p["q_c"] * n) / C**2
        delta = cd.vdd - cd.vr - off + const / C  # (S, J+1, G)
        if self.chip.ta is not None:  # VTC input offsets act on V (the reference comparator has none)
            delta[:, :J, :] -= np.transpose(self.chip.ta.offset_v, (1, 0, 2))[:S]
        a2c = p["a2"] / C if ni.cell_parasitics else np.zeros_like(C)
        # weights of each sub-array, (Rs, G (J+1)): column g (J+1) + j (j = J: reference column),
        # and the constants delta, (G (J+1)) (the pass adds them to the matmuls' outputs)
        W = np.transpose(Wt, (0, 1, 3, 2)).reshape(S, Rs, G * (J + 1)).astype(np.float32)
        W0 = np.transpose(delta, (0, 2, 1)).reshape(S, G * (J + 1))
        for g in range(G):  # signal columns give V_ref - V directly: the reference subtracted in the weights
            W[:, :, g * (J + 1):g * (J + 1) + J] -= W[:, :, g * (J + 1) + J, None]
            W0[:, g * (J + 1):g * (J + 1) + J] -= W0[:, g * (J + 1) + J, None]
        # time accumulator coefficients per channel (S, G, J)
        pv = tm.p_vtc
        if ni.vtc_nonlinearity:
            kp = np.array([pv["k0p"], pv["k1p"]])
            kn = np.array([pv["k0n"], pv["k1n"]])
            a_g = np.array([pv["a0"], pv["a1"]])
            c_g, e_g, b2, b3 = np.array([pv["c0"], pv["c1"]]), np.array([pv["e0"], pv["e1"]]), pv["b2"], pv["b3"]
        else:
            kp = kn = np.array([(pv["k0p"] + pv["k0n"]) / 2, (pv["k1p"] + pv["k1n"]) / 2])
            a_g, c_g, e_g, b2, b3 = np.zeros(2), np.zeros(2), np.zeros(2), 0.0, 0.0
        if not ni.group_weight_error:
            scale = 16.0 * (kp[0] + kn[0]) / (kp[1] + kn[1])
            kp, kn, a_g = kp * np.array([1, scale]), kn * np.array([1, scale]), a_g * np.array([1, scale])
        gp = gn = np.zeros((S, G, J))
        if self.chip.ta is not None:
            gp = np.transpose(self.chip.ta.gain_pos[:, :S], (1, 2, 0))
            gn = np.transpose(self.chip.ta.gain_neg[:, :S], (1, 2, 0))
        kpc, knc = kp[None, :, None] * (1 + gp), kn[None, :, None] * (1 + gn)
        a_ch = a_g[None, :, None] * (1 + (gp + gn) / 2)
        # noise: voltage variance per channel (V^2), referred to the column charge in the kernel
        var_v = np.zeros((S, J + 1, G))
        if ni.vtc_noise:
            var_v[:, :J] += tm.sigma_vtc_v**2
        if ni.ktc_noise:
            kt = K_BOLTZMANN * (273.15 + c.temperature_c)
            var_v += kt / (C * cm.cu) * (1 + n / C)
        if ni.row_noise:
            var_v += rm.noise_sigma(J) ** 2 * ((eff * B[..., None] * beta[:, None, None]) ** 2).reshape(
                S, Rs, J + 1, G).sum(1) / C**2
        slope0 = (kpc + knc) / 2 + a_ch  # dq/dx at x = 0, (S, G, J)
        pa, pt = dict(tm.p_acc), dict(tm.p_tdc)
        if not ni.acc_tdc_nonlinearity:
            pa.update(a2=0.0, dv0=0.0, beta=0.0, gamma=0.0)
            pt.update(t0=0.0, c2=0.0)
        ped = (v0 / u) * (w_ob.astype(np.float64) - 2 ** (c.weight_bits - 1) - self._pedestal()).sum(0)  # (J,)
        d = self.ta.design
        gamma = pa.get("gamma", 0.0)
        p = kernel.params(
            b2=b2, b3=b3, inv_w=1.0 / pv["w"], beta_order=pa.get("beta", 0.0), dw=pa.get("dw", 0.06),
            c_acc=pa["c_acc"], a2_acc=pa["a2"], v_acc0=d.vmid + pa["dv0"] - gamma * V_C0, gamma=gamma,
            vdd=d.vdd, vhi=d.vhi, t0=pt["t0"], t1=pt["t1"], tc2=pt["c2"],
            kq=(pt["t1"] / pa["c_acc"]) ** 2 if (ni.vtc_noise or ni.ktc_noise or ni.row_noise) else 0.0,
            s_tdc2=self.ta.sigma_tdc_s**2 if ni.tdc_noise else 0.0, t_lsb=d.t_lsb, ped=self._pedestal(),
            w_tot=S * sum(16.0**g for g in range(G)))
        return {"W": W, "W0": W0.astype(np.float32), "mu": mu, "table": table.astype(np.float32), "v0": v0, "u": u,
                "ped": ped, "p": p,
                "a2c_ref": np.ascontiguousarray(a2c[:, J, :]), "c_g": c_g.astype(float), "e_g": e_g.astype(float),
                "kch": np.ascontiguousarray(np.stack([kpc, knc, a_ch * pv["w"]]), dtype=np.float32),
                "slope_mean": slope0.mean(axis=2),
                "var_q0": (slope0**2 * np.transpose(var_v[:, :J, :], (0, 2, 1))).reshape(S * G, J).T.copy(),
                "sd_ref": np.sqrt(var_v[:, J, :]),
                "tdc_gain": 1 + self.chip.ta.tdc_gain if self.chip.ta is not None else np.zeros(0),
                "J": J, "G": G, "S": S, "Rs": Rs}

    # -- the per-vector pass ---------------------------------------------------------------
    def _run(self, xi: np.ndarray, f: dict[str, Any], rng: np.random.Generator | None,
             readout: bool, codes: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The analog chain for every vector, in batch chunks run on a thread per core (each chunk:
        its own noise stream, derived from rng). readout False: (continuous TDC code, None, None);
        True: (y, code, saturated) of the digital readout (code, saturated None if not codes)."""
        Bn, J = xi.shape[0], f["J"]
        chunks = [(b0, min(Bn, b0 + CHUNK)) for b0 in range(0, Bn, CHUNK)]
        seeds = rng.integers(0, 2**63, len(chunks)) if rng is not None else [None] * len(chunks)
        bounds: list[tuple[int, int]] = [(0, 0)] * len(chunks)
        y = np.empty((Bn, J))
        codes = codes and readout
        code = np.empty((Bn, J)) if codes else np.empty((0, 0))
        sat = np.empty((Bn, J), dtype=bool) if codes else np.empty((0, 0), dtype=bool)
        if readout:
            ro = (f["alpha"].astype(np.float64), f["beta"].astype(np.float64), f["ped"], True,
                  self.ni.quantization, self.ni.clipping, float(2**self.config.output_bits - 1))
        else:
            ro = (np.zeros(J), np.zeros(J), np.zeros(J), False, False, False, 0.0)

        def task(k: int) -> None:
            b0, b1 = chunks[k]
            bounds[k] = self._chunk(xi, b0, b1, f, seeds[k], ro, y, code, sat)

        if len(chunks) == 1 or N_THREADS == 1:
            for k in range(len(chunks)):
                task(k)
        else:
            with _shared("blas").limit(limits=1, user_api="blas"):  # the chunks already use every core
                list(_shared("pool").map(task, range(len(chunks))))
        if bounds:
            self._check_x_bounds(min(b[0] for b in bounds), max(b[1] for b in bounds))
        return (y, code, sat) if codes else (y, None, None)

    def _tn(self, xi: np.ndarray, f: dict[str, Any], rng: np.random.Generator | None) -> np.ndarray:
        """Continuous TDC code (stop time / t_lsb), (B, n_outputs)."""
        return self._run(xi, f, rng, readout=False)[0]

    def _chunk(self, xi: np.ndarray, b0: int, b1: int, f: dict[str, Any], seed: int | None,
               ro: tuple, y: np.ndarray, code: np.ndarray, sat: np.ndarray) -> tuple[int, int]:
        """Vectors b0..b1-1: row levels, one float32 matmul per sub-array (both groups and the
        reference column), then the compiled channel / accumulator / TDC / readout pass (its noise
        drawn from `seed`; None: noise off). Returns the (min, max) input code read."""
        noisy = seed is not None and self.ni.noise_on
        S, Rs, J, G = f["S"], f["Rs"], f["J"], f["G"]
        cb = b1 - b0
        ws = _workspaces.get((S, G, J, Rs, cb))
        try:
            Le, Y = ws
            xsum = np.empty(cb, dtype=np.int64)
            bounds = kernel.levels(xi, b0, b1, f["table"], f["mu"], Le, xsum)
            # per sub-array s, (cb, Rs) @ (Rs, G (J + 1)): a row of Y[s] per vector (one stacked call)
            np.matmul(Le.reshape(cb, S, Rs).transpose(1, 0, 2), f["W"], out=Y)
            kernel.analog(Y, f["W0"], f["p"], f["a2c_ref"], f["c_g"], f["e_g"], f["kch"], f["slope_mean"], f["sd_ref"],
                          f["var_q0"], f["tdc_gain"], Rs < EXACT_ORDER_BELOW_ROWS, noisy, np.uint64(seed or 0), b0, xsum,
                          *ro, y, code, sat)
        finally:
            _workspaces.put((S, G, J, Rs, cb), ws)
        return bounds

    def _trim(self) -> tuple[float, float]:
        """Design-time readout trim (alpha, beta): least squares of the nominal model's continuous
        code against x @ w on a fixed default-workload batch (no mismatch, no noise)."""
        if self._trim_cache is not None:
            return self._trim_cache
        c = self.config
        nominal = self if self.chip.seed is None else self._with(c, None)
        rng = np.random.default_rng(12345)
        x = rng.integers(0, 2**c.input_bits, (256, c.n_inputs))
        half = 2 ** (c.weight_bits - 1)
        w = rng.integers(-half, half, (c.n_inputs, c.n_outputs))
        fn = nominal._fold(w + half)
        tn = nominal._tn(x, fn, None)
        target = self._analog_target(x, w + half, fn["ped"])
        A = np.column_stack([tn.ravel(), np.ones(tn.size)])
        (alpha, beta), *_ = np.linalg.lstsq(A, target.ravel(), rcond=None)
        self._trim_cache = (float(alpha), float(beta))
        return self._trim_cache

    # -- public ------------------------------------------------------------------------------
    def vmm(self, x: Any, w: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        """The macro's estimate of x @ w, (B, n_outputs) float. rng draws the noise (None: noise off)."""
        self._check_rng(rng)
        xi, wo = self.check_inputs(x, w, x_range=not self.ni.any_on)
        if not self.ni.any_on:
            return self.exact_product(xi, wo)
        return self._run(xi, self.fold(wo), rng, readout=True, codes=False)[0]

    def exact_product(self, xi: np.ndarray, w_ob: np.ndarray) -> np.ndarray:
        """x @ w exactly (float64), from float32 matmuls over blocks of rows short enough that
        every partial sum is an integer below 2^24 (exact in float32): 514 rows for 8b x 8b."""
        c = self.config
        w = (w_ob - 2 ** (c.weight_bits - 1)).astype(np.float32)
        blk = max(1, int(2**24 // ((2**c.input_bits - 1) * 2 ** (c.weight_bits - 1))))
        y = np.zeros((xi.shape[0], c.n_outputs))
        for r0 in range(0, c.n_inputs, blk):
            y += xi[:, r0:r0 + blk].astype(np.float32) @ w[r0:r0 + blk]
        return y

    @staticmethod
    def _check_rng(rng: Any) -> None:
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ParameterError(f"rng must be a numpy Generator (np.random.default_rng(seed)) or None, got {type(rng).__name__}")

    def _y(self, xi: np.ndarray, f: dict[str, Any], rng: np.random.Generator | None):
        """(y, code, saturated) of the analog chain and the digital readout."""
        return self._run(xi, f, rng, readout=True)

    def evaluate(self, x: Any, w: Any, rng: np.random.Generator | None = None, energy: bool = True) -> dict[str, Any]:
        """y, y_ideal, codes, saturated, errors (y - y_ideal) and (energy=True) the energy per VMM (J) by block."""
        self._check_rng(rng)
        xi, wo = self.check_inputs(x, w)
        y_ideal = self.exact_product(xi, wo)
        if not self.ni.any_on:
            y = y_ideal.copy()
            res = {"y": y, "y_ideal": y_ideal, "codes": None, "saturated": np.zeros(y.shape, bool),
                   "errors": np.zeros_like(y)}
        else:
            f = self.fold(wo)
            alpha = f["alpha"]
            y, code, sat = self._y(xi, f, rng)
            res = {"y": y, "y_ideal": y_ideal, "codes": np.floor(code).astype(np.int64) if self.ni.quantization else code,
                   "saturated": sat, "errors": y - y_ideal, "lsb": np.abs(alpha)}
        if energy:
            res["energy_j"] = self.energy(xi, wo)
        return res

    def metrics(self, n_chips: int | None = None, batch: int | None = None) -> dict[str, Any]:
        """TOPS, TOPS/W, latency, energy per VMM by block, error_fs_pct / error_sig_pct on the
        default workload with the spread over chip instances (see :mod:`aimc_circuits.macro.metrics`)."""
        from .metrics import compute_metrics

        return compute_metrics(self, n_chips=n_chips, batch=batch)

    def full_scale(self) -> float:
        """Range of x @ w the output codes represent: 2^output_bits codes x the readout's LSB."""
        c = self.config
        half = 2 ** (c.weight_bits - 1)
        if not self.ni.any_on:  # ideal: every representable product
            return float(2 * (2**c.input_bits - 1) * half * c.n_inputs)
        return abs(self._trim()[0]) * 2**c.output_bits

    def energy(self, xi: np.ndarray, w_ob: np.ndarray) -> dict[str, float]:
        """Mean energy per VMM (J) over the batch, by block: row drivers (static bias + line charge),
        cell array (capacitor charging + switch gate drive, incl. the reference column), time
        accumulators (one conversion per column). An empty batch: NaN (no VMM to average).

        Both input-dependent models are linear in the row levels (row driver: e0 + e1 v + (e2 v +
        e3 v_prev) C_line; cells: e_s sum_r v_r c_r + constants), so the batch mean is the energy at
        the batch-mean level of each row: one pass over x, not a (batch, rows) array per block."""
        c, rm = self.config, self.row
        n = xi.shape[0]
        if n == 0:
            return dict.fromkeys(("row_drivers", "cells", "time_accumulators", "total"), float("nan"))
        table = rm.level_table()
        v = kernel.level_sums(xi, table) / n  # mean level of each row
        v_prev = v + (table[0] - table[xi[-1]]) / n  # the previous vector's level: code 0 before the first
        codes_all = np.concatenate([w_ob, np.full((c.n_inputs, 1), self._ref_word())], axis=1)
        g = (codes_all[..., None] >> (c.bits_per_group * np.arange(c.groups))) & (2**c.bits_per_group - 1)
        c_sel = g.sum((1, 2)) * self.cell.cu
        c_tot, _ = rm.line_params(c.n_outputs, c_sel)
        e_row = rm.energy(v, v_prev, c_tot).sum()
        e_cell = 0.0
        for s in range(c.n_sub):  # the cell energy model is per sub-array column
            sl = slice(s * c.rows_per_subarray, (s + 1) * c.rows_per_subarray)
            e_cell += self.cell.energy_per_cycle(v[None, sl], codes_all[sl]).sum()
        e_ta = self.ta.e_conversion * c.n_outputs
        total = e_row + e_cell + e_ta
        return {"row_drivers": float(e_row), "cells": float(e_cell), "time_accumulators": float(e_ta),
                "total": float(total)}
