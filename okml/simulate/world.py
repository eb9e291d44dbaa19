"""The world: merchants (category, region, popularity, price), customers (region, spending,
rhythm, favourite merchants, devices, trips) and the daily traffic of the period.

See :mod:`okml.simulate` for what is simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from okml.config import SimulateParams
from okml.simulate.clock import start_seconds
from okml.simulate.tables import (
    CAT,
    CAT_FREQ,
    CAT_ONLINE,
    CAT_PRICE,
    CAT_SHARE,
    CATEGORIES,
    DAY,
    HOUR,
    HOUR_MEAN,
    HOUR_P,
    HOUR_SD,
    NEW_YEAR,
    REGION_P,
    REGIONS,
    SUFFIXES,
    SYLLABLES,
)


class Pool:
    """Merchants grouped by region for fast draws weighted by ``weight``.

    A draw in region ``r`` maps a uniform number onto that region's slice of one cumulative
    weight array, so millions of draws cost one ``searchsorted``.
    """

    def __init__(self, m_region: np.ndarray, weight: np.ndarray) -> None:
        self.order = np.lexsort((np.arange(len(m_region)), m_region))
        self.cum = np.cumsum(weight[self.order])
        reg = m_region[self.order]
        r = np.arange(len(REGIONS))
        self.lo = np.searchsorted(reg, r, side="left")
        self.hi = np.searchsorted(reg, r, side="right")
        cum0 = np.concatenate([[0.0], self.cum])
        self.base = cum0[self.lo]
        self.total = cum0[self.hi] - self.base

    def draw(self, u: np.ndarray, region: np.ndarray | None = None) -> np.ndarray:
        """Merchants for uniforms ``u`` in ``region`` (everywhere where None or empty)."""
        if region is None:
            pos = np.searchsorted(self.cum, u * self.cum[-1], side="right")
            return self.order[np.minimum(pos, len(self.cum) - 1)].astype(np.int32)
        total = self.total[region]
        pos = np.searchsorted(self.cum, self.base[region] + u * total, side="right")
        pos = np.clip(pos, self.lo[region], np.maximum(self.hi[region] - 1, 0))
        local = self.order[np.minimum(pos, len(self.cum) - 1)]
        empty = total <= 0
        if empty.any():
            local[empty] = self.draw(u[empty])
        return local.astype(np.int32)


@dataclass(frozen=True)
class Market:
    """The calendar and the merchants: what every customer of a world shares."""

    start: int  # epoch seconds of the first day
    n_days: int
    daily: np.ndarray  # float64[n_days]: traffic factor of each day (mean 1)
    weekend: np.ndarray  # bool[n_days]
    m_cat: np.ndarray
    m_region: np.ndarray
    m_pop: np.ndarray
    m_price: np.ndarray
    m_online: np.ndarray
    m_names: list[str]
    pool: Pool  # all merchants by popularity


@dataclass(frozen=True)
class World(Market):
    """A market and its customers (all of them, or one block of a sharded world)."""

    c_region: np.ndarray
    c_rate: np.ndarray
    c_weekend: np.ndarray
    c_spend: np.ndarray
    c_peak: np.ndarray
    c_spread: np.ndarray
    c_habit: np.ndarray
    c_loyal: np.ndarray
    c_app: np.ndarray
    c_first_day: np.ndarray
    c_last_day: np.ndarray  # exclusive
    c_created: np.ndarray
    fav: np.ndarray  # int32[n, K]
    fav_cum: np.ndarray  # float64[n, K] per-row cumulative weights
    gamer: np.ndarray
    game_merchant: np.ndarray
    dev_first: np.ndarray
    dev_next: np.ndarray
    dev_switch_day: np.ndarray
    dev_second: np.ndarray  # -1 when none
    second_share: np.ndarray
    trip_start: np.ndarray  # int32[n, 3] day, large when no trip
    trip_end: np.ndarray
    trip_region: np.ndarray
    n_devices: int

    @property
    def end(self) -> int:
        return self.start + self.n_days * DAY

    @property
    def n_customers(self) -> int:
        return len(self.c_region)

    def region_at(self, cust: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Where a customer is on a day: home, or the region of a trip under way."""
        on = (day[:, None] >= self.trip_start[cust]) & (day[:, None] < self.trip_end[cust])
        away = on.any(axis=1)
        trip = self.trip_region[cust, on.argmax(axis=1)]
        return np.where(away, trip, self.c_region[cust]).astype(np.int16)

    def phone_at(self, cust: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The customer's main device on a day (a few switch phones during the period)."""
        return np.where(day >= self.dev_switch_day[cust], self.dev_next[cust], self.dev_first[cust]).astype(
            np.int32
        )


def category_pool(w: World, cats: list[int]) -> Pool:
    """Popularity-weighted pool of the merchants in ``cats`` (all merchants if none are)."""
    inside = np.isin(w.m_cat, cats)
    if not inside.any():
        inside = np.ones(len(w.m_cat), dtype=bool)
    return Pool(w.m_region, np.where(inside, w.m_pop, 0.0))


def _calendar(start: int, n_days: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Daily traffic factor (trend, festivals, New Year, noise; mean 1) and weekend flags."""
    days = np.arange(n_days)
    epoch_day = start // DAY + days
    weekend = (epoch_day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    dates = pd.to_datetime(epoch_day * DAY, unit="s")
    month_day = dates.strftime("%m-%d")
    factor = 1.0 + 0.08 * days / max(n_days, 1)  # OKPay is growing
    boost = {"06-17": 1.2, "06-18": 1.5, "11-10": 1.2, "11-11": 1.8, "11-12": 1.2, "12-12": 1.3}
    factor *= np.array([boost.get(md, 1.0) for md in month_day])
    for year, md in NEW_YEAR.items():
        new_year = (pd.Timestamp(f"{year}-{md}").value // 1_000_000_000) // DAY
        rel = epoch_day - new_year
        factor = np.where((rel >= -10) & (rel < 0), factor * 1.25, factor)
        factor = np.where((rel >= 0) & (rel < 7), factor * 0.75, factor)
    factor *= rng.lognormal(0.0, 0.04, n_days)
    return factor / factor.mean(), weekend


def _merchant_names(cat: np.ndarray, rng: np.random.Generator) -> list[str]:
    n = len(cat)
    a = rng.integers(0, len(SYLLABLES), n)
    b = rng.integers(0, len(SYLLABLES), n)
    pick = rng.random(n)
    names = []
    for i in range(n):  # one per merchant, not per payment
        suffixes = SUFFIXES[CATEGORIES[cat[i]]]
        suffix = suffixes[int(pick[i] * len(suffixes))]
        names.append(f"{SYLLABLES[a[i]]}{SYLLABLES[b[i]].lower()} {suffix}")
    return names


def build_market(p: SimulateParams, rng: np.random.Generator) -> Market:
    """The daily traffic of the period of ``p`` and its merchants."""
    start = start_seconds(p.start)
    n_days, n_m = p.n_days, p.n_merchants
    daily, weekend = _calendar(start, n_days, rng)

    # merchants: every category present when there are enough merchants
    m_cat = rng.choice(len(CATEGORIES), size=n_m, p=CAT_SHARE)
    m_cat[: min(n_m, len(CATEGORIES))] = np.arange(min(n_m, len(CATEGORIES)))
    m_cat = rng.permutation(m_cat).astype(np.int8)
    m_region = rng.choice(len(REGIONS), size=n_m, p=REGION_P).astype(np.int16)
    m_pop = rng.lognormal(0.0, 1.3, n_m) * CAT_FREQ[m_cat]
    m_price = (CAT_PRICE[m_cat] * rng.lognormal(0.0, 0.35, n_m)).astype(np.float32)
    m_online = rng.random(n_m) < CAT_ONLINE[m_cat]
    m_names = _merchant_names(m_cat, rng)
    return Market(
        start=start,
        n_days=n_days,
        daily=daily,
        weekend=weekend,
        m_cat=m_cat,
        m_region=m_region,
        m_pop=m_pop,
        m_price=m_price,
        m_online=m_online,
        m_names=m_names,
        pool=Pool(m_region, m_pop),
    )


def build_world(
    p: SimulateParams,
    rng: np.random.Generator,
    market: Market | None = None,
    n_customers: int | None = None,
) -> World:
    """Merchants, customers and the daily traffic of the period of ``p``.

    With ``market`` (one block of a sharded world) only the ``n_customers`` customers are
    drawn from ``rng``; without, the market is drawn first from the same stream.
    """
    m = market if market is not None else build_market(p, rng)
    start, n_days, n_c = m.start, m.n_days, p.n_customers if n_customers is None else n_customers
    m_cat, m_pop, pool = m.m_cat, m.m_pop, m.pool

    # customers
    c_region = rng.choice(len(REGIONS), size=n_c, p=REGION_P).astype(np.int16)
    c_rate = rng.gamma(2.0, p.tx_per_customer_day / 2.0, n_c)
    c_weekend = rng.lognormal(0.15, 0.3, n_c)
    c_spend = rng.lognormal(0.0, 0.5, n_c)
    comp = rng.choice(len(HOUR_P), size=n_c, p=HOUR_P)
    c_peak = rng.normal(HOUR_MEAN[comp], HOUR_SD[comp])
    c_spread = rng.lognormal(np.log(1.5), 0.3, n_c)
    c_habit = rng.beta(3.0, 2.0, n_c)
    c_loyal = rng.beta(8.0, 2.0, n_c)
    c_app = rng.beta(4.0, 1.5, n_c)
    # most accounts predate the period; some open during it, a few stop paying
    joins = rng.random(n_c) < 0.12
    c_first_day = np.where(joins, rng.integers(0, n_days, n_c), 0).astype(np.int32)
    quits = rng.random(n_c) < 0.05
    stop = rng.integers(c_first_day, n_days, n_c) + 1
    c_last_day = np.where(quits, stop, n_days).astype(np.int32)
    before = rng.uniform(HOUR, 10 * DAY, n_c)  # a new customer's first payment comes soon
    old = rng.uniform(30 * DAY, 5 * 365 * DAY, n_c)
    c_created = (start + c_first_day.astype(np.int64) * DAY - np.where(joins, before, old)).astype(np.int64)

    # favourite merchants: 3-12 each, mostly near home, picked by popularity
    k_max = 12
    k = np.minimum(3 + rng.poisson(4.0, n_c), k_max)
    local = rng.random((n_c, k_max)) < 0.6
    u = rng.random((n_c, k_max))
    fav = np.where(
        local,
        pool.draw(u.ravel(), np.repeat(c_region, k_max)).reshape(n_c, k_max),
        pool.draw(u.ravel()).reshape(n_c, k_max),
    )
    weights = rng.lognormal(0.0, 0.5, (n_c, k_max)) / np.arange(1, k_max + 1) ** 1.1
    weights[np.arange(k_max)[None, :] >= k[:, None]] = 0.0
    # gamers keep a game merchant as their second favourite
    games = np.flatnonzero(m_cat == CAT["games"])
    gamer = (rng.random(n_c) < 0.08) & (len(games) > 0)
    game_merchant = np.full(n_c, -1, dtype=np.int32)
    if len(games):
        game_pool = Pool(np.zeros(len(games), dtype=np.int16), m_pop[games])
        game_merchant[gamer] = games[game_pool.draw(rng.random(int(gamer.sum())))]
        fav[gamer, 1] = game_merchant[gamer]
    fav_cum = np.cumsum(weights, axis=1)
    fav_cum /= fav_cum[:, -1:]

    # devices: a phone each; some switch phones, some also use a tablet or PC, a few share
    # a family member's device
    dev_first = np.arange(n_c, dtype=np.int32)
    switch = rng.random(n_c) < 0.10
    dev_switch_day = np.where(switch, rng.integers(0, n_days, n_c), np.iinfo(np.int32).max)
    dev_next = np.where(switch, n_c + np.cumsum(switch) - 1, dev_first).astype(np.int32)
    n_dev = n_c + int(switch.sum())
    has_second = rng.random(n_c) < 0.25
    dev_second = np.full(n_c, -1, dtype=np.int32)
    dev_second[has_second] = n_dev + np.arange(int(has_second.sum()), dtype=np.int32)
    n_dev += int(has_second.sum())
    family = (rng.random(n_c) < 0.04) & (n_c > 1)
    dev_second[family] = rng.integers(0, n_c, int(family.sum()))
    second_share = np.where(dev_second >= 0, rng.uniform(0.05, 0.35, n_c), 0.0)

    # trips: 0-3 per customer, a few days each, somewhere else
    n_trips = np.minimum(rng.poisson(0.7 * n_days / 180, n_c), 3)
    trip_start = rng.integers(0, n_days, (n_c, 3)).astype(np.int32)
    trip_end = trip_start + 1 + rng.geometric(1 / 3.0, (n_c, 3)).astype(np.int32)
    none = np.arange(3)[None, :] >= n_trips[:, None]
    trip_start[none] = np.iinfo(np.int32).max
    trip_end[none] = np.iinfo(np.int32).max
    trip_region = ((c_region[:, None] + rng.integers(1, len(REGIONS), (n_c, 3))) % len(REGIONS)).astype(
        np.int16
    )

    return World(
        **{f.name: getattr(m, f.name) for f in fields(Market)},
        c_region=c_region,
        c_rate=c_rate,
        c_weekend=c_weekend,
        c_spend=c_spend,
        c_peak=c_peak,
        c_spread=c_spread,
        c_habit=c_habit,
        c_loyal=c_loyal,
        c_app=c_app,
        c_first_day=c_first_day,
        c_last_day=c_last_day,
        c_created=c_created,
        fav=fav.astype(np.int32),
        fav_cum=fav_cum,
        gamer=gamer,
        game_merchant=game_merchant,
        dev_first=dev_first,
        dev_next=dev_next,
        dev_switch_day=dev_switch_day,
        dev_second=dev_second,
        second_share=second_share,
        trip_start=trip_start,
        trip_end=trip_end,
        trip_region=trip_region,
        n_devices=n_dev,
    )
