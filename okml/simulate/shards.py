"""A sharded world: the simulation written as a folder of Parquet files, one shard at a time,
so that memory holds one shard (and the merchants) however many customers there are.

Customers come in blocks of :data:`BLOCK` (1000); each block draws its customers, their
legitimate payments, its share of the fraud and the labels from its own random streams
(:mod:`okml.simulate.streams`), and a shard is a run of whole blocks. So the rows do not
depend on the number of shards: the union of the files of any ``simulate.shards`` is the same
set of rows for the same seed. They are *not* the rows of one run of the whole world
(:func:`okml.simulate.simulate`, ``simulate.shards: null``), which draws every stage at once
for all customers: same statistics, other draws.

What crosses blocks is planned for the whole world first (:func:`plan`): the calendar and
the merchants; how many victims, rings, skimmed merchants and forged accounts each block
makes, split at random in proportion to its customers so that the world has as many as one
run would make; which merchants are skimmed and when, and which shops collude with the rings
(the same draws in every block). A compromised merchant is hit in every block, each skimming
its own customers' payments there; the merchants are weighed by their expected traffic
(:func:`okml.simulate.legit.expected_merchant_payments`) since no block sees the others'
payments. Rings, account takeovers, forged identities and card testing each stay inside one
block: the accounts, devices and payments of one incident are in one file.

Ids: merchants are ``M00001`` ... as in one run; accounts and devices carry their block
(``C`` or ``D``, the block number, then six random digits: ``C03048213`` is an account of
block 3), so they are unique across files and the same whatever the shards; transaction ids
are ``block * 10**10 + 1, 2, ...`` in time order within the block. Each file is sorted by
``timestamp`` then ``transaction_id`` and passes :func:`okml.schema.validate` unchanged;
:func:`okml.data.load` reads the folder as one data set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from okml.config import SimulateParams
from okml.paths import resolve
from okml.simulate import scenarios, streams
from okml.simulate.assemble import canonical_frame, random_ids
from okml.simulate.labels import LabelArrays
from okml.simulate.legit import expected_merchant_payments
from okml.simulate.output import atomic_output
from okml.simulate.payments import generate
from okml.simulate.rows import Rows, concat
from okml.simulate.scenario import Block, Registry
from okml.simulate.summary import Summary
from okml.simulate.world import Market, build_market, build_world

log = logging.getLogger(__name__)

BLOCK = 1000  # customers per block: what the rows depend on (besides the parameters)
TX_STRIDE = 10**10  # transaction ids of block b are b * TX_STRIDE + 1, 2, ...


@dataclass(frozen=True)
class Plan:
    """What every block of a sharded world shares: the parameters and scenarios, the market,
    the size of each block and the merchants' expected traffic over all of them."""

    params: SimulateParams
    registry: Registry
    market: Market
    sizes: np.ndarray  # customers of each block
    traffic: np.ndarray  # expected legitimate payments of each merchant

    @property
    def n_blocks(self) -> int:
        return len(self.sizes)


