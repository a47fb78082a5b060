"""Networks on the macro (numpy core): float layers and training (:mod:`.layers`, :mod:`.train`),
int8 quantization and weight-stationary tiling onto macros (:mod:`.mapping`), inference and its
cost (:mod:`.macro_network`), and the shipped workloads (:mod:`.workloads`)."""
from .layers import Conv2d, Dense, Flatten, MaxPool2d, Network, ReLU
from .macro_network import BACKENDS, MacroNetwork, NetworkReport
from .mapping import MappedLayer, quantize_layer
from .workloads import NETWORKS, digits, load_network, train_network

__all__ = ["Conv2d", "Dense", "Flatten", "MaxPool2d", "Network", "ReLU", "BACKENDS", "MacroNetwork", "NetworkReport",
           "MappedLayer", "quantize_layer", "NETWORKS", "digits", "load_network", "train_network"]
