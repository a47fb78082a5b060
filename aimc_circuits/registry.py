"""The registry of block families and their variants: the one place a new circuit is added.

A variant is a folder ``aimc_circuits/blocks/<family>/<variant>/`` holding its SPICE-free
``design.py``, ``testbench.py``, ``characterize.py``, ``fit.py``, typed ``calibration.py``,
behavioral ``model.py`` and ``spot_check.py`` (the model against fresh SPICE points), plus its
netlist ``netlists/<file>.sp``. Registering it here (one
:class:`BlockVariant` line) makes it selectable by name in ``MacroConfig`` (``cell_variant``,
``row_driver_variant``, ``time_accumulator_variant``), calibratable with ``aimc calibrate --block
<family>/<variant>`` and covered by the parametrized variant tests. The macro reaches a variant
only through its model's family interface (:mod:`aimc_circuits.macro.interfaces`), so adding one
needs no edit of the macro.

Lookups import nothing heavy: the variant's modules are imported on first use, and only the
SPICE-free ones (calibration, model) for evaluation.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ParameterError, did_you_mean
from .paths import CALIBRATION_DIR, netlist_path

__all__ = ["BlockVariant", "FAMILIES", "VARIANTS", "REFERENCE", "get_variant", "parse_block", "register",
           "unregister", "variants"]

#: the block families of the macro, in signal order
FAMILIES = ("row_driver", "cell", "time_accumulator")


@dataclass(frozen=True)
class BlockVariant:
    """One registered circuit of a family; names its modules and files, imports them lazily."""

    family: str
    name: str
    summary: str  #: one line: the topology
    netlist: str  #: netlists/<netlist>.sp
    calibration_class: str  #: "module:Class" relative to the variant's package
    model_class: str
    characterize: str  #: "module:function" (profile, progress) -> calibration content
    design_class: str
    spot_check: str = "spot_check:spot_check"  #: "module:function" (model) -> blocks.spot.SpotCheck
    area: str = "area:area_parts"  #: "module:function" (design) -> {unit: [parts]} (:mod:`aimc_circuits.area`)
    #: "module:function" (model, progress) -> the calibration's ``operating_points`` section
    operating_points: str = "operating_points:characterize_operating_points"
    #: "module:function" (model, progress) -> the calibration's ``supply`` section (vdd +- 10 %)
    supply: str = "supply:characterize_supply"
    package_name: str | None = None  #: the variant's Python package (None: aimc_circuits.blocks.<family>.<name>)

    @property
    def id(self) -> str:
        return f"{self.family}/{self.name}"

    @property
    def package(self) -> str:
        return self.package_name or f"aimc_circuits.blocks.{self.family}.{self.name}"

    def _load(self, ref: str) -> Any:
        module, attr = ref.split(":")
        return getattr(importlib.import_module(f"{self.package}.{module}"), attr)

    def calibration(self) -> type:
        """The variant's Calibration subclass."""
        return self._load(self.calibration_class)

    def model(self) -> type:
        """The variant's behavioral model class (``Model(calibration)``, ``Model.load(path)``)."""
        return self._load(self.model_class)

    def design(self) -> type:
        return self._load(self.design_class)

    def characterize_function(self) -> Callable[..., dict[str, Any]]:
        return self._load(self.characterize)

    def spot_check_function(self) -> Callable[[Any], Any]:
        """model -> :class:`aimc_circuits.blocks.spot.SpotCheck` (fresh SPICE points; needs ngspice)."""
        return self._load(self.spot_check)

    def area_parts_function(self) -> Callable[[Any], dict[str, list]]:
        """design -> {unit: [area parts]} (:mod:`aimc_circuits.area`)."""
        return self._load(self.area)

    def operating_points_function(self) -> Callable[..., dict[str, Any]]:
        """model -> the ``operating_points`` section (:mod:`aimc_circuits.blocks.operating_point`; needs ngspice)."""
        return self._load(self.operating_points)

    def supply_function(self) -> Callable[..., dict[str, Any]]:
        """model -> the ``supply`` section (:mod:`aimc_circuits.blocks.supply`; needs ngspice)."""
        return self._load(self.supply)

    def netlist_path(self) -> Path:
        return netlist_path(self.netlist)

    def calibration_path(self, calibration_dir: Path | str | None = None) -> Path:
        """``<calibration_dir or calibration/>/<family>/<variant>.json``."""
        root = Path(calibration_dir) if calibration_dir else CALIBRATION_DIR
        return root / self.family / f"{self.name}.json"

    def load_model(self, calibration_dir: Path | str | None = None, *, allow_edited: bool = False) -> Any:
        """The behavioral model built from this variant's calibration file."""
        return self.model().load(self.calibration_path(calibration_dir), allow_edited=allow_edited)


