"""The OKPay simulator: canonical, deterministic, realistic fraud and late labels; fraud
scenarios as one module each in one registry."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okml import simulate as sim
from okml.cli import main
from okml.config import Labels, SimulateParams, load_params
from okml.errors import ConfigError
from okml.schema import CANONICAL, validate
from okml.simulate import pipeline, scenarios
from okml.simulate.clock import burst_offsets, local_to_utc
from okml.simulate.rows import Rows, make_rows
from okml.simulate.scenario import Context, Registry, Scenario, how_many
from okml.simulate.tables import APP, CAT, HOUR, REGION_P, REGIONS
from okml.simulate.world import Pool, category_pool

SMALL = SimulateParams(n_customers=300, n_merchants=100, n_days=60, seed=7)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return sim.simulate(SMALL)


@pytest.fixture(scope="module")
def fraud(small: pd.DataFrame) -> pd.DataFrame:
    return small[small["is_fraud"] == 1]


def _kind(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    return df[df["fraud_type"] == kind]


# ----------------------------------------------------------------------------- helpers
def test_how_many_rounds_and_keeps_one_victim_when_the_rate_is_not_zero() -> None:
    assert how_many(12.0, 5000) == 60
    assert how_many(4.0, 300) == 1  # 1.2 rounds to 1
    assert how_many(0.5, 300) == 1  # 0.15 would round to none
    assert how_many(0.0, 300) == 0


def test_local_hours_become_utc_inside_the_same_day() -> None:
    start = 1_767_225_600  # 2026-01-01T00:00Z
    day = np.array([0, 0, 1, 2])
    local = np.array([8.0, 20.5, 7.5, 24.0])  # 08:00 CST is midnight UTC
    got = local_to_utc(day, local, start) - start
    assert got.tolist() == [0, 45_000, 86_400 + 84_600, 2 * 86_400 + 57_600]


def test_burst_offsets_restart_at_zero_for_each_group() -> None:
    rng = np.random.default_rng(0)
    off = burst_offsets(np.array([2, 0, 3]), 60.0, rng)
    assert len(off) == 5
    assert off[0] == 0.0 and off[2] == 0.0
    assert off[1] > 0 and off[3] > 0 and off[4] > off[3]


def test_pool_draws_by_weight_within_a_region() -> None:
    # merchants 0..3 in regions 0, 0, 1, 1; merchant 0 and 2 carry no weight
    pool = Pool(np.array([0, 0, 1, 1], dtype=np.int16), np.array([0.0, 1.0, 0.0, 3.0]))
    u = np.array([0.0, 0.5, 0.99])
    assert pool.draw(u, np.array([0, 0, 0], dtype=np.int16)).tolist() == [1, 1, 1]
    assert pool.draw(u, np.array([1, 1, 1], dtype=np.int16)).tolist() == [3, 3, 3]
    # everywhere: cumulative weights 0, 1, 1, 4 -> u * 4 below 1 is merchant 1
    assert pool.draw(np.array([0.1, 0.3, 0.9])).tolist() == [1, 3, 3]
    # a region without merchants falls back to the whole pool
    assert pool.draw(np.array([0.1]), np.array([5], dtype=np.int16)).tolist() == [1]


def test_new_pattern_start_is_the_fraction_of_the_period() -> None:
    p = SimulateParams(start="2026-01-01", n_days=30)
    assert sim.new_pattern_start(p) == pd.Timestamp("2026-01-21", tz="UTC")


def test_bad_start_date_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="simulate.start: cannot parse 'soon'"):
        sim.simulate(SMALL.model_copy(update={"start": "soon"}))


def test_fraud_knobs_out_of_range_are_rejected() -> None:
    with pytest.raises(ConfigError, match="fraud_share"):
        load_params(overrides=["simulate.compromised_merchant.fraud_share=2"])
    with pytest.raises(ConfigError, match="start_fraction"):
        load_params(overrides=["simulate.new_pattern.start_fraction=-0.1"])


# ----------------------------------------------------------------------------- schema
def test_output_is_canonical_and_validate_leaves_it_unchanged(small: pd.DataFrame) -> None:
    assert list(small.columns) == CANONICAL
    pd.testing.assert_frame_equal(validate(small, "sim"), small)
    assert small["transaction_id"].is_monotonic_increasing
    assert small["timestamp"].is_monotonic_increasing
    assert small["currency"].eq("CNY").all()
    assert set(small["channel"]) == {"app", "web", "pos"}
    assert small["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert small["merchant_id"].str.fullmatch(r"M\d{5}").all()
    assert set(small["merchant_category"]) <= set(sim.CATEGORIES)


def test_timestamps_stay_inside_the_period(small: pd.DataFrame) -> None:
    assert small["timestamp"].min() >= pd.Timestamp("2026-01-01", tz="UTC")
    assert small["timestamp"].max() < pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta("60D")


def test_accounts_exist_before_their_first_payment(small: pd.DataFrame) -> None:
    g = small.groupby("customer_id")
    assert (g["account_created_at"].nunique() == 1).all()
    assert (g["account_created_at"].first() < g["timestamp"].min()).all()


def test_legit_rows_carry_no_label(small: pd.DataFrame) -> None:
    legit = small[small["is_fraud"] == 0]
    assert legit["fraud_type"].isna().all()
    assert legit["label_time"].isna().all()
    assert legit["report_time"].isna().all()
    assert not legit["reported_by_user"].any()


# ----------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path) -> None:
    p = SimulateParams(n_customers=120, n_merchants=40, n_days=20, seed=3)
    a, _ = sim.simulate_to_file(p, str(tmp_path / "a.parquet"), progress=False)
    b, _ = sim.simulate_to_file(p, str(tmp_path / "b.parquet"), progress=False)
    c, _ = sim.simulate_to_file(p.model_copy(update={"seed": 4}), str(tmp_path / "c.parquet"), progress=False)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_fraud_knobs_leave_the_legitimate_background_alone(small: pd.DataFrame) -> None:
    # each stage has its own random stream: removing the rings removes only their rows
    p = SMALL.model_copy(update={"fake_orders": SMALL.fake_orders.model_copy(update={"rings": 0})})
    other = sim.simulate(p)
    cols = [
        "timestamp",
        "customer_id",
        "merchant_id",
        "amount",
        "channel",
        "device_id",
        "region",
        "is_fraud",
        "fraud_type",
    ]
    assert not other["fraud_type"].eq("fake_orders").any()
    for kind in (None, "compromised_merchant", "account_takeover"):
        a = small[small["fraud_type"].isna()] if kind is None else _kind(small, kind)
        b = other[other["fraud_type"].isna()] if kind is None else _kind(other, kind)
        pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))


# ----------------------------------------------------------------------------- legit behaviour
def test_customers_spend_mostly_at_a_few_favourite_merchants(small: pd.DataFrame) -> None:
    legit = small[small["is_fraud"] == 0]
    pairs = legit.groupby(["customer_id", "merchant_id"]).size()
    top5 = pairs.sort_values(ascending=False).groupby(level=0).head(5).groupby(level=0).sum()
    share = top5 / legit.groupby("customer_id").size()
    assert share.median() > 0.6
    # merchant popularity is skewed: the top tenth takes far more than a tenth
    per_merchant = legit["merchant_id"].value_counts()
    assert per_merchant.head(len(per_merchant) // 10).sum() / len(legit) > 0.25


def test_customers_use_one_or_two_devices_and_mostly_their_home_region(
    small: pd.DataFrame,
) -> None:
    legit = small[small["is_fraud"] == 0]
    g = legit.groupby("customer_id")
    assert g["device_id"].nunique().median() <= 2
    home_share = g["region"].agg(lambda s: s.value_counts(normalize=True).iloc[0])
    assert home_share.median() > 0.9


def test_payments_follow_a_daily_cycle(small: pd.DataFrame) -> None:
    local_hour = (small["timestamp"].dt.hour + 8) % 24
    per_hour = local_hour.value_counts()
    night = per_hour.reindex(range(2, 5), fill_value=0).mean()
    assert night * 5 < per_hour.loc[[12, 19]].mean()
    # and a weekly one: weekends are busier
    weekend = small["timestamp"].dt.day_of_week >= 5
    assert weekend.mean() > 2 / 7


# ----------------------------------------------------------------------------- fraud
def test_every_fraud_type_is_present_at_its_configured_size(fraud: pd.DataFrame) -> None:
    counts = fraud["fraud_type"].value_counts()
    assert set(counts.index) == set(sim.FRAUD_TYPES)
    q = SMALL
    assert counts["fake_orders"] == q.fake_orders.rings * q.fake_orders.orders_per_ring
    ato = _kind(fraud, "account_takeover")
    assert ato["customer_id"].nunique() == how_many(
        q.account_takeover.victims_per_1000_customers, q.n_customers
    )
    assert 0.3 < len(ato) / ato["customer_id"].nunique() / q.account_takeover.burst_size_mean < 2
    forged = _kind(fraud, "forged_identity")
    assert forged["customer_id"].nunique() == q.forged_identity.accounts
    assert 0.7 < len(forged) / q.forged_identity.accounts / q.forged_identity.payments_mean < 1.3
    new = _kind(fraud, "new_pattern")
    assert new["customer_id"].nunique() == how_many(q.new_pattern.victims_per_1000_customers, q.n_customers)


def test_compromised_merchants_turn_about_their_share_of_payments(small: pd.DataFrame) -> None:
    bad = _kind(small, "compromised_merchant")
    assert bad["merchant_id"].nunique() <= SMALL.compromised_merchant.merchants
    hit, total = 0, 0
    for m, rows in bad.groupby("merchant_id"):
        during = small[
            (small["merchant_id"] == m)
            & small["timestamp"].between(rows["timestamp"].min(), rows["timestamp"].max())
        ]
        hit, total = hit + len(rows), total + len(during)
        # its ordinary customers: they also paid there honestly
        honest = small[(small["merchant_id"] == m) & (small["is_fraud"] == 0)]
        assert rows["customer_id"].isin(honest["customer_id"]).mean() > 0.5
    assert 0.15 < hit / total < 0.5  # fraud_share 0.3


def test_account_takeover_uses_a_new_device_region_and_merchants(small: pd.DataFrame) -> None:
    ato = _kind(small, "account_takeover")
    for victim, rows in ato.groupby("customer_id"):
        before = small[(small["customer_id"] == victim) & (small["timestamp"] < rows["timestamp"].min())]
        assert len(before) > 0
        assert not rows["device_id"].isin(before["device_id"]).any()
        assert not rows["region"].isin(before["region"]).any()
        assert not rows["merchant_id"].isin(before["merchant_id"]).any()
        assert rows["amount"].median() > before["amount"].median()
        span = rows["timestamp"].max() - rows["timestamp"].min()
        assert span <= pd.Timedelta(hours=SMALL.account_takeover.burst_hours)


def test_fake_orders_concentrate_on_few_merchants_and_shared_devices(fraud: pd.DataFrame) -> None:
    fake = _kind(fraud, "fake_orders")
    q = SMALL.fake_orders
    assert fake["merchant_id"].nunique() <= q.rings
    assert fake["device_id"].nunique() <= q.rings * q.devices_per_ring
    assert fake["customer_id"].nunique() == q.rings * q.accounts_per_ring
    assert fake.groupby("device_id")["customer_id"].nunique().min() > 1
    assert fake["amount"].max() <= q.amount_max
    assert 0.5 < (fake["amount"] % 1 == 0).mean() < 0.9  # round_share 0.7
    # fast: most orders of a ring come within minutes of the previous one
    gaps = fake.groupby("merchant_id")["timestamp"].diff().dropna()
    assert (gaps < pd.Timedelta(minutes=5)).mean() > 0.8


def test_forged_identities_spend_big_soon_after_opening_then_vanish(small: pd.DataFrame) -> None:
    forged = _kind(small, "forged_identity")
    since = forged["timestamp"] - forged["account_created_at"]
    assert since.min() > pd.Timedelta(0)
    assert since.max() <= pd.Timedelta(days=SMALL.forged_identity.within_days, hours=12)
    legit = small[small["is_fraud"] == 0]
    assert forged["amount"].median() > 5 * legit["amount"].median()
    # the accounts do nothing else
    assert not small[small["is_fraud"] == 0]["customer_id"].isin(forged["customer_id"]).any()


def test_new_pattern_starts_late_from_the_victims_own_device(small: pd.DataFrame) -> None:
    new = _kind(small, "new_pattern")
    start = sim.new_pattern_start(SMALL)
    assert new["timestamp"].min() >= start
    assert set(new["merchant_category"]) <= {"digital", "games"}
    assert new["amount"].median() < 2 * SMALL.new_pattern.amount_mean
    legit = small[small["is_fraud"] == 0]
    own = [
        row.device_id in set(legit.loc[legit["customer_id"] == row.customer_id, "device_id"])
        for row in new.itertuples()
    ]
    assert np.mean(own) > 0.9


def test_new_pattern_can_be_switched_off_or_pushed_past_the_end() -> None:
    base = SimulateParams(n_customers=80, n_merchants=30, n_days=10)
    for new in ({"enabled": False}, {"start_fraction": 1.0}):
        p = base.model_copy(update={"new_pattern": base.new_pattern.model_copy(update=new)})
        assert not sim.simulate(p)["fraud_type"].eq("new_pattern").any()


def test_fraud_rate_at_default_knobs_is_between_two_and_ten_per_mille() -> None:
    df = sim.simulate(SimulateParams(n_customers=2500, n_merchants=1000))
    assert 0.002 <= df["is_fraud"].mean() <= 0.01


# ----------------------------------------------------------------------------- labels
def test_labels_come_late_and_reports_precede_them(fraud: pd.DataFrame) -> None:
    labelled = fraud[fraud["label_time"].notna()]
    assert (labelled["label_time"] >= labelled["timestamp"]).all()
    reported = fraud[fraud["reported_by_user"]]
    assert reported["report_time"].notna().all() and reported["label_time"].notna().all()
    assert (reported["report_time"] <= reported["label_time"]).all()
    assert (reported["report_time"] >= reported["timestamp"]).all()
    assert (reported["label_time"] - reported["report_time"]).max() < pd.Timedelta(days=2)
    assert fraud.loc[~fraud["reported_by_user"], "report_time"].isna().all()
    # nobody reports for fake-order rings or forged identities
    assert not fraud.loc[
        fraud["fraud_type"].isin(["fake_orders", "forged_identity"]), "reported_by_user"
    ].any()
    chargeback = labelled[~labelled["reported_by_user"]]
    delay = (chargeback["label_time"] - chargeback["timestamp"]).dt.total_seconds() / 86400
    q = SMALL.labels
    assert 0.7 * q.delay_days_median < delay.median() < 1.4 * q.delay_days_median
    assert delay.max() <= q.delay_days_max
    victims = fraud["fraud_type"].isin(["account_takeover", "compromised_merchant", "new_pattern"])
    assert fraud.loc[victims, "reported_by_user"].any()


def test_never_labelled_share_is_about_as_configured(fraud: pd.DataFrame) -> None:
    assert abs(fraud["label_time"].isna().mean() - SMALL.labels.never_labelled_share) < 0.03
    p = SMALL.model_copy(update={"labels": Labels(never_labelled_share=0.4)})
    f = sim.simulate(p).query("is_fraud == 1")
    assert abs(f["label_time"].isna().mean() - 0.4) < 0.05
    assert f.loc[f["label_time"].isna(), "reported_by_user"].eq(False).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    n_customers=st.integers(1, 60),
    n_merchants=st.integers(1, 25),
    n_days=st.integers(1, 15),
    rings=st.integers(0, 3),
    start_fraction=st.floats(0, 1),
    report_share=st.floats(0, 1),
)
def test_any_small_world_is_canonical_and_time_consistent(
    seed: int,
    n_customers: int,
    n_merchants: int,
    n_days: int,
    rings: int,
    start_fraction: float,
    report_share: float,
) -> None:
    base = SimulateParams()
    p = SimulateParams(
        seed=seed,
        n_customers=n_customers,
        n_merchants=n_merchants,
        n_days=n_days,
        fake_orders=base.fake_orders.model_copy(update={"rings": rings, "orders_per_ring": 20}),
        new_pattern=base.new_pattern.model_copy(update={"start_fraction": start_fraction}),
        labels=base.labels.model_copy(update={"report_share": report_share}),
        forged_identity=base.forged_identity.model_copy(update={"accounts": 3}),
    )
    df = sim.simulate(p)
    pd.testing.assert_frame_equal(validate(df), df)
    start = pd.Timestamp(p.start, tz="UTC")
    assert df["timestamp"].between(start, start + pd.Timedelta(days=n_days), inclusive="left").all()
    new = df[df["fraud_type"] == "new_pattern"]
    assert (new["timestamp"] >= sim.new_pattern_start(p)).all()
    assert (df["account_created_at"] < df["timestamp"]).all()
    both = df["report_time"].notna() & df["label_time"].notna()
    assert (df.loc[both, "report_time"] <= df.loc[both, "label_time"]).all()
    assert df["is_fraud"].eq(df["fraud_type"].notna()).all()


# ----------------------------------------------------------------------------- scenario registry
def _promo_abuse(ctx: Context) -> Rows:
    """``promo_abuse``, the README's example: 40 new accounts on 4 phones claim a sign-up
    bonus, one small payment at a digital-goods merchant within an hour of opening each."""
    w, rng, n = ctx.world, ctx.rng, 40
    opened = rng.uniform(w.start, w.end - HOUR, n).astype(np.int64)
    accounts = ctx.ids.accounts(opened)
    devices = ctx.ids.devices(4)
    return make_rows(
        n,
        ts=opened + rng.integers(60, HOUR, n),
        cust=accounts,
        merch=category_pool(w, [CAT["digital"]]).draw(rng.random(n)),
        amount=np.round(rng.uniform(5.0, 20.0, n), 2),
        channel=APP,
        device=devices[rng.integers(0, 4, n)],
        region=rng.choice(len(REGIONS), n, p=REGION_P),
        incident=accounts,
    )


PROMO = Scenario(name="promo_abuse", code=6, reportable=False, stage="promo abuse", generate=_promo_abuse)


def test_the_registry_lists_every_scenario_module_once_with_consistent_tables() -> None:
    names = [s.name for s in scenarios.SCENARIOS]
    codes = [s.code for s in scenarios.SCENARIOS]
    assert len(set(names)) == len(names) and len(set(codes)) == len(codes)
    assert all(1 <= c <= 127 for c in codes)
    assert sim.FRAUD_TYPES == scenarios.FRAUD_TYPES == tuple(names)
    assert scenarios.CODES == dict(zip(names, codes, strict=True))
    assert scenarios.REPORTABLE == {"account_takeover", "compromised_merchant", "new_pattern"}
    assert sim.STAGES == (
        "merchants and customers",
        "legitimate payments",
        *(s.stage for s in scenarios.SCENARIOS),
        "labels",
        "assemble",
    )
    # one module per scenario, named after it, and no module left out of the list
    folder = Path(scenarios.__file__).parent
    assert {f.stem for f in folder.glob("*.py")} - {"__init__"} == set(names)
    for s in scenarios.SCENARIOS:
        module = sys.modules[f"okml.simulate.scenarios.{s.name}"]
        assert module.SCENARIO is s
        assert (module.__doc__ or "").startswith(f"``{s.name}``: ")  # says what it simulates
    reg = scenarios.registry()
    assert reg.names_by_code[0] == "" and not reg.reportable_by_code[0]
    assert [reg.names_by_code[c] for c in codes] == names


def test_the_registry_rejects_clashing_names_codes_and_misnamed_modules(monkeypatch) -> None:
    ato = scenarios.SCENARIOS[0]
    with pytest.raises(ValueError, match="share a name: account_takeover"):
        Registry.of([ato, replace(ato, code=99)])
    with pytest.raises(ValueError, match="share a code: 1"):
        Registry.of([ato, replace(ato, name="other")])
    with pytest.raises(ValueError, match="code 0 is not within"):
        Registry.of([replace(ato, code=0)])
    module = types.ModuleType("okml.simulate.scenarios.promo_abuse")
    module.SCENARIO = replace(PROMO, name="promo")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with pytest.raises(ValueError, match="SCENARIO.name is 'promo'"):
        scenarios._load("promo_abuse")
    module.SCENARIO = PROMO  # type: ignore[attr-defined]
    assert scenarios._load("promo_abuse") is PROMO  # the one line that registers a module


def test_a_new_scenario_is_one_registered_record(monkeypatch) -> None:
    p = SimulateParams(n_customers=300, n_merchants=80, n_days=40, seed=2, labels=Labels(report_share=1.0))
    before = sim.simulate(p)
    reported = replace(PROMO, name="promo_reported", code=7, reportable=True, stage="promo reported")
    monkeypatch.setattr(scenarios, "SCENARIOS", [*scenarios.SCENARIOS, PROMO, reported])
    assert pipeline.stages(scenarios.registry())[-4:] == (
        "promo abuse",
        "promo reported",
        "labels",
        "assemble",
    )
    df = sim.simulate(p)
    pd.testing.assert_frame_equal(validate(df), df)
    counts = df["fraud_type"].value_counts()
    assert counts["promo_abuse"] == counts["promo_reported"] == 40
    assert set(counts.index) == {*sim.FRAUD_TYPES, "promo_abuse", "promo_reported"}
    # reported as declared: every reportable incident is reported at report_share 1
    assert not _kind(df, "promo_abuse")["reported_by_user"].any()
    assert _kind(df, "promo_reported")["reported_by_user"].all()
    assert _kind(df, "account_takeover")["reported_by_user"].all()
    assert not _kind(df, "fake_orders")["reported_by_user"].any()
    # its own stream and new ids after the others: the rest of the data is as it was
    cols = ["timestamp", "customer_id", "merchant_id", "amount", "channel", "device_id", "region"]
    old = df[~df["fraud_type"].isin(["promo_abuse", "promo_reported"])]
    pd.testing.assert_frame_equal(
        old[cols + ["fraud_type"]].reset_index(drop=True), before[cols + ["fraud_type"]]
    )
    promo = _kind(df, "promo_abuse")
    assert not promo["customer_id"].isin(before["customer_id"]).any()
    assert promo["device_id"].nunique() <= 4
    assert (promo["timestamp"] - promo["account_created_at"]).max() < pd.Timedelta(hours=1)


# ----------------------------------------------------------------------------- ground truth
def test_actor_id_names_who_is_behind_each_fraud(small: pd.DataFrame) -> None:
    """``actor_id``: the ring, the compromised merchant, the customer's episode; missing for
    legitimate payments."""
    actor = small["actor_id"].astype("string")
    assert actor.isna().eq(small["is_fraud"] == 0).all()
    rings = _kind(small, "fake_orders")
    assert rings["actor_id"].str.fullmatch(r"ring-\d+").all()
    assert rings["actor_id"].nunique() == SMALL.fake_orders.rings
    per_ring = rings.groupby("actor_id")
    assert (per_ring["customer_id"].nunique() == SMALL.fake_orders.accounts_per_ring).all()
    assert (per_ring["merchant_id"].nunique() == 1).all()
    # a ring's accounts belong to no other ring
    assert rings.groupby("customer_id")["actor_id"].nunique().eq(1).all()
    skimmed = _kind(small, "compromised_merchant")
    assert (skimmed["actor_id"] == "merchant-" + skimmed["merchant_id"]).all()
    for kind, prefix in (
        ("account_takeover", "ato"),
        ("forged_identity", "forged"),
        ("new_pattern", "testing"),
    ):
        rows = _kind(small, kind)
        assert (rows["actor_id"] == prefix + "-" + rows["customer_id"] + "-1").all(), kind


def test_actor_id_is_the_same_in_a_sharded_world() -> None:
    """A sharded world names its actors by the same rules, its blocks' accounts included."""
    p = SimulateParams(n_customers=600, n_merchants=60, n_days=30, seed=4)
    df = pd.concat(sim.simulate_shards(p, 2, block_size=300), ignore_index=True)
    ato = _kind(df, "account_takeover")
    assert (ato["actor_id"] == "ato-" + ato["customer_id"] + "-1").all()
    rings = _kind(df, "fake_orders")
    assert sorted(rings["actor_id"].unique()) == [f"ring-{r}" for r in range(p.fake_orders.rings)]
    assert df["actor_id"].isna().eq(df["is_fraud"] == 0).all()


