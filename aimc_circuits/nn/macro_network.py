"""A trained network on macros: inference through float, ideal int8 or the macro, and its cost.

Cost per inference (weight-stationary: every tile is its own macro, loaded once; the tiles of a
layer run in parallel, the layers one after another):

* energy: sum over tiles of (the tile's energy per VMM on this batch's inputs, the whole
  array's) x (VMMs per inference: 1 for a dense layer, one per output position for a
  convolution, twice for a two-pass layer);
* latency: sum over layers of the macro latency + (VMMs per inference - 1) cycle times;
* throughput: with the layers pipelined over inferences, one inference per the slowest layer's
  VMMs x cycle time.

The digital work (bias, scales, partial-sum adds, ReLU, pooling) is not counted in energy or time.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import ParameterError
from ..macro.trim import window_warning
from .layers import MAPPED, Network
from .mapping import MappedLayer, layer_inputs, quantize_layer

__all__ = ["MacroNetwork", "NetworkReport", "BACKENDS"]

BACKENDS = ("float", "int8", "macro")


@dataclass(frozen=True)
class NetworkReport:
    """Accuracy (%) and cost per inference of a network on the macro."""

    network: str
    samples: int
    accuracy_float: float
    accuracy_int8: float
    accuracy_macro: list[float]  #: one per chip instance
    layers: list[dict]  #: per mapped layer: name, shape, tiles, passes, VMMs per inference, error, clipped
    n_macros: int
    energy_per_inference_j: float
    latency_ns: float
    inferences_per_s: float

    @property
    def macro_mean(self) -> float:
        return float(np.mean(self.accuracy_macro))

    @property
    def macro_std(self) -> float:
        return float(np.std(self.accuracy_macro, ddof=1)) if len(self.accuracy_macro) > 1 else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.update(accuracy_macro_mean=self.macro_mean, accuracy_macro_std=self.macro_std)
        return d

    def lines(self) -> list[str]:
        out = [f"{self.network}: {self.samples} test samples, {self.n_macros} macros (weight-stationary, one per tile)",
               f"  accuracy float {self.accuracy_float:.2f} %, ideal int8 {self.accuracy_int8:.2f} %, macro "
               f"{self.macro_mean:.2f} +- {self.macro_std:.2f} % over {len(self.accuracy_macro)} chips "
               f"({self.macro_mean - self.accuracy_int8:+.2f} points vs int8)",
               f"  per inference: {1e9 * self.energy_per_inference_j:.2f} nJ, latency {self.latency_ns:.0f} ns, "
               f"{self.inferences_per_s:.3g} inferences/s (layers pipelined)",
               "  layer       K x N       tiles copies (rows x cols) passes VMMs/inf  error (% of signal RMS)  inputs clipped"]
        for ly in self.layers:
            out.append(f"  {ly['name']:<10s} {ly['K']:>4d} x {ly['N']:<5d} {ly['tiles']:>5d} "
                       f"{','.join(ly['replicas']):>20s} {ly['passes']:>6d} {ly['vmms_per_inference']:>8d}  "
                       f"{ly['error_sig_pct']:>8.1f}               {ly['input_clipped']}")
        return out


class MacroNetwork:
    """`net` quantized from `calib_x` (calibration samples, e.g. training data; never the test
    data) and mapped on tiles of `macro` (default: the reference macro with the window trim on).
    replicate: store small tiles as copies (see :mod:`.mapping`); tdc_current: {layer name: TDC
    charge-up current} for layers whose tiles use another output range."""

    def __init__(self, net: Network, calib_x: np.ndarray, macro: Any = None, seed: int = 0, replicate: bool = True,
                 tdc_current: dict[str, float] | None = None):
        if macro is None:
            from ..macro import Macro, MacroConfig

            macro = Macro.from_config(MacroConfig(window_trim=True))
        self.net, self.macro = net, macro
        calib_x = np.asarray(calib_x, dtype=np.float64)
        if calib_x.shape[1:] != tuple(net.input_shape):
            raise ParameterError(f"calibration samples of shape {calib_x.shape[1:]}; {net.name} takes {net.input_shape}")
        inputs = layer_inputs(net, calib_x)
        self.mapped: dict[int, MappedLayer] = {}
        for i, layer in enumerate(net.layers):
            if isinstance(layer, MAPPED):
                self.mapped[i] = quantize_layer(layer, inputs[i], macro.config.input_bits, seed, index=len(self.mapped))
                self.mapped[i].replicate = replicate
        names = {ml.name for ml in self.mapped.values()}
        for name, current in (tdc_current or {}).items():  # per-layer output range
            if name not in names:
                raise ParameterError(f"tdc_current for layer {name!r}: {net.name} has mapped layers {sorted(names)}")
            macro.ta.tdc_transfer(current, macro.ta.design.vhi)  # refuses a current that was not characterized
            for ml in self.mapped.values():
                if ml.name == name:
                    ml.tdc_current = current

    def forward(self, x: np.ndarray, backend: str = "macro", chip: int = 0, rng: np.random.Generator | None = None,
                trace: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
        """Logits for x through `backend` ('float', 'int8' or 'macro' with chip instance `chip`;
        rng draws the macro's noise, None: noise off). trace(i, patches) sees each mapped layer's input patches."""
        if backend not in BACKENDS:
            raise ParameterError(f"backend={backend!r}; allowed: {', '.join(BACKENDS)}")
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != tuple(self.net.input_shape):
            raise ParameterError(f"input of shape {x.shape[1:]}; {self.net.name} takes {self.net.input_shape}")
        if not np.all(np.isfinite(x)):
            raise ParameterError(f"input contains NaN or inf; {self.net.name} takes finite values")
        for i, layer in enumerate(self.net.layers):
            ml = self.mapped.get(i)
            if ml is None:
                x = layer.forward(x)
                continue
            if trace:
                trace(i, layer.patches(x))
            x = ml.forward(x, backend, self.macro, chip, rng)
        return x

    def _warn_held_windows(self, chips: Any) -> None:
        """One warning per layer whose tiles hold some output windows at the characterized
        thresholds on these chips: the range of held columns per chip."""
        for ml in self.mapped.values():
            held = [ml.window_held[k][0] for k in chips if k in ml.window_held]
            if held and max(held) > 0:
                n_cols = next(ml.window_held[k][1] for k in chips if k in ml.window_held)
                tile = next(t for row in ml.tiles_for(self.macro, 0).values() for _, t, _ in row)
                count = f"{min(held)}..{max(held)}" if min(held) != max(held) else f"{held[0]}"
                warnings.warn(f"layer {ml.name!r}: " + window_warning(count, n_cols, tile.window_range(),
                                                                      f" on each of {len(held)} chips"), stacklevel=3)

    def n_macros(self) -> int:
        return sum(ml.n_tiles(self.macro) for ml in self.mapped.values())

    def evaluate(self, x: np.ndarray, labels: np.ndarray, n_chips: int = 5, seed: int = 0,
                 progress: Callable[[str], None] | None = None) -> NetworkReport:
        """Accuracy for float, ideal int8 and the macro (chip instances 0..n_chips-1, noise on:
        chip i draws from seed + i), the per-layer error on chip 0, and the cost per inference."""
        if n_chips < 1:
            raise ParameterError(f"n_chips={n_chips}; allowed: 1 or more")
        labels = np.asarray(labels)
        acc = lambda logits: 100.0 * float((logits.argmax(1) == labels).mean())  # noqa: E731
        a_float = acc(self.forward(x, "float"))
        patches: dict[int, np.ndarray] = {}
        for ml in self.mapped.values():
            ml.input_clipped = 0
        a_int8 = acc(self.forward(x, "int8", trace=lambda i, p: patches.setdefault(i, p)))
        clipped = {i: ml.input_clipped for i, ml in self.mapped.items()}
        a_macro = []
        for ml in self.mapped.values():  # one summary per layer below, not a warning per chip
            ml.warn_window = False
        try:
            for k in range(n_chips):
                a_macro.append(acc(self.forward(x, "macro", chip=k, rng=np.random.default_rng(seed + k))))
                if progress:
                    progress(f"chip {k + 1}/{n_chips}: accuracy {a_macro[-1]:.2f} %")
        finally:
            for ml in self.mapped.values():
                ml.warn_window = True
        self._warn_held_windows(range(n_chips))
        layers, energy, latency, slowest = [], 0.0, 0.0, 0.0
        t = self.macro.timing()
        rng = np.random.default_rng(seed)
        for i, ml in self.mapped.items():
            p = patches[i]
            vmms = p.shape[0] // x.shape[0]  # VMMs of each pass per inference (output positions)
            sample = p[rng.choice(p.shape[0], min(p.shape[0], 2048), replace=False)]
            exact = ml.product(sample, "int8")
            est = ml.product(sample, "macro", self.macro, 0, np.random.default_rng(seed))
            err = 100.0 * float(np.sqrt(np.mean((est - exact) ** 2)) / max(np.sqrt(np.mean(exact**2)), 1e-30))
            e_vmm = 0.0  # every pass, every tile (the whole array's energy)
            for xc in ml.codes(sample):
                for (r0, r1), row in ml.tiles_for(self.macro, 0).items() if xc is not None else ():
                    e_vmm += sum(tile.energy(xc[:, r0:r1]).total for _, tile, _ in row)
            energy += e_vmm * vmms
            n_vmm = vmms * (2 if ml.two_pass else 1)
            latency += t["latency_ns"] + (n_vmm - 1) * t["cycle_ns"]
            slowest = max(slowest, n_vmm * t["cycle_ns"])
            K, N = ml.w_q.shape
            reps = sorted({f"{tile.copies}x{tile.column_copies}" for row in ml.tiles_for(self.macro, 0).values()
                           for _, tile, _ in row})
            layers.append({"name": ml.name, "K": K, "N": N, "tiles": ml.n_tiles(self.macro), "replicas": reps,
                           "passes": 2 if ml.two_pass else 1, "vmms_per_inference": n_vmm, "error_sig_pct": err,
                           "input_clipped": clipped[i], "energy_per_inference_j": e_vmm * vmms})
        return NetworkReport(network=self.net.name, samples=int(x.shape[0]), accuracy_float=a_float,
                             accuracy_int8=a_int8, accuracy_macro=a_macro, layers=layers, n_macros=self.n_macros(),
                             energy_per_inference_j=energy, latency_ns=latency, inferences_per_s=1e9 / slowest)
