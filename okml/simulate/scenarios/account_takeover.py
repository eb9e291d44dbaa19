"""``account_takeover``: from a moment on, the victim's account pays from a new device and region
at cash-out merchants it never used, with higher amounts, in bursts minutes apart, until
blocked.

Victims are customers with at least three legitimate payments; the takeover starts a day or
more after their third one. Knobs: ``simulate.account_takeover``.
"""

from __future__ import annotations

import numpy as np

from okml.config import SimulateParams
from okml.simulate.clock import burst_offsets
from okml.simulate.rows import Ids, Rows, by_customer, concat, make_rows
from okml.simulate.scenario import Context, Scenario, how_many
from okml.simulate.tables import APP, CASH_OUT, DAY, HOUR, REGION_P, REGIONS, WEB
from okml.simulate.world import World, category_pool


def _account_takeover(
    p: SimulateParams, w: World, legit: Rows, ids: Ids, rng: np.random.Generator, units: range
) -> Rows:
    """``units``: the victims this run makes (all, or a block's share) as numbers among all."""
    q = p.account_takeover
    n_v = len(units)
    counts = np.bincount(legit.cust, minlength=w.n_customers)
    eligible = np.flatnonzero(counts >= 3)
    n_v = min(n_v, len(eligible))
    if n_v == 0:
        return make_rows(0)
    victims = np.sort(rng.choice(eligible, n_v, replace=False)).astype(np.int32)
    history = by_customer(legit, victims)
    cash_out = category_pool(w, CASH_OUT)
    burst_s = q.burst_hours * HOUR
    parts = []
    for i, v in zip(units, victims, strict=False):  # a few dozen victims
        h = history[int(v)]
        # takeover after the account has some history, leaving room for the burst
        lo = min(int(h.ts[min(2, len(h) - 1)]) + DAY, w.end - int(burst_s))
        low = max(lo, w.start)
        t0 = int(rng.uniform(low, max(w.end - burst_s, low + 1)))
        k = 1 + int(rng.poisson(max(q.burst_size_mean - 1.0, 0.0)))
        # one to three bursts over the takeover, payments minutes apart inside each
        n_b = int(rng.integers(1, min(3, k) + 1))
        burst_at = np.sort(rng.uniform(0, burst_s, n_b))
        burst_at[0] = 0.0
        which = np.sort(rng.integers(0, n_b, k))
        sizes = np.bincount(which, minlength=n_b)
        ts = t0 + np.repeat(burst_at, sizes) + burst_offsets(sizes, 180.0, rng)
        ts = np.minimum(ts.astype(np.int64), w.end - 1)
        seen = set(h.region[h.ts < t0].tolist()) | {int(w.c_region[v])}
        p_reg = np.where(np.isin(np.arange(len(REGIONS)), list(seen)), 0.0, REGION_P)
        region = rng.choice(len(REGIONS), p=p_reg / p_reg.sum())
        used = np.unique(h.merch)
        merch = cash_out.draw(rng.random(4 * k + 8))
        merch = merch[~np.isin(merch, used)]
        if len(merch) < k:  # a victim who already shops at every cash-out merchant
            others = np.setdiff1d(np.arange(len(w.m_cat)), used)
            merch = np.concatenate([merch, rng.choice(others if len(others) else used, k)])
        typical = float(np.mean(h.amount))
        amount = np.round(typical * q.amount_multiplier * rng.lognormal(0.0, 0.4, k), 2)
        channel = np.where(rng.random(k) < 0.75, APP, WEB)
        parts.append(
            make_rows(
                k,
                ts=ts,
                cust=v,
                merch=merch[:k],
                amount=np.maximum(amount, 1.0),
                channel=channel,
                device=ids.devices(1)[0],
                region=region,
                incident=i,
                actor=1,  # the victim's first (and only) takeover: ato-<customer>-1
            )
        )
    return concat(parts)


def generate(ctx: Context) -> Rows:
    q = ctx.params.account_takeover
    units = ctx.units(how_many(q.victims_per_1000_customers, ctx.params.n_customers))
    return _account_takeover(ctx.params, ctx.world, ctx.legit, ctx.ids, ctx.rng, units)


SCENARIO = Scenario(
    name="account_takeover",
    code=1,
    reportable=True,
    stage="account takeover",
    generate=generate,
    actor="customer",
    actor_prefix="ato",
)
