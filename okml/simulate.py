"""Simulate OKPay transactions: legitimate customers plus five kinds of fraud with late labels.

The generator is vectorized with numpy: every stage draws whole arrays at once, and only the
fraud scenarios loop, over a few dozen victims, rings or merchants. Each stage has its own
random stream spawned from ``params.seed``, so the same seed gives byte-identical output, and
changing one scenario's knobs leaves the other stages' draws alone.

The world
---------
- Merchants have a category (grocery, food, travel, electronics, games, digital goods, ...)
  that sets their price level and whether they sell online; their popularity is lognormal
  (a few merchants take much of the traffic) and they are grouped by region.
- Customers live in a home region (local time UTC+8) and have their own spending level
  (lognormal), payment rate, weekly rhythm (weekend factor), preferred hour, app/web mix,
  a small personal set of favourite merchants (mostly local, picked by popularity), one or
  two devices (some switch phones, a few share a family device) and the odd trip to another
  region. Some open their account during the period, some stop paying before its end.
  About one in twelve play games and sometimes buy several in-game items in a few minutes.
- Traffic follows a slow trend, shopping festivals (618, 11.11) and Chinese New Year.

Fraud (``fraud_type``)
----------------------
``account_takeover``
    From a moment on, the victim's account pays from a new device and region at cash-out
    merchants it never used, with higher amounts, in bursts minutes apart, until blocked.
``fake_orders``
    Brushing rings (骗单): colluding accounts sharing a few devices place many small, fast,
    often round-amount orders at one colluding merchant.
``compromised_merchant``
    For a period a share of the payments at a merchant are fraudulent (skimming, inflated
    charges), paid by its ordinary customers.
``forged_identity``
    New accounts with fabricated details spend large amounts soon after opening, then vanish.
``new_pattern``
    Card testing, only from ``new_pattern.start_fraction`` of the period on: many small
    payments at digital-goods and games merchants, minutes apart, mostly at night, from the
    card holder's own device and region. Earlier data does not teach it; legitimate gamers'
    in-game bursts look much alike.

Labels arrive late: chargebacks come days to weeks after a payment; some victims report
themselves within hours and their whole incident is labelled shortly after; a share of fraud
is never labelled (``label_time`` NaT while ``is_fraud`` stays 1 as ground truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from okml.config import SimulateParams
from okml.errors import ConfigError
from okml.io import remove_stale_tmp, write_parquet
from okml.paths import resolve
from okml.schema import CANONICAL

DAY = 86_400
HOUR = 3_600
# All of OKPay's customers live on China Standard Time; timestamps are stored in UTC.
LOCAL_OFFSET_S = 8 * HOUR

FRAUD_TYPES = (
    "account_takeover",
    "fake_orders",
    "compromised_merchant",
    "forged_identity",
    "new_pattern",
)
ATO, FAKE, COMPROMISED, FORGED, NEW = range(1, 6)  # codes; 0 is legitimate
# Only real people report fraud: fake-order rings and forged identities have no victim.
_REPORTABLE = np.array([False, True, False, True, False, True])

CHANNELS = ("app", "web", "pos")
APP, WEB, POS = range(3)
CURRENCY = "CNY"

# name, share of merchants, visit frequency, median price (CNY), price spread, online share
_CATEGORY_TABLE = (
    ("grocery", 0.14, 3.0, 45.0, 0.7, 0.15),
    ("food", 0.22, 3.0, 32.0, 0.5, 0.30),
    ("transport", 0.05, 2.0, 15.0, 0.6, 0.50),
    ("fashion", 0.09, 0.6, 220.0, 0.7, 0.60),
    ("electronics", 0.05, 0.25, 900.0, 0.9, 0.70),
    ("travel", 0.04, 0.2, 650.0, 0.8, 0.85),
    ("games", 0.05, 0.8, 30.0, 0.9, 1.00),
    ("digital", 0.05, 0.6, 25.0, 0.8, 1.00),
    ("health", 0.06, 0.6, 80.0, 0.7, 0.20),
    ("entertainment", 0.06, 0.7, 90.0, 0.6, 0.40),
    ("utilities", 0.05, 0.6, 120.0, 0.5, 1.00),
    ("home", 0.07, 0.4, 260.0, 0.8, 0.50),
    ("jewelry", 0.02, 0.1, 2200.0, 0.7, 0.30),
    ("education", 0.03, 0.2, 400.0, 0.6, 0.80),
)
CATEGORIES = tuple(row[0] for row in _CATEGORY_TABLE)
_CAT = {name: i for i, name in enumerate(CATEGORIES)}
_CAT_SHARE = np.array([r[1] for r in _CATEGORY_TABLE]) / sum(r[1] for r in _CATEGORY_TABLE)
_CAT_FREQ = np.array([r[2] for r in _CATEGORY_TABLE])
_CAT_PRICE = np.array([r[3] for r in _CATEGORY_TABLE])
_CAT_SIGMA = np.array([r[4] for r in _CATEGORY_TABLE])
_CAT_ONLINE = np.array([r[5] for r in _CATEGORY_TABLE])
_CASH_OUT = [_CAT[c] for c in ("electronics", "jewelry", "travel", "digital")]
_CARD_TESTING = [_CAT[c] for c in ("digital", "games")]
_BRUSHING = [_CAT[c] for c in ("fashion", "home", "electronics", "digital")]
_SKIMMABLE = [_CAT[c] for c in ("grocery", "food", "health", "entertainment", "fashion", "home")]
# in-game purchase tiers as sold in Chinese app stores: round amounts that are not fraud
_GAME_TIERS = np.array([6.0, 12.0, 30.0, 68.0, 128.0, 198.0, 328.0, 648.0])
_GAME_TIER_P = np.array([0.30, 0.20, 0.22, 0.13, 0.08, 0.03, 0.03, 0.01])

REGIONS = (
    "Guangdong",
    "Shandong",
    "Henan",
    "Jiangsu",
    "Sichuan",
    "Hebei",
    "Hunan",
    "Zhejiang",
    "Anhui",
    "Hubei",
    "Guangxi",
    "Yunnan",
    "Jiangxi",
    "Liaoning",
    "Fujian",
    "Shaanxi",
    "Guizhou",
    "Shanxi",
    "Chongqing",
    "Heilongjiang",
    "Xinjiang",
    "Gansu",
    "Shanghai",
    "Inner Mongolia",
    "Jilin",
    "Beijing",
    "Tianjin",
    "Hainan",
    "Ningxia",
    "Qinghai",
    "Tibet",
)
# roughly by population and payment volume, so a few provinces dominate
_REGION_P = 1.0 / np.arange(1, len(REGIONS) + 1) ** 0.6
_REGION_P /= _REGION_P.sum()

# local-time daily profile: breakfast, lunch, afternoon, evening, late night
_HOUR_MEAN = np.array([8.0, 12.3, 15.5, 19.5, 22.8])
_HOUR_SD = np.array([1.0, 1.0, 2.0, 1.8, 1.2])
_HOUR_P = np.array([0.15, 0.28, 0.15, 0.34, 0.08])

# Chinese New Year's day; the week before it is busy, the holiday week quiet
_NEW_YEAR = {
    2024: "02-10",
    2025: "01-29",
    2026: "02-17",
    2027: "02-06",
    2028: "01-26",
    2029: "02-13",
    2030: "02-03",
}

_SYLLABLES = (
    "Jin",
    "Long",
    "Hua",
    "Xin",
    "Da",
    "Fu",
    "Tian",
    "Mei",
    "Kang",
    "Le",
    "Hao",
    "Bao",
    "Sheng",
    "Feng",
    "Yuan",
    "Heng",
    "Tai",
    "Ming",
    "Shun",
    "Xiang",
    "Rui",
    "An",
    "Jia",
    "Hong",
    "Lian",
    "Yi",
    "Cheng",
    "Guang",
    "Wan",
    "Qian",
    "Xing",
    "Yu",
    "Zhong",
    "Lin",
)
_SUFFIXES = {
    "grocery": ("Mart", "Supermarket", "Fresh", "Grocery", "Convenience"),
    "food": ("Kitchen", "Noodles", "Dumplings", "Hotpot", "Bakery", "Tea House", "Canteen"),
    "transport": ("Taxi", "Metro Card", "Bike", "Ride", "Parking"),
    "fashion": ("Fashion", "Boutique", "Shoes", "Apparel", "Style"),
    "electronics": ("Electronics", "Digital Mall", "Mobile", "Tech", "Appliances"),
    "travel": ("Travel", "Air", "Hotels", "Tours", "Rail Booking"),
    "games": ("Games", "Play", "Interactive", "Esports", "Studio"),
    "digital": ("Gift Cards", "Top-up", "Digital", "Vouchers", "Cloud"),
    "health": ("Pharmacy", "Clinic", "Health", "Medicine Hall"),
    "entertainment": ("Cinema", "KTV", "Theatre", "Fun Park", "Club"),
    "utilities": ("Power", "Water", "Telecom", "Gas", "Broadband"),
    "home": ("Home", "Furniture", "Living", "Hardware"),
    "jewelry": ("Jewelry", "Gold", "Jade", "Watches"),
    "education": ("Academy", "School", "Books", "Learning"),
}

STAGES = (
    "merchants and customers",
    "legitimate payments",
    "account takeover",
    "fake orders",
    "compromised merchants",
    "forged identities",
    "new pattern",
    "labels",
    "assemble",
)


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class _Rows:
    """Payments as parallel arrays, compact dtypes; strings are built once at the end."""

    ts: np.ndarray  # int64 seconds since the epoch (UTC)
    cust: np.ndarray  # int32 account index
    merch: np.ndarray  # int32 merchant index
    amount: np.ndarray  # float64 CNY, 2 decimals
    channel: np.ndarray  # int8 code into CHANNELS
    device: np.ndarray  # int32 device index
    region: np.ndarray  # int16 code into REGIONS
    ftype: np.ndarray  # int8: 0 legitimate, else 1 + index into FRAUD_TYPES
    incident: np.ndarray  # int64: rows of one victim's incident share it; -1 legitimate

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, idx: np.ndarray) -> _Rows:
        return _Rows(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


def _rows(n: int, **cols: np.ndarray | int | float) -> _Rows:
    """Build rows from arrays or scalars (broadcast), casting to the compact dtypes."""
    dtypes = {
        "ts": np.int64,
        "cust": np.int32,
        "merch": np.int32,
        "amount": np.float64,
        "channel": np.int8,
        "device": np.int32,
        "region": np.int16,
        "ftype": np.int8,
        "incident": np.int64,
    }
    cols.setdefault("incident", -1)
    return _Rows(
        **{k: np.broadcast_to(np.asarray(cols.get(k, 0), dtype=t), (n,)).copy() for k, t in dtypes.items()}
    )


def _concat(parts: Sequence[_Rows]) -> _Rows:
    return _Rows(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Rows)})


class _Ids:
    """Hands out new account and device indices after the legitimate ones."""

    def __init__(self, n_customers: int, n_devices: int) -> None:
        self.n_customers, self.n_devices = n_customers, n_devices
        self.created: list[np.ndarray] = []  # account_created_at of the new accounts, in order

    def accounts(self, created: np.ndarray) -> np.ndarray:
        created = np.asarray(created, dtype=np.int64)
        ids = np.arange(self.n_customers, self.n_customers + len(created), dtype=np.int32)
        self.n_customers += len(created)
        self.created.append(created)
        return ids

    def devices(self, n: int) -> np.ndarray:
        ids = np.arange(self.n_devices, self.n_devices + n, dtype=np.int32)
        self.n_devices += n
        return ids


# ----------------------------------------------------------------------------- the world
class _Pool:
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
class _World:
    start: int  # epoch seconds of the first day
    n_days: int
    daily: np.ndarray  # float64[n_days]: traffic factor of each day (mean 1)
    weekend: np.ndarray  # bool[n_days]
    # merchants
    m_cat: np.ndarray
    m_region: np.ndarray
    m_pop: np.ndarray
    m_price: np.ndarray
    m_online: np.ndarray
    m_names: list[str]
    pool: _Pool  # all merchants by popularity
    # customers
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


def _start_seconds(start: str) -> int:
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"simulate.start: cannot parse {start!r} as a date ({e})") from None
    if ts is pd.NaT:
        raise ConfigError(f"simulate.start: cannot parse {start!r} as a date")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000_000)


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
    for year, md in _NEW_YEAR.items():
        new_year = (pd.Timestamp(f"{year}-{md}").value // 1_000_000_000) // DAY
        rel = epoch_day - new_year
        factor = np.where((rel >= -10) & (rel < 0), factor * 1.25, factor)
        factor = np.where((rel >= 0) & (rel < 7), factor * 0.75, factor)
    factor *= rng.lognormal(0.0, 0.04, n_days)
    return factor / factor.mean(), weekend


def _merchant_names(cat: np.ndarray, rng: np.random.Generator) -> list[str]:
    n = len(cat)
    a = rng.integers(0, len(_SYLLABLES), n)
    b = rng.integers(0, len(_SYLLABLES), n)
    pick = rng.random(n)
    names = []
    for i in range(n):  # one per merchant, not per payment
        suffixes = _SUFFIXES[CATEGORIES[cat[i]]]
        suffix = suffixes[int(pick[i] * len(suffixes))]
        names.append(f"{_SYLLABLES[a[i]]}{_SYLLABLES[b[i]].lower()} {suffix}")
    return names


def _world(p: SimulateParams, rng: np.random.Generator) -> _World:
    start = _start_seconds(p.start)
    n_days, n_c, n_m = p.n_days, p.n_customers, p.n_merchants
    daily, weekend = _calendar(start, n_days, rng)

    # merchants: every category present when there are enough merchants
    m_cat = rng.choice(len(CATEGORIES), size=n_m, p=_CAT_SHARE)
    m_cat[: min(n_m, len(CATEGORIES))] = np.arange(min(n_m, len(CATEGORIES)))
    m_cat = rng.permutation(m_cat).astype(np.int8)
    m_region = rng.choice(len(REGIONS), size=n_m, p=_REGION_P).astype(np.int16)
    m_pop = rng.lognormal(0.0, 1.3, n_m) * _CAT_FREQ[m_cat]
    m_price = (_CAT_PRICE[m_cat] * rng.lognormal(0.0, 0.35, n_m)).astype(np.float32)
    m_online = rng.random(n_m) < _CAT_ONLINE[m_cat]
    m_names = _merchant_names(m_cat, rng)
    pool = _Pool(m_region, m_pop)

    # customers
    c_region = rng.choice(len(REGIONS), size=n_c, p=_REGION_P).astype(np.int16)
    c_rate = rng.gamma(2.0, p.tx_per_customer_day / 2.0, n_c)
    c_weekend = rng.lognormal(0.15, 0.3, n_c)
    c_spend = rng.lognormal(0.0, 0.5, n_c)
    comp = rng.choice(len(_HOUR_P), size=n_c, p=_HOUR_P)
    c_peak = rng.normal(_HOUR_MEAN[comp], _HOUR_SD[comp])
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
    games = np.flatnonzero(m_cat == _CAT["games"])
    gamer = (rng.random(n_c) < 0.08) & (len(games) > 0)
    game_merchant = np.full(n_c, -1, dtype=np.int32)
    if len(games):
        game_pool = _Pool(np.zeros(len(games), dtype=np.int16), m_pop[games])
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

    return _World(
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
        pool=pool,
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


# ----------------------------------------------------------------------------- legit
def _local_to_utc(day: np.ndarray, local_hour: np.ndarray, start: int) -> np.ndarray:
    """Timestamps for local hours of a day; early-morning hours wrap inside the same UTC day
    so that every payment stays inside the simulated period."""
    sec = (np.mod(local_hour, 24.0) * HOUR).astype(np.int64)
    return start + day.astype(np.int64) * DAY + np.mod(sec - LOCAL_OFFSET_S, DAY)


def _legit_amount(w: _World, cust: np.ndarray, merch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cat = w.m_cat[merch]
    n = len(cust)
    amount = w.m_price[merch] * w.c_spend[cust] * np.exp(_CAT_SIGMA[cat] * rng.standard_normal(n))
    u = rng.random(n)
    # round amounts are common in honest payments too: game tiers, bill top-ups, whole yuan
    tier = _GAME_TIERS[rng.choice(len(_GAME_TIERS), size=n, p=_GAME_TIER_P)]
    amount = np.where((cat == _CAT["games"]) & (u < 0.6), tier, amount)
    amount = np.where(
        (cat == _CAT["utilities"]) & (u < 0.6), np.maximum(10.0, np.round(amount / 10.0) * 10.0), amount
    )
    amount = np.where(
        (cat != _CAT["games"]) & (cat != _CAT["utilities"]) & (u < 0.08), np.ceil(amount), amount
    )
    return np.maximum(np.round(amount, 2), 0.5)


def _legit(w: _World, rng: np.random.Generator) -> _Rows:
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
    comp = rng.choice(len(_HOUR_P), size=n, p=_HOUR_P)
    habit = rng.random(n) < w.c_habit[cust]
    hour = np.where(
        habit,
        w.c_peak[cust] + w.c_spread[cust] * rng.standard_normal(n),
        _HOUR_MEAN[comp] + _HOUR_SD[comp] * rng.standard_normal(n),
    )
    ts = _local_to_utc(day, hour, w.start)

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
    rows = _rows(
        n,
        ts=ts,
        cust=cust,
        merch=merch,
        amount=_legit_amount(w, cust, merch, rng),
        channel=channel,
        device=device,
        region=region,
    )
    return _concat([rows, _game_sessions(w, rng)])


def _game_sessions(w: _World, rng: np.random.Generator) -> _Rows:
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
    offset = _burst_offsets(size, 120.0, rng)
    ts = _local_to_utc(day, np.repeat(s_hour, size), w.start) + offset.astype(np.int64)
    ts = np.minimum(ts, w.end - 1)
    amount = _GAME_TIERS[rng.choice(len(_GAME_TIERS), size=len(cust), p=_GAME_TIER_P)]
    return _rows(
        len(cust),
        ts=ts,
        cust=cust,
        merch=w.game_merchant[cust],
        amount=amount,
        channel=APP,
        device=w.phone_at(cust, day),
        region=w.region_at(cust, day),
    )


# ----------------------------------------------------------------------------- fraud
def _how_many(rate_per_1000: float, n_customers: int) -> int:
    """Victims for a rate per 1000 customers; at least one when the rate is not zero, so that
    small simulations still show every kind of fraud."""
    x = rate_per_1000 * n_customers / 1000.0
    return max(1, int(round(x))) if x > 0 else 0


def _burst_offsets(sizes: np.ndarray, gap_s: float, rng: np.random.Generator) -> np.ndarray:
    """Seconds from the first payment of each group, exponential gaps of mean ``gap_s``."""
    n = int(sizes.sum())
    gap = rng.exponential(gap_s, n)
    starts = np.cumsum(sizes) - sizes
    gap[starts[sizes > 0]] = 0.0
    total = np.cumsum(gap)
    return total - np.repeat(total[starts[sizes > 0]], sizes[sizes > 0])


def _category_pool(w: _World, cats: list[int]) -> _Pool:
    """Popularity-weighted pool of the merchants in ``cats`` (all merchants if none are)."""
    inside = np.isin(w.m_cat, cats)
    if not inside.any():
        inside = np.ones(len(w.m_cat), dtype=bool)
    return _Pool(w.m_region, np.where(inside, w.m_pop, 0.0))


def _by_customer(rows: _Rows, customers: np.ndarray) -> dict[int, _Rows]:
    """Rows of a few customers, each in time order."""
    sub = rows.take(np.flatnonzero(np.isin(rows.cust, customers)))
    order = np.lexsort((sub.ts, sub.cust))
    sub = sub.take(order)
    cuts = np.searchsorted(sub.cust, customers)
    ends = np.searchsorted(sub.cust, customers, side="right")
    return {int(c): sub.take(np.arange(a, b)) for c, a, b in zip(customers, cuts, ends, strict=True)}


def _account_takeover(
    p: SimulateParams, w: _World, legit: _Rows, ids: _Ids, rng: np.random.Generator
) -> _Rows:
    q = p.account_takeover
    n_v = _how_many(q.victims_per_1000_customers, p.n_customers)
    counts = np.bincount(legit.cust, minlength=w.n_customers)
    eligible = np.flatnonzero(counts >= 3)
    n_v = min(n_v, len(eligible))
    if n_v == 0:
        return _rows(0)
    victims = np.sort(rng.choice(eligible, n_v, replace=False)).astype(np.int32)
    history = _by_customer(legit, victims)
    cash_out = _category_pool(w, _CASH_OUT)
    burst_s = q.burst_hours * HOUR
    parts = []
    for i, v in enumerate(victims):  # a few dozen victims
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
        ts = t0 + np.repeat(burst_at, sizes) + _burst_offsets(sizes, 180.0, rng)
        ts = np.minimum(ts.astype(np.int64), w.end - 1)
        seen = set(h.region[h.ts < t0].tolist()) | {int(w.c_region[v])}
        p_reg = np.where(np.isin(np.arange(len(REGIONS)), list(seen)), 0.0, _REGION_P)
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
            _rows(
                k,
                ts=ts,
                cust=v,
                merch=merch[:k],
                amount=np.maximum(amount, 1.0),
                channel=channel,
                device=ids.devices(1)[0],
                region=region,
                ftype=ATO,
                incident=i,
            )
        )
    return _concat(parts)


def _fake_orders(p: SimulateParams, w: _World, ids: _Ids, rng: np.random.Generator) -> _Rows:
    q = p.fake_orders
    if q.rings == 0 or q.orders_per_ring == 0:
        return _rows(0)
    # colluding shops: small online merchants, one per ring
    shops = np.flatnonzero(np.isin(w.m_cat, _BRUSHING) & w.m_online)
    if len(shops) < q.rings:
        shops = np.arange(len(w.m_cat))
    small = shops[np.argsort(w.m_pop[shops], kind="stable")][: max(q.rings, len(shops) // 2)]
    colluders = rng.choice(small, min(q.rings, len(small)), replace=False)
    colluders = np.resize(colluders, q.rings)  # more rings than merchants: some share a shop
    active_s = q.active_days * DAY
    round_values = np.arange(5.0, q.amount_max + 1e-9, 5.0)
    if len(round_values) == 0:
        round_values = np.array([float(np.floor(q.amount_max * 100) / 100)])
    parts = []
    for r in range(q.rings):  # a few dozen rings
        t0 = rng.uniform(w.start, max(w.end - active_s, w.start + 1))
        created = t0 - rng.uniform(DAY, 45 * DAY, q.accounts_per_ring)
        accounts = ids.accounts(created)
        devices = ids.devices(q.devices_per_ring)
        n = q.orders_per_ring
        # the ring works in sessions; orders seconds to minutes apart within one
        n_s = max(1, int(round(n / 15)))
        s_at = rng.uniform(0, max(active_s - HOUR, 1.0), n_s)
        sizes = np.bincount(rng.integers(0, n_s, n), minlength=n_s)
        ts = t0 + np.repeat(s_at, sizes) + _burst_offsets(sizes, 40.0, rng)
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
        region = rng.choice(len(REGIONS), p=_REGION_P)
        parts.append(
            _rows(
                n,
                ts=ts,
                cust=accounts[acc],
                merch=colluders[r],
                amount=np.maximum(amount, 0.01),
                channel=channel,
                device=devices[dev],
                region=region,
                ftype=FAKE,
                incident=accounts[acc],
            )
        )
    return _concat(parts)


def _compromised_merchants(
    p: SimulateParams, w: _World, legit: _Rows, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of legitimate rows that become skimming fraud, their new amounts and
    incidents (one per merchant and customer)."""
    q = p.compromised_merchant
    empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
    if q.merchants == 0 or q.fraud_share == 0:
        return empty
    counts = np.bincount(legit.merch, minlength=len(w.m_cat)).astype(np.float64)
    shops = np.isin(w.m_cat, _SKIMMABLE) & ~w.m_online & (counts > 0)
    if not shops.any():
        shops = counts > 0
    # skimmers go where the card traffic is
    weight = np.where(shops, counts, 0.0)
    n = min(q.merchants, int(shops.sum()))
    if n == 0:
        return empty
    chosen = rng.choice(len(w.m_cat), n, replace=False, p=weight / weight.sum())
    days_s = q.days * DAY
    at = np.flatnonzero(np.isin(legit.merch, chosen))
    pos, amount, incident = [], [], []
    for m in chosen:  # a few dozen merchants
        t0 = rng.uniform(w.start, max(w.end - days_s, w.start + 1))
        rows = at[(legit.merch[at] == m) & (legit.ts[at] >= t0) & (legit.ts[at] < t0 + days_s)]
        hit = rows[rng.random(len(rows)) < q.fraud_share]
        pos.append(hit)
        # skimmed payments are charged a little more than the customer meant to pay
        amount.append(np.round(legit.amount[hit] * rng.uniform(1.05, 1.8, len(hit)), 2))
        incident.append(int(m) * np.int64(w.n_customers) + legit.cust[hit])
    return np.concatenate(pos), np.concatenate(amount), np.concatenate(incident)


