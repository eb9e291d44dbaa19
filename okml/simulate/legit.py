"""Legitimate payments: each customer's own rhythm at favourite and nearby merchants, and
gamers' honest bursts of in-game purchases."""

from __future__ import annotations

import numpy as np

from okml.simulate.clock import burst_offsets, local_to_utc
from okml.simulate.rows import Rows, concat, make_rows
from okml.simulate.tables import (
    APP,
    CAT,
    CAT_SIGMA,
    GAME_TIER_P,
    GAME_TIERS,
    HOUR_MEAN,
    HOUR_P,
    HOUR_SD,
    POS,
    WEB,
)
from okml.simulate.world import World


def _legit_amount(w: World, cust: np.ndarray, merch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cat = w.m_cat[merch]
    n = len(cust)
    amount = w.m_price[merch] * w.c_spend[cust] * np.exp(CAT_SIGMA[cat] * rng.standard_normal(n))
    u = rng.random(n)
    # round amounts are common in honest payments too: game tiers, bill top-ups, whole yuan
    tier = GAME_TIERS[rng.choice(len(GAME_TIERS), size=n, p=GAME_TIER_P)]
    amount = np.where((cat == CAT["games"]) & (u < 0.6), tier, amount)
    amount = np.where(
        (cat == CAT["utilities"]) & (u < 0.6), np.maximum(10.0, np.round(amount / 10.0) * 10.0), amount
    )
    amount = np.where((cat != CAT["games"]) & (cat != CAT["utilities"]) & (u < 0.08), np.ceil(amount), amount)
    return np.maximum(np.round(amount, 2), 0.5)


def legit_payments(w: World, rng: np.random.Generator) -> Rows:
    """Every customer's legitimate payments over the period, then the gamers' sessions."""
    n_c = w.n_customers
    # Poisson thinning: draw candidates at the customer's peak daily rate, keep each with
    # probability (that day's rate / peak), which gives the daily and weekly cycles.
    norm = (5.0 + 2.0 * w.c_weekend) / 7.0
    peak = w.daily.max() * np.maximum(1.0, w.c_weekend) / norm
    active = (w.c_last_day - w.c_first_day).astype(np.float64)
    n_cand = rng.poisson(w.c_rate * active * peak)
    cust = np.repeat(np.arange(n_c, dtype=np.int32), n_cand)
    # float32 for the millions of candidates: half the memory, precision to spare
    u = rng.random(len(cust), dtype=np.float32)
    day = w.c_first_day[cust] + (u * active.astype(np.float32)[cust]).astype(np.int32)
    day = np.minimum(day, w.c_last_day[cust] - 1)  # float32 rounding must not reach the end
    weekday_p = (1.0 / (norm * peak)).astype(np.float32)
    weekend_p = (w.c_weekend / (norm * peak)).astype(np.float32)
    keep_p = w.daily.astype(np.float32)[day] * np.where(w.weekend[day], weekend_p[cust], weekday_p[cust])
    keep = rng.random(len(cust), dtype=np.float32) < keep_p
    del u, keep_p
    cust, day = cust[keep], day[keep]
    n = len(cust)

    # hour: the customer's own habit, or the population's daily profile
    comp = rng.choice(len(HOUR_P), size=n, p=HOUR_P)
    habit = rng.random(n) < w.c_habit[cust]
    hour = np.where(
        habit,
        w.c_peak[cust] + w.c_spread[cust] * rng.standard_normal(n),
        HOUR_MEAN[comp] + HOUR_SD[comp] * rng.standard_normal(n),
    )
    ts = local_to_utc(day, hour, w.start)

    # merchant: a favourite, or exploring near where the customer is (on a trip: there)
    region = w.region_at(cust, day)
    away = region != w.c_region[cust]
    pick = rng.random(n)
    pos = np.searchsorted((w.fav_cum + np.arange(n_c)[:, None]).ravel(), cust + pick, side="right")
    slot = np.clip(pos - cust.astype(np.int64) * w.fav.shape[1], 0, w.fav.shape[1] - 1)
    merch = w.fav[cust, slot]
    explore = (rng.random(n) >= w.c_loyal[cust]) | away
    if explore.any():
        e = np.flatnonzero(explore)
        near = away[e] | (rng.random(len(e)) < 0.5)
        v = rng.random(len(e))
        merch[e] = np.where(near, w.pool.draw(v, region[e]), w.pool.draw(v))

    online = w.m_online[merch]
    channel = np.where(
        online, np.where(rng.random(n) < w.c_app[cust], APP, WEB), np.where(rng.random(n) < 0.7, POS, APP)
    )
    device = w.phone_at(cust, day)
    second = rng.random(n) < w.second_share[cust]
    device = np.where(second, w.dev_second[cust], device)
    rows = make_rows(
        n,
        ts=ts,
        cust=cust,
        merch=merch,
        amount=_legit_amount(w, cust, merch, rng),
        channel=channel,
        device=device,
        region=region,
    )
    return concat([rows, _game_sessions(w, rng)])


def _game_sessions(w: World, rng: np.random.Generator) -> Rows:
    """Gamers' bursts of in-game purchases: honest look-alikes of card testing."""
    gamers = np.flatnonzero(w.gamer)
    active = (w.c_last_day - w.c_first_day)[gamers]
    n_sessions = rng.poisson(0.05 * active)
    s_cust = np.repeat(gamers, n_sessions).astype(np.int32)
    s_day = (w.c_first_day[s_cust] + rng.random(len(s_cust)) * active.repeat(n_sessions)).astype(np.int32)
    s_hour = rng.normal(21.0, 2.0, len(s_cust))
    size = 2 + rng.poisson(2.0, len(s_cust))
    cust = np.repeat(s_cust, size)
    day = np.repeat(s_day, size)
    offset = burst_offsets(size, 120.0, rng)
    ts = local_to_utc(day, np.repeat(s_hour, size), w.start) + offset.astype(np.int64)
    ts = np.minimum(ts, w.end - 1)
    amount = GAME_TIERS[rng.choice(len(GAME_TIERS), size=len(cust), p=GAME_TIER_P)]
    return make_rows(
        len(cust),
        ts=ts,
        cust=cust,
        merch=w.game_merchant[cust],
        amount=amount,
        channel=APP,
        device=w.phone_at(cust, day),
        region=w.region_at(cust, day),
    )


def expected_merchant_payments(w: World) -> np.ndarray:
    """Expected legitimate payments at each merchant over the period, from the customers'
    rates and habits as :func:`legit_payments` draws them (trips and gamers' sessions left out:
    a few percent of the traffic).

    A sharded world weighs merchants with it where one run of the whole world counts its
    payments: no block sees the others' payments.
    """
    n_m = len(w.m_cat)
    norm = (5.0 + 2.0 * w.c_weekend) / 7.0
    zero = np.zeros(1)
    weekday = np.concatenate([zero, np.cumsum(np.where(w.weekend, 0.0, w.daily))])
    weekend = np.concatenate([zero, np.cumsum(np.where(w.weekend, w.daily, 0.0))])
    first, last = w.c_first_day, w.c_last_day
    pay = w.c_rate * (weekday[last] - weekday[first] + w.c_weekend * (weekend[last] - weekend[first])) / norm
    # a favourite, by its weight; else exploring, half near home and half anywhere
    fav_w = np.diff(w.fav_cum, axis=1, prepend=0.0)
    loyal = pay * w.c_loyal
    traffic = np.bincount(w.fav.ravel(), weights=(loyal[:, None] * fav_w).ravel(), minlength=n_m)
    explore = pay - loyal
    pop = w.m_pop.astype(np.float64)
    traffic += 0.5 * explore.sum() * pop / pop.sum()
    near = np.bincount(w.c_region, weights=0.5 * explore, minlength=len(w.pool.total))
    has = w.pool.total > 0
    region_total = np.where(has, w.pool.total, 1.0)
    traffic += near[w.m_region] * pop / region_total[w.m_region]
    # customers of a region without merchants explore anywhere
    traffic += near[~has].sum() * pop / pop.sum()
    return traffic
