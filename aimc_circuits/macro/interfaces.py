"""What the macro needs from a behavioral model of each block family (typing protocols).

A block variant's model class implements its family's protocol; the macro evaluator reaches the
variant only through these methods, so a new variant whose physics fits the folded forms below
(:class:`~aimc_circuits.blocks.row_driver.dac_follower.model.RowFold`, ``CellFold``, ``TAFold``)
plugs in by registering it (:mod:`aimc_circuits.registry`), without an edit of the macro. A
variant whose physics needs another folded form brings its own fold and kernel stage.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["OperatingPointProtocol", "CellModelProtocol", "RowDriverModelProtocol", "TimeAccumulatorModelProtocol", "PROTOCOLS"]


@runtime_checkable
class OperatingPointProtocol(Protocol):
    """Every block model: where it evaluates, and itself at another operating point."""

    @property
    def corner(self) -> str: ...

    @property
    def temperature_c(self) -> float: ...

    @property
    def vdd(self) -> float: ...

    def at_operating_point(self, corner: str, temperature_c: float, vdd: float | None = None, *,
                           warn: bool = True) -> Any: ...


@runtime_checkable
class RowDriverModelProtocol(OperatingPointProtocol, Protocol):
    design: Any  #: the variant's design (its ``cell`` field: the cells on the row)
    calibration: Any

    @property
    def input_bits(self) -> int: ...

    load_range_cols: tuple[int, int]  #: row loads (columns) the settling model was fitted on

    def level_table(self, chip: Any = None) -> np.ndarray: ...

    def draw_rows(self, rng: np.random.Generator, rows: int) -> Any: ...

    def fold(self, c_sel: np.ndarray, n_cols: int, chip: Any, *, inl: bool, settling: bool) -> Any: ...

    def line_params(self, n_cols: int, c_sel: Any) -> tuple[np.ndarray, float]: ...

    def energy(self, v: Any, v_prev: Any, c_tot: Any) -> np.ndarray: ...


@runtime_checkable
class CellModelProtocol(OperatingPointProtocol, Protocol):
    design: Any  #: weight_bits, bits_per_group, vdd, vr
    calibration: Any
    cu: float  #: unit capacitance (F)

    @property
    def t_cycle_s(self) -> float: ...

    @property
    def fit_rows(self) -> tuple[int, int]: ...

    def draw_chip(self, rng: np.random.Generator, rows: int, n_out: int) -> Any: ...

    def fold(self, words: np.ndarray, chip: Any, rows_per_subarray: int, bits_per_group: int, groups: int, *,
             parasitics: bool, injection: bool, temperature_c: float, data_load_f: float | None) -> Any: ...

    def energy_per_cycle(self, v_in: Any, weights: Any) -> np.ndarray: ...


@runtime_checkable
class TimeAccumulatorModelProtocol(OperatingPointProtocol, Protocol):
    design: Any  #: output_bits, n_sub, groups, t_lsb
    calibration: Any
    e_conversion: float  #: energy per column conversion (J)

    @property
    def t_vtc_s(self) -> float: ...

    @property
    def t_conversion_s(self) -> float: ...

    def draw_chip(self, rng: np.random.Generator, n_out: int) -> Any: ...

    def fold(self, n_sub: int, n_cols: int, groups: int, bits_per_group: int, chip: Any, **switches: bool) -> Any: ...


#: family -> the protocol its models implement
PROTOCOLS = {"row_driver": RowDriverModelProtocol, "cell": CellModelProtocol,
             "time_accumulator": TimeAccumulatorModelProtocol}