def _skim(legit: _Rows, pos: np.ndarray, amount: np.ndarray, incident: np.ndarray) -> _Rows:
    """New rows where the payments at ``pos`` became compromised-merchant fraud."""
    ftype, amounts, incidents = legit.ftype.copy(), legit.amount.copy(), legit.incident.copy()
    ftype[pos], amounts[pos], incidents[pos] = COMPROMISED, amount, incident
    return replace(legit, ftype=ftype, amount=amounts, incident=incidents)


def _forged_identities(p: SimulateParams, w: _World, ids: _Ids, rng: np.random.Generator) -> _Rows:
    q = p.forged_identity
    if q.accounts == 0:
        return _rows(0)
    within_s = q.within_days * DAY
    created = rng.uniform(w.start, max(w.end - within_s, w.start + 1), q.accounts)
    accounts = ids.accounts(created.astype(np.int64))
    devices = ids.devices(q.accounts)
    regions = rng.choice(len(REGIONS), q.accounts, p=_REGION_P)
    k = 1 + rng.poisson(max(q.payments_mean - 1.0, 0.0), q.accounts)
    acc = np.repeat(np.arange(q.accounts), k)
    # first payment within hours of opening, the rest spread over the following days
    first = created + rng.exponential(2 * HOUR, q.accounts) + 600
    spread = rng.uniform(0, within_s, len(acc))
    spread[np.cumsum(k) - k] = 0.0
    ts = np.clip((first[acc] + spread).astype(np.int64), w.start, w.end - 1)
    sigma = 0.6
    amount = rng.lognormal(np.log(q.amount_mean) - sigma**2 / 2, sigma, len(acc))
    amount = np.where(
        rng.random(len(acc)) < 0.4, np.maximum(100.0, np.round(amount, -2)), np.round(amount, 2)
    )
    merch = _category_pool(w, _CASH_OUT).draw(rng.random(len(acc)))
    channel = np.where(rng.random(len(acc)) < 0.6, APP, WEB)
    return _rows(
        len(acc),
        ts=ts,
        cust=accounts[acc],
        merch=merch,
        amount=amount,
        channel=channel,
        device=devices[acc],
        region=regions[acc],
        ftype=FORGED,
        incident=accounts[acc],
    )