def plan(params: SimulateParams, block_size: int = BLOCK) -> Plan:
    """The plan of the sharded world of ``params`` in blocks of ``block_size`` customers.

    Draws the market and each block's customers (not their payments: a small part of the work)
    to weigh the merchants by the traffic they can expect.
    """
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, not {block_size}")
    market = build_market(params, streams.shared_rng(params.seed, streams.WORLD))
    n = params.n_customers
    sizes = np.full(n // block_size, block_size, dtype=np.int64)
    if n % block_size:
        sizes = np.append(sizes, n % block_size)
    traffic = np.zeros(len(market.m_cat))
    for b, size in enumerate(sizes.tolist()):
        w = build_world(params, streams.block_rng(params.seed, b, streams.WORLD), market, size)
        traffic += expected_merchant_payments(w)
    return Plan(params, scenarios.registry(), market, sizes, traffic)


def shard_blocks(n_blocks: int, shards: int) -> list[range]:
    """The blocks of each shard: runs as even as can be, at most one shard per block."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, not {shards}")
    k = min(shards, n_blocks)
    edges = (np.arange(k + 1) * n_blocks) // k
    return [range(int(edges[i]), int(edges[i + 1])) for i in range(k)]


@dataclass(frozen=True)
class _Piece:
    """One block's payments in time order, with their ids."""

    rows: Rows
    labels: LabelArrays
    transaction_id: np.ndarray
    customer_ids: list[str]
    device_ids: list[str]
    created: np.ndarray


def _block(pl: Plan, b: int) -> _Piece:
    p = pl.params

    def rng(k: int) -> np.random.Generator:
        return streams.block_rng(p.seed, b, k)

    block = Block(index=b, sizes=pl.sizes, seed=p.seed, traffic=pl.traffic)
    g = generate(p, pl.registry, rng, market=pl.market, block=block, n_customers=int(pl.sizes[b]))
    order = np.argsort(g.rows.ts, kind="stable")
    if len(order) >= TX_STRIDE:
        raise ValueError(f"block {b} has {len(order):,} payments, more than its transaction ids allow")
    width = len(str(pl.n_blocks - 1))
    return _Piece(
        rows=g.rows.take(order),
        labels=g.labels.take(order),
        transaction_id=b * TX_STRIDE + np.arange(1, len(order) + 1, dtype=np.int64),
        customer_ids=random_ids(f"C{b:0{width}d}", g.ids.n_customers, rng(streams.CUSTOMER_IDS)),
        device_ids=random_ids(f"D{b:0{width}d}", g.ids.n_devices, rng(streams.DEVICE_IDS)),
        created=g.created,
    )


def shard_frame(pl: Plan, blocks: range) -> pd.DataFrame:
    """The canonical frame of the payments of ``blocks``, sorted by ``timestamp`` then
    ``transaction_id``."""
    pieces = [_block(pl, b) for b in blocks]
    acc = np.cumsum([0, *(len(x.customer_ids) for x in pieces)])
    dev = np.cumsum([0, *(len(x.device_ids) for x in pieces)])
    rows = concat(
        [
            replace(x.rows, cust=x.rows.cust + np.int32(a), device=x.rows.device + np.int32(d))
            for x, a, d in zip(pieces, acc, dev, strict=False)
        ]
    )
    labels = LabelArrays(
        *(np.concatenate([getattr(x.labels, f.name) for x in pieces]) for f in fields(LabelArrays))
    )
    tid = np.concatenate([x.transaction_id for x in pieces])
    customer_ids = [c for x in pieces for c in x.customer_ids]
    device_ids = [d for x in pieces for d in x.device_ids]
    created = np.concatenate([x.created for x in pieces])
    del pieces
    order = np.lexsort((tid, rows.ts))
    return canonical_frame(
        pl.market,
        rows.take(order),
        labels.take(order),
        tid[order],
        customer_ids,
        device_ids,
        created,
        pl.registry.names_by_code,
        pl.registry.actors_by_code,
    )


def simulate_shards(
    params: SimulateParams, shards: int, progress: bool = False, block_size: int = BLOCK
) -> Iterator[pd.DataFrame]:
    """The canonical frames of the shards of the world of ``params``, made one at a time.

    Parameters
    ----------
    params:
        The ``simulate`` section of ``params.yaml`` (``params.shards`` is not read).
    shards:
        How many runs of whole blocks to cut the customers into; more than there are blocks
        gives one shard per block.
    progress:
        Show a progress bar over the shards.
    block_size:
        Customers per block: what the rows depend on; keep the default (:data:`BLOCK`) but in
        tests of small worlds.

    Yields
    ------
    pandas.DataFrame
        Each shard's canonical transactions, sorted by ``timestamp`` then ``transaction_id``.
        The same ``params`` and ``block_size`` give the same rows over all shards, whatever
        ``shards`` (but not the rows of :func:`okml.simulate.simulate`).

    Raises
    ------
    ConfigError
        ``simulate.start`` is not a date.
    """
    pl = plan(params, block_size)
    runs = shard_blocks(pl.n_blocks, shards)
    if shards > len(runs):
        log.warning(
            "simulate.shards=%d but %d customers make %d block(s) of up to %d: writing %d shard(s)",
            shards,
            params.n_customers,
            pl.n_blocks,
            block_size,
            len(runs),
        )
    rows = 0
    with tqdm(total=len(runs), desc="simulate", unit="shard", disable=not progress) as bar:
        for blocks in runs:
            df = shard_frame(pl, blocks)
            rows += len(df)
            bar.set_postfix_str(f"{rows:,} rows", refresh=False)
            bar.update(1)
            yield df


def part_name(i: int) -> str:
    """The file name of shard ``i``: ``part-00000.parquet``, ..."""
    return f"part-{i:05d}.parquet"


def write_shards(
    params: SimulateParams,
    output: str | None = None,
    shards: int | None = None,
    progress: bool = True,
    block_size: int = BLOCK,
) -> tuple[Path, Summary]:
    """Simulate the sharded world of ``params`` into a folder of Parquet files, atomically.

    The folder ``output`` (default ``params.output``; relative paths are taken from the project
    root) gets one file per shard (:func:`part_name`), written one after the other so that
    memory holds one shard. The folder is built under a hidden temporary name next to
    ``output`` and renamed onto it at the end: what was at ``output`` (a file or a folder) is
    replaced only then, and a killed run leaves no half data set (its temporary folder is
    removed by the next run).

    Returns the folder and the :class:`~okml.simulate.summary.Summary` of its rows (``len()``
    is their number). ``shards`` defaults to ``params.shards``, else 1; the other arguments
    are those of :func:`simulate_shards`.
    """
    target = resolve(output or params.output)
    n = shards if shards is not None else (params.shards or 1)
    summary = Summary()
    with atomic_output(target, folder=True) as tmp:
        for i, df in enumerate(simulate_shards(params, n, progress=progress, block_size=block_size)):
            df.to_parquet(tmp / part_name(i), index=False)
            summary.add(df)
            del df
    return target, summary
