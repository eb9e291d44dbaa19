"""Building the feature table: one function per family on a shared, sorted context.

Definitions (each one tested on hand-made frames in ``tests/test_features.py`` and against
a row-by-row implementation in ``tests/test_features_props.py``):

Order
    Transactions are ordered by (timestamp, transaction_id); "earlier" means earlier in
    that order, so of two payments at the same instant the one with the smaller id is
    earlier (ids compare as numbers when they are integers, as text when strings). A
    transaction never sees itself or anything after it.
Trailing window ``w`` at time ``t``
    The earlier transactions with timestamp in ``(t - w, t]``: a payment exactly ``w``
    before is outside, one at the same instant with a smaller id is inside.
Known fraud at ``t``
    ``is_fraud == 1`` and ``label_time < t`` (strictly). A missing ``label_time`` is never
    known. Legitimate rows carry no label event: nothing waits for them to be "known".

Families (names for the default windows; see :mod:`okml.features.registry` for all):

calendar
    ``hour`` (0-23), ``is_night`` (hour < 6), ``is_weekend`` (Saturday, Sunday), all in
    ``features.timezone``; ``cust_secs_since_prev``: seconds since the customer's previous
    payment (0 for a tie, NaN for the first).
customer_velocity
    ``cust_count_w``, ``cust_sum_w``, ``cust_mean_w``: the customer's payments in each
    window (mean NaN when there are none).
customer_history
    ``cust_amount_ratio_w``: amount / the customer's mean in ``history_window`` (NaN with
    no payment there); ``cust_amount_z_w``: (amount - mean) / spread, where spread is the
    population standard deviation floored at 1% of the mean (NaN with fewer than 2
    payments); ``_all`` versions over all earlier payments; ``cust_first_merchant``,
    ``cust_first_device``, ``cust_new_region``: 1 if the customer never paid this
    merchant / from this device / region before (NaN when device or region is missing);
    ``cust_hour_share_w``: share of the customer's payments in ``history_window`` whose
    hour of day is within one hour of this one (23 and 0 are neighbours; NaN with none);
    ``cust_amount_median_ratio_w``: amount / the median amount of the customer's latest
    ``median_payments`` payments in ``history_window`` (the mean of the two middle ones for
    an even count; NaN with none), a baseline that a few large frauds barely move;
    ``cust_max_median_ratio_w``: the customer's largest payment in ``burst_window`` / that
    same median (NaN with no payment in either);
    ``account_age_days``.
merchant
    ``merch_count_w``, ``merch_sum_w``.
merchant_risk
    ``merch_risk_w = (k + a * g) / (n + a)``: ``n`` earlier payments of the merchant in the
    window, ``k`` of them known fraud at ``t``, ``a = risk_smoothing``, ``g`` the same
    share over all merchants in the window (0 when the window is empty). A new merchant
    gets ``g``; with ``a = 0`` it is NaN.
customer_fraud_history
    ``cust_known_frauds``: the customer's earlier payments known to be fraud at ``t``;
    ``cust_days_since_known_fraud``: days since the latest of them (by payment time).
merchant_fraud_history
    For merchants, whose labels arrive late (a compromised terminal's frauds become known
    ``label_delay`` after they happen, so a window of the last ``label_delay`` holds no
    known fraud): ``merch_known_frauds_w``: the merchant's earlier payments in the window
    known to be fraud at ``t``; ``merch_days_since_known_fraud`` and
    ``merch_days_since_first_known_fraud``: days since the payment time of the latest and
    of the earliest of all of them; ``merch_delayed_risk_w``: among the merchant's
    payments in ``(t - label_delay - w, t - label_delay]``, the share known to be fraud at
    ``t`` (NaN with none), the Fraud Detection Handbook's delayed terminal risk.
    The merchant's *settled* payments are its earlier payments made at least
    ``label_delay`` before ``t`` (their labels should be in). ``merch_fraud_streak``: how
    many of the latest settled payments are known frauds at ``t``, counted back to the
    latest one that is not (a fraud whose label is not in yet, or never comes, ends the
    run too); ``merch_fraud_streak_days``: days since the first payment of that run (NaN
    with no run); ``merch_days_since_clean_payment``: days since that latest settled
    payment not known as fraud (NaN with none). ``merch_known_fraud_amount_ratio_w``
    (``w = merchant_fraud_profile_window``): over the merchant's payments in the window
    known to be fraud at ``t``, the mean of each one's ``cust_amount_median_ratio`` at its
    own time (frauds without one, a customer's first payment, are left out; NaN with none).
ring
    ``device_customers_w``: distinct *other* customers with a payment on this device in
    ``device_window`` (NaN without a device); ``pair_count_w``: this customer's payments to
    this merchant in ``pair_window``; ``is_round_amount``: a whole multiple of 10 (to half a
    cent).
amount
    ``amount``: the payment's amount.

Slicing: with :func:`~okml.features.registry.lookback` of history before a slice, every
feature whose registry entry has ``all_history=False`` is the same as over all data; the
``all_history`` ones (``cust_secs_since_prev``, ``cust_amount_ratio_all``,
``cust_amount_z_all``, ``cust_first_merchant``, ``cust_first_device``, ``cust_new_region``,
``cust_known_frauds``, ``cust_days_since_known_fraud``, ``merch_days_since_known_fraud``,
``merch_days_since_first_known_fraud``, ``merch_fraud_streak``, ``merch_fraud_streak_days``,
``merch_days_since_clean_payment``) describe the slice's history only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np
import pandas as pd
from tqdm import tqdm

from okml.config import FeatureParams, format_duration, parse_duration
from okml.errors import DataError, FeatureError
from okml.features._timeline import (
    NS,
    Keyed,
    Timeline,
    codes_of,
    combine,
    interval_count,
    interval_sum,
    last_started,
    time_ns,
)
from okml.features.registry import FAMILIES, feature_names, registry
from okml.schema import REQUIRED

_DAY = 86400 * NS
# z-scores divide by the customer's standard deviation, floored at this share of their mean:
# a customer who always pays the same amount gets a large, finite z instead of x / 0
_STD_FLOOR = 0.01
# "round" amounts are whole multiples of 10 up to half a cent of float noise
_ROUND_TO, _ROUND_TOL = 10.0, 0.005

Columns = dict[str, np.ndarray]


class _Context:
    """Arrays shared by the families, all in ``pos`` order, each built once on demand."""

    def __init__(
        self, tx: pd.DataFrame, params: FeatureParams, given: dict[str, np.ndarray] | None = None
    ) -> None:
        self.tx, self.params = tx, params
        # intermediates computed elsewhere (input order): another partition of the data holds
        # what they need (see okml.features.distributed)
        self.given = given or {}
        t_ns, _ = time_ns(tx["timestamp"])
        self.tl = Timeline(t_ns, tx["transaction_id"])
        self.t = self.tl.t
        self.amount = self.tl.in_pos_order(tx["amount"].to_numpy(dtype=np.float64))
        self._codes: dict[str, np.ndarray] = {}
        self._keyed: dict[tuple[str, ...], Keyed] = {}
        self._merchant_known: dict[int, np.ndarray] = {}

    def codes(self, column: str) -> np.ndarray:
        if column not in self._codes:
            self._codes[column] = self.tl.in_pos_order(codes_of(self.tx[column]))
        return self._codes[column]

    def pair_codes(self, a: str, b: str) -> np.ndarray:
        """Codes of the pair of columns (in either order), ``-1`` where one is missing."""
        a, b = sorted((a, b))
        if f"{a}|{b}" not in self._codes:
            self._codes[f"{a}|{b}"] = combine(self.codes(a), self.codes(b))
        return self._codes[f"{a}|{b}"]

    def keyed(self, *columns: str) -> Keyed:
        """Rows grouped by one column or by a pair of columns."""
        key = tuple(sorted(columns))
        if key not in self._keyed:
            codes = self.codes(key[0]) if len(key) == 1 else self.pair_codes(*key)
            self._keyed[key] = Keyed(codes, self.tl)
        return self._keyed[key]

    def forget_windows(self) -> None:
        """Drop per-window search results between families: it lowers peak memory, and
        fresh memory is slow to touch (families rarely share a window search)."""
        for keyed in self._keyed.values():
            keyed.forget_windows()

    def time_column(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        values, missing = time_ns(self.tx[column])
        return self.tl.in_pos_order(values), self.tl.in_pos_order(missing)

    @cached_property
    def local(self) -> tuple[np.ndarray, np.ndarray]:
        """Hour of day and day of week (Monday 0) in ``params.timezone``."""
        idx = pd.DatetimeIndex(self.t.view("datetime64[ns]")).tz_localize("UTC")
        idx = idx.tz_convert(self.params.timezone)
        return idx.hour.to_numpy(np.int64), idx.day_of_week.to_numpy(np.int64)

    @cached_property
    def customer_median(self) -> np.ndarray:
        """Median amount of the customer's latest ``median_payments`` earlier payments in
        ``history_window`` (``pos`` order, NaN with none)."""
        ((hw, _),) = _windows(self.params.history_window)
        cust = self.keyed("customer_id")
        return cust.recent_median(self.amount, hw, self.params.median_payments)

    @cached_property
    def median_ratio(self) -> np.ndarray:
        """Amount / :attr:`customer_median` (``pos`` order, NaN with no median)."""
        if "median_ratio" in self.given:
            return self.tl.in_pos_order(np.asarray(self.given["median_ratio"], dtype=np.float64))
        return self.amount / self.customer_median

    def global_rate(self, seconds: int) -> np.ndarray:
        """Per transaction (``pos`` order), the share of all earlier payments in ``(t - w, t]``
        (every merchant) that are known fraud at ``t``; 0 when there are none."""
        name = f"global_rate_{seconds}"
        if name in self.given:
            return self.tl.in_pos_order(np.asarray(self.given[name], dtype=np.float64))
        tl, (pos, known_from) = self.tl, self.frauds
        everyone = np.zeros(len(pos), dtype=np.int64)
        until = tl.first_at_or_after(self.t[pos] + seconds * NS)
        rate = _div(interval_count(everyone, known_from, until, tl.pos, tl.M), tl.pos - tl.lo(seconds))
        return np.nan_to_num(rate, nan=0.0)  # nothing earlier in the window: no known fraud

    @cached_property
    def frauds(self) -> tuple[np.ndarray, np.ndarray]:
        """``pos`` of frauds that ever get a label, and the first ``pos`` that knows each.

        A label is known to transactions strictly after ``label_time``.
        """
        label_ns, unlabelled = self.time_column("label_time")
        is_fraud = self.tl.in_pos_order(self.tx["is_fraud"].to_numpy()) == 1
        pos = np.flatnonzero(is_fraud & ~unlabelled)
        return pos, self.tl.first_after(label_ns[pos])

    def merchant_known(self, seconds: int) -> np.ndarray:
        """Per transaction (``pos`` order), the merchant's earlier payments with time in
        ``(t - seconds, t]`` whose fraud label is known at ``t``."""
        if seconds not in self._merchant_known:
            merch, pos, known_from = self.keyed("merchant_id"), *self.frauds
            # a fraud at t_j counts for queries in (label_time_j, t_j + seconds)
            until = self.tl.first_at_or_after(self.t[pos] + seconds * NS)
            counts = interval_count(merch.codes[pos], known_from, until, merch.K, self.tl.M)
            self._merchant_known[seconds] = merch.to_pos(counts)
        return self._merchant_known[seconds]


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, NaN where b is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.true_divide(a, b)
    out[np.broadcast_to(b == 0, out.shape)] = np.nan
    return out


def _amount_vs(amount: np.ndarray, n: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple:
    """Ratio to the mean (NaN with no history) and z-score (NaN with under 2 payments)."""
    mean = _div(s1, n)
    var = np.maximum(_div(s2, n) - mean**2, 0.0)  # population variance, >= 0 despite rounding
    spread = np.maximum(np.sqrt(var), _STD_FLOOR * mean)
    z = np.where(n >= 2, _div(amount - mean, spread), np.nan)
    return amount / mean, z


def _windows(values: list[str | int] | str | int) -> list[tuple[int, str]]:
    """(seconds, name suffix) of each window, e.g. (3600, "1h"), as the registry names them."""
    seconds = [parse_duration(v) for v in (values if isinstance(values, list) else [values])]
    return [(s, format_duration(s)) for s in seconds]


# ------------------------------------------------------------------------------ families
def _calendar(ctx: _Context, want: set[str]) -> Columns:
    hour, dow = ctx.local
    prev = ctx.keyed("customer_id").prev_pos()
    gap = (ctx.t - ctx.t[np.maximum(prev, 0)]) / NS
    return {
        "hour": hour,
        "is_night": hour < 6,
        "is_weekend": dow >= 5,
        "cust_secs_since_prev": np.where(prev >= 0, gap, np.nan),
    }


def _customer_velocity(ctx: _Context, want: set[str]) -> Columns:
    cust = ctx.keyed("customer_id")
    out: Columns = {}
    for w, suffix in _windows(ctx.params.customer_windows):
        n = cust.count(w)
        s = cust.window_sum("amount", ctx.amount, w)
        out |= {
            f"cust_count_{suffix}": n,
            f"cust_sum_{suffix}": s,
            f"cust_mean_{suffix}": _div(s, n),
        }
    return out


def _customer_history(ctx: _Context, want: set[str]) -> Columns:
    p, tl, out = ctx.params, ctx.tl, {}
    cust = ctx.keyed("customer_id")
    amount2 = ctx.amount**2
    ((hw, suffix),) = _windows(p.history_window)
    lo = tl.lo(hw)
    n = cust.count(hw)
    s1 = cust.window_sum("amount", ctx.amount, hw)
    s2 = cust.window_sum("amount2", amount2, hw)
    ratio, z = _amount_vs(ctx.amount, n, s1, s2)
    out[f"cust_amount_ratio_{suffix}"], out[f"cust_amount_z_{suffix}"] = ratio, z

    n_all = cust.count(None)
    s1_all = cust.window_sum("amount", ctx.amount, None)
    s2_all = cust.window_sum("amount2", amount2, None)
    out["cust_amount_ratio_all"], out["cust_amount_z_all"] = _amount_vs(ctx.amount, n_all, s1_all, s2_all)
    ((bw, bsuffix),) = _windows(p.burst_window)
    if f"cust_amount_median_ratio_{suffix}" in want or f"cust_max_median_ratio_{bsuffix}" in want:
        out[f"cust_amount_median_ratio_{suffix}"] = ctx.median_ratio
        out[f"cust_max_median_ratio_{bsuffix}"] = cust.window_max(ctx.amount, bw) / ctx.customer_median

    for name, column in (
        ("cust_first_merchant", "merchant_id"),
        ("cust_first_device", "device_id"),
        ("cust_new_region", "region"),
    ):
        if name in want:
            pair = ctx.pair_codes("customer_id", column)
            first = ~pd.Series(pair).duplicated().to_numpy()  # first in pos order
            out[name] = np.where(pair < 0, np.nan, first)

    # unusual hour: share of the window's payments within one hour of this time of day.
    # Counted in (customer, hour) order, where the searches run over nearly sorted keys.
    hour, _ = ctx.local
    by_hour = Keyed(cust.codes * 24 + hour, tl)
    c, h = np.divmod(by_hour.code_s, 24)
    lo_s, pos_s = lo[by_hour.perm], by_hour.perm
    near = np.sum([by_hour.count_at(c * 24 + (h + d) % 24, lo_s, pos_s) for d in (-1, 0, 1)], axis=0)
    out[f"cust_hour_share_{suffix}"] = _div(by_hour.to_pos(near), n)

    if "account_age_days" in want:
        created, missing = ctx.time_column("account_created_at")
        out["account_age_days"] = np.where(missing, np.nan, (ctx.t - created) / _DAY)
    return out


def _merchant(ctx: _Context, want: set[str]) -> Columns:
    merch, out = ctx.keyed("merchant_id"), {}
    for w, suffix in _windows(ctx.params.merchant_windows):
        out[f"merch_count_{suffix}"] = merch.count(w)
        out[f"merch_sum_{suffix}"] = merch.window_sum("amount", ctx.amount, w)
    return out


def _merchant_risk(ctx: _Context, want: set[str]) -> Columns:
    """(known frauds + a * rate) / (payments + a) over the window, rate = the same share
    over all merchants in the same window (so it too uses only what was known)."""
    merch, a = ctx.keyed("merchant_id"), ctx.params.risk_smoothing
    out = {}
    for w, suffix in _windows(ctx.params.merchant_windows):
        frauds, rate = ctx.merchant_known(w), ctx.global_rate(w)
        out[f"merch_risk_{suffix}"] = _div(frauds + a * rate, merch.count(w) + a)
    return out


def _customer_fraud_history(ctx: _Context, want: set[str]) -> Columns:
    tl, cust = ctx.tl, ctx.keyed("customer_id")
    pos, known_from = ctx.frauds
    codes = cust.codes[pos]
    never = np.full(len(pos), tl.n + 1, dtype=np.int64)
    known = cust.to_pos(interval_count(codes, known_from, never, cust.K, tl.M))
    last = cust.to_pos(last_started(codes, known_from, pos, cust.K, tl.M))
    days = (ctx.t - ctx.t[np.maximum(last, 0)]) / _DAY
    return {
        "cust_known_frauds": known,
        "cust_days_since_known_fraud": np.where(last >= 0, days, np.nan),
    }


def _merchant_fraud_history(ctx: _Context, want: set[str]) -> Columns:
    p, tl, merch = ctx.params, ctx.tl, ctx.keyed("merchant_id")
    out = {
        f"merch_known_frauds_{suffix}": ctx.merchant_known(w)
        for w, suffix in _windows(p.merchant_fraud_windows)
    }
    pos, known_from = ctx.frauds
    for name, first in (
        ("merch_days_since_known_fraud", False),
        ("merch_days_since_first_known_fraud", True),
    ):
        # the earliest is the largest of M - 1 - pos: last_started keeps the largest value
        value = tl.M - 1 - pos if first else pos
        best = merch.to_pos(last_started(merch.codes[pos], known_from, value, merch.K, tl.M))
        at = np.where(best >= 0, tl.M - 1 - best, -1) if first else best
        days = (ctx.t - ctx.t[np.maximum(at, 0)]) / _DAY
        out[name] = np.where(at >= 0, days, np.nan)
    # (t - d - w, t - d] is the window d + w less the window d, for payments and frauds alike
    d = parse_duration(p.label_delay)
    for w, suffix in _windows(p.delayed_risk_windows):
        frauds = ctx.merchant_known(d + w) - ctx.merchant_known(d)
        out[f"merch_delayed_risk_{suffix}"] = _div(frauds, merch.count(d + w) - merch.count(d))
    if {"merch_fraud_streak", "merch_fraud_streak_days", "merch_days_since_clean_payment"} & want:
        out.update(_fraud_streak(ctx, d))
    ((w, suffix),) = _windows(p.merchant_fraud_profile_window)
    name = f"merch_known_fraud_amount_ratio_{suffix}"
    if name in want:
        # each known fraud's amount / its customer's median then, averaged over the frauds
        # in the window that have such a median (a customer's first payment has none)
        ratio = ctx.median_ratio[pos]
        ok = np.isfinite(ratio)
        fpos, start = pos[ok], known_from[ok]
        until = tl.first_at_or_after(ctx.t[fpos] + w * NS)
        codes = merch.codes[fpos]
        total = interval_sum(codes, start, until, ratio[ok], merch.K, tl.M)
        count = interval_count(codes, start, until, merch.K, tl.M)
        out[name] = merch.to_pos(_div(total, count))
    return out


def _fraud_streak(ctx: _Context, delay: int) -> Columns:
    """The merchant's run of known frauds among its *settled* payments (paid at least
    ``delay`` before, so their labels should be in): its length, the days since its first
    payment, and the days since the latest settled payment not known to be fraud.

    Works in (merchant, pos) order. A settled payment breaks the run at query ``pos`` q
    unless it is a fraud whose label is known there (``known_from <= q``). Payments that are
    never known frauds break every run: the latest one before the settled end bounds the
    search; the frauds after it are searched with a sparse table of their ``known_from``
    (largest one not yet known at q), in O(log) vectorised steps.
    """
    tl, merch = ctx.tl, ctx.keyed("merchant_id")
    n, never = tl.n, tl.n + 1
    pos_s = merch.perm  # pos of each row in (merchant, pos) order
    j = np.arange(n)
    first = merch.key_start()
    # settled rows of row j's merchant: time <= t - delay, and earlier than j itself
    settled_pos = tl.first_after(tl.t[pos_s] - delay * NS)
    hi = np.searchsorted(merch.K, merch.code_s * merch.M + settled_pos, side="left")
    hi = np.minimum(np.maximum(hi, first), j)
    fpos, known_from = ctx.frauds
    v = np.full(n, never, dtype=np.int64)  # in (merchant, pos) order: known from this pos
    v[merch.to_pos(j)[fpos]] = known_from  # to_pos(j)[p]: the (merchant, pos) index of p
    # latest never-known row before hi (or first - 1)
    static = np.maximum.accumulate(np.where(v == never, j, -1))
    b = np.where(hi > first, static[np.maximum(hi - 1, 0)], -1)
    b = np.maximum(b, first - 1)
    # known frauds in (b, hi): the latest one not yet known at q breaks the run there
    f_idx = np.flatnonzero(v != never)
    if len(f_idx):
        f_v = v[f_idx]
        q = pos_s
        lo_f = np.searchsorted(f_idx, b + 1, side="left")
        cur = np.searchsorted(f_idx, hi, side="left")
        levels = [f_v]
        while (1 << len(levels)) <= len(f_v):
            prev, step = levels[-1], 1 << (len(levels) - 1)
            nxt = prev.copy()
            nxt[:-step] = np.maximum(prev[:-step], prev[step:])
            levels.append(nxt)
        for k in range(len(levels) - 1, -1, -1):
            cand = cur - (1 << k)
            ok = cand >= lo_f
            ok &= levels[k][np.maximum(cand, 0)] <= q
            cur = np.where(ok, cand, cur)
        b = np.where(cur > lo_f, f_idx[np.maximum(cur - 1, 0)], b)
    streak = hi - 1 - b
    t_s = tl.t[pos_s]
    run_start = t_s[np.minimum(b + 1, n - 1)]
    clean = t_s[np.maximum(b, 0)]
    return {
        "merch_fraud_streak": merch.to_pos(streak.astype(np.float64)),
        "merch_fraud_streak_days": merch.to_pos(np.where(streak > 0, (t_s - run_start) / _DAY, np.nan)),
        "merch_days_since_clean_payment": merch.to_pos(np.where(b >= first, (t_s - clean) / _DAY, np.nan)),
    }


def _ring(ctx: _Context, want: set[str]) -> Columns:
    tl, p, out = ctx.tl, ctx.params, {}
    if any(n.startswith("device_customers_") for n in want):
        ((dw, dsuffix),) = _windows(p.device_window)
        lo = tl.lo(dw)
        device = ctx.keyed("device_id")
        pair = ctx.keyed("device_id", "customer_id")
        # a payment j by customer c on device d keeps c among d's customers for the later
        # queries of d while it is c's latest payment on d and within the window:
        # pos in [j + 1, min(next payment of (d, c) + 1, first pos at or after t_j + w))
        j = np.flatnonzero(~device.missing)
        until = np.minimum(pair.next_pos(tl.n)[j] + 1, tl.first_at_or_after(ctx.t[j] + dw * NS))
        seen = device.to_pos(interval_count(device.codes[j], j + 1, until, device.K, tl.M))
        me = pair.prev_pos() >= lo  # this customer is among them: do not count them
        out[f"device_customers_{dsuffix}"] = np.where(device.missing, np.nan, seen - me)
    ((pw, psuffix),) = _windows(p.pair_window)
    out[f"pair_count_{psuffix}"] = ctx.keyed("customer_id", "merchant_id").count(pw)
    out["is_round_amount"] = np.abs(ctx.amount - _ROUND_TO * np.round(ctx.amount / _ROUND_TO)) < _ROUND_TOL
    return out


_FAMILY: dict[str, Callable[[_Context, set[str]], Columns]] = {
    "calendar": _calendar,
    "customer_velocity": _customer_velocity,
    "customer_history": _customer_history,
    "merchant": _merchant,
    "merchant_risk": _merchant_risk,
    "customer_fraud_history": _customer_fraud_history,
    "merchant_fraud_history": _merchant_fraud_history,
    "ring": _ring,
    "amount": lambda ctx, want: {"amount": ctx.amount},
}


def _check(tx: pd.DataFrame) -> None:
    """Catch frames that skipped :func:`okml.schema.validate` before they give odd numbers."""
    missing = [c for c in REQUIRED if c not in tx.columns]
    if missing:
        raise DataError(f"missing required column(s) {', '.join(missing)}", column=missing[0])
    for column in ("timestamp", "account_created_at", "label_time"):
        if column in tx.columns and not isinstance(tx[column].dtype, pd.DatetimeTZDtype):
            raise DataError(
                f"expected timezone-aware datetimes, found {tx[column].dtype}; "
                "pass transactions through okml.schema.validate (or okml.data.load) first",
                column=column,
            )
    if not pd.api.types.is_numeric_dtype(tx["amount"].dtype):
        raise DataError(f"amount must be numeric, found {tx['amount'].dtype}", column="amount")


def build_features(
    tx: pd.DataFrame,
    params: FeatureParams,
    progress: bool = False,
    *,
    names: list[str] | None = None,
    given: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Point-in-time features of every transaction.

    Each row's features use only transactions earlier in the order (timestamp,
    transaction_id) and fraud labels whose ``label_time`` is strictly before its timestamp.
    See the module docstring for the exact window definition, and
    :func:`~okml.features.registry.lookback` for the history a slice needs.

    Parameters
    ----------
    tx:
        Canonical transactions (validated), in any order. Not modified.
    params:
        The ``features`` section of the parameters.
    progress:
        Show a progress bar over families.
    names:
        Compute only these features (default: all of
        :func:`~okml.features.registry.feature_names`), in that order.
    given:
        Intermediates computed elsewhere, each an array in ``tx``'s row order (see
        :func:`intermediates`): ``median_ratio`` (each payment's amount over its customer's
        recent median) and ``global_rate_S`` (the share of known fraud among all payments
        in the trailing ``S`` seconds). With them, a partition of the data holding whole
        merchants computes the merchant features exactly as over all data.

    Returns
    -------
    pandas.DataFrame
        A new frame, one row per input row in input order, indexed by ``transaction_id``;
        columns :func:`~okml.features.registry.feature_names`, all float64 (flags 0/1),
        NaN where undefined (e.g. no earlier payment).

    Raises
    ------
    DataError
        A required column is missing, or time columns are not timezone-aware datetimes
        (the frame was not validated).
    """
    _check(tx)
    every = feature_names(params, tx.columns)
    if names is None:
        names = every
    else:
        unknown = [n for n in names if n not in every]
        if unknown:
            raise FeatureError(f"unknown or disabled feature(s) {', '.join(unknown[:5])}")
    index = pd.Index(tx["transaction_id"], name="transaction_id")
    # one float64 block, filled column by column: no second copy when the frame is built;
    # NaN to start with, so a column no family wrote can never be stale memory
    block = np.full((len(names), len(tx)), np.nan, dtype=np.float64)
    if len(tx) == 0:
        return pd.DataFrame(block.T, index=index, columns=names, copy=False)
    ctx = _Context(tx, params, given)
    row = ctx.tl.input_rows()  # row[i] = pos of input row i, or None when already sorted
    want = set(names)
    slot = {name: i for i, name in enumerate(names)}
    specs = registry(params)
    families = [f for f in FAMILIES if any(specs[n].family == f for n in names)]
    bar = tqdm(families, desc="features", unit="family", disable=not progress)
    written: dict[str, str] = {}
    for family in bar:
        bar.set_postfix_str(family)
        for name, values in _FAMILY[family](ctx, want).items():
            _check_emitted(name, family, specs, written)
            if name in slot:
                block[slot[name]] = values if row is None else values[row]
                written[name] = family
        ctx.forget_windows()
    unwritten = [n for n in names if n not in written]
    if unwritten:
        raise FeatureError(
            f"registered feature(s) {', '.join(unwritten[:5])} were computed by no "
            f"family (family {specs[unwritten[0]].family!r} should emit them); "
            "this is a bug in okml"
        )
    _check_finite(block, names, index)
    return pd.DataFrame(block.T, index=index, columns=names, copy=False)


