"""The entity graph (okml.features.graph), the groups of a day (okml.rings) and the ground
truth behind them (actor_id): hand-made frames with exact values, the day's groups against
the engine on a simulated world, and the engines that refuse the graph families.

The point-in-time properties and the row-by-row definition of every graph feature are in
``tests/test_features_props.py`` (``GRAPH_PARAMS``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from okml.config import FeatureParams, SimulateParams
from okml.errors import ConfigError
from okml.features import build_features, feature_names, registry
from okml.rings import day_groups, groups_at, ring_detection
from okml.schema import validate
from okml.simulate import simulate

ON = FeatureParams().families.model_copy(update={"graph": True, "compromise": True})
P = FeatureParams(families=ON, timezone="UTC")
T0 = pd.Timestamp("2026-03-02", tz="UTC")  # a Monday, midnight UTC: an epoch starts here


def at(text: str, day: int = 0) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=day) + pd.Timedelta(f"{text}:00")


def frame(rows: list[dict]) -> pd.DataFrame:
    base = {"amount": 10.0, "merchant_id": "m0", "device_id": None, "is_fraud": 0, "label_time": pd.NaT}
    out = [base | r for r in rows]
    for i, r in enumerate(out):
        r.setdefault("transaction_id", f"t{i:02d}")
    return validate(pd.DataFrame(out))


def graph(tx: pd.DataFrame, params: FeatureParams = P) -> pd.DataFrame:
    reg = registry(params)
    names = [n for n in feature_names(params, tx.columns) if reg[n].family in ("graph", "compromise")]
    return build_features(tx, params, names=names)


# ------------------------------------------------------------------------ hard links
def test_customers_who_share_a_device_are_one_group_with_its_payments_and_frauds() -> None:
    tx = frame(
        [
            {"timestamp": at("10:00"), "customer_id": "c1", "device_id": "d1", "is_fraud": 1,
             "label_time": at("10:01")},
            {"timestamp": at("10:05"), "customer_id": "c2", "device_id": "d1"},
            {"timestamp": at("10:10"), "customer_id": "c3", "device_id": "d2"},
            {"timestamp": at("10:15"), "customer_id": "c3", "device_id": "d1"},
            {"timestamp": at("10:20"), "customer_id": "c4", "device_id": "d3"},
        ]
    )  # fmt: skip
    f = graph(tx)
    # c2 on d1: its own customer is new, the device brings c1 and c1's known fraud
    assert f.loc["t01", "graph_group_size_7d"] == 2
    assert f.loc["t01", "graph_group_payments_7d"] == 1
    assert f.loc["t01", "graph_group_known_frauds_7d"] == 1
    assert f.loc["t01", "device_known_frauds_7d"] == 1
    # c3 on d1 joins its own group (c3, d2) with d1's (c1, c2)
    assert f.loc["t03", "graph_group_size_7d"] == 3
    assert f.loc["t03", "graph_group_payments_7d"] == 3
    # nobody else on d3; a device new to the graph has no known frauds of others
    assert f.loc["t04", "graph_group_size_7d"] == 1
    assert f.loc["t04", "graph_group_payments_7d"] == 0
    assert f.loc["t04", "device_known_frauds_7d"] == 0
    # the first payment: alone, nothing before it
    assert f.loc["t00", "graph_group_size_7d"] == 1
    assert f.loc["t00", "graph_soft_group_size_7d"] == 1


def test_a_label_counts_only_once_it_is_known() -> None:
    tx = frame(
        [
            {"timestamp": at("10:00"), "customer_id": "c1", "device_id": "d1", "is_fraud": 1,
             "label_time": at("10:05")},
            {"timestamp": at("10:05"), "customer_id": "c2", "device_id": "d1"},  # label_time == t
            {"timestamp": at("10:06"), "customer_id": "c2", "device_id": "d1"},
        ]
    )  # fmt: skip
    f = graph(tx)
    assert f.loc["t01", "graph_group_known_frauds_7d"] == 0
    assert f.loc["t02", "graph_group_known_frauds_7d"] == 1


def test_a_hub_device_links_nobody_and_its_earlier_links_go() -> None:
    p = P.model_copy(update={"hub_customers": 2})
    tx = frame(
        [
            {"timestamp": at("10:00"), "customer_id": "c1", "device_id": "d1"},
            {"timestamp": at("10:01"), "customer_id": "c2", "device_id": "d1"},
            {"timestamp": at("10:02"), "customer_id": "c1", "device_id": "d2"},  # c1 and c2 linked
            {"timestamp": at("10:03"), "customer_id": "c3", "device_id": "d1"},  # d1's third: a hub
            {"timestamp": at("10:04"), "customer_id": "c1", "device_id": "d2"},
            {"timestamp": at("10:05"), "customer_id": "c4", "device_id": "d1"},
        ]
    )  # fmt: skip
    f = graph(tx, p)
    assert f.loc["t02", "graph_group_size_7d"] == 2
    assert f.loc["t03", "graph_group_size_7d"] == 3  # not yet a hub: its third customer is this one
    assert f.loc["t04", "graph_group_size_7d"] == 1  # the links through d1 are gone
    assert f.loc["t04", "graph_group_payments_7d"] == 2
    assert f.loc["t05", "graph_group_size_7d"] == 1  # the hub does not join c4 to anyone
    assert math.isnan(f.loc["t05", "device_known_frauds_7d"])
    assert math.isnan(graph(tx.assign(device_id=None), p).loc["t05", "device_known_frauds_7d"])


def test_the_graph_reaches_back_from_the_start_of_the_epoch() -> None:
    p = P.model_copy(update={"graph_window": "1d"})
    tx = frame(
        [
            {"timestamp": at("00:30"), "customer_id": "c1", "device_id": "d1"},
            {"timestamp": at("23:00", day=1), "customer_id": "c2", "device_id": "d1"},
            {"timestamp": at("00:10", day=2), "customer_id": "c2", "device_id": "d1"},
        ]
    )  # fmt: skip
    f = graph(tx, p)
    # day 1 at 23:00 sees everything after day 0 00:00: c1's payment of day 0 is in
    assert f.loc["t01", "graph_group_size_1d"] == 2
    # day 2 sees from day 1 00:00 on: c1 is gone
    assert f.loc["t02", "graph_group_size_1d"] == 1
    assert f.loc["t02", "graph_group_payments_1d"] == 1
    assert registry(p)["graph_group_size_1d"].lookback_seconds == 2 * 86400


# ------------------------------------------------------------------------ soft links
def test_paying_one_merchant_together_on_two_days_is_a_soft_link() -> None:
    rows = []
    for day in (0, 1, 2):
        rows += [
            {"timestamp": at("12:00", day), "customer_id": "c1", "merchant_id": "shop"},
            {"timestamp": at("12:04", day), "customer_id": "c2", "merchant_id": "shop"},
        ]
    rows.append({"timestamp": at("13:00", 1), "customer_id": "c3", "merchant_id": "shop"})  # 56 min late
    tx = frame(rows)
    f = graph(tx)
    size, hard = f["graph_soft_group_size_7d"], f["graph_group_size_7d"]
    # day 0: one day of co-occurrence is not enough
    assert size.loc["t01"] == 1
    # day 1: c2's payment makes the second day; the link counts from the next payment on
    assert size.loc["t03"] == 1 and size.loc["t04"] == 2
    assert size.loc["t05"] == 2 and f.loc["t05", "graph_soft_group_payments_7d"] == 5
    assert (hard == 1).all()  # no device: no hard link
    assert size.loc["t06"] == 1  # c3 came too late to co-occur
    # a merchant with more customers than hub_customers links nobody
    hub = graph(tx, P.model_copy(update={"hub_customers": 2}))
    assert (hub["graph_soft_group_size_7d"] == 1).all()


# ---------------------------------------------------------------- point of compromise
def test_a_merchant_whose_customers_were_later_confirmed_victims() -> None:
    p = P.model_copy(update={"compromise_windows": ["1d"]})
    tx = frame(
        [
            {"timestamp": at("09:00"), "customer_id": "c2", "merchant_id": "m2", "is_fraud": 1,
             "label_time": at("09:30")},  # c2's fraud comes before its visit to m1: no victim of it
            {"timestamp": at("10:00"), "customer_id": "c1", "merchant_id": "m1"},
            {"timestamp": at("10:05"), "customer_id": "c2", "merchant_id": "m1"},
            {"timestamp": at("10:10"), "customer_id": "c3", "merchant_id": "m1"},
            {"timestamp": at("11:00"), "customer_id": "c1", "merchant_id": "m2", "is_fraud": 1,
             "label_time": at("11:30")},  # c1, who paid m1 before: a victim from 11:30 on
            {"timestamp": at("11:20"), "customer_id": "c4", "merchant_id": "m1"},
            {"timestamp": at("12:00"), "customer_id": "c4", "merchant_id": "m1"},
            {"timestamp": at("12:00"), "customer_id": "c1", "merchant_id": "m1", "transaction_id": "u1"},
            {"timestamp": at("10:01", day=1), "customer_id": "c4", "merchant_id": "m1"},
        ]
    )  # fmt: skip
    f = graph(tx, p)
    count, share = f["merch_victim_customers_1d"], f["merch_victim_share_1d"]
    assert count.loc["t05"] == 0  # the label is not known yet
    assert count.loc["t06"] == 1 and share.loc["t06"] == pytest.approx(1 / 3)
    assert count.loc["u1"] == 0  # c1's own payment: the other customers are c2, c3, c4
    assert share.loc["u1"] == 0
    # a day later c1's visit of 10:00 has left the window, c1's visit of 12:00 is after its fraud
    assert count.loc["t08"] == 0 and share.loc["t08"] == 0
    assert math.isnan(share.loc["t01"])  # nobody paid m1 before


# ------------------------------------------------------------- the groups of a day
def _ring_world() -> pd.DataFrame:
    return simulate(
        SimulateParams(n_customers=400, n_merchants=80, n_days=30, seed=3, fake_orders={"rings": 2})
    )


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return _ring_world()


@pytest.mark.parametrize("devices", [True, False], ids=["rings_share_phones", "rings_without_devices"])
def test_day_groups_are_the_groups_the_next_epochs_payments_see(world: pd.DataFrame, devices: bool) -> None:
    """At midnight the engine's group of a customer is its component in day_groups' graph:
    one probe payment per customer at the end of the day (no device, a merchant of its own,
    so it links nothing) reads it back. Without their phones, only soft links (the ring's
    orders at its shop on several days) hold a ring together."""
    params = P.model_copy(update={"hub_customers": 10})  # some shops are hubs, the rings' are not
    is_ring = world["actor_id"].astype("string").str.startswith("ring-").fillna(False)
    if not devices:
        world = world.assign(device_id=world["device_id"].where(~is_ring))
    rings = world.loc[is_ring]
    soft_only = False
    for day in sorted(set(rings["timestamp"].dt.floor("D")))[:3]:
        end = day + pd.Timedelta(days=1)
        groups = groups_at(world, params, end, min_size=1)
        members = {c: g for g, ms in zip(groups["group"], groups["members"], strict=True) for c in ms}
        sizes = groups.set_index("group")["size"]
        probes = pd.DataFrame(
            {
                "transaction_id": np.arange(len(members)) + 10**9,
                "timestamp": end,
                "customer_id": list(members),
                "merchant_id": [f"probe{i}" for i in range(len(members))],
                "amount": 1.0,
                "is_fraud": 0,
                "reported_by_user": False,
            }
        )
        tx = validate(pd.concat([world[world["timestamp"] < end], probes], ignore_index=True))
        f = graph(tx, params).loc[probes["transaction_id"]]
        want = [sizes[members[c]] for c in probes["customer_id"]]
        assert f["graph_soft_group_size_7d"].tolist() == want
        hard = groups_at(world, params, end, min_size=1, soft=False)
        by = {c: s for s, ms in zip(hard["size"], hard["members"], strict=True) for c in ms}
        assert f["graph_group_size_7d"].tolist() == [by[c] for c in probes["customer_id"]]
        soft_only |= bool((f["graph_soft_group_size_7d"] > f["graph_group_size_7d"]).any())
    assert soft_only or devices  # without phones, the rings hold together by their soft links


def test_each_ring_is_listed_whole_and_alone(world: pd.DataFrame) -> None:
    found = ring_detection(world, P)
    assert len(found) == 2
    assert (found["recall_last"] == 1).all() and (found["precision_last"] == 1).all()
    assert (found["day_listed"] <= 1).all() and (found["day_whole"] <= 2).all()
    ring = world.loc[world["actor_id"] == found["ring"].iloc[0]]
    day = ring["timestamp"].max().floor("D")
    groups = day_groups(world, P, day)
    accounts = set(ring["customer_id"])
    top = groups[groups["members"].map(lambda m: bool(accounts & set(m)))].iloc[0]
    assert set(top["members"]) == accounts
    assert top["payments"] >= len(ring[ring["timestamp"] < day + pd.Timedelta(days=1)])
    assert list(groups.columns)[:3] == ["group", "size", "members"]
    assert (groups["size"] >= 4).all()  # families sharing a phone are not listed
    assert day_groups(world.iloc[:0], P, day).empty


# ------------------------------------------------------------------- the ground truth
def test_features_never_read_the_actor(world: pd.DataFrame) -> None:
    tx = world[world["timestamp"] < world["timestamp"].min() + pd.Timedelta(days=12)]
    a = build_features(tx, P)
    b = build_features(tx.drop(columns=["actor_id"]), P)
    c = build_features(tx.assign(actor_id=tx["actor_id"].sample(frac=1.0, random_state=0).to_numpy()), P)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert not any("actor" in n for n in a.columns)


# ------------------------------------------------- the engine that refuses (the dask one computes them)
@pytest.mark.parametrize("family", ["graph", "compromise"])
def test_the_online_path_refuses_the_graph_families_in_one_line(family: str) -> None:
    from okml.features.online import OnlineFeatures, warm_state

    params = FeatureParams(families={family: True})
    columns = ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"]
    with pytest.raises(ConfigError, match=rf"^features\.families\.{family}: okml serve \(the online path\)"):
        OnlineFeatures(params, columns)
    with pytest.raises(ConfigError, match=rf"features\.families\.{family}"):
        warm_state(frame([{"timestamp": at("10:00"), "customer_id": "c1"}]), params)


# ------------------------------------------------------------------------- wording
def test_graph_reasons_in_both_languages() -> None:
    from okml.explain.reasons import reason_text

    row = {
        "graph_group_size_7d": 8.0,
        "graph_group_payments_7d": 120.0,
        "graph_group_known_frauds_7d": 3.0,
        "device_known_frauds_7d": 0.0,
        "merch_victim_customers_7d": 12.0,
        "merch_victim_share_7d": 0.1,
    }
    assert reason_text("graph_group_size_7d", row, P) == (
        "linked through shared devices to 7 other customers (120 payments in about the last 7 days)"
    )
    assert reason_text("graph_group_size_7d", row, P, language="zh") == (
        "通过共用设备与7位其他客户相连（约过去7天内共120笔支付）"
    )
    shop = row | {"graph_group_merchant_share_7d": 0.96}
    assert reason_text("graph_group_merchant_share_7d", shop, P) == (
        "linked through shared devices to 7 other customers (120 payments in about the last 7 days, "
        "96% of them at this merchant)"
    )
    assert reason_text("graph_group_known_frauds_7d", row, P) == (
        "3 payments of the linked accounts in about the last 7 days already confirmed as fraud"
    )
    assert reason_text("merch_victim_share_7d", row, P) == (
        "10% of this merchant's other customers in the last 7 days (12 other customers) were later "
        "confirmed as fraud victims: a possible common point of compromise"
    )
    # values that do not explain a higher score are not told as if they did
    assert (
        reason_text("device_known_frauds_7d", row, P)
        == "other factors (confirmed fraud of others on this device)"
    )
    alone = {"graph_group_size_7d": 1.0, "graph_group_payments_7d": 30.0}
    assert (
        reason_text("graph_group_size_7d", alone, P)
        == "other factors (accounts linked through shared devices)"
    )
    low = {"merch_victim_share_30d": 0.01, "merch_victim_customers_30d": 2.0}
    assert reason_text("merch_victim_share_30d", low, P).startswith("other factors (")