def test_a_scenario_that_names_no_actor_gets_one_per_incident(monkeypatch) -> None:
    p = SimulateParams(n_customers=200, n_merchants=60, n_days=20, seed=2)
    monkeypatch.setattr(scenarios, "SCENARIOS", [*scenarios.SCENARIOS, PROMO])
    promo = _kind(sim.simulate(p), "promo_abuse")
    assert promo["actor_id"].str.fullmatch(r"promo_abuse-\d+").all()
    assert promo["actor_id"].nunique() == promo["customer_id"].nunique() == 40
    with pytest.raises(ValueError, match="actor 'ring' is not one of"):
        Registry.of([replace(PROMO, actor="ring")])  # type: ignore[arg-type]


def test_actor_id_is_an_optional_column_the_loader_keeps(small: pd.DataFrame, tmp_path) -> None:
    from okml.config import DataParams
    from okml.data import load

    path = tmp_path / "tx.parquet"
    small.to_parquet(path, index=False)
    loaded = load(path, params=DataParams())
    assert list(loaded.columns) == CANONICAL
    pd.testing.assert_series_equal(loaded["actor_id"], small["actor_id"])
    small.drop(columns=["actor_id"]).to_parquet(path, index=False)  # data without it: fine
    assert "actor_id" not in load(path, params=DataParams()).columns


