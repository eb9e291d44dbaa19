"""The feature state of the real-time path: one payment or label at a time, the same numbers
as :func:`okml.features.build_features` over the full history.

:class:`OnlineFeatures` keeps, per customer, merchant and device, the rows its windows still
need (each with the running prefix sums the batch engine uses, so a window's sum is the
same difference of the same two numbers) and compact summaries for everything that looks at
all history: running Kahan sums and counts, the sets of merchants, devices and regions a
customer has used, the count and the latest and earliest payment time of known frauds, and
the merchant's candidate breaks of a fraud streak. Global quantities (the share of known
fraud among all payments in a window) keep the window's payment times and the known frauds
among them.

The definitions are those of :mod:`okml.features.engine` (see its docstring); the parity is
a tested property (``tests/test_online.py``: hypothesis streams and a replay of simulated
data, every feature within 1e-9 of the batch engine).

Events and time
    Payments must come in the batch engine's order, (timestamp, transaction_id): a payment
    that is not after the latest one is refused (:class:`LateEvent`). A label (fraud known
    at ``time``) is known to payments strictly after ``time``; it may be given at any point
    before those payments (labels wait in a queue until the first payment after their time).

Horizon
    The one thing the batch engine knows that a stream cannot is whether a payment's label
    will *ever* come. The merchant fraud streak counts back over settled payments not (yet)
    known as fraud, so the state keeps those payments, and the index of payments that labels
    are matched to, for ``horizon`` (default 180 days). A label for a payment older than
    that is not used (counted in :attr:`OnlineFeatures.unmatched_labels`); with every label
    within the horizon the numbers are exact.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right, insort
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from okml.config import FeatureParams, parse_duration
from okml.errors import OkmlError
from okml.features.graph import refuse
from okml.features.registry import feature_names

NS = 1_000_000_000
_DAY = 86400 * NS
_STD_FLOOR = 0.01  # as in okml.features.engine
_ROUND_TO, _ROUND_TOL = 10.0, 0.005
NAN = math.nan


class LateEvent(OkmlError):
    """A payment that is not after the latest one the state has taken."""


def _seconds(values: Any) -> list[int]:
    return [parse_duration(v) for v in (values if isinstance(values, list) else [values])]


@lru_cache(maxsize=256)
def _suffix(seconds: int) -> str:
    """A window's name suffix (``1h``), as the registry names it; cached: the hot path asks
    for it about 20 times a payment."""
    from okml.config import format_duration

    return format_duration(seconds)


def to_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch (UTC) of a timestamp (``None`` for a missing one)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        return None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.as_unit("ns").value)


class _Kahan:
    """A running sum with Kahan compensation, the arithmetic of ``_kernels.prefix_sums``."""

    __slots__ = ("acc", "comp")

    def __init__(self) -> None:
        self.acc, self.comp = 0.0, 0.0

    def add(self, v: float) -> None:
        y = v - self.comp
        s = self.acc + y
        self.comp = (s - self.acc) - y
        self.acc = s


def _ratio_z(amount: float, n: int, s1: float, s2: float) -> tuple[float, float]:
    """``_kernels._ratio_z`` in Python floats (IEEE doubles, no fastmath there either)."""
    if n == 0:
        return NAN, NAN
    mean = s1 / n
    var = s2 / n - mean * mean
    if var < 0:
        var = 0.0
    spread = math.sqrt(var)
    low = _STD_FLOOR * mean
    if spread < low or math.isnan(low):
        spread = low
    z = (amount - mean) / spread if n >= 2 and spread != 0 else NAN
    return _ratio(amount, mean), z


def _div(a: float, b: float) -> float:
    """a / b, NaN where b is 0 (``_kernels.divide``)."""
    return a / b if b != 0 else NAN


def _ratio(a: float, b: float) -> float:
    """a / b as numpy divides (inf or NaN for b == 0; the batch engine then refuses it)."""
    if b != 0:
        return a / b
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


# ---------------------------------------------------------------------------- entities
@dataclass(slots=True)
class _Row:
    """A payment as its entities' windows keep it."""

    t: int
    amount: float
    cum: float  # the entity's prefix sum of amounts before this row
    cum2: float  # ... of squared amounts
    hour: int
    merchant: Any
    customer: Any


