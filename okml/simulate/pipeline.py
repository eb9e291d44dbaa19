"""The simulator's steps in order: the world, legitimate payments, the registered fraud
scenarios, labels (:mod:`okml.simulate.payments`), the canonical frame; and writing it to a
file, or to a folder of shards (:mod:`okml.simulate.shards`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from okml.config import SimulateParams
from okml.io import remove_stale_tmp, write_parquet
from okml.paths import resolve
from okml.simulate import scenarios, streams
from okml.simulate.assemble import assemble
from okml.simulate.output import atomic_output, remove_stale_outputs
from okml.simulate.payments import generate
from okml.simulate.scenario import Registry
from okml.simulate.shards import write_shards
from okml.simulate.summary import Summary


def stages(reg: Registry) -> tuple[str, ...]:
    """The progress-bar steps of :func:`simulate` with the scenarios of ``reg``."""
    return ("merchants and customers", "legitimate payments", *reg.stages, "labels", "assemble")


STAGES = stages(scenarios.registry())


def simulate(params: SimulateParams, progress: bool = False) -> pd.DataFrame:
    """Generate OKPay transactions with fraud and late-arriving labels.

    The world and its legitimate payments first, then each fraud scenario of
    :data:`okml.simulate.scenarios.SCENARIOS` in order, then labels.

    Parameters
    ----------
    params:
        The ``simulate`` section of ``params.yaml``: size, seed, fraud knobs and labels.
    progress:
        Show a progress bar over the generation stages.

    Returns
    -------
    pandas.DataFrame
        Canonical transactions (all columns of :data:`okml.schema.CANONICAL`) sorted by
        ``timestamp`` then ``transaction_id``; :func:`okml.schema.validate` returns them
        unchanged. The same ``params`` (seed included) give the same frame.

    See Also
    --------
    okml.simulate.shards.simulate_shards : the same world in shards of bounded memory, for
        large worlds (other rows than this frame, with the same statistics).

    Raises
    ------
    ConfigError
        ``simulate.start`` is not a date.
    """
    reg = scenarios.registry()
    steps = stages(reg)
    seeds = streams.whole_world_seeds(params.seed, (s.code for s in reg.scenarios))

    def rng(k: int) -> np.random.Generator:
        return np.random.default_rng(seeds[k])

    with tqdm(total=len(steps), desc="simulate", unit="stage", disable=not progress) as bar:

        def done() -> None:
            bar.update(1)
            if bar.n < len(steps):
                bar.set_postfix_str(steps[bar.n])

        bar.set_postfix_str(steps[0])
        g = generate(params, reg, rng, done=done)
        df = assemble(
            g.world,
            g.rows,
            g.labels,
            g.ids,
            g.created,
            reg.names_by_code,
            rng(streams.CUSTOMER_IDS),
            rng(streams.DEVICE_IDS),
            reg.actors_by_code,
        )
        done()
    return df


def simulate_to_file(
    params: SimulateParams, output: str | None = None, progress: bool = True
) -> tuple[Path, pd.DataFrame | Summary]:
    """Simulate and write Parquet atomically to ``output`` (default ``params.output``).

    Relative paths are taken from the project root. With ``params.shards`` unset, one file of
    :func:`simulate`; returns the path written and the frame. With ``params.shards`` set, a
    folder of that many files made one at a time in bounded memory
    (:func:`okml.simulate.shards.write_shards`; other rows than one file, the same whatever
    the number of shards); returns the folder and a :class:`~okml.simulate.summary.Summary` of
    its rows in place of the frame. Both work with :func:`~okml.simulate.print_summary` and
    ``len()``. What was at ``output`` (a file or a folder) is replaced only at the end.
    """
    if params.shards is not None:
        return write_shards(params, output, progress=progress)
    target = resolve(output or params.output)
    # a killed run leaves its hidden temp file next to the output: clear it now, not only when
    # this run gets to write (simulating takes a while)
    remove_stale_tmp(target)
    remove_stale_outputs(target)
    df = simulate(params, progress=progress)
    if target.is_dir():  # a sharded data set made before: replace the folder by the file
        with atomic_output(target, folder=False) as tmp:
            df.to_parquet(tmp, index=False)
        return target, df
    path = write_parquet(df, target)
    return path, df