# ----------------------------------------------------------------------------- files and CLI
def test_simulate_to_file_writes_atomically(tmp_path) -> None:
    p = SimulateParams(n_customers=50, n_merchants=20, n_days=5)
    path, df = sim.simulate_to_file(p, str(tmp_path / "out" / "tx.parquet"), progress=False)
    assert path == tmp_path / "out" / "tx.parquet"
    assert [f.name for f in path.parent.iterdir()] == ["tx.parquet"]  # no temp file left
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, df)


def test_print_summary_shows_counts_by_fraud_type(capsys) -> None:
    t = pd.Timestamp("2026-01-01 10:00", tz="UTC")
    df = pd.DataFrame(
        {
            "timestamp": [t, t + pd.Timedelta("1h"), t + pd.Timedelta("1D"), t + pd.Timedelta("25h")],
            "customer_id": ["C1", "C1", "C2", "C3"],
            "merchant_id": ["M1", "M2", "M1", "M1"],
            "amount": [10.0, 250.0, 30.0, 40.0],
            "is_fraud": [0, 1, 0, 1],
            "fraud_type": [None, "account_takeover", None, "fake_orders"],
            "label_time": [pd.NaT, t + pd.Timedelta("2D"), pd.NaT, pd.NaT],
            "reported_by_user": [False, True, False, False],
        }
    )
    sim.print_summary(df)
    out = capsys.readouterr().out
    assert "rows        4" in out
    assert "customers   3" in out and "merchants   2" in out
    assert "per day     2 / 2 / 2" in out
    assert "fraud rate 50.000%" in out
    ato = next(line for line in out.splitlines() if line.startswith("account_takeover"))
    assert ato.split() == ["account_takeover", "1", "25.000%", "250", "100%", "100%"]
    fake = next(line for line in out.splitlines() if line.startswith("fake_orders"))
    assert fake.split() == ["fake_orders", "1", "25.000%", "40", "0%", "0%"]


def test_cli_simulate_writes_the_file_and_a_summary(tmp_path, capsys) -> None:
    out = tmp_path / "tx.parquet"
    rc = main(
        [
            "simulate",
            "-q",
            "--output",
            str(out),
            "--set",
            "simulate.n_customers=200",
            "--set",
            "simulate.n_merchants=50",
            "--set",
            "simulate.n_days=14",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert f"to {out}" in text and "fake_orders" in text
    df = pd.read_parquet(out)
    assert df["customer_id"].nunique() > 150
    rc = main(["simulate", "-q", "--output", str(out), "--if-missing"])
    assert rc == 0 and "not simulating" in capsys.readouterr().out
