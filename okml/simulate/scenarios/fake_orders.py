"""``fake_orders``: brushing rings (骗单): colluding accounts sharing a few devices place many
small, fast, often round-amount orders at one colluding merchant.

Each ring has its own new accounts and devices and one small online shop; nobody reports it
(there is no victim). Knobs: ``simulate.fake_orders``.
"""

from __future__ import annotations

import numpy as np

from okml.config import SimulateParams
from okml.simulate.clock import burst_offsets
from okml.simulate.rows import Ids, Rows, concat, make_rows
from okml.simulate.scenario import Context, Scenario
from okml.simulate.tables import APP, CAT, DAY, HOUR, REGION_P, REGIONS, WEB
from okml.simulate.world import World

_BRUSHING = [CAT[c] for c in ("fashion", "home", "electronics", "digital")]


def _fake_orders(
    p: SimulateParams,
    w: World,
    ids: Ids,
    rng: np.random.Generator,
    shared: np.random.Generator,
    rings: range,
) -> Rows:
    """``rings``: the rings this run makes (all, or a block's share) as numbers among all;
    ``shared`` draws the colluding shops, the same for every block."""
    q = p.fake_orders
    if q.rings == 0 or q.orders_per_ring == 0 or len(rings) == 0:
        return make_rows(0)
    # colluding shops: small online merchants, one per ring
    shops = np.flatnonzero(np.isin(w.m_cat, _BRUSHING) & w.m_online)
    if len(shops) < q.rings:
        shops = np.arange(len(w.m_cat))
    small = shops[np.argsort(w.m_pop[shops], kind="stable")][: max(q.rings, len(shops) // 2)]
    colluders = shared.choice(small, min(q.rings, len(small)), replace=False)
    colluders = np.resize(colluders, q.rings)  # more rings than merchants: some share a shop
    active_s = q.active_days * DAY
    round_values = np.arange(5.0, q.amount_max + 1e-9, 5.0)
    if len(round_values) == 0:
        round_values = np.array([float(np.floor(q.amount_max * 100) / 100)])
    parts = []
    for r in rings:  # a few dozen rings
        t0 = rng.uniform(w.start, max(w.end - active_s, w.start + 1))
        created = t0 - rng.uniform(DAY, 45 * DAY, q.accounts_per_ring)
        accounts = ids.accounts(created)
        devices = ids.devices(q.devices_per_ring)
        n = q.orders_per_ring
        # the ring works in sessions; orders seconds to minutes apart within one
        n_s = max(1, int(round(n / 15)))
        s_at = rng.uniform(0, max(active_s - HOUR, 1.0), n_s)
        sizes = np.bincount(rng.integers(0, n_s, n), minlength=n_s)
        ts = t0 + np.repeat(s_at, sizes) + burst_offsets(sizes, 40.0, rng)
        ts = np.clip(ts.astype(np.int64), w.start, w.end - 1)
        is_round = rng.random(n) < q.round_share
        amount = np.where(
            is_round,
            rng.choice(round_values, n),
            np.round(rng.uniform(min(1.0, q.amount_max / 2), q.amount_max, n), 2),
        )
        # each account mostly uses its own ring phone, sometimes another one of the ring's
        acc = rng.integers(0, q.accounts_per_ring, n)
        dev = np.where(rng.random(n) < 0.7, acc % q.devices_per_ring, rng.integers(0, q.devices_per_ring, n))
        channel = np.where(rng.random(n) < 0.9, APP, WEB)
        region = rng.choice(len(REGIONS), p=REGION_P)
        parts.append(
            make_rows(
                n,
                ts=ts,
                cust=accounts[acc],
                merch=colluders[r],
                amount=np.maximum(amount, 0.01),
                channel=channel,
                device=devices[dev],
                region=region,
                incident=accounts[acc],
                actor=r,  # the ring's number among the world's rings: ring-<r>
            )
        )
    return concat(parts)


def generate(ctx: Context) -> Rows:
    rings = ctx.units(ctx.params.fake_orders.rings)
    return _fake_orders(ctx.params, ctx.world, ctx.ids, ctx.rng, ctx.shared, rings)


SCENARIO = Scenario(
    name="fake_orders",
    code=2,
    reportable=False,
    stage="fake orders",
    generate=generate,
    actor="unit",
    actor_prefix="ring",
)
