"""Macro configuration: what the array is, how it is clocked, which non-idealities are modeled.

``MacroConfig()`` is the reference macro of DESIGN.md section 2. A TOML file sets any subset of
the fields (top-level keys, and a ``[nonidealities]`` table of booleans)::

    n_outputs = 64
    pipelined = false
    [nonidealities]
    ktc_noise = false

Every field is validated here (types, ranges, registered block variants); that the calibrations
were made for this design (bits, grouping, unit capacitor, supply, corner, temperature) is
checked when the macro is built from them (:meth:`aimc_circuits.macro.Macro.from_config`).
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from ..errors import ParameterError, did_you_mean
from ..pdk import BASE_CORNERS as CORNERS
from ..registry import REFERENCE, get_variant

__all__ = ["COLUMN_TRIMS", "MacroConfig", "Nonidealities"]

COLUMN_TRIMS = ("none", "offset", "offset_gain")


@dataclass(frozen=True)
class Nonidealities:
    """Which fitted effects the evaluator applies (True = on). All off plus no quantization and
    no clipping is the ideal macro: ``y == x @ w`` exactly."""

    row_inl: bool = True  #: row driver static transfer: INL/DNL of the fitted 256-code curve
    row_mismatch: bool = True  #: per-row driver offset and gain of one chip (Monte Carlo statistics)
    row_settling: bool = True  #: row level sampled before it settles: previous code, cell load, far-end drop
    row_noise: bool = True  #: row driver output noise sampled by the cells
    cell_mismatch: bool = True  #: per-capacitor mismatch of one chip (sigma 0.79 % per unit, 1/sqrt(area))
    cell_injection: bool = True  #: reset-switch charge injection / clock feedthrough offsets of the column
    cell_parasitics: bool = True  #: column parasitic attenuation (wire + junction caps) and its nonlinearity
    ktc_noise: bool = True  #: kT/C noise of the column sampling
    vtc_nonlinearity: bool = True  #: ramp curvature, near-zero extra gain, sign asymmetry, pulse-pair charge
    group_weight_error: bool = True  #: group-1 / group-0 pump ratio differs from 16
    ta_mismatch: bool = True  #: per-channel VTC offsets and gains, per-column TDC gain of one chip
    vtc_input_load: bool = True  #: the VTC input on each data column line: its capacitance, and the charge it takes from the floating line before the ramp crosses it
    vtc_noise: bool = True  #: comparator noise of the VTCs (pulse-edge jitter)
    acc_tdc_nonlinearity: bool = True  #: accumulator (C_acc) and TDC ramp nonlinearity and offsets
    tdc_noise: bool = True  #: comparator noise of the TDC (stop-edge jitter)
    quantization: bool = True  #: output code = whole counter periods (output_bits)
    clipping: bool = True  #: codes saturate at 0 and 2^output_bits - 1

    @classmethod
    def none(cls) -> "Nonidealities":
        return cls(**{f.name: False for f in fields(cls)})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self))

    @property
    def any_on(self) -> bool:
        return any(getattr(self, n) for n in self.names)

    @property
    def noise_on(self) -> bool:
        return self.row_noise or self.ktc_noise or self.vtc_noise or self.tdc_noise

    @classmethod
    def only(cls, *names: str) -> "Nonidealities":
        """Everything off except `names`."""
        base = cls.none()
        for n in names:
            if n not in base.names:
                raise ParameterError(f"unknown non-ideality {n!r}; allowed: {', '.join(base.names)}."
                                     f"{did_you_mean(n, base.names)}")
        return replace(base, **{n: True for n in names})

    def __post_init__(self):
        for f in fields(self):
            if not isinstance(getattr(self, f.name), bool):
                raise ParameterError(f"nonidealities.{f.name}={getattr(self, f.name)!r} must be true or false")


@dataclass(frozen=True)
class MacroConfig:
    """One macro: geometry, resolution, operating point, timing and modeled effects."""

    n_inputs: int = 1024  #: input channels = array rows
    n_outputs: int = 256  #: output channels = array columns
    input_bits: int = 8  #: unsigned input codes 0 .. 2^input_bits - 1
    weight_bits: int = 8  #: signed weights -2^(weight_bits-1) .. 2^(weight_bits-1) - 1 (offset binary + reference column)
    output_bits: int = 8  #: resolution of the column's time-to-digital conversion
    rows_per_subarray: int = 128  #: rows sharing one column line (n_inputs / rows_per_subarray sub-arrays)
    bits_per_group: int = 4  #: capacitor bits per group (an 8-bit weight = 2 groups of 4)
    cell_variant: str = REFERENCE["cell"]  #: registered cell variant (aimc_circuits.registry)
    row_driver_variant: str = REFERENCE["row_driver"]  #: registered row-driver variant
    time_accumulator_variant: str = REFERENCE["time_accumulator"]  #: registered time-accumulator variant
    unit_cap_f: float | None = None  #: Cu (F); None = the cell calibration's (must match it when given)
    vdd: float = 1.8  #: supply (V): the calibrations' supply laws (characterized at 1.62..1.98 V, tt / 27 C)
    corner: str = "tt"  #: process corner: tt, ss, ff, sf or fs (the calibrations' operating-point laws)
    temperature_c: float = 27.0  #: temperature (C): the calibrations' operating-point laws, thermal noise
    t_cell_ns: float | None = None  #: row drive + charge sharing phase (ns); None = the calibrated cycle (5.3 ns)
    t_conversion_ns: float | None = None  #: time-accumulator conversion (ns); None = the calibrated 31.7 ns
    pipelined: bool = True  #: next vector's row/cell phase overlaps this vector's TDC phase
    column_trim: str = "offset_gain"  #: per-chip digital column trim: "none", "offset" or "offset_gain" (see Macro)
    tdc_current: float | None = None  #: output range: TDC charge-up current (units of i0; a characterized setting); None = the design's
    window_trim: bool = False  #: output window: per-column TDC stop threshold set on the trim batch to centre each column's codes
    design_trim_seed: int = 12345  #: random batch of the design-time readout trim (nominal chip)
    column_trim_seed: int = 54321  #: random input batch of the per-chip column trim
    nonidealities: Nonidealities = field(default_factory=Nonidealities)
    seed: int = 0  #: chip instance (mismatch draw) of Macro.from_config; metrics draw seed .. seed + n_chips - 1
    n_chips: int = 10  #: chip instances for the metrics' error spread
    workload_batch: int = 512  #: vectors of the default workload in metrics()
    n_threads: int | None = None  #: evaluator worker threads; None = one per core (at most 8)
    chunk_vectors: int | None = None  #: vectors per chunk of the evaluator (a multiple of 16); None = by the CPU; results do not depend on it
    calibration_dir: str | None = None  #: directory of <family>/<variant>.json calibrations; None = the shipped calibration/
    allow_edited_calibration: bool = False  #: accept hand-edited calibration files (checksum mismatch) with a warning

    def __post_init__(self):
        ints = {"n_inputs": 1, "n_outputs": 1, "input_bits": 1, "weight_bits": 2, "output_bits": 1,
                "rows_per_subarray": 1, "bits_per_group": 1, "seed": 0, "n_chips": 1, "workload_batch": 2,
                "design_trim_seed": 0, "column_trim_seed": 0}
        for name, lo in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ParameterError(f"{name}={v!r} must be an integer >= {lo}")
        for name, opt in (("unit_cap_f", True), ("vdd", False)):
            v = getattr(self, name)
            if v is None and opt:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ParameterError(f"{name}={v!r} must be a finite number > 0")
        for name in ("t_cell_ns", "t_conversion_ns"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf):
                raise ParameterError(f"{name}={v!r} must be a finite time > 0 ns (or unset for the calibrated value)")
        if self.n_threads is not None and (isinstance(self.n_threads, bool) or not isinstance(self.n_threads, int)
                                           or not 1 <= self.n_threads <= 256):
            raise ParameterError(f"n_threads={self.n_threads!r} must be an integer in 1..256 (or unset: one per core)")
        if self.chunk_vectors is not None and (isinstance(self.chunk_vectors, bool) or not isinstance(
                self.chunk_vectors, int) or self.chunk_vectors < 16 or self.chunk_vectors % 16):
            raise ParameterError(f"chunk_vectors={self.chunk_vectors!r} must be a multiple of 16 (or unset: by the CPU)")
        if self.calibration_dir is not None and not isinstance(self.calibration_dir, (str, Path)):
            raise ParameterError(f"calibration_dir={self.calibration_dir!r} must be a directory path (a string)")
        if self.tdc_current is not None and (isinstance(self.tdc_current, bool) or not isinstance(
                self.tdc_current, (int, float)) or not 0 < self.tdc_current < math.inf):
            raise ParameterError(f"tdc_current={self.tdc_current!r} must be a finite number > 0 (units of i0; a "
                                 f"characterized setting) or unset for the design's")
        for name in ("pipelined", "allow_edited_calibration", "window_trim"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{name}={getattr(self, name)!r} must be true or false")
        for family in ("cell", "row_driver", "time_accumulator"):
            name = getattr(self, f"{family}_variant")
            if not isinstance(name, str):
                raise ParameterError(f"{family}_variant={name!r} must be a registered variant name (a string)")
            get_variant(family, name)
        if not isinstance(self.temperature_c, (int, float)) or isinstance(self.temperature_c, bool) \
                or not -55 <= self.temperature_c <= 150:
            raise ParameterError(f"temperature_c={self.temperature_c!r} must be a number in -55..150 C")
        if self.corner not in CORNERS:
            raise ParameterError(f"corner={self.corner!r}; allowed: {', '.join(CORNERS)}{did_you_mean(self.corner, CORNERS)}")
        if self.column_trim not in COLUMN_TRIMS:
            raise ParameterError(f"column_trim={self.column_trim!r}; allowed: {', '.join(COLUMN_TRIMS)}")
        if self.window_trim and self.column_trim == "none":
            raise ParameterError('window_trim = true moves each column\'s codes: the readout needs column_trim = '
                                 '"offset" or "offset_gain" (not "none")')
        if not isinstance(self.nonidealities, Nonidealities):
            raise ParameterError("nonidealities must be a Nonidealities instance (or a TOML table of booleans)")
        if self.n_inputs % self.rows_per_subarray:
            raise ParameterError(f"n_inputs={self.n_inputs} must be a multiple of rows_per_subarray="
                                 f"{self.rows_per_subarray} (one column line per sub-array)")
        if self.weight_bits % self.bits_per_group:
            raise ParameterError(f"bits_per_group={self.bits_per_group} must divide weight_bits={self.weight_bits}")

    @property
    def n_sub(self) -> int:
        return self.n_inputs // self.rows_per_subarray

    @property
    def groups(self) -> int:
        return self.weight_bits // self.bits_per_group

    @property
    def ops_per_vmm(self) -> int:
        """2 x n_inputs x n_outputs (one multiply and one add per weight)."""
        return 2 * self.n_inputs * self.n_outputs

    def replace(self, **changes: Any) -> "MacroConfig":
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "MacroConfig":
        """Build from a mapping (e.g. parsed TOML); unknown keys raise, naming the allowed ones."""
        known = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for k, v in data.items():
            if k not in known:
                raise ParameterError(f"unknown macro config key {k!r}; allowed: {', '.join(sorted(known))}."
                                     f"{did_you_mean(k, known)}")
            kw[k] = v
        if "nonidealities" in kw:
            ni = kw["nonidealities"]
            if isinstance(ni, Mapping):
                allowed = Nonidealities().names
                for k in ni:
                    if k not in allowed:
                        raise ParameterError(f"unknown non-ideality {k!r}; allowed: {', '.join(allowed)}."
                                             f"{did_you_mean(k, allowed)}")
                kw["nonidealities"] = Nonidealities(**ni)
        return cls(**kw)

    @classmethod
    def load(cls, path: str | Path) -> "MacroConfig":
        """Read a TOML file (see the module docstring)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ParameterError(f"macro config file {p} does not exist") from None
        except IsADirectoryError:
            raise ParameterError(f"macro config {p} is a directory, not a TOML file") from None
        except UnicodeDecodeError as exc:
            raise ParameterError(f"macro config file {p} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except PermissionError:
            raise ParameterError(f"macro config file {p} is not readable (permission denied)") from None
        except tomllib.TOMLDecodeError as exc:
            raise ParameterError(f"macro config file {p} is not valid TOML: {exc}") from None
        return cls.from_mapping(data)
