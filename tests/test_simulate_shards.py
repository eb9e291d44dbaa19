"""A sharded world (``simulate.shards``): a folder of Parquet files made shard by shard, the same
rows whatever the number of shards, written atomically, loaded as one data set."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okml import simulate as sim
from okml.cli import main
from okml.config import SimulateParams
from okml.data import load
from okml.io import _host
from okml.schema import validate
from okml.simulate import shards
from okml.simulate.legit import expected_merchant_payments, legit_payments
from okml.simulate.scenario import Block, how_many
from okml.simulate.world import build_world

# 300 customers in blocks of 25: twelve blocks, so that 3 and 7 shards cut them differently
SMALL = SimulateParams(n_customers=300, n_merchants=100, n_days=30, seed=7)
BLOCK = 25


def _write(p: SimulateParams, out: Path, n: int) -> Path:
    path, _ = shards.write_shards(p, str(out), shards=n, progress=False, block_size=BLOCK)
    return path


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def _rows(folder: Path) -> pd.DataFrame:
    df = pd.concat([pd.read_parquet(f) for f in _parts(folder)], ignore_index=True)
    return df.sort_values("transaction_id", ignore_index=True)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("shards")
    return {n: _write(SMALL, root / f"tx{n}", n) for n in (1, 3, 7)}


@pytest.fixture(scope="module")
def rows(written: dict[int, Path]) -> pd.DataFrame:
    return _rows(written[3])


# ----------------------------------------------------------------------------- the same rows
def test_the_rows_are_the_same_whatever_the_number_of_shards(written: dict[int, Path]) -> None:
    assert [len(_parts(written[n])) for n in (1, 3, 7)] == [1, 3, 7]
    assert [f.name for f in _parts(written[3])] == [f"part-0000{i}.parquet" for i in range(3)]
    one = _rows(written[1])
    for n in (3, 7):
        pd.testing.assert_frame_equal(_rows(written[n]), one)


def test_the_files_hold_the_frames_of_simulate_shards(written: dict[int, Path]) -> None:
    frames = list(shards.simulate_shards(SMALL, 3, block_size=BLOCK))
    for frame, file in zip(frames, _parts(written[3]), strict=True):
        pd.testing.assert_frame_equal(pd.read_parquet(file), frame)


def test_same_seed_gives_identical_files_and_another_seed_differs(written: dict[int, Path], tmp_path) -> None:
    again = _write(SMALL, tmp_path / "again", 3)
    other = _write(SMALL.model_copy(update={"seed": 8}), tmp_path / "other", 3)
    for a, b, c in zip(_parts(written[3]), _parts(again), _parts(other), strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()


def test_the_block_size_not_the_shards_sets_the_rows(rows: pd.DataFrame) -> None:
    # other blocks, other draws; and one run of the whole world is different again
    bigger = pd.concat(list(shards.simulate_shards(SMALL, 3, block_size=100)), ignore_index=True)
    whole = sim.simulate(SMALL)
    amounts = rows["amount"].sort_values(ignore_index=True)
    for other in (bigger, whole):
        assert not other["amount"].sort_values(ignore_index=True).equals(amounts)


# ----------------------------------------------------------------------------- canonical files
def test_each_file_is_canonical_and_in_time_order(written: dict[int, Path]) -> None:
    for file in _parts(written[7]):
        df = pd.read_parquet(file)
        pd.testing.assert_frame_equal(validate(df, file), df)
        key = df[["timestamp", "transaction_id"]]
        pd.testing.assert_frame_equal(key.sort_values(list(key), ignore_index=True), key)


def test_the_folder_loads_as_one_data_set_with_consistent_ids(written: dict[int, Path]) -> None:
    df = load(written[7])
    assert len(df) == len(_rows(written[7]))
    assert df["transaction_id"].is_unique
    assert df["timestamp"].is_monotonic_increasing
    # accounts and devices belong to one block, so to one file; merchants are shared
    cols = ["customer_id", "device_id", "merchant_id"]
    files = [pd.read_parquet(f, columns=cols) for f in _parts(written[7])]
    for col in ("customer_id", "device_id"):
        ids = [set(f[col]) for f in files]
        assert sum(map(len, ids)) == len(set().union(*ids))
    assert df["customer_id"].str.fullmatch(r"C\d{8}").all()  # block 00..11, then six digits
    assert df["device_id"].str.fullmatch(r"D\d{8}").all()
    assert df["merchant_id"].str.fullmatch(r"M\d{5}").all()
    assert len(set.intersection(*(set(f["merchant_id"]) for f in files))) > 10
    g = df.groupby("customer_id")
    assert (g["account_created_at"].nunique() == 1).all()
    assert (g["account_created_at"].first() < g["timestamp"].min()).all()
    # transaction ids come from the block: its number, then 1, 2, ... in time order
    block = df["transaction_id"] // shards.TX_STRIDE
    assert block.nunique() == SMALL.n_customers // BLOCK
    assert (df["customer_id"].str[1:3].astype(int) == block).all()


# ----------------------------------------------------------------------------- fraud
def test_every_fraud_type_is_present_at_the_size_of_one_run(rows: pd.DataFrame) -> None:
    fraud = rows[rows["is_fraud"] == 1]
    counts = fraud["fraud_type"].value_counts()
    assert set(counts.index) == set(sim.FRAUD_TYPES)
    q = SMALL
    # the world's victims, rings and accounts, split over the blocks
    assert counts["fake_orders"] == q.fake_orders.rings * q.fake_orders.orders_per_ring
    forged = fraud.loc[fraud["fraud_type"] == "forged_identity", "customer_id"]
    assert forged.nunique() == q.forged_identity.accounts
    for kind, rate in (
        ("account_takeover", q.account_takeover.victims_per_1000_customers),
        ("new_pattern", q.new_pattern.victims_per_1000_customers),
    ):
        victims = fraud.loc[fraud["fraud_type"] == kind, "customer_id"].nunique()
        assert victims == how_many(rate, q.n_customers)
    skimmed = fraud[fraud["fraud_type"] == "compromised_merchant"]
    assert 0 < skimmed["merchant_id"].nunique() <= q.compromised_merchant.merchants
    # a skimmed merchant is hit in many blocks, in one window of the configured days
    assert (skimmed["transaction_id"] // shards.TX_STRIDE).nunique() > 3
    span = skimmed.groupby("merchant_id")["timestamp"].agg(lambda t: t.max() - t.min())
    assert span.max() <= pd.Timedelta(days=q.compromised_merchant.days)


def test_rings_keep_their_accounts_devices_and_shop_in_one_block(rows: pd.DataFrame) -> None:
    fake = rows[rows["fraud_type"] == "fake_orders"]
    q = SMALL.fake_orders
    assert fake["customer_id"].nunique() == q.rings * q.accounts_per_ring
    assert fake.groupby("device_id")["customer_id"].nunique().min() > 1
    # one colluding shop per ring, no two rings sharing one (as in one run)
    assert fake["merchant_id"].nunique() == q.rings
    blocks = fake["transaction_id"] // shards.TX_STRIDE
    assert (blocks.groupby(fake["merchant_id"]).nunique() == 1).all()


def test_fraud_shares_are_those_of_one_run() -> None:
    p = SimulateParams(n_customers=1500, n_merchants=600, n_days=60, seed=3)
    whole = sim.simulate(p)
    sharded = pd.concat(list(shards.simulate_shards(p, 2, block_size=250)), ignore_index=True)
    a, b = whole["fraud_type"].value_counts(), sharded["fraud_type"].value_counts()
    assert a["fake_orders"] == b["fake_orders"]
    for kind in ("account_takeover", "forged_identity", "new_pattern"):
        assert 0.7 < b[kind] / a[kind] < 1.4, kind
    assert 0.3 < b["compromised_merchant"] / a["compromised_merchant"] < 3
    assert 0.8 < len(sharded) / len(whole) < 1.2
    assert abs(sharded["label_time"].notna()[sharded["is_fraud"] == 1].mean() - 0.95) < 0.04


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    n_customers=st.integers(1, 60),
    n_merchants=st.integers(1, 25),
    n_days=st.integers(1, 10),
    block_size=st.integers(1, 25),
    n=st.integers(2, 5),
)
def test_any_small_sharded_world_is_canonical_and_the_same_in_one_shard(
    seed: int, n_customers: int, n_merchants: int, n_days: int, block_size: int, n: int
) -> None:
    base = SimulateParams()
    p = SimulateParams(
        seed=seed,
        n_customers=n_customers,
        n_merchants=n_merchants,
        n_days=n_days,
        fake_orders=base.fake_orders.model_copy(update={"rings": 2, "orders_per_ring": 20}),
        forged_identity=base.forged_identity.model_copy(update={"accounts": 3}),
    )
    frames = list(shards.simulate_shards(p, n, block_size=block_size))
    for df in frames:
        pd.testing.assert_frame_equal(validate(df), df)
        assert (df["account_created_at"] < df["timestamp"]).all()
    many = pd.concat(frames, ignore_index=True).sort_values("transaction_id", ignore_index=True)
    (one,) = shards.simulate_shards(p, 1, block_size=block_size)
    pd.testing.assert_frame_equal(many, one.sort_values("transaction_id", ignore_index=True))
    assert many["transaction_id"].is_unique


def test_a_blocks_share_of_units_adds_up_to_the_world() -> None:
    sizes = np.array([25] * 11 + [7])
    for n in (0, 1, 5, 40):
        got = [Block(index=b, sizes=sizes, seed=1, traffic=np.zeros(0)).units(n, code=2) for b in range(12)]
        assert [r.start for r in got] == [0, *(r.stop for r in got[:-1])]
        assert got[-1].stop == n


def test_expected_merchant_traffic_is_close_to_the_counted_one() -> None:
    rng = np.random.default_rng(0)
    w = build_world(SimulateParams(n_customers=2000, n_merchants=300, n_days=60), rng)
    counted = np.bincount(legit_payments(w, rng).merch, minlength=300)
    expected = expected_merchant_payments(w)
    assert abs(expected.sum() / counted.sum() - 1) < 0.05
    assert np.corrcoef(counted, expected)[0, 1] > 0.95


# ----------------------------------------------------------------------------- writing
def test_the_folder_replaces_the_output_only_at_the_end(tmp_path, monkeypatch) -> None:
    out = tmp_path / "tx"
    out.mkdir()
    (out / "old.parquet").write_bytes(b"old")
    seen = []
    frame = shards.shard_frame

    def second_fails(pl: shards.Plan, blocks: range) -> pd.DataFrame:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        if len(seen) == 2:
            raise RuntimeError("killed")
        return frame(pl, blocks)

    monkeypatch.setattr(shards, "shard_frame", second_fails)
    with pytest.raises(RuntimeError, match="killed"):
        _write(SMALL, out, 3)
    # while it worked, the output stayed as it was beside a hidden temporary folder
    assert seen[1][0].startswith(".tx.") and seen[1][0].endswith(".tmpdir") and seen[1][1] == "tx"
    assert [p.name for p in tmp_path.iterdir()] == ["tx"]  # nothing left behind
    assert [p.name for p in out.iterdir()] == ["old.parquet"]
    monkeypatch.setattr(shards, "shard_frame", frame)
    _write(SMALL, out, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["tx"]
    assert [p.name for p in _parts(out)] == [shards.part_name(i) for i in range(3)]


def test_a_killed_writers_temporary_folder_is_removed(tmp_path) -> None:
    dead = 2**22 + 12345  # above Linux's largest process id
    stale = tmp_path / f".tx.{_host()}-{dead}.abc123.tmpdir"
    stale.mkdir()
    (stale / "part-00000.parquet").write_bytes(b"half")
    live = tmp_path / f".tx.{_host()}-{os.getpid()}.abc123.tmpdir"
    live.mkdir()
    _write(SMALL, tmp_path / "tx", 2)
    assert not stale.exists() and live.exists()


def test_a_file_and_a_folder_replace_each_other(tmp_path) -> None:
    p = SMALL.model_copy(update={"n_customers": 40, "n_days": 5})
    out = tmp_path / "tx.parquet"
    path, df = sim.simulate_to_file(p, str(out), progress=False)
    assert out.is_file() and isinstance(df, pd.DataFrame)
    path, summary = sim.simulate_to_file(p.model_copy(update={"shards": 2}), str(out), progress=False)
    assert path == out and out.is_dir() and isinstance(summary, sim.Summary)
    assert len(summary) == len(load(out))
    path, df = sim.simulate_to_file(p, str(out), progress=False)
    assert out.is_file() and len(df) == len(pd.read_parquet(out))
    assert [x.name for x in tmp_path.iterdir()] == ["tx.parquet"]


def test_more_shards_than_blocks_make_one_per_block(tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="okml.simulate.shards"):
        path = _write(SMALL.model_copy(update={"n_customers": 60}), tmp_path / "tx", 5)
    assert len(_parts(path)) == 3  # 25 + 25 + 10 customers
    assert "writing 3 shard(s)" in caplog.text


def test_bad_shard_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="shards must be at least 1"):
        shards.shard_blocks(4, 0)
    with pytest.raises(ValueError, match="block_size must be at least 1"):
        shards.plan(SMALL, block_size=0)
    with pytest.raises(Exception, match="greater than or equal to 1"):
        SimulateParams(shards=0)


# ----------------------------------------------------------------------------- summary and CLI
def test_the_summary_of_the_shards_is_that_of_all_rows(written: dict[int, Path], rows: pd.DataFrame) -> None:
    _, summary = shards.write_shards(SMALL, str(written[3].parent / "again"), 3, False, BLOCK)
    text = sim.summary_text(rows)
    assert summary.text() == text
    assert sim.summary_text(written[3]) == text  # read file by file
    assert len(summary) == len(rows)


def test_cli_simulate_writes_a_sharded_folder(tmp_path, capsys) -> None:
    out = tmp_path / "tx"
    settings = ["n_customers=1200", "n_merchants=50", "n_days=5", "shards=2"]
    overrides = [a for s in settings for a in ("--set", f"simulate.{s}")]
    rc = main(["simulate", "-q", "--output", str(out), *overrides])
    assert rc == 0
    text = capsys.readouterr().out
    assert "fake_orders" in text
    assert [p.name for p in _parts(out)] == ["part-00000.parquet", "part-00001.parquet"]
    assert f"wrote {len(load(out)):,} transactions to {out}" in text
