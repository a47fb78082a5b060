"""The PyTorch adapter (optional extra): a torch model's Linear / Conv2d on the macro."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aimc_circuits import Macro, MacroConfig, ParameterError  # noqa: E402
from aimc_circuits.nn import MacroNetwork, digits, load_network  # noqa: E402
from aimc_circuits.nn.torch_adapter import convert_to_macro, set_chip  # noqa: E402


def _torch_cnn(net):
    """The shipped CNN as a torch model (its weights copied)."""
    conv1, conv2, fc = net.mapped()
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                            torch.nn.Flatten(), torch.nn.Linear(128, 10))
    with torch.no_grad():
        for tm, layer in ((m[0], conv1), (m[3], conv2)):
            tm.weight.copy_(torch.as_tensor(layer.w)); tm.bias.copy_(torch.as_tensor(layer.b))  # noqa: E702
        m[7].weight.copy_(torch.as_tensor(fc.w.T.copy())); m[7].bias.copy_(torch.as_tensor(fc.b))  # noqa: E702
    return m


@pytest.fixture(scope="module")
def macro():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Macro.from_config(MacroConfig(window_trim=True))


def test_converted_torch_model_matches_the_numpy_mapping(macro):
    """The same network through convert_to_macro and through MacroNetwork: the same tiles, chips
    and noise give the same predictions (float32 vs float64 activations may move an input code)."""
    d = digits("cnn")
    net = load_network("cnn")
    tm = _torch_cnn(net)
    x = torch.as_tensor(d["test_x"], dtype=torch.float32)
    with torch.no_grad():
        assert (tm(x).argmax(1).numpy() == net.predict(d["test_x"])).mean() > 0.995
    conv = convert_to_macro(tm, d["calib_x"], macro)
    assert sum(type(m).__name__ == "MacroLayer" for m in conv.modules()) == 3
    mn = MacroNetwork(net, d["calib_x"], macro)
    for chip in (0, 1):
        set_chip(conv, chip, np.random.default_rng(10 + chip))
        with torch.no_grad():
            pt = conv(x).argmax(1).numpy()
        pn = mn.forward(d["test_x"], "macro", chip=chip, rng=np.random.default_rng(10 + chip)).argmax(1)
        assert (pt == pn).mean() > 0.99
        assert (pt == d["test_y"]).mean() > 0.96


def test_unmappable_torch_layers_are_refused_by_name(macro):
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, stride=2), torch.nn.Flatten())
    with pytest.raises(ParameterError, match=r"layer '0': Conv2d\(stride=\(2, 2\)"):
        convert_to_macro(m, np.zeros((2, 1, 8, 8), np.float32) + 1, macro)
    with pytest.raises(ParameterError, match="no Linear or Conv2d"):
        convert_to_macro(torch.nn.ReLU(), np.ones((2, 3)), macro)
