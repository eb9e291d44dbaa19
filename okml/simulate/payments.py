"""All the payments of a world, or of one block of customers of a sharded world: the world,
legitimate payments, the registered fraud scenarios in order and labels, as compact arrays
(:class:`Generated`) that :mod:`okml.simulate.assemble` turns into the canonical frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from okml.config import SimulateParams
from okml.simulate import streams
from okml.simulate.labels import LabelArrays, draw_labels
from okml.simulate.legit import legit_payments
from okml.simulate.rows import Ids, Rows, concat
from okml.simulate.scenario import Block, Context, Registry, Scenario
from okml.simulate.world import Market, World, build_world


def _run(
    s: Scenario,
    p: SimulateParams,
    w: World,
    legit: Rows,
    ids: Ids,
    rng: np.random.Generator,
    block: Block | None = None,
) -> tuple[Rows, Rows]:
    """The legitimate payments after scenario ``s`` and the new rows it made (as its fraud)."""
    ctx = Context(params=p, world=w, legit=legit, ids=ids, rng=rng, code=s.code, block=block)
    new = s.generate(ctx)
    return ctx.legit, replace(new, ftype=np.full(len(new), s.code, dtype=np.int8))


@dataclass(frozen=True)
class Generated:
    """The payments of a world (or of one block of customers) before they become a frame."""

    world: World
    rows: Rows
    labels: LabelArrays
    ids: Ids
    created: np.ndarray  # account_created_at of every account, legitimate ones first


def generate(
    params: SimulateParams,
    reg: Registry,
    rng: Callable[[int], np.random.Generator],
    market: Market | None = None,
    block: Block | None = None,
    n_customers: int | None = None,
    done: Callable[[], None] = lambda: None,
) -> Generated:
    """The world, its legitimate payments, the fraud of ``reg`` and labels, drawing stream
    ``k`` (:mod:`okml.simulate.streams`) from ``rng(k)``; ``done`` after each stage.

    With ``market`` and ``block``: the ``n_customers`` customers of one block of a sharded
    world, with their share of the fraud."""
    w = build_world(params, rng(streams.WORLD), market=market, n_customers=n_customers)
    ids = Ids(w.n_customers, w.n_devices)
    done()
    legit = legit_payments(w, rng(streams.LEGIT))
    done()
    parts = []
    for s in reg.scenarios:
        legit, new = _run(s, params, w, legit, ids, rng(streams.scenario_stream(s.code)), block)
        parts.append(new)
        done()
    rows = concat([legit, *parts])
    del legit, parts  # the parts are copied into rows
    labels = draw_labels(params, rows, reg.reportable_by_code, rng(streams.LABELS))
    done()
    created = np.concatenate([w.c_created, *ids.created])
    return Generated(w, rows, labels, ids, created)