def new_pattern_start(p: SimulateParams) -> pd.Timestamp:
    """When the new fraud pattern begins: ``start + start_fraction * n_days`` (UTC)."""
    start = _start_seconds(p.start)
    return pd.Timestamp(_new_start_s(p, start), unit="s", tz="UTC")


def _new_start_s(p: SimulateParams, start: int) -> int:
    return start + int(np.ceil(p.new_pattern.start_fraction * p.n_days * DAY))


def _new_pattern(p: SimulateParams, w: _World, rng: np.random.Generator) -> _Rows:
    q = p.new_pattern
    t_new = _new_start_s(p, w.start)
    if not q.enabled or t_new >= w.end:
        return _rows(0)
    n_v = _how_many(q.victims_per_1000_customers, p.n_customers)
    last_day_start = w.start + w.c_last_day.astype(np.int64) * DAY
    eligible = np.flatnonzero((last_day_start > t_new) & (w.c_created < t_new))
    n_v = min(n_v, len(eligible))
    if n_v == 0:
        return _rows(0)
    victims = rng.choice(eligible, n_v, replace=False).astype(np.int32)
    # testers work at night, local time, when card holders sleep
    t_from = np.maximum(t_new, w.start + w.c_first_day[victims].astype(np.int64) * DAY)
    t_to = np.minimum(w.end, last_day_start[victims])
    t0 = rng.uniform(t_from, t_to).astype(np.int64)
    night = rng.random(n_v) < 0.7
    day0 = (t0 - w.start) // DAY
    at_night = _local_to_utc(day0, rng.uniform(0.5, 5.5, n_v), w.start)
    at_night = np.where(at_night < t_from, at_night + DAY, at_night)
    t0 = np.where(night & (at_night < t_to), at_night, t0)

    k = 1 + rng.poisson(max(q.payments_mean - 1.0, 0.0), n_v)
    vic = np.repeat(np.arange(n_v), k)
    ts = t0[vic] + _burst_offsets(k, 75.0, rng).astype(np.int64)
    ts = np.clip(ts, t_new, w.end - 1)
    # a handful of digital-goods and games shops per stolen card
    testing = _category_pool(w, _CARD_TESTING)
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
    return _rows(
        len(vic),
        ts=ts,
        cust=cust,
        merch=merch,
        amount=np.round(amount, 2),
        channel=channel,
        device=w.phone_at(cust, day),
        region=w.region_at(cust, day),
        ftype=NEW,
        incident=cust,
    )