def _check_emitted(name: str, family: str, specs: dict, written: dict[str, str]) -> None:
    """A family may emit only names the registry gives it, each once: a misspelled or
    foreign name would otherwise be dropped without a word."""
    spec = specs.get(name)
    if spec is None or spec.family != family:
        owner = f"registered to family {spec.family!r}" if spec is not None else "not registered"
        raise FeatureError(
            f"family {family!r} computed feature {name!r}, which is {owner}; this is a bug in okml"
        )
    if name in written:
        raise FeatureError(
            f"feature {name!r} was computed twice (families {written[name]!r} and "
            f"{family!r}); this is a bug in okml"
        )


def _check_finite(block: np.ndarray, names: list[str], index: pd.Index) -> None:
    """No feature is ever +-inf: validated amounts are bounded (``data.amount_min`` ..
    ``data.amount_max``), so an infinity is a defect here, never a value to hand a model."""
    inf = np.isinf(block)
    if inf.any():
        col, row = (int(i[0]) for i in np.nonzero(inf))
        raise FeatureError(
            f"feature {names[col]} is infinite for {int(inf[col].sum())} transaction(s) "
            f"(e.g. {index[row]!r}); this is a bug in okml: please report it with those rows"
        )


def rate_windows(params: FeatureParams) -> list[int]:
    """The windows (seconds) whose all-merchant fraud share ``merch_risk_w`` smooths with."""
    return [w for w, _ in _windows(params.merchant_windows)]


