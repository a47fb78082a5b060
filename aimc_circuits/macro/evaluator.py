"""The array-level evaluator: an 8-bit x 8-bit, n_inputs x n_outputs VMM from the fitted block models.

The modules of the macro: :mod:`.config` (what the macro is), :mod:`.chip` (one chip's mismatch),
:mod:`.fold` (weights and chip into matmul weights and per-channel constants), :mod:`.kernel`
(the compiled per-vector pass), :mod:`.parallel` (chunks on worker threads), :mod:`.trim` (the
readout trims), :mod:`.energy`, :mod:`.result` and :mod:`.metrics`; this one ties them together.
The block models come from the registered variants named in the config (:mod:`aimc_circuits.registry`)
and are reached only through their family interfaces (:mod:`.interfaces`).

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
   and weights; alpha, beta from the trims of :mod:`.trim`.

Cost: everything static (weights, mismatch of one chip, row loads, offsets, 1/C) is folded once
into per-sub-array weight matrices and per-channel constants (:mod:`.fold`), so a call costs one
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

import warnings
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks import check_int_codes
from ..errors import ParameterError
from ..registry import get_variant
from . import kernel
from .chip import Chip, draw_chip, given_chip
from .config import MacroConfig, Nonidealities
from .energy import Energy, energy_per_vmm
from .fold import Folded, fold
from .interfaces import PROTOCOLS
from .parallel import ChunkRunner, has_avx512
from .result import EvalResult
from .fold import copy_layout, restrict, with_thresholds
from .trim import Readout, column_trim, design_trim, trim_batch, window_thresholds

if TYPE_CHECKING:
    from .program import ProgrammedMacro

__all__ = ["Chip", "Macro", "EXACT_ORDER_BELOW_ROWS", "CHUNK"]

#: sub-arrays of fewer rows get the accumulator's crossing-order term pair by pair at every column
#: (their channel swings are larger: to first order around the reference levels it is off by 2.4 LSB
#: RMS at 64 rows, 8.3 at 32, against 0.6 at 128; the pairs cost ~27 ms per 4096 vectors x 256 columns)
EXACT_ORDER_BELOW_ROWS = 128
#: vectors per chunk (a multiple of 16), by whether the CPU has AVX-512: measured fastest of 64..2048 on
#: 2-core machines, 128 without AVX-512 (3.03 vs 3.24 x plain at 256), 512 with it (3.9 .. 4.0 vs 4.4 at 128)
CHUNK = 512 if has_avx512() else 128


def chunk_size(n_vectors: int, n_threads: int) -> int:
    """Vectors per chunk: CHUNK, or fewer (a multiple of 16) when that would leave threads idle
    (a network tile's batch of 450 vectors is 2 chunks on 2 cores, not 1)."""
    share = -(-n_vectors // max(1, n_threads))
    return max(16, min(CHUNK, 16 * -(-share // 16)))


#: effects that do not depend on the calibrated grouping: with only these on, any bits_per_group works
GROUPING_FREE = frozenset({"quantization", "clipping"})


class Macro:
    """The macro evaluator. ``Macro.default()``: the reference macro and the shipped calibration.

    row, cell, ta: behavioral models of the three block families (any registered variant);
    chip_seed: the chip instance (None: nominal); chip: a given chip instance instead (a
    :class:`~.chip.Chip`, e.g. read back from a SPICE Monte Carlo deck); executor: run the chunks
    on this ``concurrent.futures.Executor`` instead of the shared worker threads (``config.n_threads``)."""

    def __init__(self, config: MacroConfig, cell: Any, row: Any, ta: Any, chip_seed: int | None = None, *,
                 chip: Chip | None = None, executor: Executor | None = None, _trims: dict | None = None,
                 _derived: bool = False):
        self.config, self.cell, self.row, self.ta = config, cell, row, ta
        self.ni = config.nonidealities
        for family, model in (("cell", cell), ("row_driver", row), ("time_accumulator", ta)):
            if not isinstance(model, PROTOCOLS[family]):
                raise ParameterError(f"{type(model).__name__} does not implement the {family} model interface "
                                     f"({PROTOCOLS[family].__name__})")
            named = getattr(config, f"{family}_variant")
            if model.calibration.variant != named:
                raise ParameterError(f"{family}_variant={named!r} but the {family} model is of variant "
                                     f"{model.calibration.variant!r}")
        self._check_calibrations()
        if not _derived:  # a macro derived from this one (another chip, other effects) has said it already
            self._warn_extrapolation()
        if chip is not None and chip_seed is not None:
            raise ParameterError(f"give chip_seed={chip_seed!r} or a chip, not both")
        self._given = chip  # a given chip instance, kept by the macros derived from this one
        self.chip = given_chip(chip, config) if chip is not None else draw_chip(chip_seed, config, row, cell, ta)
        self.executor = executor
        self.runner = ChunkRunner(config.n_threads, executor) if executor else ChunkRunner.shared(config.n_threads)
        self._fold_cache: tuple[bytes, Folded, Readout] | None = None
        self._trims = {} if _trims is None else _trims  # design trims by nonidealities, shared by derived macros

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: MacroConfig | str | Path | None = None, *, executor: Executor | None = None
                    ) -> "Macro":
        """A macro from a MacroConfig or a TOML file (None: the reference macro), its block models
        from the calibrations of the variants it names. The chip instance is ``config.seed``."""
        if config is None:
            config = MacroConfig()
        elif isinstance(config, (str, Path)):
            config = MacroConfig.load(config)
        elif not isinstance(config, MacroConfig):
            raise ParameterError(f"config must be a MacroConfig or a TOML path, got {type(config).__name__}")
        models = {f: get_variant(f, getattr(config, f"{f}_variant")).load_model(
            config.calibration_dir, allow_edited=config.allow_edited_calibration).at_operating_point(
            config.corner, config.temperature_c, config.vdd) for f in ("cell", "row_driver", "time_accumulator")}
        return cls(config, models["cell"], models["row_driver"], models["time_accumulator"], chip_seed=config.seed,
                   executor=executor)

    @classmethod
    def default(cls) -> "Macro":
        """The reference macro (``MacroConfig()``) with the shipped calibration, chip seed 0."""
        return cls.from_config(MacroConfig())

    def _with(self, config: MacroConfig, chip_seed: int | None, chip: Chip | None = None) -> "Macro":
        return Macro(config, self.cell, self.row, self.ta, chip_seed=chip_seed, chip=chip, executor=self.executor,
                     _trims=self._trims, _derived=True)

    def ideal(self) -> "Macro":
        """The same macro with every non-ideality, quantization and clipping off: vmm == x @ w."""
        return self._with(self.config.replace(nonidealities=Nonidealities.none()), None)

    def with_nonidealities(self, ni: Nonidealities) -> "Macro":
        """The same chip instance with another set of modeled effects."""
        if self._given is not None:
            return self._with(self.config.replace(nonidealities=ni), None, self._given)
        return self._with(self.config.replace(nonidealities=ni), self.chip.seed)

    def with_chip_instance(self, chip: Chip) -> "Macro":
        """This macro on a given chip instance (a :class:`~.chip.Chip` of this geometry, e.g. read
        back from a SPICE Monte Carlo deck: :mod:`aimc_circuits.validate.chip_readback`)."""
        return self._with(self.config, None, chip)

    def with_chip(self, seed: int, tdc_current: float | None = None) -> "Macro":
        """Another chip instance (mismatch draw `seed`) of the same design (at another TDC
        charge-up current when given: a per-layer output range)."""
        changes = {"seed": seed} if tdc_current is None else {"seed": seed, "tdc_current": tdc_current}
        return self._with(self.config.replace(**changes), seed)

    def _check_calibrations(self) -> None:
        c, cd, td = self.config, self.cell.design, self.ta.design
        on = {n for n in self.ni.names if getattr(self.ni, n)}
        checks = [("weight_bits", c.weight_bits, cd.weight_bits), ("output_bits", c.output_bits, td.output_bits),
                  ("input_bits", c.input_bits, self.row.input_bits)]
        if not on <= GROUPING_FREE:
            checks.append(("bits_per_group", c.bits_per_group, cd.bits_per_group))
        for name, want, have in checks:
            if want != have:
                raise ParameterError(f"{name}={want} but the calibration was made for {have}; regenerate the "
                                     f"calibrations for that design (`aimc calibrate`)"
                                     + ("" if name != "bits_per_group" else
                                        f" (with only {', '.join(sorted(GROUPING_FREE))} on, any grouping works)"))
        if c.unit_cap_f is not None and not np.isclose(c.unit_cap_f, self.cell.cu, rtol=1e-3, atol=0.0):
            raise ParameterError(f"unit_cap_f={c.unit_cap_f} F but the cell calibration's Cu is {self.cell.cu} F")
        for model in (self.cell, self.row, self.ta):
            if c.corner != model.corner or c.temperature_c != model.temperature_c or c.vdd != model.vdd:
                call = f"{c.corner!r}, {c.temperature_c:g}" + ("" if c.vdd == model.vdd else f", {c.vdd:g}")
                raise ParameterError(f"corner={c.corner!r}, temperature_c={c.temperature_c}, vdd={c.vdd} but the model "
                                     f"of {model.calibration.source} is at {model.corner!r}, {model.temperature_c:g} C, "
                                     f"{model.vdd:g} V; build the macro with Macro.from_config, or pass "
                                     f"model.at_operating_point({call})")
        if c.n_sub > td.n_sub or (c.groups != td.groups and not on <= GROUPING_FREE):
            raise ParameterError(f"n_inputs={c.n_inputs} / rows_per_subarray={c.rows_per_subarray} = {c.n_sub} "
                                 f"sub-arrays x {c.groups} groups; the time accumulator has {td.n_sub} x {td.groups} "
                                 f"VTC channels")
        t = self.timing()
        if t["t_cell_ns"] < self.cell.t_cycle_s * 1e9 - 1e-9 or t["t_conversion_ns"] < self.ta.t_conversion_s * 1e9 - 1e-9:
            raise ParameterError(f"t_cell_ns={t['t_cell_ns']}, t_conversion_ns={t['t_conversion_ns']}: shorter than the "
                                 f"calibrated {self.cell.t_cycle_s * 1e9:.2f} / {self.ta.t_conversion_s * 1e9:.2f} ns "
                                 f"(the settling and TDC models were fitted there)")

    def _warn_extrapolation(self) -> None:
        """Warn (with the characterized range) where the config leaves what the models were fitted on."""
        c, ni = self.config, self.ni
        lo, hi = self.cell.fit_rows
        if (ni.cell_parasitics or ni.cell_injection or ni.ktc_noise) and not lo <= c.rows_per_subarray <= hi:
            warnings.warn(f"rows_per_subarray={c.rows_per_subarray}: the cell model was fitted on columns of "
                          f"{lo}..{hi} rows; extrapolating with its fitted R-law", stacklevel=4)
        lo, hi = self.row.load_range_cols
        if ni.row_settling and not lo <= c.n_outputs <= hi:
            warnings.warn(f"n_outputs={c.n_outputs}: the row driver's settling model was fitted on row loads of "
                          f"{lo}..{hi} columns; extrapolating", stacklevel=4)

    def timing(self) -> dict[str, float]:
        """Phase times (ns): cell phase, VTC phase, conversion, latency and cycle time."""
        t_cell = self.config.t_cell_ns or self.cell.t_cycle_s * 1e9
        t_conv = self.config.t_conversion_ns or self.ta.t_conversion_s * 1e9
        t_vtc = self.ta.t_vtc_s * 1e9
        latency = t_cell + t_conv
        # pipelined: the next vector's row/cell phase runs while this one's TDC converts; the
        # column lines must hold through the VTC ramp, the accumulator through the whole conversion
        cycle = max(t_cell + t_vtc, t_conv) if self.config.pipelined else latency
        return {"t_cell_ns": t_cell, "t_vtc_ns": t_vtc, "t_conversion_ns": t_conv, "latency_ns": latency,
                "cycle_ns": cycle}

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
        xi = self.input_codes(xa, x_range=x_range)
        wi = check_int_codes("w", wa, half - 1, lo=-half)
        return xi, wi + half

    def input_codes(self, xa: np.ndarray, name: str = "x", x_range: bool = True) -> np.ndarray:
        """Input codes as the pass reads them: an integer array as it is (no copy, unless the pass
        cannot read its dtype), else checked integral values as int64; the range 0..2^input_bits-1
        checked here, or, with x_range=False for an integer array, by the pass while it reads x."""
        if xa.dtype.kind in "iu" and xa.size:
            if not xa.dtype.isnative:
                xa = xa.astype(xa.dtype.newbyteorder("="))
            if x_range or xa.dtype == np.uint64:  # one compiled pass
                self._check_x_bounds(*kernel.code_bounds(xa), name=name)
            return xa.astype(np.int64) if xa.dtype == np.uint64 else xa  # the pass mixes x with signed ints
        return check_int_codes(name, xa, 2**self.config.input_bits - 1)

    def _check_x_bounds(self, lo: int, hi: int, name: str = "x") -> None:
        top = 2**self.config.input_bits - 1
        if lo < 0 or hi > top:
            raise ParameterError(f"{name} contains {lo if lo < 0 else hi}; allowed: integers 0..{top}")

    @staticmethod
    def _check_rng(rng: Any) -> None:
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ParameterError(f"rng must be a numpy Generator (np.random.default_rng(seed)) or None, got "
                                 f"{type(rng).__name__}")

    # -- folding and trims --------------------------------------------------------------
    def fold(self, w_ob: np.ndarray) -> tuple[Folded, Readout]:
        """The folded form of offset-binary weights (R, J) on this chip and its readout trims
        (cached for the last w)."""
        key = w_ob.tobytes()
        if self._fold_cache is not None and self._fold_cache[0] == key:
            return self._fold_cache[1], self._fold_cache[2]
        x = trim_batch(self.config)
        f = self.fold_windowed(w_ob, x)
        ro = column_trim(self.config, f, w_ob, self._design_trim(), self._continuous_code, x=x)
        self._fold_cache = (key, f, ro)
        return f, ro

    def fold_windowed(self, w_ob: np.ndarray, x: np.ndarray, tile: tuple[int, int, int] | None = None,
                      held_out: list | None = None) -> Folded:
        """The folded form of w_ob (n_inputs, n_outputs) on this chip; for a tile (rows, cols, k),
        restricted to its rows and columns in use, the rows copies of k inputs that the pass reads
        as x (B, k) (:func:`.fold.restrict`, :func:`.fold.copy_layout`); with ``config.window_trim``,
        each column's TDC stop threshold set to centre the continuous codes of the trim batch x
        (held_out: see :func:`.trim.window_thresholds`)."""
        c = self.config
        f = fold(c, self.row, self.cell, self.ta, self.chip, w_ob)
        if tile is not None:
            rows, cols, k = tile
            f = copy_layout(restrict(f, rows, cols), k, rows)
        if not (c.window_trim and self.ni.any_on):
            return f
        vhi = window_thresholds(lambda v: self._continuous_code(x, with_thresholds(f, c, self.ta, self.chip, v)),
                                self.ta.design.vhi, self.ta.threshold_range(c.tdc_current), 2**c.output_bits,
                                held_out=held_out)
        return with_thresholds(f, c, self.ta, self.chip, vhi)

    def _design_trim(self) -> tuple[float, float]:
        key = (self.ni, self.config.tdc_current)  # the nominal chip's readout at this TDC setting
        if key not in self._trims:
            nominal = self if self.chip.seed is None else self._with(self.config, None)
            self._trims[key] = design_trim(
                self.config, lambda w_ob: fold(self.config, self.row, self.cell, self.ta, nominal.chip, w_ob),
                self._continuous_code)
        return self._trims[key]

    # -- the per-vector pass -------------------------------------------------------------
    def _continuous_code(self, xi: np.ndarray, f: Folded) -> np.ndarray:
        """Continuous TDC code (stop time / t_lsb), (B, n_outputs), noise off."""
        return self._run(xi, f, None, None, codes=False)[0]

    def _run(self, xi: np.ndarray, f: Folded, ro: Readout | None, rng: np.random.Generator | None,
             codes: bool = True, column_copies: int = 1) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The analog chain for every vector, in chunks of ``config.chunk_vectors`` (default CHUNK)
        vectors on the runner's threads; the noise from one seed drawn from rng (None: noise off),
        the same whatever the chunking and the thread count (the matmuls' float32 rounding may
        depend on the chunk's rows on some BLAS builds). ro None: (continuous
        TDC code, None, None); else (y, code, saturated) of the digital readout (code and
        saturated None if not codes). column_copies c (not with codes): y is (B, J / c), the mean of
        the c copies j, j + J / c, ... of each column."""
        Bn, J = xi.shape[0], f.J
        cs = self.config.chunk_vectors or chunk_size(Bn, self.runner.n_threads)
        chunks = [(b0, min(Bn, b0 + cs)) for b0 in range(0, Bn, cs)]
        seed = int(rng.integers(0, 2**63)) if rng is not None else None  # one noise stream per call
        bounds: list[tuple[int, int]] = [(0, 0)] * len(chunks)
        if J % column_copies or (codes and column_copies > 1):
            raise ValueError(f"column_copies={column_copies} of {J} columns (codes={codes})")
        y = np.empty((Bn, J // column_copies))
        codes = codes and ro is not None
        code = np.empty((Bn, J)) if codes else np.empty((0, 0))
        sat = np.empty((Bn, J), dtype=bool) if codes else np.empty((0, 0), dtype=bool)
        if ro is not None:
            out = (ro.alpha.astype(np.float64), ro.beta.astype(np.float64), f.ped, True, self.ni.quantization,
                   self.ni.clipping, float(2**self.config.output_bits - 1))
        else:
            out = (np.zeros(J), np.zeros(J), np.zeros(J), False, False, False, 0.0)
        noisy = self.ni.noise_on

        def task(k: int) -> None:
            b0, b1 = chunks[k]
            bounds[k] = self._chunk(xi, b0, b1, f, seed if noisy else None, out, y, code, sat)

        self.runner.run(task, len(chunks))
        if bounds:
            self._check_x_bounds(min(b[0] for b in bounds), max(b[1] for b in bounds))
        return (y, code, sat) if codes else (y, None, None)

    def _chunk(self, xi: np.ndarray, b0: int, b1: int, f: Folded, seed: int | None, out: tuple,
               y: np.ndarray, code: np.ndarray, sat: np.ndarray) -> tuple[int, int]:
        """Vectors b0..b1-1: row levels, one float32 matmul per sub-array (every group and the
        reference column), then the compiled channel / accumulator / TDC / readout pass (its noise
        drawn from `seed`; None: noise off). Returns the (min, max) input code read."""
        Sa, Rs, GJ1 = f.n_matmul, f.Rs, f.G * (f.J + 1)
        cb = b1 - b0
        key = (Sa, GJ1, Rs, f.shared, cb)
        n_in, y_shape = (Rs, (cb, Sa, GJ1)) if f.shared else (Sa * Rs, (Sa, cb, GJ1))  # matmul rows read
        ws = self.runner.workspace(key, lambda: (np.empty((cb, n_in), dtype=np.float32),
                                                 np.empty(y_shape, dtype=np.float32)))
        try:
            Le, Y = ws
            xsum = np.empty(cb, dtype=np.int64)
            bounds = kernel.levels(xi, b0, b1, f.table, f.mu, f.inputs, Le, xsum)
            if f.shared:  # every sub-array reads the same inputs: (cb, Rs) @ (Rs, Sa G (J + 1)), a row per vector
                np.matmul(Le, f.W[0], out=Y.reshape(cb, Sa * GJ1))
            else:  # per sub-array s, (cb, Rs) @ (Rs, G (J + 1)): a row of Y[s] per vector (one stacked call)
                np.matmul(Le.reshape(cb, Sa, Rs).transpose(1, 0, 2), f.W, out=Y)
            # sub-arrays past Sa (a restricted tile's rows all held at code 0): their share is in W0
            kernel.analog(Y, f.shared, f.W0, f.params, f.w_ch, f.a2c_ref, f.c_g, f.e_g, f.kch, f.slope_mean, f.sd_ref,
                          f.var_q0, f.tdc_gain, f.tdc, self.config.rows_per_subarray < EXACT_ORDER_BELOW_ROWS,
                          seed is not None, np.uint64(seed or 0), b0, xsum, *out, y, code, sat)
        finally:
            self.runner.give_back(key, ws)
        return bounds

    # -- public ------------------------------------------------------------------------------
    def vmm(self, x: Any, w: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        """The macro's estimate of x @ w, (B, n_outputs) float. rng draws the noise; None: noise off
        (every other non-ideality stays on)."""
        self._check_rng(rng)
        xi, wo = self.check_inputs(x, w, x_range=not self.ni.any_on)
        if not self.ni.any_on:
            return self.exact_product(xi, wo)
        f, ro = self.fold(wo)
        return self._run(xi, f, ro, rng, codes=False)[0]

    def program(self, w: Any, trim_x: Any = None, row_copies: int = 1, column_copies: int = 1,
                quiet: bool = False) -> "ProgrammedMacro":
        """This chip with the weights w (k, m) loaded, k row_copies <= n_inputs rows and
        m column_copies <= n_outputs columns in use (a network layer's tile, stored as copies: each
        input drives all its row copies, the column copies are averaged;
        :class:`.program.ProgrammedMacro`): the column trim measured on trim_x (N, k) codes (None:
        uniform random codes); ``.vmm(x, rng)`` takes x (B, k). quiet: no warning for columns whose
        output window is held at the characterized thresholds (``.window_held`` counts them)."""
        from .program import ProgrammedMacro

        return ProgrammedMacro(self, w, trim_x, row_copies, column_copies, quiet)

    def continuous_code(self, x: Any, w: Any) -> np.ndarray:
        """The TDC's continuous stop time in counter periods (stop time / t_lsb), (B, n_outputs),
        before the counter and the readout; noise off. (What ``aimc validate`` compares with SPICE.)"""
        xi, wo = self.check_inputs(x, w)
        return self._continuous_code(xi, self.fold(wo)[0])

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

    def evaluate(self, x: Any, w: Any, rng: np.random.Generator | None = None, energy: bool = True) -> EvalResult:
        """One batch through the macro (:class:`EvalResult`: y, y_ideal, errors, codes, saturated,
        lsb and, with energy=True, the mean energy per VMM by block). rng: the noise (None: off)."""
        self._check_rng(rng)
        xi, wo = self.check_inputs(x, w)
        y_ideal = self.exact_product(xi, wo)
        e = self.energy(xi, wo) if energy else None
        if not self.ni.any_on:
            lsb = np.full(self.config.n_outputs, self.full_scale() / 2**self.config.output_bits)
            return EvalResult(y=y_ideal.copy(), y_ideal=y_ideal, errors=np.zeros_like(y_ideal), codes=None,
                              saturated=np.zeros(y_ideal.shape, bool), lsb=lsb, energy=e)
        f, ro = self.fold(wo)
        y, code, sat = self._run(xi, f, ro, rng)
        return EvalResult(y=y, y_ideal=y_ideal, errors=y - y_ideal,
                          codes=np.floor(code).astype(np.int64) if self.ni.quantization else code,
                          saturated=sat, lsb=np.abs(ro.alpha), energy=e)

    def metrics(self, n_chips: int | None = None, batch: int | None = None,
                progress: Any = None) -> dict[str, Any]:
        """TOPS, TOPS/W, latency, energy per VMM by block, error_fs_pct / error_sig_pct on the
        default workload with the spread over chip instances, and the calibration files used (see
        :mod:`aimc_circuits.macro.metrics`). progress: called with a line per chip."""
        from .metrics import compute_metrics

        return compute_metrics(self, n_chips=n_chips, batch=batch, progress=progress)

    def area(self) -> dict[str, Any]:
        """Estimated silicon area (mm^2) by block and per part (:func:`.area.macro_area`)."""
        from .area import macro_area

        return macro_area(self.config, self.cell, self.row, self.ta)

    def full_scale(self) -> float:
        """Range of x @ w the output codes represent: 2^output_bits codes x the readout's LSB."""
        c = self.config
        half = 2 ** (c.weight_bits - 1)
        if not self.ni.any_on:  # ideal: every representable product
            return float(2 * (2**c.input_bits - 1) * half * c.n_inputs)
        return abs(self._design_trim()[0]) * 2**c.output_bits

    def energy(self, xi: np.ndarray, w_ob: np.ndarray) -> Energy:
        """Mean energy per VMM (J) over the batch by block (:func:`.energy.energy_per_vmm`)."""
        return energy_per_vmm(self.config, self.row, self.cell, self.ta, xi, w_ob)