# ----------------------------------------------------------------------------- labels
@dataclass(frozen=True)
class _Labels:
    label_time: np.ndarray  # int64 seconds, NaT sentinel where unknown
    reported: np.ndarray  # bool
    report_time: np.ndarray  # int64 seconds, NaT sentinel where none


_NAT = np.iinfo(np.int64).min  # numpy's NaT when viewed as datetime64


def _labels(p: SimulateParams, rows: _Rows, rng: np.random.Generator) -> _Labels:
    q = p.labels
    n = len(rows)
    label_time = np.full(n, _NAT, dtype=np.int64)
    reported = np.zeros(n, dtype=bool)
    report_time = np.full(n, _NAT, dtype=np.int64)
    fraud = np.flatnonzero(rows.ftype > 0)
    if len(fraud) == 0:
        return _Labels(label_time, reported, report_time)
    ts, ftype = rows.ts[fraud], rows.ftype[fraud]
    # victims report a whole incident, some hours after its last payment
    key = ftype.astype(np.int64) * (np.int64(1) << 40) + rows.incident[fraud]
    incidents, inc = np.unique(key, return_inverse=True)
    last = np.full(len(incidents), np.iinfo(np.int64).min)
    np.maximum.at(last, inc, ts)
    inc_type = (incidents >> 40).astype(np.int8)
    reports = _REPORTABLE[inc_type] & (rng.random(len(incidents)) < q.report_share)
    after = rng.lognormal(np.log(q.report_hours_median), 0.8, len(incidents)) * HOUR
    inc_report = last + after.astype(np.int64)
    rep = reports[inc]
    r_time = inc_report[inc]
    review = (rng.lognormal(np.log(3.0), 0.6, len(fraud)) * HOUR).astype(np.int64)
    # the rest wait for chargebacks and reviews: days to weeks, capped
    delay_days = np.minimum(rng.lognormal(np.log(q.delay_days_median), 0.6, len(fraud)), q.delay_days_max)
    delay = np.maximum(delay_days * DAY, HOUR).astype(np.int64)
    lt = np.where(rep, r_time + review, ts + delay)
    # never-labelled fraud comes from the unreported, sized so the overall share is as set
    share = q.never_labelled_share * len(fraud) / max(int((~rep).sum()), 1)
    never = ~rep & (rng.random(len(fraud)) < share)
    label_time[fraud] = np.where(never, _NAT, lt)
    reported[fraud] = rep
    report_time[fraud] = np.where(rep, r_time, _NAT)
    return _Labels(label_time, reported, report_time)