def intermediates(tx: pd.DataFrame, params: FeatureParams, which: list[str]) -> pd.DataFrame:
    """Quantities that :func:`build_features` takes as ``given``, in ``tx``'s row order and
    indexed by ``transaction_id``: ``median_ratio`` needs whole customers in ``tx``,
    ``global_rate_S`` every payment of the trailing ``S`` seconds before the rows it is
    read for (a slice of time with that much history before it)."""
    _check(tx)
    index = pd.Index(tx["transaction_id"], name="transaction_id")
    if len(tx) == 0:
        return pd.DataFrame({w: np.zeros(0) for w in which}, index=index)
    ctx = _Context(tx, params)
    row = ctx.tl.input_rows()
    out = {}
    for name in which:
        if name == "median_ratio":
            values = ctx.median_ratio
        elif name.startswith("global_rate_"):
            values = ctx.global_rate(int(name.removeprefix("global_rate_")))
        else:
            raise FeatureError(f"unknown intermediate {name!r}; this is a bug in okml")
        out[name] = values if row is None else values[row]
    return pd.DataFrame(out, index=index)


def feature_matrix(tx: pd.DataFrame, params: FeatureParams, progress: bool = False) -> pd.DataFrame:
    """Point-in-time features of ``tx`` as float64 columns, one row per transaction in ``tx``'s
    order (a RangeIndex): what models are fitted on and score."""
    return check_feature_matrix(build_features(tx, params, progress=progress), tx)


def check_feature_matrix(feats: pd.DataFrame, tx: pd.DataFrame) -> pd.DataFrame:
    """A feature table given for ``tx`` (built here or elsewhere) as the float64 matrix.

    Raises
    ------
    DataError
        Rows that are not one per transaction in order, or a non-numeric feature.
    """
    if len(feats) != len(tx):
        raise DataError(f"feature table has {len(feats):,} rows for {len(tx):,} transactions")
    if feats.index.name == "transaction_id" and not np.array_equal(
        feats.index.to_numpy(), tx["transaction_id"].to_numpy()
    ):
        raise DataError("feature rows are not in transaction order")
    bad = [
        c
        for c in feats.columns
        if not (pd.api.types.is_numeric_dtype(feats[c]) or pd.api.types.is_bool_dtype(feats[c]))
    ]
    if bad:
        raise DataError(f"features must be numeric; not: {', '.join(map(str, bad[:5]))}")
    return feats.reset_index(drop=True).astype("float64")
