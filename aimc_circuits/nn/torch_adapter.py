"""PyTorch adapter (optional: ``pip install .[torch]``): run a trained ``torch.nn`` model's
Linear and Conv2d layers on the macro, in the spirit of aihwkit's ``convert_to_analog``.

``convert_to_macro(model, calib_x)`` returns a copy of the model in which every ``nn.Linear``
and ``nn.Conv2d`` is replaced by a :class:`MacroLayer`: the layer quantized from its own inputs
on the calibration batch (captured with forward hooks) and mapped on tiles of the macro exactly
as :mod:`.mapping` does (one chip instance per tile, copies, window and column trims). Everything
else in the model (activations, pooling, reshapes, its own ``forward``) stays torch. For
evaluation only: no gradients flow through a macro layer.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..errors import ParameterError
from .layers import Conv2d, Dense
from .mapping import MappedLayer, quantize_layer

__all__ = ["convert_to_macro", "set_chip", "MacroLayer"]


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ParameterError("the PyTorch adapter needs torch: pip install '.[torch]'") from e
    return torch


def _as_layer(name: str, mod: Any) -> Dense | Conv2d:
    torch = _torch()
    w = mod.weight.detach().cpu().double().numpy()
    b = mod.bias.detach().cpu().double().numpy() if mod.bias is not None else np.zeros(w.shape[0])
    if isinstance(mod, torch.nn.Linear):
        return Dense(w.T.copy(), b, name=name)
    pad = mod.padding
    if (tuple(mod.stride) != (1, 1) or tuple(mod.dilation) != (1, 1) or mod.groups != 1 or isinstance(pad, str)
            or pad[0] != pad[1] or mod.padding_mode != "zeros"):
        raise ParameterError(f"layer {name!r}: Conv2d(stride={tuple(mod.stride)}, dilation={tuple(mod.dilation)}, "
                             f"groups={mod.groups}, padding={pad!r}, padding_mode={mod.padding_mode!r}); mapped: "
                             f"stride 1, dilation 1, groups 1, equal zero padding")
    return Conv2d(w, b, pad=int(pad[0]), name=name)


def _make_macro_layer():
    torch = _torch()

    class MacroLayer(torch.nn.Module):
        """A Linear / Conv2d computed on the macro (``backend`` 'macro', or 'int8' / 'float'
        for comparison); ``chip`` and ``rng`` select the chip instance and the noise."""

        def __init__(self, mapped: MappedLayer, macro: Any):
            super().__init__()
            self.mapped, self.macro = mapped, macro
            self.backend, self.chip, self.rng = "macro", 0, None

        def forward(self, x):
            y = self.mapped.forward(x.detach().cpu().double().numpy(), self.backend, self.macro, self.chip, self.rng)
            return torch.as_tensor(y, dtype=x.dtype, device=x.device)

        def extra_repr(self) -> str:
            K, N = self.mapped.w_q.shape
            return f"{self.mapped.name}: {K} x {N}, {self.mapped.n_tiles(self.macro)} tiles, backend={self.backend}"

    return MacroLayer


def __getattr__(name: str):  # MacroLayer is a torch class: made when first asked for
    if name == "MacroLayer":
        return _make_macro_layer()
    raise AttributeError(name)


def convert_to_macro(model: Any, calib_x: Any, macro: Any = None, seed: int = 0) -> Any:
    """A copy of `model` with its Linear / Conv2d modules on the macro (default: the reference
    with the window trim on), quantized from their inputs on `calib_x` (a tensor or array)."""
    torch = _torch()
    if macro is None:
        from ..macro import Macro, MacroConfig

        macro = Macro.from_config(MacroConfig(window_trim=True))
    model = copy.deepcopy(model).eval()
    targets = [(n, m) for n, m in model.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    if not targets:
        raise ParameterError(f"{type(model).__name__} has no Linear or Conv2d module to map")
    seen: dict[str, np.ndarray] = {}

    def capture(name: str):
        def hook(mod, args):  # returns None: the input goes on unchanged
            seen.setdefault(name, args[0].detach().cpu().double().numpy())
        return hook

    hooks = [m.register_forward_pre_hook(capture(n)) for n, m in targets]
    try:
        with torch.no_grad():
            model(torch.as_tensor(np.asarray(calib_x), dtype=torch.float32))
    finally:
        for h in hooks:
            h.remove()
    layer_cls = _make_macro_layer()
    for k, (name, mod) in enumerate(targets):
        if name not in seen:
            raise ParameterError(f"layer {name!r} was not reached by the calibration batch")
        ml = quantize_layer(_as_layer(name, mod), seen[name], macro.config.input_bits, seed, index=k)
        parent, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, leaf, layer_cls(ml, macro))
    return model


def set_chip(model: Any, chip: int = 0, rng: np.random.Generator | None = None, backend: str = "macro") -> Any:
    """Select the chip instance, the noise generator and the backend of every macro layer of a
    converted model; returns the model."""
    for m in model.modules():
        if hasattr(m, "mapped") and hasattr(m, "backend"):
            m.chip, m.rng, m.backend = chip, rng, backend
    return model
