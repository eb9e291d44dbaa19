"""Properties of the point-in-time features, on small random frames (hypothesis).

* A row's features never change when later transactions are appended, when labels that
  were not yet known at its time change, or when the input is shuffled.
* A straightforward row-by-row implementation of every definition agrees with the engine.
* A time slice with ``lookback(params)`` of history before it gives the same windowed
  features as the whole data (all-history features excepted, as documented).

Times sit on a 5-minute grid so that ties and exact window boundaries happen often.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okml.config import FeatureParams, format_duration, parse_duration
from okml.features import build_features, feature_names, lookback, registry
from okml.schema import validate

PARAMS = FeatureParams(
    customer_windows=["10min", "1h"],
    merchant_windows=["30min", "2h"],
    history_window="1h",
    median_payments=3,
    burst_window="30min",
    device_window="30min",
    pair_window="1h",
    risk_smoothing=2.0,
    merchant_fraud_windows=["30min", "1h"],
    merchant_fraud_profile_window="30min",
    label_delay="10min",
    delayed_risk_windows=["30min"],
    timezone="UTC",
)
T0 = pd.Timestamp("2026-01-05", tz="UTC")
STEP = pd.Timedelta(minutes=5)
AMOUNTS = [5.0, 10.0, 12.5, 20.0, 33.3, 100.0]
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

row = st.fixed_dictionaries(
    {
        "slot": st.integers(0, 40),  # 5-minute steps over a bit more than 3 hours
        "customer_id": st.sampled_from(["c1", "c2", "c3"]),
        "merchant_id": st.sampled_from(["m1", "m2"]),
        "amount": st.sampled_from(AMOUNTS),
        "device_id": st.sampled_from(["d1", "d2", None]),
        "region": st.sampled_from(["r1", "r2", None]),
        "is_fraud": st.integers(0, 1),
        "label_slots": st.sampled_from([0, 1, 2, 6, 20, None]),  # label delay; None = never
        "created_slots": st.sampled_from([0, 3, 300, None]),  # account age at slot 0
    }
)


@st.composite
def transactions(draw: st.DrawFn, min_size: int = 1, max_size: int = 25) -> pd.DataFrame:
    rows = draw(st.lists(row, min_size=min_size, max_size=max_size))
    # ids in an order unrelated to time, so ties are broken by something else than input order
    ids = draw(st.permutations(range(len(rows))))
    return _frame(rows, ids)


def _frame(rows: list[dict], ids: list[int]) -> pd.DataFrame:
    out = []
    for r, i in zip(rows, ids, strict=True):
        t = T0 + r["slot"] * STEP
        lab = None if r["label_slots"] is None else t + r["label_slots"] * STEP
        made = None if r["created_slots"] is None else T0 - r["created_slots"] * STEP
        out.append(
            {
                "transaction_id": i,
                "timestamp": t,
                "customer_id": r["customer_id"],
                "merchant_id": r["merchant_id"],
                "amount": r["amount"],
                "device_id": r["device_id"],
                "region": r["region"],
                "account_created_at": made,
                "is_fraud": r["is_fraud"],
                "label_time": lab,
            }
        )
    return validate(pd.DataFrame(out))


def _in_order(tx: pd.DataFrame) -> pd.DataFrame:
    return tx.sort_values(["timestamp", "transaction_id"], kind="stable")


def assert_same(a: pd.DataFrame, b: pd.DataFrame, exact: bool = True) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=exact, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------- point in time
@SETTINGS
@given(transactions(), st.data())
def test_appending_later_transactions_changes_nothing_earlier(tx: pd.DataFrame, data) -> None:
    ordered = _in_order(tx)
    k = data.draw(st.integers(0, len(tx)), label="rows kept")
    head = ordered.iloc[:k]
    full = build_features(tx, PARAMS)
    # bit for bit: per-key prefix sums restart at each key, so later rows cannot matter
    assert_same(build_features(head, PARAMS), full.loc[head["transaction_id"]])


@SETTINGS
@given(transactions(), st.data())
def test_labels_not_yet_known_do_not_matter(tx: pd.DataFrame, data) -> None:
    changed = data.draw(
        st.lists(st.sampled_from(range(len(tx))), min_size=1, unique=True), label="relabelled"
    )
    new = tx.copy()
    pos = new.columns.get_indexer(["is_fraud", "label_time"])
    never = pd.Timestamp.max.tz_localize("UTC")
    safe_until = never
    for i in changed:
        t = new.iloc[i]["timestamp"]
        old_label = new.iloc[i]["label_time"]
        delay = data.draw(st.sampled_from([0, 1, 3, 12, None]), label="new delay")
        new_label = pd.NaT if delay is None else t + delay * STEP
        new.iloc[i, pos[0]] = data.draw(st.integers(0, 1), label="new label")
        new.iloc[i, pos[1]] = new_label
        for lab in (old_label, new_label):
            safe_until = min(safe_until, never if pd.isna(lab) else lab)
    # a label is used only by rows strictly after its label_time (in either version),
    # and a label_time is never before its own payment: later payments' labels included
    keep = tx.loc[tx["timestamp"] <= safe_until, "transaction_id"]
    a = build_features(tx, PARAMS).loc[keep]
    b = build_features(new, PARAMS).loc[keep]
    assert_same(a, b)


@SETTINGS
@given(transactions(), st.randoms(use_true_random=False))
def test_shuffling_the_input_only_reorders_the_output(tx: pd.DataFrame, rnd) -> None:
    order = list(range(len(tx)))
    rnd.shuffle(order)
    shuffled = tx.iloc[order]
    f = build_features(shuffled, PARAMS)
    assert list(f.index) == list(shuffled["transaction_id"])
    assert_same(f, build_features(tx, PARAMS).loc[f.index])


# -------------------------------------------------------------- reference definitions
def _reference(tx: pd.DataFrame, p: FeatureParams) -> pd.DataFrame:
    """Every feature by its definition, one row at a time (slow, obviously right)."""
    rows = _in_order(tx).to_dict("records")
    a = p.risk_smoothing
    w = {name: s.window_seconds for name, s in registry(p).items()}
    out = {}
    for i, r in enumerate(rows):
        t, c, m = r["timestamp"], r["customer_id"], r["merchant_id"]
        d, g = r["device_id"], r["region"]
        earlier = rows[:i]

        def within(seconds: int, rows_: list[dict], t=t) -> list[dict]:
            return [e for e in rows_ if e["timestamp"] > t - pd.Timedelta(seconds=seconds)]

        def known(e: dict, t=t) -> bool:
            return e["is_fraud"] == 1 and not pd.isna(e["label_time"]) and e["label_time"] < t

        mine = [e for e in earlier if e["customer_id"] == c]
        at_m = [e for e in earlier if e["merchant_id"] == m]
        f = {}
        hour = t.hour
        f["hour"], f["is_night"], f["is_weekend"] = hour, hour < 6, t.day_of_week >= 5
        f["cust_secs_since_prev"] = (t - mine[-1]["timestamp"]).total_seconds() if mine else math.nan
        for name, s in w.items():
            if name.startswith("cust_count_"):
                sfx = name.removeprefix("cust_count_")
                amounts = [e["amount"] for e in within(s, mine)]
                f[name], f[f"cust_sum_{sfx}"] = len(amounts), sum(amounts)
                f[f"cust_mean_{sfx}"] = np.mean(amounts) if amounts else math.nan
            if name.startswith("merch_count_"):
                sfx = name.removeprefix("merch_count_")
                in_w = within(s, at_m)
                f[name], f[f"merch_sum_{sfx}"] = len(in_w), sum(e["amount"] for e in in_w)
                every = within(s, earlier)
                rate = sum(map(known, every)) / len(every) if every else 0.0
                n = len(in_w)
                f[f"merch_risk_{sfx}"] = (sum(map(known, in_w)) + a * rate) / (n + a) if n + a else math.nan
        hsfx, hsec = _sfx(p.history_window), parse_duration(p.history_window)
        recent = within(hsec, mine)
        for sfx, hist in ((hsfx, recent), ("all", mine)):
            amounts = np.array([e["amount"] for e in hist])
            mean = amounts.mean() if len(amounts) else math.nan
            f[f"cust_amount_ratio_{sfx}"] = r["amount"] / mean
            spread = max(amounts.std(), 0.01 * mean) if len(amounts) >= 2 else math.nan
            f[f"cust_amount_z_{sfx}"] = (r["amount"] - mean) / spread
        near = [e for e in recent if _hours_apart(e["timestamp"].hour, hour) <= 1]
        f[f"cust_hour_share_{hsfx}"] = len(near) / len(recent) if recent else math.nan
        latest = [e["amount"] for e in recent][-p.median_payments :]
        median = np.median(latest) if latest else math.nan
        f[f"cust_amount_median_ratio_{hsfx}"] = r["amount"] / median
        burst = [e["amount"] for e in within(parse_duration(p.burst_window), mine)]
        f[f"cust_max_median_ratio_{_sfx(p.burst_window)}"] = max(burst) / median if burst else math.nan
        f["cust_first_merchant"] = not any(e["merchant_id"] == m for e in mine)
        f["cust_first_device"] = math.nan if pd.isna(d) else not any(e["device_id"] == d for e in mine)
        f["cust_new_region"] = math.nan if pd.isna(g) else not any(e["region"] == g for e in mine)
        made = r["account_created_at"]
        f["account_age_days"] = math.nan if pd.isna(made) else (t - made) / pd.Timedelta(days=1)
        frauds = [e for e in mine if known(e)]
        f["cust_known_frauds"] = len(frauds)
        f["cust_days_since_known_fraud"] = (
            (t - max(e["timestamp"] for e in frauds)) / pd.Timedelta(days=1) if frauds else math.nan
        )
        for ws in p.merchant_fraud_windows:
            f[f"merch_known_frauds_{_sfx(ws)}"] = sum(map(known, within(parse_duration(ws), at_m)))
        at_m_known = [e for e in at_m if known(e)]
        f["merch_days_since_known_fraud"] = (
            (t - max(e["timestamp"] for e in at_m_known)) / pd.Timedelta(days=1) if at_m_known else math.nan
        )
        f["merch_days_since_first_known_fraud"] = (
            (t - min(e["timestamp"] for e in at_m_known)) / pd.Timedelta(days=1) if at_m_known else math.nan
        )
        delay = pd.Timedelta(seconds=parse_duration(p.label_delay))
        for ws in p.delayed_risk_windows:
            span = pd.Timedelta(seconds=parse_duration(ws))
            old = [e for e in at_m if t - delay - span < e["timestamp"] <= t - delay]
            f[f"merch_delayed_risk_{_sfx(ws)}"] = sum(map(known, old)) / len(old) if old else math.nan
        settled = [e for e in at_m if e["timestamp"] <= t - delay]
        run = 0
        while run < len(settled) and known(settled[-1 - run]):
            run += 1
        f["merch_fraud_streak"] = run
        f["merch_fraud_streak_days"] = (
            (t - settled[-run]["timestamp"]) / pd.Timedelta(days=1) if run else math.nan
        )
        f["merch_days_since_clean_payment"] = (
            (t - settled[-1 - run]["timestamp"]) / pd.Timedelta(days=1) if run < len(settled) else math.nan
        )
        psfx = _sfx(p.merchant_fraud_profile_window)
        ratios = [
            out[e["transaction_id"]][f"cust_amount_median_ratio_{hsfx}"]
            for e in within(parse_duration(p.merchant_fraud_profile_window), at_m)
            if known(e)
        ]
        ratios = [x for x in ratios if not math.isnan(x)]
        f[f"merch_known_fraud_amount_ratio_{psfx}"] = np.mean(ratios) if ratios else math.nan
        f["amount"] = r["amount"]
        dw = f"device_customers_{_sfx(p.device_window)}"
        f[dw] = (
            math.nan
            if pd.isna(d)
            else len({e["customer_id"] for e in within(w[dw], earlier) if e["device_id"] == d} - {c})
        )
        pw = f"pair_count_{_sfx(p.pair_window)}"
        f[pw] = len([e for e in within(w[pw], mine) if e["merchant_id"] == m])
        f["is_round_amount"] = abs(r["amount"] / 10 - round(r["amount"] / 10)) < 1e-9
        out[r["transaction_id"]] = f
    names = feature_names(p, tx.columns)
    ref = pd.DataFrame.from_dict(out, orient="index")[names].astype("float64")
    return ref.loc[tx["transaction_id"]].rename_axis("transaction_id")


def _sfx(window: str | int) -> str:
    return format_duration(parse_duration(window))


def _hours_apart(h1: int, h2: int) -> int:
    return min((h1 - h2) % 24, (h2 - h1) % 24)


@SETTINGS
@given(transactions())
def test_engine_matches_the_definitions_row_by_row(tx: pd.DataFrame) -> None:
    got = build_features(tx, PARAMS)
    want = _reference(tx, PARAMS)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- slicing
def _sliced(tx: pd.DataFrame, start: pd.Timestamp, p: FeatureParams) -> pd.DataFrame:
    """Features of rows at or after ``start``, given only ``lookback(p)`` of history."""
    history = tx[tx["timestamp"] >= start - lookback(p)]
    f = build_features(history, p)
    return f.loc[history.loc[history["timestamp"] >= start, "transaction_id"]]


def _windowed(p: FeatureParams, columns) -> list[str]:
    reg = registry(p)
    return [n for n in feature_names(p, columns) if not reg[n].all_history]


@SETTINGS
@given(transactions(min_size=5, max_size=40), st.integers(0, 40))
def test_a_slice_with_lookback_history_has_the_same_windowed_features(
    tx: pd.DataFrame, start_slot: int
) -> None:
    start = T0 + start_slot * STEP
    sliced = _sliced(tx, start, PARAMS)
    full = build_features(tx, PARAMS).loc[sliced.index]
    cols = _windowed(PARAMS, tx.columns)
    # prefix sums start elsewhere in a slice: equal up to float rounding
    assert_same(sliced[cols], full[cols], exact=False)


def _days_of_payments(seed: int, n: int = 800, days: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = T0 + pd.to_timedelta(np.sort(rng.integers(0, days * 86400, n)), unit="s")
    fraud = rng.random(n) < 0.1
    delay = pd.to_timedelta(rng.integers(0, 20 * 86400, n), unit="s")
    return validate(
        pd.DataFrame(
            {
                "transaction_id": rng.permutation(n),
                "timestamp": t,
                "customer_id": rng.choice([f"c{k}" for k in range(15)], n),
                "merchant_id": rng.choice([f"m{k}" for k in range(6)], n),
                "amount": rng.choice(AMOUNTS, n) * rng.choice([1.0, 1.37], n),
                "device_id": rng.choice(["d1", "d2", "d3", "d4", "d5"], n),
                "region": rng.choice(["r1", "r2", "r3"], n),
                "is_fraud": fraud.astype(int),
                "label_time": pd.Series(t + delay).where(fraud),
            }
        )
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_default_params_slice_at_lookback(seed: int) -> None:
    """The contract scoring and retraining rely on, with the default 60-day look-back (the
    merchant's known frauds of 30 days, each against its customer's 30-day history).

    Equal under slicing: every feature with ``all_history=False`` (calendar flags and hour,
    all customer and merchant windows, amount ratio/z over ``history_window``, hour share,
    account age, merchant risk, device customers, pair count, round amount). May differ:
    the ``all_history`` ones, cust_secs_since_prev, cust_amount_ratio_all,
    cust_amount_z_all, cust_first_merchant, cust_first_device, cust_new_region,
    cust_known_frauds, cust_days_since_known_fraud.
    """
    p = FeatureParams()
    tx = _days_of_payments(seed, n=1000, days=110)
    start = T0 + pd.Timedelta(days=80)
    sliced = _sliced(tx, start, p)
    full = build_features(tx, p).loc[sliced.index]
    cols = _windowed(p, tx.columns)
    assert_same(sliced[cols], full[cols], exact=False)
    # which features differ is documented: only all-history ones may (and here some do)
    differs = {
        c for c in sliced.columns if not np.allclose(sliced[c], full[c], rtol=1e-9, atol=1e-9, equal_nan=True)
    }
    all_history = {n for n, s in registry(p).items() if s.all_history}
    assert differs <= all_history
    assert {"cust_amount_ratio_all", "cust_known_frauds"} <= differs
    # with less history (the frauds' customers' own history cut) the profile breaks
    assert lookback(p) == pd.Timedelta(days=60)
    shorter = tx[tx["timestamp"] >= start - lookback(p) + pd.Timedelta(days=20)]
    short = build_features(shorter, p).loc[sliced.index]
    column = "merch_known_fraud_amount_ratio_30d"
    assert not np.allclose(short[column], full[column], equal_nan=True)


# --------------------------------------------------------------- window primitives
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_max_and_median_match_brute_force_on_long_windows(seed: int) -> None:
    """Deep sparse-table levels and capped medians, on windows holding hundreds of rows."""
    from okml.features._timeline import Keyed, Timeline

    rng = np.random.default_rng(seed)
    n = 3000
    t = np.sort(rng.integers(0, 50 * 86400, n)) * 1_000_000_000
    ids = pd.Series(np.arange(n))
    codes = rng.integers(-1, 3, n)  # three keys and some missing ones
    values = np.round(rng.exponential(50.0, n), 2)
    tl = Timeline(t, ids)
    keyed = Keyed(codes, tl)
    w = 20 * 86400
    got_max = keyed.window_max(values, w)
    got_median = keyed.recent_median(values, w, 25)
    for i in range(n):
        earlier = [j for j in range(i) if codes[j] == codes[i] and t[j] > t[i] - w * 10**9]
        if not earlier:
            assert math.isnan(got_max[i]) and math.isnan(got_median[i])
            continue
        assert got_max[i] == values[earlier].max()
        assert got_median[i] == np.median(values[earlier[-25:]])


# ------------------------------------------------------- the entity graph (okml.features.graph)
# Short windows, hourly epochs and a hub at three customers, so that epochs, hubs, soft links
# and window edges all happen on a few hours of payments.
GRAPH_PARAMS = PARAMS.model_copy(
    update={
        "families": PARAMS.families.model_copy(update={"graph": True, "compromise": True}),
        "graph_window": "30min",
        "graph_epoch": "1h",
        "hub_customers": 2,
        "soft_gap": "10min",
        "soft_days": 2,
        "compromise_windows": ["30min", "2h"],
    }
)
# soft links need a co-occurrence on two epochs, rare in a few hours: these settings make
# them common (one epoch, wider gap and window; hubs at four customers)
SOFT_PARAMS = GRAPH_PARAMS.model_copy(
    update={"hub_customers": 3, "soft_days": 1, "soft_gap": "15min", "graph_window": "1h"}
)
GRAPH_FAMILIES = ("graph", "compromise")


def _graph_names(p: FeatureParams, columns) -> list[str]:
    reg = registry(p)
    return [n for n in feature_names(p, columns) if reg[n].family in GRAPH_FAMILIES]


def _graph(tx: pd.DataFrame, p: FeatureParams = GRAPH_PARAMS) -> pd.DataFrame:
    return build_features(tx, p, names=_graph_names(p, tx.columns))


def _components(nodes: set, edges: list[tuple]) -> dict:
    """Node -> its component (a frozenset), by breadth-first search."""
    near: dict = {x: set() for x in nodes}
    for a, b in edges:
        near[a].add(b)
        near[b].add(a)
    out: dict = {}
    for x in nodes:
        if x in out:
            continue
        seen, todo = {x}, [x]
        while todo:
            for y in near[todo.pop()]:
                if y not in seen:
                    seen.add(y)
                    todo.append(y)
        group = frozenset(seen)
        for y in group:
            out[y] = group
    return out


def _graph_reference(tx: pd.DataFrame, p: FeatureParams) -> pd.DataFrame:
    """The graph and compromise features by their definitions (okml.features.graph), one
    payment at a time: its graph, hubs, links and components built from scratch."""
    rows = _in_order(tx).to_dict("records")
    w, epoch = parse_duration(p.graph_window), parse_duration(p.graph_epoch)
    gap = pd.Timedelta(seconds=parse_duration(p.soft_gap))
    sfx = _sfx(p.graph_window)
    out = {}
    for i, r in enumerate(rows):
        t, c, d = r["timestamp"], r["customer_id"], r["device_id"]

        def known(e: dict, t=t) -> bool:
            return e["is_fraud"] == 1 and not pd.isna(e["label_time"]) and e["label_time"] < t

        def epoch_of(ts: pd.Timestamp) -> int:
            return int(ts.timestamp()) // epoch

        start = pd.Timestamp(epoch_of(t) * epoch - w, unit="s", tz="UTC")
        graph = [(j, e) for j, e in enumerate(rows[:i]) if e["timestamp"] > start]
        customers_of: dict = {}
        for _, e in graph:
            customers_of.setdefault(("d", e["device_id"]), set()).add(e["customer_id"])
            customers_of.setdefault(("m", e["merchant_id"]), set()).add(e["customer_id"])
        hubs = {k for k, v in customers_of.items() if len(v) > p.hub_customers}
        hard = {
            (("c", e["customer_id"]), ("d", e["device_id"]))
            for _, e in graph
            if not pd.isna(e["device_id"]) and ("d", e["device_id"]) not in hubs
        }
        days: dict = {}
        for j, later in graph:  # a pair co-occurs when the later payment comes within the gap
            for k, earlier in graph[:]:
                if k >= j or earlier["merchant_id"] != later["merchant_id"]:
                    continue
                if ("m", later["merchant_id"]) in hubs or earlier["customer_id"] == later["customer_id"]:
                    continue
                if later["timestamp"] - earlier["timestamp"] < gap:
                    pair = tuple(sorted((earlier["customer_id"], later["customer_id"])))
                    days.setdefault((pair, later["merchant_id"]), set()).add(epoch_of(later["timestamp"]))
        soft = {(("c", a), ("c", b)) for ((a, b), _), ep in days.items() if len(ep) >= p.soft_days}
        nodes = {("c", e["customer_id"]) for _, e in graph} | {x for link in hard for x in link}
        f = {}
        device_ok = not pd.isna(d) and ("d", d) not in hubs
        for prefix, edges in (("graph_group", hard), ("graph_soft_group", hard | soft)):
            comp = _components(nodes, list(edges))
            group = set(comp.get(("c", c), {("c", c)})) | {("c", c)}
            if device_ok and ("d", d) in comp:
                group |= comp[("d", d)]
            members = {x[1] for x in group if x[0] == "c"}
            mine = [e for _, e in graph if e["customer_id"] in members]
            f[f"{prefix}_size_{sfx}"] = len(members)
            f[f"{prefix}_payments_{sfx}"] = len(mine)
            f[f"{prefix}_known_frauds_{sfx}"] = sum(map(known, mine))
            here = sum(e["merchant_id"] == r["merchant_id"] for e in mine)
            f[f"{prefix}_merchant_share_{sfx}"] = here / len(mine) if mine else math.nan
        if pd.isna(d) or ("d", d) in hubs:
            f[f"device_known_frauds_{sfx}"] = math.nan
        else:
            sharing = {e["customer_id"] for _, e in graph if e["device_id"] == d} - {c}
            f[f"device_known_frauds_{sfx}"] = sum(known(e) for _, e in graph if e["customer_id"] in sharing)
        for ws in p.compromise_windows:
            span = pd.Timedelta(seconds=parse_duration(ws))
            here = [e for e in rows[:i] if e["merchant_id"] == r["merchant_id"] and e["timestamp"] > t - span]
            others = {e["customer_id"] for e in here} - {c}
            victims = {
                e["customer_id"]
                for e in here
                if e["customer_id"] in others
                and any(
                    x["customer_id"] == e["customer_id"] and known(x) and x["timestamp"] >= e["timestamp"]
                    for x in rows[:i]
                )
            }
            f[f"merch_victim_customers_{_sfx(ws)}"] = len(victims)
            f[f"merch_victim_share_{_sfx(ws)}"] = len(victims) / len(others) if others else math.nan
        out[r["transaction_id"]] = f
    names = _graph_names(p, tx.columns)
    ref = pd.DataFrame.from_dict(out, orient="index")[names].astype("float64")
    return ref.loc[tx["transaction_id"]].rename_axis("transaction_id")


graph_row = st.fixed_dictionaries(
    {
        "slot": st.integers(0, 40),
        # more customers than the hub limit, few devices and merchants: they get shared
        "customer_id": st.sampled_from(["c1", "c2", "c3", "c4"]),
        "merchant_id": st.sampled_from(["m1", "m2"]),
        "amount": st.sampled_from(AMOUNTS),
        "device_id": st.sampled_from(["d1", "d2", "d3", None]),
        "region": st.sampled_from(["r1", None]),
        "is_fraud": st.integers(0, 1),
        "label_slots": st.sampled_from([0, 1, 2, 6, 20, None]),
        "created_slots": st.sampled_from([0, None]),
    }
)


@st.composite
def graph_transactions(draw: st.DrawFn, min_size: int = 1, max_size: int = 30) -> pd.DataFrame:
    rows = draw(st.lists(graph_row, min_size=min_size, max_size=max_size))
    return _frame(rows, draw(st.permutations(range(len(rows)))))


@pytest.mark.parametrize("p", [GRAPH_PARAMS, SOFT_PARAMS], ids=["hubs", "soft_links"])
@SETTINGS
@given(tx=graph_transactions())
def test_graph_features_match_their_definitions_row_by_row(p: FeatureParams, tx: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(_graph(tx, p), _graph_reference(tx, p), check_exact=False, rtol=1e-12)


@SETTINGS
@given(graph_transactions(), st.data())
def test_graph_features_ignore_later_payments(tx: pd.DataFrame, data) -> None:
    ordered = _in_order(tx)
    k = data.draw(st.integers(0, len(tx)), label="rows kept")
    head = ordered.iloc[:k]
    assert_same(_graph(head), _graph(tx).loc[head["transaction_id"]])


@SETTINGS
@given(graph_transactions(), st.data())
def test_graph_features_ignore_payments_changed_at_or_after_t(tx: pd.DataFrame, data) -> None:
    """Any payment at or after a row's time (another customer, device, merchant, amount or
    label) changes nothing for the rows strictly before it."""
    i = data.draw(st.sampled_from(range(len(tx))), label="changed row")
    new = tx.copy()
    for column, values in (
        ("customer_id", ["c1", "c4", "c9"]),
        ("device_id", ["d1", "d3", "d9"]),
        ("merchant_id", ["m1", "m2"]),
    ):
        new.iloc[i, new.columns.get_loc(column)] = data.draw(st.sampled_from(values), label=column)
    new.iloc[i, new.columns.get_loc("is_fraud")] = 1 - int(tx.iloc[i]["is_fraud"])
    new = validate(new)
    before = tx.loc[tx["timestamp"] < tx.iloc[i]["timestamp"], "transaction_id"]
    assert_same(_graph(new).loc[before], _graph(tx).loc[before])


@SETTINGS
@given(graph_transactions(), st.data())
def test_graph_features_ignore_labels_not_yet_known(tx: pd.DataFrame, data) -> None:
    changed = data.draw(
        st.lists(st.sampled_from(range(len(tx))), min_size=1, unique=True), label="relabelled"
    )
    new = tx.copy()
    pos = new.columns.get_indexer(["is_fraud", "label_time"])
    never = pd.Timestamp.max.tz_localize("UTC")
    safe_until = never
    for i in changed:
        t, old_label = new.iloc[i]["timestamp"], new.iloc[i]["label_time"]
        delay = data.draw(st.sampled_from([0, 1, 3, 12, None]), label="new delay")
        new_label = pd.NaT if delay is None else t + delay * STEP
        new.iloc[i, pos[0]] = data.draw(st.integers(0, 1), label="new label")
        new.iloc[i, pos[1]] = new_label
        for lab in (old_label, new_label):
            safe_until = min(safe_until, never if pd.isna(lab) else lab)
    # a label known at or after t (in either version) changes nothing at t
    keep = tx.loc[tx["timestamp"] <= safe_until, "transaction_id"]
    assert_same(_graph(new).loc[keep], _graph(tx).loc[keep])


@SETTINGS
@given(graph_transactions(), st.randoms(use_true_random=False))
def test_graph_features_do_not_depend_on_input_order(tx: pd.DataFrame, rnd) -> None:
    order = list(range(len(tx)))
    rnd.shuffle(order)
    shuffled = tx.iloc[order]
    f = _graph(shuffled)
    assert list(f.index) == list(shuffled["transaction_id"])
    assert_same(f, _graph(tx).loc[f.index])


@SETTINGS
@given(graph_transactions(min_size=5, max_size=40), st.integers(0, 40))
def test_a_slice_with_lookback_history_has_the_same_graph_features(tx: pd.DataFrame, start_slot: int) -> None:
    start = T0 + start_slot * STEP
    history = tx[tx["timestamp"] >= start - lookback(GRAPH_PARAMS)]
    sliced = _graph(history).loc[history.loc[history["timestamp"] >= start, "transaction_id"]]
    assert_same(sliced, _graph(tx).loc[sliced.index])
