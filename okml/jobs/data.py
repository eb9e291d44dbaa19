"""The training data a job reads: ``data.path`` through :func:`okml.data.load`, simulated first
when it is the default simulated data and does not exist yet (the first ``make train``)."""

from __future__ import annotations

import logging

import pandas as pd

from okml.config import Params
from okml.errors import ConfigError
from okml.paths import resolve

log = logging.getLogger(__name__)


def ensure_data(params: Params, progress: bool = True) -> None:
    """Simulate the default data when it is missing; any other missing path is an error."""
    path = resolve(params.data.path)
    if path.exists():
        return
    if params.data.preset == "canonical" and path == resolve(params.simulate.output):
        from okml.simulate import simulate_to_file

        print(f"no data at {path}: simulating it first (okml simulate)")
        simulate_to_file(params.simulate, output=str(path), progress=progress)
    else:
        raise ConfigError(f"data.path: {path} does not exist")


def load_transactions(params: Params, progress: bool = True) -> pd.DataFrame:
    """Validated canonical transactions of ``data.path`` (simulated first if missing)."""
    from okml.data import load

    ensure_data(params, progress=progress)
    return load(params.data.path, preset=params.data.preset, params=params.data)
