"""Smoke tests of bench/handbook_data.py, the local copy of the Handbook's data generator.

Expected values of the reproduction tests are the outputs printed in the Handbook's
notebook (Chapter_3_GettingStarted/SimulatedDataset.ipynb), not values computed here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "handbook_data.py"


def _load():
    # bench/ is scripts, not a package: load the file by path.
    spec = importlib.util.spec_from_file_location("handbook_data", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


hd = _load()


@pytest.fixture(scope="module")
def small():
    # 100 terminals on the 100 x 100 grid: r=20 gives each customer about 12 terminals.
    return hd.simulate(n_customers=50, n_terminals=100, nb_days=10, r=20)


def _handbook_example_customers():
    customers = hd.generate_customer_profiles_table(5, random_state=0)
    terminals = hd.generate_terminal_profiles_table(5, random_state=0)
    return hd._available_terminals(customers, terminals, r=50)


# --------------------------------------------------------------- the Handbook's own example
def test_profiles_match_the_handbook_example():
    customers = _handbook_example_customers()
    assert customers.loc[
        0, ["x_customer_id", "y_customer_id", "mean_amount", "std_amount", "mean_nb_tx_per_day"]
    ].round(6).tolist() == [54.881350, 71.518937, 62.262521, 31.131260, 2.179533]
    assert customers["available_terminals"].tolist() == [
        [0, 1, 2, 3],
        [0, 1, 2, 3],
        [1, 4],
        [0, 1, 2, 3],
        [2, 3],
    ]


def test_customer_0_transactions_match_the_handbook_example():
    customer_0 = _handbook_example_customers().iloc[0]
    tx = hd.generate_transactions_table(customer_0, start_date="2018-04-01", nb_days=5)
    assert tx["TX_TIME_SECONDS"].tolist() == [
        26345,
        68522,
        64816,
        141182,
        137138,
        143211,
        118266,
        159887,
        216947,
        204609,
        206749,
        228794,
        200484,
        263735,
        293638,
        404349,
        373279,
    ]
    assert tx["TERMINAL_ID"].tolist() == [3, 3, 0, 2, 3, 3, 2, 3, 2, 1, 1, 2, 1, 0, 2, 1, 2]
    assert tx["TX_AMOUNT"].tolist() == [
        123.59,
        46.51,
        77.34,
        32.35,
        63.30,
        13.59,
        54.72,
        51.89,
        117.91,
        67.72,
        28.46,
        50.25,
        93.26,
        46.40,
        23.26,
        71.96,
        52.69,
    ]
    assert tx["TX_DATETIME"].iloc[0] == pd.Timestamp("2018-04-01 07:19:05")
    assert tx["TX_TIME_DAYS"].tolist() == [0] * 3 + [1] * 5 + [2] * 5 + [3] * 2 + [4] * 2


def test_five_customers_give_the_handbook_65_transactions():
    customers = _handbook_example_customers()
    tx = pd.concat(
        [hd.generate_transactions_table(row, nb_days=5) for _, row in customers.iterrows()],
        ignore_index=True,
    )
    assert len(tx) == 65
    tail = tx.iloc[60:]
    assert tail["TX_TIME_SECONDS"].tolist() == [373279, 370799, 408214, 391898, 391126]
    assert tail["TERMINAL_ID"].tolist() == [2, 3, 2, 2, 3]
    assert tail["TX_AMOUNT"].tolist() == [111.38, 80.36, 53.25, 36.44, 17.53]


def test_legacy_quicksort_keeps_numpy_1_tie_order():
    # 20 values (> 16, so the introsort partitions); the expected order is what numpy's
    # classic introsort (numpy 1.x default) returns, which differs from a stable sort.
    values = np.array([3, 1, 2, 1, 3, 2, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2])
    order = hd.legacy_quicksort_order(values)
    assert order.tolist() == [9, 1, 3, 15, 6, 12, 18, 16, 13, 10, 19, 7, 5, 2, 11, 14, 4, 17, 8, 0]


# --------------------------------------------------------------- small dataset smoke test
def test_small_dataset_columns_and_dtypes(small):
    tx = small.transactions
    assert list(tx.columns) == hd.COLUMNS
    assert str(tx["TX_DATETIME"].dtype) == "datetime64[ns]"
    assert tx["TX_AMOUNT"].dtype == np.float64
    for col in [
        "TRANSACTION_ID",
        "CUSTOMER_ID",
        "TERMINAL_ID",
        "TX_TIME_SECONDS",
        "TX_TIME_DAYS",
        "TX_FRAUD",
        "TX_FRAUD_SCENARIO",
    ]:
        assert tx[col].dtype == np.int64, col


def test_small_dataset_is_consistent(small):
    tx = small.transactions
    assert len(tx) > 0
    assert tx["TRANSACTION_ID"].tolist() == list(range(len(tx)))
    assert tx["TX_DATETIME"].is_monotonic_increasing
    assert (
        tx["TX_DATETIME"] == pd.Timestamp("2018-04-01") + pd.to_timedelta(tx["TX_TIME_SECONDS"], unit="s")
    ).all()
    assert (tx["TX_TIME_DAYS"] == tx["TX_TIME_SECONDS"] // 86400).all()
    assert tx["TX_TIME_DAYS"].between(0, 9).all()
    assert tx["CUSTOMER_ID"].between(0, 49).all() and tx["TERMINAL_ID"].between(0, 99).all()
    assert (tx["TX_AMOUNT"] >= 0).all()


def test_small_dataset_has_frauds_with_consistent_labels(small):
    tx = small.transactions
    assert tx["TX_FRAUD"].sum() > 0
    assert set(tx["TX_FRAUD"].unique()) <= {0, 1}
    assert ((tx["TX_FRAUD"] == 1) == (tx["TX_FRAUD_SCENARIO"] > 0)).all()
    assert sum(small.frauds_added.values()) == tx["TX_FRAUD"].sum()
    # Scenario 1 keeps its label only where no later scenario relabelled the row.
    assert (tx.loc[tx["TX_FRAUD_SCENARIO"] == 1, "TX_AMOUNT"] > 220).all()


def test_generation_is_reproducible(small):
    again = hd.simulate(n_customers=50, n_terminals=100, nb_days=10, r=20)
    pd.testing.assert_frame_equal(small.transactions, again.transactions)


def test_add_frauds_does_not_modify_its_input():
    customers, terminals, tx = hd.generate_dataset(20, 50, 5, r=30)
    before = tx.copy()
    hd.add_frauds(customers, terminals, tx)
    pd.testing.assert_frame_equal(tx, before)


def test_write_days_round_trip(small, tmp_path):
    tx = small.transactions
    paths = hd.write_days(tx, tmp_path / "pkl", "2018-04-01", fmt="pickle")
    assert [p.name for p in paths] == [f"2018-04-{d:02d}.pkl" for d in range(1, 11)]
    back = pd.concat([pd.read_pickle(p) for p in paths]).sort_values("TRANSACTION_ID")
    pd.testing.assert_frame_equal(back, tx)

    paths = hd.write_days(tx, tmp_path / "pq", "2018-04-01", fmt="parquet")
    back = pd.concat([pd.read_parquet(p) for p in paths]).sort_values("TRANSACTION_ID")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), tx, check_dtype=False)


def test_cli_writes_files_and_does_not_overwrite(tmp_path, capsys):
    args = [
        "--customers",
        "10",
        "--terminals",
        "20",
        "--days",
        "3",
        "--radius",
        "40",
        "--output",
        str(tmp_path),
    ]
    assert hd.main(args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2018-04-01.pkl",
        "2018-04-02.pkl",
        "2018-04-03.pkl",
    ]
    assert "transactions" in capsys.readouterr().out
    assert hd.main(args) == 0
    assert "already holds 3 day files" in capsys.readouterr().out


# --------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_rejects_bad_sizes(n):
    with pytest.raises(ValueError, match="positive integer"):
        hd.generate_customer_profiles_table(n)


def test_rejects_bad_date_and_radius():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        hd.generate_dataset(5, 5, 2, start_date="01/04/2018")
    with pytest.raises(ValueError, match="r must be > 0"):
        hd.generate_dataset(5, 5, 2, r=0)


def test_add_frauds_rejects_unsorted_transactions():
    customers, terminals, tx = hd.generate_dataset(20, 50, 5, r=30)
    shuffled = tx.iloc[::-1].reset_index(drop=True)
    with pytest.raises(ValueError, match="sorted by time"):
        hd.add_frauds(customers, terminals, shuffled)


def test_write_days_rejects_unknown_format(small, tmp_path):
    with pytest.raises(ValueError, match="fmt must be one of"):
        hd.write_days(small.transactions, tmp_path, "2018-04-01", fmt="csv")


@pytest.mark.parametrize("args", [["--days", "0"], ["--start", "2018-13-01"], ["--radius", "-1"]])
def test_cli_rejects_bad_arguments(args, tmp_path, capsys):
    assert hd.main([*args, "--output", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error:")
