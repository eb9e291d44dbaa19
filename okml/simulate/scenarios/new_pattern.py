"""``new_pattern``: card testing, only from ``new_pattern.start_fraction`` of the period on: many
small payments at digital-goods and games merchants, minutes apart, mostly at night, from the
card holder's own device and region. Earlier data does not teach it; legitimate gamers'
in-game bursts look much alike.

Knobs: ``simulate.new_pattern`` (``enabled: false`` switches it off).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from okml.config import SimulateParams
from okml.simulate.clock import burst_offsets, local_to_utc, start_seconds
from okml.simulate.rows import Rows, make_rows
from okml.simulate.scenario import Context, Scenario, how_many
from okml.simulate.tables import APP, CAT, DAY, WEB
from okml.simulate.world import World, category_pool

_CARD_TESTING = [CAT[c] for c in ("digital", "games")]


def new_pattern_start(p: SimulateParams) -> pd.Timestamp:
    """When the new fraud pattern begins: ``start + start_fraction * n_days`` (UTC)."""
    start = start_seconds(p.start)
    return pd.Timestamp(_new_start_s(p, start), unit="s", tz="UTC")


def _new_start_s(p: SimulateParams, start: int) -> int:
    return start + int(np.ceil(p.new_pattern.start_fraction * p.n_days * DAY))


def _new_pattern(p: SimulateParams, w: World, rng: np.random.Generator, n_v: int) -> Rows:
    """``n_v``: the victims this run makes (all, or a block's share)."""
    q = p.new_pattern
    t_new = _new_start_s(p, w.start)
    if not q.enabled or t_new >= w.end:
        return make_rows(0)
    last_day_start = w.start + w.c_last_day.astype(np.int64) * DAY
    eligible = np.flatnonzero((last_day_start > t_new) & (w.c_created < t_new))
    n_v = min(n_v, len(eligible))
    if n_v == 0:
        return make_rows(0)
    victims = rng.choice(eligible, n_v, replace=False).astype(np.int32)
    # testers work at night, local time, when card holders sleep
    t_from = np.maximum(t_new, w.start + w.c_first_day[victims].astype(np.int64) * DAY)
    t_to = np.minimum(w.end, last_day_start[victims])
    t0 = rng.uniform(t_from, t_to).astype(np.int64)
    night = rng.random(n_v) < 0.7
    day0 = (t0 - w.start) // DAY
    at_night = local_to_utc(day0, rng.uniform(0.5, 5.5, n_v), w.start)
    at_night = np.where(at_night < t_from, at_night + DAY, at_night)
    t0 = np.where(night & (at_night < t_to), at_night, t0)

    k = 1 + rng.poisson(max(q.payments_mean - 1.0, 0.0), n_v)
    vic = np.repeat(np.arange(n_v), k)
    ts = t0[vic] + burst_offsets(k, 75.0, rng).astype(np.int64)
    ts = np.clip(ts, t_new, w.end - 1)
    # a handful of digital-goods and games shops per stolen card
    testing = category_pool(w, _CARD_TESTING)
    shops = testing.draw(rng.random(n_v * 4)).reshape(n_v, 4)
    n_shops = rng.integers(1, 5, n_v)
    merch = shops[vic, (rng.random(len(vic)) * n_shops[vic]).astype(np.int64)]
    # tiny probes first, then small purchases
    sigma = 0.5
    amount = rng.lognormal(np.log(q.amount_mean) - sigma**2 / 2, sigma, len(vic))
    rank = np.arange(len(vic)) - np.repeat(np.cumsum(k) - k, k)
    probe = (rank == 0) | ((rank == 1) & (rng.random(len(vic)) < 0.5))
    amount = np.where(probe, rng.uniform(0.5, 3.0, len(vic)), amount)
    cust = victims[vic]
    day = ((ts - w.start) // DAY).astype(np.int32)
    channel = np.where(rng.random(len(vic)) < 0.6, WEB, APP)
    return make_rows(
        len(vic),
        ts=ts,
        cust=cust,
        merch=merch,
        amount=np.round(amount, 2),
        channel=channel,
        device=w.phone_at(cust, day),
        region=w.region_at(cust, day),
        incident=cust,
        actor=1,  # the card tester on the victim's card: testing-<customer>-1
    )


def generate(ctx: Context) -> Rows:
    q = ctx.params.new_pattern
    n_v = len(ctx.units(how_many(q.victims_per_1000_customers, ctx.params.n_customers)))
    return _new_pattern(ctx.params, ctx.world, ctx.rng, n_v)


SCENARIO = Scenario(
    name="new_pattern",
    code=5,
    reportable=True,
    stage="new pattern",
    generate=generate,
    actor="customer",
    actor_prefix="testing",
)
