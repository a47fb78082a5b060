"""Base of the variants' behavioral models: built from one typed calibration, or loaded from its file."""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import ParameterError

__all__ = ["BlockModel"]

M = TypeVar("M", bound="BlockModel")


class BlockModel:
    """A behavioral model of one calibration. Subclasses set ``calibration_class`` and read
    their fitted values from ``self.calibration`` in :meth:`setup`."""

    calibration_class: ClassVar[type]

    def __init__(self, calibration: Any):
        if not isinstance(calibration, self.calibration_class):
            raise ParameterError(f"{type(self).__name__} needs a {self.calibration_class.__name__}, "
                                 f"got {type(calibration).__name__}")
        self.calibration = calibration
        self.design = calibration.design
        self.setup()

    def setup(self) -> None:
        """Read the fitted values the model uses from ``self.calibration``."""

    @classmethod
    def load(cls: type[M], path: Path | str | None = None, *, allow_edited: bool = False) -> M:
        """Read a calibration file (default: the shipped ``calibration/<family>/<variant>.json``)."""
        return cls(cls.calibration_class.load(path, allow_edited=allow_edited))