class _Windows:
    """An entity's rows in time order, as long as its longest window needs them, with the
    running prefix sums (``abs`` indices count every row the entity ever had). Rows live in
    a list from ``head`` on (binary search needs random access; the list is compacted when
    half of it is gone)."""

    __slots__ = ("rows", "times", "head", "base", "n", "s1", "s2", "keep")

    def __init__(self, keep: int) -> None:
        self.rows: list[_Row] = []
        self.times: list[int] = []  # the rows' times, for bisect
        self.head = 0  # rows[head:] are kept
        self.base = 0  # abs index of rows[0]
        self.n = 0  # rows ever
        self.s1, self.s2 = _Kahan(), _Kahan()
        self.keep = keep

    def start(self, t: int, seconds: int) -> int:
        """Abs index of the first row with time > t - seconds (``n`` when none)."""
        return self.base + bisect_right(self.times, t - seconds * NS, self.head)

    def row(self, i: int) -> _Row:
        return self.rows[i - self.base]

    def cum(self, i: int) -> tuple[float, float]:
        """Prefix sums before abs row ``i`` (``i == n``: now)."""
        if i == self.n:
            return self.s1.acc, self.s2.acc
        r = self.rows[i - self.base]
        return r.cum, r.cum2

    def count_sum(self, t: int, seconds: int) -> tuple[int, float]:
        p = self.start(t, seconds)
        return self.n - p, self.s1.acc - self.cum(p)[0]

    def window(self, t: int, seconds: int) -> list[_Row]:
        return self.rows[self.start(t, seconds) - self.base :]

    def add(self, row: _Row) -> None:
        row.cum, row.cum2 = self.s1.acc, self.s2.acc
        self.rows.append(row)
        self.times.append(row.t)
        self.n += 1
        self.s1.add(row.amount)
        self.s2.add(row.amount**2)

    def evict(self, t: int, floor: int | None = None) -> None:
        """Drop rows no window of a payment at ``t`` or later needs (none at or past abs
        index ``floor``)."""
        cut = bisect_right(self.times, t - self.keep * NS, self.head)
        if floor is not None:
            cut = min(cut, floor - self.base)
        self.head = max(self.head, cut)
        if self.head > 64 and self.head * 2 > len(self.rows):
            del self.rows[: self.head], self.times[: self.head]
            self.base += self.head
            self.head = 0


@dataclass(slots=True)
class _Customer:
    win: _Windows
    last: int | None = None
    merchants: set = field(default_factory=set)
    devices: set = field(default_factory=set)
    regions: set = field(default_factory=set)
    known: int = 0  # known frauds
    latest_known: tuple | None = None  # (t, id) of the latest known fraud payment


@dataclass(slots=True)
class _Merchant:
    win: _Windows
    # known frauds, by (payment time, id): keys, times and each one's
    # cust_amount_median_ratio at its own time
    fraud_keys: list = field(default_factory=list)
    fraud_times: list = field(default_factory=list)
    fraud_ratios: list = field(default_factory=list)
    earliest: tuple | None = None  # (t, id) of the earliest and latest known fraud payments
    latest: tuple | None = None
    first_t: int | None = None  # the merchant's first payment time
    settled: int = 0  # abs rows [0, settled) are settled
    # settled rows not known as fraud, by abs index -> (t, time of the next row or None)
    breaks: OrderedDict = field(default_factory=OrderedDict)
    dropped: tuple | None = None  # the latest break older than the horizon: (abs, t, t_next)
    known_rows: set = field(default_factory=set)  # abs indices of rows known as fraud, unsettled


@dataclass(slots=True)
class _Device:
    rows: deque = field(default_factory=deque)  # (t, customer)
    counts: Counter = field(default_factory=Counter)


@dataclass(slots=True)
class _Payment:
    """What a label needs to find its payment's entities."""

    key: tuple
    customer: Any
    merchant: Any
    m_index: int  # abs index among the merchant's rows
    ratio: float
    known: bool = False


