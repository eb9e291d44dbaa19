"""The simulator's steps in order: the world, legitimate payments, the registered fraud
scenarios, labels, the canonical frame; and writing it to a file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from okml.config import SimulateParams
from okml.io import remove_stale_tmp, write_parquet
from okml.paths import resolve
from okml.simulate import scenarios
from okml.simulate.assemble import assemble
from okml.simulate.labels import draw_labels
from okml.simulate.legit import legit_payments
from okml.simulate.rows import Ids, Rows, concat
from okml.simulate.scenario import Context, Registry, Scenario
from okml.simulate.world import World, build_world

# Random streams are the children of SeedSequence(seed): 0 the world, 1 legitimate payments,
# 2-6 the scenarios with codes 1-5, 7 labels, 8 and 9 the customer and device ids. A scenario
# with a higher code draws from child code + 4, after those ten, so adding one leaves every
# other stream as it was (the labels, drawn over all the fraud, do change).
_WORLD, _LEGIT, _LABELS, _CUSTOMER_IDS, _DEVICE_IDS = 0, 1, 7, 8, 9


def _stream(code: int) -> int:
    return code + 1 if code <= 5 else code + 4


def stages(reg: Registry) -> tuple[str, ...]:
    """The progress-bar steps of :func:`simulate` with the scenarios of ``reg``."""
    return ("merchants and customers", "legitimate payments", *reg.stages, "labels", "assemble")


STAGES = stages(scenarios.registry())


def _run(
    s: Scenario, p: SimulateParams, w: World, legit: Rows, ids: Ids, rng: np.random.Generator
) -> tuple[Rows, Rows]:
    """The legitimate payments after scenario ``s`` and the new rows it made (as its fraud)."""
    ctx = Context(params=p, world=w, legit=legit, ids=ids, rng=rng, code=s.code)
    new = s.generate(ctx)
    return ctx.legit, replace(new, ftype=np.full(len(new), s.code, dtype=np.int8))


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

    Raises
    ------
    ConfigError
        ``simulate.start`` is not a date.
    """
    reg = scenarios.registry()
    steps = stages(reg)
    seeds = np.random.SeedSequence(params.seed).spawn(
        max([10, *(_stream(s.code) + 1 for s in reg.scenarios)])
    )

    def rng(k: int) -> np.random.Generator:
        return np.random.default_rng(seeds[k])

    with tqdm(total=len(steps), desc="simulate", unit="stage", disable=not progress) as bar:

        def done() -> None:
            bar.update(1)
            if bar.n < len(steps):
                bar.set_postfix_str(steps[bar.n])

        bar.set_postfix_str(steps[0])
        w = build_world(params, rng(_WORLD))
        ids = Ids(w.n_customers, w.n_devices)
        done()
        legit = legit_payments(w, rng(_LEGIT))
        done()
        parts = []
        for s in reg.scenarios:
            legit, new = _run(s, params, w, legit, ids, rng(_stream(s.code)))
            parts.append(new)
            done()
        rows = concat([legit, *parts])
        del legit, parts  # the parts are copied into rows
        labels = draw_labels(params, rows, reg.reportable_by_code, rng(_LABELS))
        done()
        created = np.concatenate([w.c_created, *ids.created])
        df = assemble(w, rows, labels, ids, created, reg.names_by_code, rng(_CUSTOMER_IDS), rng(_DEVICE_IDS))
        done()
    return df


def simulate_to_file(
    params: SimulateParams, output: str | None = None, progress: bool = True
) -> tuple[Path, pd.DataFrame]:
    """Simulate and write Parquet atomically to ``output`` (default ``params.output``).

    Relative paths are taken from the project root. Returns the path written and the frame.
    """
    target = resolve(output or params.output)
    # a killed run leaves its hidden temp file next to the output: clear it now, not only when
    # this run gets to write (simulating takes a while)
    remove_stale_tmp(target)
    df = simulate(params, progress=progress)
    path = write_parquet(df, target)
    return path, df
