"""Base of the variants' behavioral models: built from one typed calibration, or loaded from its file."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import ParameterError

__all__ = ["BlockModel"]

M = TypeVar("M", bound="BlockModel")


class BlockModel:
    """A behavioral model of one calibration. Subclasses set ``calibration_class`` and read
    their fitted values from ``self.calibration`` in :meth:`setup`."""

    calibration_class: ClassVar[type]
    #: the parameters an operating point shifts (name -> "add" | "mul"; see
    #: :mod:`aimc_circuits.blocks.operating_point`), applied by :meth:`_apply_operating_point`
    op_params: ClassVar[dict[str, str]] = {}
    #: the parameters the supply voltage shifts (see :mod:`aimc_circuits.blocks.supply`), applied by
    #: :meth:`_apply_supply`
    supply_params: ClassVar[dict[str, str]] = {}

    def __init__(self, calibration: Any):
        if not isinstance(calibration, self.calibration_class):
            raise ParameterError(f"{type(self).__name__} needs a {self.calibration_class.__name__}, "
                                 f"got {type(calibration).__name__}")
        self.calibration = calibration
        self.design = calibration.design
        self.setup()

    def setup(self) -> None:
        """Read the fitted values the model uses from ``self.calibration``."""

    @property
    def corner(self) -> str:
        """The process corner this model evaluates at."""
        return getattr(self, "_corner", None) or self.calibration.corner

    @property
    def temperature_c(self) -> float:
        """The temperature (C) this model evaluates at."""
        t = getattr(self, "_temperature_c", None)
        return self.calibration.temperature_c if t is None else t

    @property
    def vdd(self) -> float:
        """The supply (V) this model evaluates at."""
        return float(self.design.vdd)

    def at_operating_point(self: M, corner: str, temperature_c: float, vdd: float | None = None, *,
                           warn: bool = True) -> M:
        """This model at another process corner, temperature (C) and supply (V; None: the
        design's), from the calibration's operating-point and supply laws; itself at the
        calibration's own operating point. Warns outside the characterized temperatures and
        supplies; an unknown corner, or a calibration without the laws needed, is refused."""
        cal = self.calibration
        m = self
        if corner != cal.corner or float(temperature_c) != cal.temperature_c:
            table = cal.operating_points(self.op_params)
            shifts = table.shifts(corner, temperature_c, warn=warn)
            m = copy.copy(self)
            m._corner, m._temperature_c = corner, float(temperature_c)
            m._apply_operating_point(table, shifts)
        if vdd is not None and float(vdd) != m.vdd:
            table = cal.supply(self.supply_params)
            shifts = table.shifts(vdd, warn=warn)
            m = copy.copy(m)
            m.design = m.design.at_supply(float(vdd))
            m._apply_supply(table, shifts)
        return m

    def with_operating_points(self: M, section: dict[str, Any], name: str = "operating_points") -> M:
        """The same model from a calibration whose section `name` (``operating_points`` or
        ``supply``) is `section` (sealed afresh: used while that section is characterized)."""
        cal = self.calibration
        content = {k: v for k, v in cal.data.items() if k != "integrity"}
        content[name] = section
        return type(self)(type(cal).from_content(content))

    def _apply_operating_point(self, table: Any, shifts: dict[str, float]) -> None:
        """Move this (copied) model's parameters by `shifts` (table.kinds says add or mul);
        never mutate arrays or dicts shared with the reference model: replace them."""
        raise NotImplementedError(f"{type(self).__name__} has no operating-point model")

    def _apply_supply(self, table: Any, shifts: dict[str, float]) -> None:
        """Move this (copied) model, whose design is already at the new supply, by the supply
        law's `shifts` (same rules as :meth:`_apply_operating_point`)."""
        raise NotImplementedError(f"{type(self).__name__} has no supply model")

    @classmethod
    def load(cls: type[M], path: Path | str | None = None, *, allow_edited: bool = False) -> M:
        """Read a calibration file (default: the shipped ``calibration/<family>/<variant>.json``)."""
        return cls(cls.calibration_class.load(path, allow_edited=allow_edited))
