"""Train the workload networks on the digits training split and write aimc_circuits/nn/weights/<name>.npz."""
from __future__ import annotations

import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aimc_circuits.nn.workloads import NETWORKS, WEIGHTS_DIR, digits, train_network  # noqa: E402


def main(names: list[str]) -> None:
    WEIGHTS_DIR.mkdir(exist_ok=True)
    for name in names or NETWORKS:
        t0 = time.perf_counter()
        net = train_network(name)
        d = digits(name)
        acc = 100.0 * float((net.predict(d["test_x"]) == d["test_y"]).mean())
        net.save(WEIGHTS_DIR / f"{name}.npz")
        print(f"{name}: test accuracy {acc:.2f} % (float), trained in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