#: every registered variant; the first of each family is its reference (the default)
VARIANTS: list[BlockVariant] = [
    BlockVariant("cell", "mom_bottom_plate",
                 "binary-weighted MOM unit caps per group, bottom-plate sampling, top-plate column reset",
                 netlist="cell", calibration_class="calibration:CellCalibration", model_class="model:CellModel",
                 characterize="characterize:characterize_cell", design_class="design:CellDesign"),
    BlockVariant("row_driver", "dac_follower",
                 "pfet current-steering DAC into a poly load, replica-biased nfet source follower",
                 netlist="row_driver", calibration_class="calibration:RowDriverCalibration",
                 model_class="model:RowDriverModel", characterize="characterize:characterize_row_driver",
                 design_class="design:RowDriverDesign"),
    BlockVariant("time_accumulator", "pump_single_slope",
                 "comparator-pair VTCs, current-steering pumps on a MIM accumulator, single-slope TDC",
                 netlist="time_accumulator", calibration_class="calibration:TACalibration",
                 model_class="model:TimeAccumulatorModel",
                 characterize="characterize:characterize_time_accumulator", design_class="design:TADesign"),
    BlockVariant("time_accumulator", "pump_local_bias",
                 "pump_single_slope with local bias per VTC (pumps and comparators apart), ramp and TDC, a 2x "
                 "ramp capacitor and current, reset switches sized for a 1 ns reset phase",
                 netlist="time_accumulator_local_bias", calibration_class="calibration:LocalBiasTACalibration",
                 model_class="model:LocalBiasTimeAccumulatorModel", characterize="characterize:characterize_local_bias",
                 design_class="design:LocalBiasTADesign"),
]

#: the reference macro's variant of each family
REFERENCE: dict[str, str] = {}
for _v in VARIANTS:
    REFERENCE.setdefault(_v.family, _v.name)


def register(variant: BlockVariant) -> BlockVariant:
    """Add a variant kept outside this package (a plug-in; the project's own are listed above).
    Its family must exist and its name be new in it."""
    _check_family(variant.family)
    if any(v.family == variant.family and v.name == variant.name for v in VARIANTS):
        raise ParameterError(f"{variant.id} is registered already")
    VARIANTS.append(variant)
    return variant


def unregister(family: str, name: str) -> None:
    """Remove a plug-in variant (the families' references cannot be removed)."""
    v = get_variant(family, name)
    if REFERENCE[family] == name:
        raise ParameterError(f"{v.id} is the reference of its family and cannot be removed")
    VARIANTS.remove(v)


def variants(family: str | None = None) -> list[BlockVariant]:
    """The registered variants (of one family)."""
    if family is not None:
        _check_family(family)
    return [v for v in VARIANTS if family is None or v.family == family]


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ParameterError(f"unknown block family {family!r}; allowed: {', '.join(FAMILIES)}."
                             f"{did_you_mean(family, FAMILIES)}")


def get_variant(family: str, name: str | None = None) -> BlockVariant:
    """The variant `name` of `family` (None: the reference); an unknown name gets the list and a
    did-you-mean."""
    _check_family(family)
    name = REFERENCE[family] if name is None else name
    for v in VARIANTS:
        if v.family == family and v.name == name:
            return v
    names = [v.name for v in VARIANTS if v.family == family]
    raise ParameterError(f"unknown {family} variant {name!r}; registered: {', '.join(names)}."
                         f"{did_you_mean(name, names)}")


def parse_block(block: str) -> list[BlockVariant]:
    """``all`` -> every variant; ``<family>`` -> its reference; ``<family>/<variant>`` -> that one."""
    if block == "all":
        return list(VARIANTS)
    family, _, name = block.partition("/")
    allowed = ["all", *FAMILIES, *(v.id for v in VARIANTS)]
    if family not in FAMILIES:
        raise ParameterError(f"unknown block {block!r}; allowed: {', '.join(allowed)}.{did_you_mean(block, allowed)}")
    return [get_variant(family, name or None)]