# ------------------------------------------------------------------------------- state
class OnlineFeatures:
    """Point-in-time features of a stream of payments and labels.

    Parameters
    ----------
    params:
        The feature parameters the model was trained with.
    columns:
        The input columns the model saw (optional families need ``device_id``, ``region``,
        ``account_created_at``, labels): :attr:`names` is then the model's feature list.
    horizon:
        How long labels are awaited (see the module docstring).

    Raises
    ------
    ConfigError
        ``features.families`` switches on the graph or compromise family, which the online
        path does not compute (:func:`okml.features.graph.refuse`).
    """

    def __init__(self, params: FeatureParams, columns: Iterable[str], horizon: str | int = "180d") -> None:
        refuse(params, "okml serve (the online path)", "serve a model trained without them")
        self.params = params
        self.names = feature_names(params, columns)
        self._want = set(self.names)
        self.tz = ZoneInfo(params.timezone)
        p = params
        self.cust_w = _seconds(p.customer_windows)
        (self.hist_w,) = _seconds(p.history_window)
        (self.burst_w,) = _seconds(p.burst_window)
        (self.dev_w,) = _seconds(p.device_window)
        (self.pair_w,) = _seconds(p.pair_window)
        self.merch_w = _seconds(p.merchant_windows)
        self.mfraud_w = _seconds(p.merchant_fraud_windows)
        (self.profile_w,) = _seconds(p.merchant_fraud_profile_window)
        self.delay = parse_duration(p.label_delay)
        self.delayed_w = _seconds(p.delayed_risk_windows)
        self.horizon = parse_duration(horizon)
        self.cust_keep = max([*self.cust_w, self.hist_w, self.burst_w, self.pair_w])
        delayed = [self.delay + w for w in self.delayed_w]
        self.fraud_keep = max([*self.merch_w, *self.mfraud_w, self.profile_w, *delayed])
        self.merch_keep = max(self.fraud_keep, self.delay)
        self.customers: dict[Any, _Customer] = {}
        self.merchants: dict[Any, _Merchant] = {}
        self.devices: dict[Any, _Device] = {}
        self.payments: OrderedDict[Any, _Payment] = OrderedDict()  # by stream order
        self.global_times: list[int] = []  # all payments in the longest merchant window,
        self.global_head = 0  # from this index on
        self.global_known: list[int] = []  # times of known frauds in that window, sorted
        self.pending: list[tuple[int, int, Any]] = []  # (label ns, seq, transaction id)
        self._seq = 0
        self.last_key: tuple | None = None
        self.unmatched_labels = 0

    # ------------------------------------------------------------------------ labels
    def label(self, transaction_id: Any, is_fraud: int, time: Any) -> None:
        """A label event: ``transaction_id`` is (``is_fraud=1``) a fraud known from ``time``
        on. A legitimate verdict changes no feature (the batch engine has no label events
        for legitimate payments)."""
        if int(is_fraud) != 1:
            return
        at = to_ns(time)
        if at is None:
            raise OkmlError(f"label of {transaction_id}: no time")
        heapq.heappush(self.pending, (at, self._seq, transaction_id))
        self._seq += 1

    def _apply_labels(self, t: int) -> None:
        """Labels known to a payment at ``t``: those with time < t."""
        while self.pending and self.pending[0][0] < t:
            _, _, tx = heapq.heappop(self.pending)
            rec = self.payments.get(tx)
            if rec is None:  # never seen, or paid before the horizon
                self.unmatched_labels += 1
                continue
            if rec.known:
                continue
            rec.known = True
            self._known_fraud(rec)

    def _known_fraud(self, rec: _Payment) -> None:
        c = self.customers[rec.customer]
        c.known += 1
        if c.latest_known is None or rec.key > c.latest_known:
            c.latest_known = rec.key
        m = self.merchants[rec.merchant]
        at = bisect_right(m.fraud_keys, rec.key)
        m.fraud_keys.insert(at, rec.key)
        m.fraud_times.insert(at, rec.key[0])
        m.fraud_ratios.insert(at, rec.ratio)
        if m.earliest is None or rec.key < m.earliest:
            m.earliest = rec.key
        if m.latest is None or rec.key > m.latest:
            m.latest = rec.key
        if rec.m_index < m.settled:
            m.breaks.pop(rec.m_index, None)
        else:
            m.known_rows.add(rec.m_index)
        insort(self.global_known, rec.key[0])

    # ----------------------------------------------------------------------- payments
    def payment(self, pay: Mapping[str, Any]) -> dict[str, float]:
        """The features of payment ``pay`` (canonical fields: ``transaction_id``,
        ``timestamp``, ``customer_id``, ``merchant_id``, ``amount`` and, as the model
        needs, ``device_id``, ``region``, ``account_created_at``) from everything before
        it; then ``pay`` joins the state. Returns ``{feature: value}`` in :attr:`names`
        order."""
        t = to_ns(pay["timestamp"])
        if t is None:
            raise OkmlError("payment without a timestamp")
        tx = pay["transaction_id"]
        key = (t, tx)
        if self.last_key is not None and key <= self.last_key:
            raise LateEvent(
                f"payment {tx} at {pd.Timestamp(t, tz='UTC')} is not after the latest one "
                f"({self.last_key[1]} at {pd.Timestamp(self.last_key[0], tz='UTC')})"
            )
        self._apply_labels(t)
        out = self._features(pay, t, tx, key)
        self.last_key = key
        return {name: out[name] for name in self.names}

    def _features(self, pay: Mapping[str, Any], t: int, tx: Any, key: tuple) -> dict[str, float]:
        want, out = self._want, {}
        amount = float(pay["amount"])
        cid, mid = pay["customer_id"], pay["merchant_id"]
        device = _present(pay.get("device_id"))
        region = _present(pay.get("region"))
        wall = datetime.fromtimestamp(t // NS, tz=UTC).astimezone(self.tz)
        hour = wall.hour

        cust = self.customers.get(cid)
        if cust is None:
            cust = self.customers[cid] = _Customer(_Windows(self.cust_keep))
        merch = self.merchants.get(mid)
        if merch is None:
            merch = self.merchants[mid] = _Merchant(_Windows(self.merch_keep))
        cw, mw = cust.win, merch.win

        # calendar
        out["hour"] = float(hour)
        out["is_night"] = float(hour < 6)
        out["is_weekend"] = float(wall.weekday() >= 5)
        out["cust_secs_since_prev"] = (t - cust.last) / NS if cust.last is not None else NAN

        # customer velocity
        for w in self.cust_w:
            n, s = cw.count_sum(t, w)
            sfx = _suffix(w)
            out[f"cust_count_{sfx}"], out[f"cust_sum_{sfx}"] = float(n), s
            out[f"cust_mean_{sfx}"] = _div(s, n)

        # customer history
        hs = _suffix(self.hist_w)
        p = cw.start(t, self.hist_w)
        c1, c2 = cw.cum(p)
        out[f"cust_amount_ratio_{hs}"], out[f"cust_amount_z_{hs}"] = _ratio_z(
            amount, cw.n - p, cw.s1.acc - c1, cw.s2.acc - c2
        )
        out["cust_amount_ratio_all"], out["cust_amount_z_all"] = _ratio_z(amount, cw.n, cw.s1.acc, cw.s2.acc)
        hist = cw.window(t, self.hist_w)
        recent = sorted(r.amount for r in hist[-self.params.median_payments :])
        k = len(recent)
        median = (recent[(k - 1) // 2] + recent[k // 2]) / 2 if k else NAN
        ratio = _ratio(amount, median) if k else NAN
        out[f"cust_amount_median_ratio_{hs}"] = ratio
        burst = cw.window(t, self.burst_w)
        largest = max((r.amount for r in burst), default=NAN)
        out[f"cust_max_median_ratio_{_suffix(self.burst_w)}"] = _ratio(largest, median) if k else NAN
        out["cust_first_merchant"] = float(mid not in cust.merchants)
        out["cust_first_device"] = NAN if device is None else float(device not in cust.devices)
        out["cust_new_region"] = NAN if region is None else float(region not in cust.regions)
        near = sum(1 for r in hist if (r.hour - hour) % 24 in (0, 1, 23))
        out[f"cust_hour_share_{hs}"] = near / len(hist) if hist else NAN
        if "account_age_days" in want:
            created = to_ns(pay.get("account_created_at"))
            out["account_age_days"] = (t - created) / _DAY if created is not None else NAN

        # merchant
        self._settle(merch, t)
        for w in self.merch_w:
            n, s = mw.count_sum(t, w)
            sfx = _suffix(w)
            out[f"merch_count_{sfx}"], out[f"merch_sum_{sfx}"] = float(n), s
            if f"merch_risk_{sfx}" in want:
                known = self._merchant_known(merch, t, w)
                g = self._global_rate(t, w)
                den = n + self.params.risk_smoothing
                out[f"merch_risk_{sfx}"] = (known + self.params.risk_smoothing * g) / den if den != 0 else NAN

        # customer fraud history
        out["cust_known_frauds"] = float(cust.known)
        out["cust_days_since_known_fraud"] = (
            (t - cust.latest_known[0]) / _DAY if cust.latest_known is not None else NAN
        )

        # merchant fraud history
        for w in self.mfraud_w:
            out[f"merch_known_frauds_{_suffix(w)}"] = float(self._merchant_known(merch, t, w))
        out["merch_days_since_known_fraud"] = (t - merch.latest[0]) / _DAY if merch.latest else NAN
        out["merch_days_since_first_known_fraud"] = (t - merch.earliest[0]) / _DAY if merch.earliest else NAN
        d = self.delay
        for w in self.delayed_w:
            frauds = self._merchant_known(merch, t, d + w) - self._merchant_known(merch, t, d)
            paid = (mw.n - mw.start(t, d + w)) - (mw.n - mw.start(t, d))
            out[f"merch_delayed_risk_{_suffix(w)}"] = _div(float(frauds), float(paid))
        out.update(self._streak(merch, t))
        pname = f"merch_known_fraud_amount_ratio_{_suffix(self.profile_w)}"
        if pname in want:
            edge = t - self.profile_w * NS
            lo = bisect_right(merch.fraud_times, edge)
            ratios = [r for r in merch.fraud_ratios[lo:] if math.isfinite(r)]
            total = float(sum(np.asarray(ratios, dtype=np.longdouble))) if ratios else 0.0
            out[pname] = _div(total, float(len(ratios)))

        # ring
        dname = f"device_customers_{_suffix(self.dev_w)}"
        if dname in want:
            if device is None:
                out[dname] = NAN
            else:
                dev = self.devices.get(device)
                if dev is None:
                    dev = self.devices[device] = _Device()
                edge = t - self.dev_w * NS
                while dev.rows and dev.rows[0][0] <= edge:
                    _, old = dev.rows.popleft()
                    dev.counts[old] -= 1
                    if dev.counts[old] == 0:
                        del dev.counts[old]
                out[dname] = float(len(dev.counts) - (cid in dev.counts))
                dev.rows.append((t, cid))
                dev.counts[cid] += 1
        pair = cw.window(t, self.pair_w)
        out[f"pair_count_{_suffix(self.pair_w)}"] = float(sum(1 for r in pair if r.merchant == mid))
        out["is_round_amount"] = float(abs(amount - _ROUND_TO * round(amount / _ROUND_TO)) < _ROUND_TOL)
        out["amount"] = amount

        # the payment joins the state
        row = _Row(t, amount, 0.0, 0.0, hour, mid, cid)
        cw.add(row)
        cust.last = t
        cust.merchants.add(mid)
        if device is not None:
            cust.devices.add(device)
        if region is not None:
            cust.regions.add(region)
        mrow = _Row(t, amount, 0.0, 0.0, hour, mid, cid)
        if merch.first_t is None:
            merch.first_t = t
        self.payments[tx] = _Payment(key, cid, mid, mw.n, ratio)
        mw.add(mrow)
        self.global_times.append(t)
        cw.evict(t)
        mw.evict(t, floor=merch.settled)
        self._evict_global(t)
        self._evict_payments(t)
        return out

    # ------------------------------------------------------------------------ pieces
    def _merchant_known(self, m: _Merchant, t: int, seconds: int) -> int:
        """The merchant's payments in (t - seconds, t] known as fraud now."""
        return len(m.fraud_times) - bisect_right(m.fraud_times, t - seconds * NS)

    def _global_rate(self, t: int, seconds: int) -> float:
        edge = t - seconds * NS
        n = len(self.global_times) - bisect_right(self.global_times, edge, self.global_head)
        known = len(self.global_known) - bisect_right(self.global_known, edge)
        return known / n if n else 0.0

    def _settle(self, m: _Merchant, t: int) -> None:
        """Rows paid at least ``label_delay`` before ``t`` become settled: a row not known
        as fraud is a candidate break of the streak."""
        edge = t - self.delay * NS
        w = m.win
        while m.settled < w.n and w.row(m.settled).t <= edge:
            i = m.settled
            row_t = w.row(i).t
            if m.breaks:
                last = next(reversed(m.breaks))
                if last == i - 1:
                    m.breaks[last] = (m.breaks[last][0], row_t)
            if m.dropped is not None and m.dropped[0] == i - 1:
                m.dropped = (m.dropped[0], m.dropped[1], row_t)
            if i in m.known_rows:
                m.known_rows.discard(i)
            else:
                m.breaks[i] = (row_t, None)
            m.settled += 1
        horizon = t - self.horizon * NS
        while m.breaks:
            first = next(iter(m.breaks))
            bt, nxt = m.breaks[first]
            if bt > horizon:
                break
            m.breaks.popitem(last=False)
            m.dropped = (first, bt, nxt)

    def _streak(self, m: _Merchant, t: int) -> dict[str, float]:
        if m.breaks:
            brk = next(reversed(m.breaks))
            brk_t, nxt = m.breaks[brk]
        elif m.dropped is not None:
            brk, brk_t, nxt = m.dropped
        else:
            brk, brk_t, nxt = -1, None, m.first_t
        run = m.settled - 1 - brk
        return {
            "merch_fraud_streak": float(run),
            "merch_fraud_streak_days": (t - nxt) / _DAY if run > 0 and nxt is not None else NAN,
            "merch_days_since_clean_payment": (t - brk_t) / _DAY if brk_t is not None else NAN,
        }

    def _evict_global(self, t: int) -> None:
        edge = t - max(self.merch_w) * NS
        self.global_head = bisect_right(self.global_times, edge, self.global_head)
        if self.global_head > 1024 and self.global_head * 2 > len(self.global_times):
            del self.global_times[: self.global_head]
            self.global_head = 0
        cut = bisect_right(self.global_known, edge)
        if cut:
            del self.global_known[:cut]

    def _evict_payments(self, t: int) -> None:
        edge = t - self.horizon * NS
        while self.payments:
            tx, rec = next(iter(self.payments.items()))
            if rec.key[0] > edge:
                break
            self.payments.popitem(last=False)

    def prune(self, t: int) -> None:
        """Drop what no window of a payment at ``t`` or later needs, for every entity
        (entities prune themselves when they pay; this sweeps the idle ones)."""
        edge = t - self.fraud_keep * NS
        for m in self.merchants.values():
            m.win.evict(t, floor=m.settled)
            cut = bisect_right(m.fraud_times, edge)
            if cut:
                del m.fraud_keys[:cut], m.fraud_times[:cut], m.fraud_ratios[:cut]
        for c in self.customers.values():
            c.win.evict(t)


def _present(value: Any) -> Any:
    """A key, or ``None`` when missing (None, NaN, pandas NA)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def replay(tx: pd.DataFrame, params: FeatureParams, state: OnlineFeatures | None = None) -> pd.DataFrame:
    """The features of every payment of ``tx`` (canonical, validated) as the online path
    computes them: payments in (timestamp, transaction_id) order, each label given at its
    ``label_time`` (known to the payments after it). Returns the feature table indexed by
    ``transaction_id`` in ``tx``'s row order, like :func:`okml.features.build_features`."""
    state = state or OnlineFeatures(params, tx.columns)
    ordered = tx.sort_values(["timestamp", "transaction_id"], kind="stable")
    cols = [c for c in ("transaction_id", "timestamp", "customer_id", "merchant_id", "amount",
                        "device_id", "region", "account_created_at") if c in ordered.columns]  # fmt: skip
    if "is_fraud" in ordered.columns and "label_time" in ordered.columns:
        # labels wait in the state's queue until the first payment after their time
        frauds = ordered[(ordered["is_fraud"] == 1) & ordered["label_time"].notna()]
        for tx_id, at in zip(frauds["transaction_id"], frauds["label_time"], strict=True):
            state.label(tx_id, 1, at)
    rows = [state.payment(pay) for pay in ordered[cols].to_dict("records")]
    out = pd.DataFrame(rows, index=pd.Index(ordered["transaction_id"].to_numpy(), name="transaction_id"))
    return out.loc[tx["transaction_id"].to_numpy()]


def warm_state(
    tx: pd.DataFrame, params: FeatureParams, columns: Iterable[str] | None = None, horizon: str | int = "180d"
) -> OnlineFeatures:
    """The state :func:`replay` of ``tx`` (canonical, validated, with labels) would leave,
    built in batch: grouped arrays instead of one payment at a time (the warm start of
    ``okml serve``). Labels whose time is before the last payment are known, the others wait
    in the queue, as in a replay; the numbers that follow are the same
    (``tests/test_online.py``)."""
    from okml.features._kernels import kahan_states
    from okml.features._timeline import time_ns
    from okml.features.engine import intermediates

    state = OnlineFeatures(params, tx.columns if columns is None else columns, horizon)
    if len(tx) == 0:
        return state
    o = tx.sort_values(["timestamp", "transaction_id"], kind="stable").reset_index(drop=True)
    n = len(o)
    t, _ = time_ns(o["timestamp"])
    T = int(t[-1])
    amount = o["amount"].to_numpy(dtype=np.float64)
    hours = pd.DatetimeIndex(t.view("datetime64[ns]")).tz_localize("UTC").tz_convert(state.tz).hour
    hour = np.asarray(hours, dtype=np.int64)
    ids = o["transaction_id"].tolist()
    cust_ids, merch_ids = o["customer_id"].tolist(), o["merchant_id"].tolist()
    devices = o["device_id"].tolist() if "device_id" in o else [None] * n
    regions = o["region"].tolist() if "region" in o else [None] * n
    t_list = t.tolist()

    known = np.zeros(n, dtype=bool)
    if "is_fraud" in o and "label_time" in o:
        label_ns, unlabelled = time_ns(o["label_time"])
        fraud = (o["is_fraud"].to_numpy() == 1) & ~unlabelled
        known = fraud & (label_ns < T)  # applied by a replay: known to the last payment
        for i in np.flatnonzero(fraud & ~known):
            state.label(ids[i], 1, int(label_ns[i]))
    ratio = intermediates(o, params, ["median_ratio"])["median_ratio"].to_numpy(dtype=np.float64)

    def groups(keys: list[Any]) -> tuple[list[Any], np.ndarray, np.ndarray]:
        codes, uniques = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
        perm = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes[codes >= 0], minlength=len(uniques))
        off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        skip = int((codes < 0).sum())  # missing keys sort first
        return list(uniques), perm[skip:], off

    def windows(keep: int, pos: np.ndarray, cum: np.ndarray, cum2: np.ndarray, a: int, b: int,
                acc: tuple[float, float, float, float]) -> _Windows:  # fmt: skip
        w = _Windows(keep)
        edge = T - keep * NS
        first = a + int(np.searchsorted(t[pos[a:b]], edge, side="right"))
        w.rows = [
            _Row(t_list[p], float(amount[p]), float(cum[r]), float(cum2[r]), int(hour[p]),
                 merch_ids[p], cust_ids[p])
            for r, p in zip(range(first, b), pos[first:b].tolist(), strict=True)
        ]  # fmt: skip
        w.times = [row.t for row in w.rows]
        w.n, w.base = b - a, first - a
        w.s1.acc, w.s1.comp, w.s2.acc, w.s2.comp = acc
        return w

    # customers
    keys, pos, off = groups(cust_ids)
    v = amount[pos]
    cum, acc1, comp1 = kahan_states(off, v)
    cum2, acc2, comp2 = kahan_states(off, v * v)
    for g, key in enumerate(keys):
        a, b = int(off[g]), int(off[g + 1])
        rows = pos[a:b]
        c = _Customer(windows(state.cust_keep, pos, cum, cum2, a, b, (acc1[g], comp1[g], acc2[g], comp2[g])))
        c.last = t_list[rows[-1]]
        c.merchants = {merch_ids[p] for p in rows}
        c.devices = {devices[p] for p in rows if _present(devices[p]) is not None}
        c.regions = {regions[p] for p in rows if _present(regions[p]) is not None}
        mine = rows[known[rows]]
        c.known = len(mine)
        if len(mine):
            c.latest_known = (t_list[mine[-1]], ids[mine[-1]])
        state.customers[key] = c

    # merchants
    keys, pos, off = groups(merch_ids)
    v = amount[pos]
    cum, acc1, comp1 = kahan_states(off, v)
    cum2, acc2, comp2 = kahan_states(off, v * v)
    m_index = np.empty(n, dtype=np.int64)
    settled_edge, horizon_edge = T - state.delay * NS, T - state.horizon * NS
    fraud_edge = T - state.fraud_keep * NS
    for g, key in enumerate(keys):
        a, b = int(off[g]), int(off[g + 1])
        rows = pos[a:b]
        m_index[rows] = np.arange(b - a)
        m = _Merchant(windows(state.merch_keep, pos, cum, cum2, a, b, (acc1[g], comp1[g], acc2[g], comp2[g])))
        m.first_t = t_list[rows[0]]
        kr = rows[known[rows]]
        if len(kr):
            m.earliest, m.latest = (t_list[kr[0]], ids[kr[0]]), (t_list[kr[-1]], ids[kr[-1]])
            recent = kr[t[kr] > fraud_edge]
            m.fraud_keys = [(t_list[p], ids[p]) for p in recent]
            m.fraud_times = [t_list[p] for p in recent]
            m.fraud_ratios = [float(ratio[p]) for p in recent]
        times = t[rows]
        settled = int(np.searchsorted(times, settled_edge, side="right"))
        m.settled = settled
        is_known = known[rows]
        m.known_rows = {int(j) for j in np.flatnonzero(is_known[settled:]) + settled}
        open_ = np.flatnonzero(~is_known[:settled])  # settled, not known: breaks of a streak
        nxt = [t_list[rows[j + 1]] if j + 1 < settled else None for j in open_.tolist()]
        old = times[open_] <= horizon_edge
        if old.any():
            j = int(open_[old][-1])
            m.dropped = (j, t_list[rows[j]], nxt[int(np.flatnonzero(old)[-1])])
        m.breaks = OrderedDict(
            (int(j), (t_list[rows[j]], nx))
            for j, nx, o_ in zip(open_.tolist(), nxt, old.tolist(), strict=True)
            if not o_
        )
        # rows from the first unsettled one on stay (the next payments settle them)
        m.win.evict(T, floor=settled)
        state.merchants[key] = m

    # devices
    if "device_id" in o:
        dev_edge = T - state.dev_w * NS
        for p in np.flatnonzero(t > dev_edge).tolist():
            d = _present(devices[p])
            if d is None:
                continue
            dev = state.devices.get(d)
            if dev is None:
                dev = state.devices[d] = _Device()
            dev.rows.append((t_list[p], cust_ids[p]))
            dev.counts[cust_ids[p]] += 1

    # payments that labels can still find, the global window, the clock
    for p in np.flatnonzero(t > horizon_edge).tolist():
        rec = _Payment((t_list[p], ids[p]), cust_ids[p], merch_ids[p], int(m_index[p]), float(ratio[p]))
        rec.known = bool(known[p])
        state.payments[ids[p]] = rec
    g_edge = T - max(state.merch_w) * NS
    state.global_times = t[t > g_edge].tolist()
    state.global_known = sorted(t[known & (t > g_edge)].tolist())
    state.last_key = (T, ids[-1])
    return state