# ----------------------------------------------------------------------------- assemble
def _strings(values: Sequence[str], codes: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """A pandas ``string`` column from codes into ``values``, built in Arrow without Python
    objects per row."""
    idx = pa.array(codes.astype(np.int32), mask=missing)
    arr = pa.array(list(values), type=pa.string()).take(idx)
    return pd.Series(pd.arrays.ArrowStringArray(arr), copy=False)


def _times(seconds: np.ndarray) -> pd.Series:
    ns = np.where(seconds == _NAT, _NAT, seconds * 1_000_000_000)
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC")


def _ids(prefix: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct random ids such as ``C048213``.

    Random numbers so that an id does not tell when (or why) an account or device was made;
    a prefix of one permutation, so that the first ids stay the same when fraud scenarios
    add accounts or devices after them.
    """
    width = max(6, len(str(4 * n)))
    numbers = rng.permutation(10**width - 1)[:n] + 1
    return [f"{prefix}{k:0{width}d}" for k in numbers.tolist()]


def _merchant_ids(n: int) -> list[str]:
    width = max(5, len(str(n)))
    return [f"M{k:0{width}d}" for k in range(1, n + 1)]


def _assemble(
    w: _World,
    rows: _Rows,
    labels: _Labels,
    ids: _Ids,
    created: np.ndarray,
    customer_rng: np.random.Generator,
    device_rng: np.random.Generator,
) -> pd.DataFrame:
    order = np.argsort(rows.ts, kind="stable")
    rows = rows.take(order)
    labels = _Labels(*(a[order] for a in (labels.label_time, labels.reported, labels.report_time)))
    n = len(rows)
    df = pd.DataFrame(
        {
            "transaction_id": np.arange(1, n + 1, dtype=np.int64),
            "timestamp": _times(rows.ts),
            "customer_id": _strings(_ids("C", ids.n_customers, customer_rng), rows.cust),
            "merchant_id": _strings(_merchant_ids(len(w.m_cat)), rows.merch),
            "amount": rows.amount,
            "merchant_name": _strings(w.m_names, rows.merch),
            "merchant_category": _strings(CATEGORIES, w.m_cat[rows.merch]),
            "currency": _strings([CURRENCY], np.zeros(n, dtype=np.int32)),
            "channel": _strings(CHANNELS, rows.channel),
            "device_id": _strings(_ids("D", ids.n_devices, device_rng), rows.device),
            "region": _strings(REGIONS, rows.region),
            "account_created_at": _times(created[rows.cust]),
            "is_fraud": (rows.ftype > 0).astype(np.int8),
            "fraud_type": _strings(FRAUD_TYPES, np.maximum(rows.ftype - 1, 0), rows.ftype == 0),
            "label_time": _times(labels.label_time),
            "reported_by_user": labels.reported,
            "report_time": _times(labels.report_time),
        }
    )
    return df[CANONICAL]


# ----------------------------------------------------------------------------- public API
def simulate(params: SimulateParams, progress: bool = False) -> pd.DataFrame:
    """Generate OKPay transactions with fraud and late-arriving labels.

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
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(params.seed).spawn(10)]
    with tqdm(total=len(STAGES), desc="simulate", unit="stage", disable=not progress) as bar:

        def done() -> None:
            bar.update(1)
            if bar.n < len(STAGES):
                bar.set_postfix_str(STAGES[bar.n])

        bar.set_postfix_str(STAGES[0])
        w = _world(params, streams[0])
        ids = _Ids(w.n_customers, w.n_devices)
        done()
        legit = _legit(w, streams[1])
        done()
        ato = _account_takeover(params, w, legit, ids, streams[2])
        done()
        fake = _fake_orders(params, w, ids, streams[3])
        done()
        pos, amount, incident = _compromised_merchants(params, w, legit, streams[4])
        legit = _skim(legit, pos, amount, incident)
        done()
        forged = _forged_identities(params, w, ids, streams[5])
        done()
        new = _new_pattern(params, w, streams[6])
        done()
        rows = _concat([legit, ato, fake, forged, new])
        del legit, ato, fake, forged, new  # the parts are copied into rows
        labels = _labels(params, rows, streams[7])
        done()
        created = np.concatenate([w.c_created, *ids.created])
        df = _assemble(w, rows, labels, ids, created, streams[8], streams[9])
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


def print_summary(df: pd.DataFrame) -> None:
    """Print a compact summary of simulated (or any canonical) transactions."""
    print(summary_text(df))


def summary_text(df: pd.DataFrame) -> str:
    """The text of :func:`print_summary`."""
    n = len(df)
    lines = [f"rows        {n:,}"]
    if n == 0:
        return lines[0]
    lines.append(f"time        {df['timestamp'].min()} .. {df['timestamp'].max()}")
    lines.append(f"customers   {df['customer_id'].nunique():,}")
    lines.append(f"merchants   {df['merchant_id'].nunique():,}")
    day = df["timestamp"].dt.floor("D")
    per_day = day.value_counts()
    lines.append(
        f"per day     {per_day.min():,} / {int(per_day.median()):,} / {per_day.max():,}  (min / median / max)"
    )
    if "is_fraud" not in df:
        return "\n".join(lines)
    fraud = df["is_fraud"] == 1
    f_day = fraud.groupby(day).sum().reindex(per_day.index, fill_value=0)
    lines.append(
        f"fraud/day   {f_day.min():,} / {f_day.median():g} / {f_day.max():,}  (fraud rate {fraud.mean():.3%})"
    )
    if not fraud.any():
        return "\n".join(lines)
    f = df[fraud]
    kind = f["fraud_type"].fillna("unknown") if "fraud_type" in f else pd.Series("fraud", f.index)
    table = pd.DataFrame(
        {
            "count": kind.value_counts(),
            "share_tx": kind.value_counts() / n,
            "amount": f["amount"].groupby(kind).sum(),
        }
    )
    if "label_time" in f:
        table["labelled"] = f["label_time"].notna().groupby(kind).mean()
    if "reported_by_user" in f:
        table["reported"] = f["reported_by_user"].astype(bool).groupby(kind).mean()
    table.loc["total"] = [
        table["count"].sum(),
        table["share_tx"].sum(),
        table["amount"].sum(),
        *([f["label_time"].notna().mean()] if "labelled" in table else []),
        *([f["reported_by_user"].mean()] if "reported" in table else []),
    ]
    fmt = {
        "count": "{:,.0f}".format,
        "share_tx": "{:.3%}".format,
        "amount": "{:,.0f}".format,
        "labelled": "{:.0%}".format,
        "reported": "{:.0%}".format,
    }
    lines.append("")
    lines.append(table.to_string(formatters=fmt))
    return "\n".join(lines)
