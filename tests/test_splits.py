"""Time-ordered folds: exact dates, labels known at go-live, known-compromised removal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okml.config import SplitParams, load_params
from okml.errors import ConfigError, DataError
from okml.evaluate.splits import (
    Fold,
    known_compromised,
    make_folds,
    split_fold,
    training_labels,
)

UTC = "UTC"
NaT = pd.NaT


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def days(start: str, end: str) -> pd.Series:
    """One noon timestamp per day from start to end inclusive."""
    return pd.Series(
        pd.date_range(ts(start) + pd.Timedelta(hours=12), ts(end) + pd.Timedelta(hours=12), freq="D")
    )


def tx(rows: list[tuple]) -> pd.DataFrame:
    """rows: (timestamp, customer, is_fraud, label_time)."""
    return pd.DataFrame(
        {
            "transaction_id": range(len(rows)),
            "timestamp": pd.to_datetime([r[0] for r in rows], utc=True, format="ISO8601"),
            "customer_id": [r[1] for r in rows],
            "is_fraud": np.array([r[2] for r in rows], dtype="int8"),
            "label_time": pd.to_datetime([r[3] for r in rows], utc=True, format="ISO8601"),
        }
    )


def bounds(f: Fold) -> tuple[str, ...]:
    return tuple(t.strftime("%Y-%m-%d") for t in (f.train_start, f.train_end, f.test_start, f.test_end))


# ------------------------------------------------------------------------------ dates
def test_prequential_folds_step_back_from_end_of_data() -> None:
    stamps = days("2026-01-01", "2026-02-28")  # data end (exclusive) 2026-03-01
    folds = make_folds(stamps, SplitParams(train_days=14, delay_days=7, test_days=7, n_folds=2))
    assert [bounds(f) for f in folds] == [
        ("2026-01-25", "2026-02-08", "2026-02-15", "2026-02-22"),
        ("2026-02-01", "2026-02-15", "2026-02-22", "2026-03-01"),
    ]
    assert [f.index for f in folds] == [0, 1]
    assert folds[1].name == "fold 1 (train 2026-02-01..2026-02-14, test 2026-02-22..2026-02-28)"


def test_step_days_and_test_end() -> None:
    stamps = days("2026-01-01", "2026-02-28")
    params = SplitParams(
        train_days=7, delay_days=0, test_days=3, n_folds=2, step_days=10, test_end="2026-02-20"
    )
    assert [bounds(f) for f in make_folds(stamps, params)] == [
        ("2026-01-31", "2026-02-07", "2026-02-07", "2026-02-10"),
        ("2026-02-10", "2026-02-17", "2026-02-17", "2026-02-20"),
    ]


def test_end_of_data_is_the_end_of_the_last_day() -> None:
    # the last payment at 23:59 on Feb 28 and at 00:00 on Feb 28 both end the data on Mar 1
    stamps = pd.Series([ts("2026-01-01 00:00"), ts("2026-02-28 23:59:59")])
    f = make_folds(stamps, SplitParams(train_days=7, delay_days=7, test_days=7, n_folds=1))
    assert bounds(f[0])[-1] == "2026-03-01"


def test_handbook_train_starts() -> None:
    params = load_params("params/handbook.yaml").split
    stamps = days("2018-04-01", "2018-09-30")
    folds = make_folds(stamps, params)
    assert [bounds(f) for f in folds] == [
        ("2018-07-25", "2018-08-01", "2018-08-08", "2018-08-15"),
        ("2018-08-01", "2018-08-08", "2018-08-15", "2018-08-22"),
        ("2018-08-08", "2018-08-15", "2018-08-22", "2018-08-29"),
        ("2018-08-15", "2018-08-22", "2018-08-29", "2018-09-05"),
    ]


def test_folds_outside_the_data_name_the_dates() -> None:
    stamps = days("2026-01-01", "2026-01-31")
    with pytest.raises(
        ConfigError,
        match=r"fold 0 .* needs data from 2025-12-\d\d to "
        r"2026-01-31 but the data covers 2026-01-01 to "
        r"2026-01-31",
    ):
        make_folds(stamps, SplitParams(train_days=28, delay_days=7, test_days=7, n_folds=1))
    with pytest.raises(ConfigError, match=r"to 2026-02-14 but the data covers"):
        make_folds(stamps, SplitParams(train_days=7, delay_days=7, test_days=7, train_starts=["2026-01-25"]))


def test_bad_dates_rejected() -> None:
    with pytest.raises(ConfigError, match=r"split\.train_starts: .*cannot parse date 'soon'"):
        load_params(overrides=["split.train_starts=[soon]"])
    with pytest.raises(ConfigError, match=r"split\.train_starts: .*at least one date"):
        load_params(overrides=["split.train_starts=[]"])
    with pytest.raises(ConfigError, match="not a day boundary"):
        make_folds(
            days("2026-01-01", "2026-03-01"),
            SplitParams(train_starts=["2026-01-05T10:00:00+00:00"], train_days=7),
        )


def test_no_data_is_an_error() -> None:
    with pytest.raises(DataError, match="no transactions"):
        make_folds(pd.Series([], dtype="datetime64[ns, UTC]"), SplitParams())


# ----------------------------------------------------------------------------- labels
FOLD = Fold(0, ts("2026-01-01"), ts("2026-01-08"), ts("2026-01-15"), ts("2026-01-22"))


def test_training_labels_known_at_go_live() -> None:
    frame = tx(
        [
            ("2026-01-02", "a", 1, "2026-01-10"),  # known before go-live -> 1
            ("2026-01-03", "b", 1, "2026-01-14 23:59:59"),  # just before -> 1
            ("2026-01-04", "c", 1, "2026-01-15 00:00:00"),  # at go-live: not yet known -> 0
            ("2026-01-05", "d", 1, "2026-02-01"),  # after -> 0
            ("2026-01-06", "e", 1, NaT),  # never labelled -> 0
            ("2026-01-07", "f", 0, NaT),  # legit -> 0
        ]
    )
    assert training_labels(frame, FOLD.test_start).tolist() == [1, 1, 0, 0, 0, 0]
    # without label_time, labels count as known at once
    assert training_labels(frame.drop(columns="label_time"), FOLD.test_start).tolist() == [1, 1, 1, 1, 1, 0]


def _fold_frame() -> pd.DataFrame:
    return tx(
        [
            # training window
            ("2026-01-02 10:00", "x", 1, "2026-01-09 10:00"),  # x known from Jan 10
            ("2026-01-03 10:00", "y", 0, NaT),
            ("2026-01-04 10:00", "late", 1, "2026-01-30"),  # labelled after go-live
            # before training: not counted (Handbook: from the training start only)
            ("2025-12-30 10:00", "old", 1, "2025-12-31"),
            # delay window: z's fraud labelled on Jan 17 -> z known from Jan 18
            ("2026-01-10 10:00", "z", 1, "2026-01-17 08:00"),
            # test window
            ("2026-01-15 09:00", "x", 1, NaT),  # removed: x known since Jan 10
            ("2026-01-15 10:00", "z", 0, NaT),  # kept: z not known yet
            ("2026-01-17 23:00", "z", 1, NaT),  # kept: label came Jan 17 08:00
            ("2026-01-18 00:00", "z", 0, NaT),  # removed: from Jan 18 on
            ("2026-01-16 10:00", "old", 1, NaT),  # kept
            ("2026-01-21 10:00", "y", 0, NaT),  # kept
            ("2026-01-22 10:00", "y", 0, NaT),  # after the test window
        ]
    )


def test_known_compromised_customers_removed_by_day() -> None:
    frame = _fold_frame()
    mask = known_compromised(frame, FOLD)
    assert frame.loc[mask, "transaction_id"].tolist() == [5, 8]


def test_split_fold_rows_and_labels() -> None:
    frame = _fold_frame()
    data = split_fold(frame, FOLD)
    assert data.train.tolist() == [0, 1, 2]
    assert data.y_train.tolist() == [1, 0, 0]  # 'late' counts as legit in training
    assert data.test.tolist() == [6, 7, 9, 10]
    kept = split_fold(frame, FOLD, remove_known_compromised=False)
    assert kept.test.tolist() == [5, 6, 7, 8, 9, 10]


def test_split_fold_does_not_mutate() -> None:
    frame = _fold_frame()
    before = frame.copy()
    split_fold(frame, FOLD)
    pd.testing.assert_frame_equal(frame, before)


def test_fold_without_known_fraud_in_training_is_a_data_error() -> None:
    frame = tx(
        [
            ("2026-01-02", "a", 1, "2026-01-20"),  # only fraud, labelled after go-live
            ("2026-01-03", "b", 0, NaT),
            ("2026-01-16", "c", 1, NaT),
        ]
    )
    with pytest.raises(
        DataError,
        match=r"fold 0 \(train 2026-01-01..2026-01-07, test "
        r"2026-01-15..2026-01-21\): no fraud label known by "
        r"2026-01-15 among 2 training",
    ):
        split_fold(frame, FOLD)


def test_fold_without_fraud_in_test_is_a_data_error() -> None:
    frame = tx(
        [
            ("2026-01-02", "a", 1, "2026-01-03"),
            ("2026-01-16", "a", 1, NaT),  # removed: a is known compromised
            ("2026-01-16", "b", 0, NaT),
        ]
    )
    with pytest.raises(DataError, match=r"fold 0 .*: no fraud among 1 test transactions"):
        split_fold(frame, FOLD)


def test_unlabelled_data_is_rejected() -> None:
    with pytest.raises(DataError, match="is_fraud"):
        split_fold(_fold_frame().drop(columns="is_fraud"), FOLD)


# -------------------------------------------------------------------------- properties


@settings(max_examples=50, deadline=None)
@given(
    train=st.integers(1, 20),
    delay=st.integers(0, 10),
    test=st.integers(1, 10),
    n_folds=st.integers(1, 4),
    step=st.one_of(st.none(), st.integers(1, 10)),
    extra=st.integers(0, 30),
)
def test_fold_invariants(train, delay, test, n_folds, step, extra) -> None:
    span = train + delay + test + (n_folds - 1) * (step or test) + extra
    stamps = days("2026-01-01", (ts("2026-01-01") + pd.Timedelta(days=span - 1)).strftime("%Y-%m-%d"))
    params = SplitParams(train_days=train, delay_days=delay, test_days=test, n_folds=n_folds, step_days=step)
    folds = make_folds(stamps, params)
    assert len(folds) == n_folds
    for f in folds:
        assert f.train_end - f.train_start == pd.Timedelta(days=train)
        assert f.test_start - f.train_end == pd.Timedelta(days=delay)
        assert f.test_end - f.test_start == pd.Timedelta(days=test)
        assert f.train_start >= ts("2026-01-01")
        assert f.test_end <= ts("2026-01-01") + pd.Timedelta(days=span)
    assert folds[-1].test_end == ts("2026-01-01") + pd.Timedelta(days=span)
    starts = [f.test_start for f in folds]
    assert starts == sorted(starts)
    assert all(b - a == pd.Timedelta(days=step or test) for a, b in zip(starts, starts[1:], strict=False))


def test_later_data_does_not_change_a_fold() -> None:
    # time-correctness: appending payments after a fold's test window leaves it unchanged
    frame = _fold_frame()
    later = tx([("2026-02-10", "x", 1, "2026-02-11"), ("2026-02-11", "q", 0, NaT)])
    grown = pd.concat([frame, later.assign(transaction_id=[100, 101])], ignore_index=True)
    a, b = split_fold(frame, FOLD), split_fold(grown, FOLD)
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.test, b.test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
