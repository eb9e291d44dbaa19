"""Time-ordered train / delay / test folds (the Handbook's prequential validation).

A fold is three consecutive windows, all starting at UTC midnight::

    [train_start, train_end)   train_days   the model learns from these payments
    [train_end,   test_start)  delay_days   labels still arriving; not used at all
    [test_start,  test_end)    test_days    the model is live and scored

Labels
------
Training sees only labels known when the model goes live, at ``test_start``:
``y_train = is_fraud & (label_time < test_start)``. A fraud whose label arrives later (or
never: ``label_time`` NaT) counts as legitimate, exactly as it would in production. Data
without a ``label_time`` column is treated as labelled the moment it happens. Tests use the
ground truth ``is_fraud``.

Known-compromised customers (``split.remove_known_compromised``)
-----------------------------------------------------------------
As in the Handbook's ``get_train_test_set``: on each test day, customers with a fraud since
``train_start`` whose label was known before that day began are dropped from that day's test
rows (the bank already blocked them; scoring them would inflate every metric). With the
Handbook preset (``label_time = timestamp + 7 days``) and ``delay_days = 7`` this removes
exactly the Handbook's customers: frauds from the training window and from delay days up to
the day before ``test day - delay``. Customers a model *detects* on earlier test days are
removed later by the metric (:func:`okml.evaluate.metrics.card_precision_at_k`).

Training runs (:func:`training_fold`)
-------------------------------------
``okml train`` uses the latest fold (ending at the end of the data, or ``split.test_end``).
``okml retrain --as-of D`` uses only what was known at ``D``: the test window is the latest
whose labels had ``split.delay_days`` to arrive, ending at ``D - delay_days``; training is the
``train_days`` before it, less another ``delay_days`` gap; labels are those with
``label_time < D`` (:func:`training_labels` with ``known_at = as_of_day(D)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from okml.config import SplitParams
from okml.errors import ConfigError, DataError

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Fold:
    """One train / delay / test split; all bounds are UTC midnights, ends exclusive."""

    index: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    @property
    def name(self) -> str:
        """E.g. ``fold 1 (train 2018-07-25..2018-07-31, test 2018-08-08..2018-08-14)``.

        Dates are inclusive days.
        """
        return (
            f"fold {self.index} (train {_day(self.train_start)}..{_day(self.train_end - DAY)}, "
            f"test {_day(self.test_start)}..{_day(self.test_end - DAY)})"
        )


@dataclass(frozen=True)
class FoldData:
    """Row positions (``iloc``) of one fold in the transactions frame, and training labels."""

    fold: Fold
    train: np.ndarray
    test: np.ndarray
    y_train: np.ndarray


def _day(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def _utc_day(text: str) -> pd.Timestamp:
    ts = pd.Timestamp(text)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts != ts.floor("D"):
        raise ConfigError(f"split: {text!r} is not a day boundary; give a date like 2026-03-01")
    return ts.as_unit("ns")


def data_days(timestamps: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First day and the end of the last day (exclusive) that ``timestamps`` touch, in UTC."""
    if len(timestamps) == 0:
        raise DataError("no transactions to split")
    ts = pd.to_datetime(timestamps, utc=True)
    return ts.min().floor("D"), ts.max().floor("D") + DAY


def make_folds(timestamps: pd.Series, params: SplitParams) -> list[Fold]:
    """Folds for transactions with these timestamps, oldest first.

    With ``params.train_starts`` there is one fold per date. Otherwise ``n_folds`` folds end
    at ``test_end`` (default: the end of the last day with data) and step back by
    ``step_days`` (default ``test_days``).

    Raises
    ------
    ConfigError
        A fold needs days outside the data, naming the fold's dates and the data range.
    """
    first, end = data_days(timestamps)
    train, delay, test = (
        pd.Timedelta(days=d) for d in (params.train_days, params.delay_days, params.test_days)
    )
    if params.train_starts:
        starts = sorted(_utc_day(s) for s in params.train_starts)
    else:
        last_end = _utc_day(params.test_end) if params.test_end else end
        step = pd.Timedelta(days=params.step_days or params.test_days)
        starts = [last_end - i * step - test - delay - train for i in range(params.n_folds)][::-1]
    folds = [Fold(i, s, s + train, s + train + delay, s + train + delay + test) for i, s in enumerate(starts)]
    outside = [f for f in folds if f.train_start < first or f.test_end > end]
    if outside:
        f = outside[0]
        raise ConfigError(
            f"split: {f.name} needs data from {_day(f.train_start)} to {_day(f.test_end - DAY)} "
            f"but the data covers {_day(first)} to {_day(end - DAY)}; use fewer folds "
            "(split.n_folds), shorter windows, or other split.train_starts / split.test_end"
        )
    return folds


def training_labels(tx: pd.DataFrame, known_at: pd.Timestamp) -> np.ndarray:
    """0/1 labels as known at ``known_at``: frauds whose label came later count as 0."""
    fraud = tx["is_fraud"].to_numpy() == 1
    if "label_time" in tx:
        known = (tx["label_time"] < known_at).fillna(False).to_numpy(dtype=bool)
        fraud = fraud & known
    return fraud.astype(np.int8)


def known_compromised(tx: pd.DataFrame, fold: Fold) -> np.ndarray:
    """Boolean mask: test-window rows whose customer was already known compromised that day.

    A customer is known compromised from the first day starting after the ``label_time`` of
    one of their frauds made on or after ``fold.train_start``.
    """
    ts = tx["timestamp"]
    label_time = tx["label_time"] if "label_time" in tx else ts
    fraud = (tx["is_fraud"] == 1) & (ts >= fold.train_start) & label_time.notna()
    # known at day D iff label_time < D, i.e. from floor(label_time) + 1 day on
    known_from = (label_time[fraud].dt.floor("D") + DAY).groupby(tx.loc[fraud, "customer_id"]).min()
    in_test = ((ts >= fold.test_start) & (ts < fold.test_end)).to_numpy()
    if known_from.empty:
        return np.zeros(len(tx), dtype=bool)
    since = tx["customer_id"].map(known_from)
    known = (ts.dt.floor("D") >= since).fillna(False).to_numpy(dtype=bool)
    return in_test & known


def split_fold(tx: pd.DataFrame, fold: Fold, remove_known_compromised: bool = True) -> FoldData:
    """Row positions of ``fold``'s training and test rows, and the training labels.

    Raises
    ------
    DataError
        No fraud known in training, or no fraud in the test window, naming the fold.
    """
    if "is_fraud" not in tx:
        raise DataError("evaluation needs labels", column="is_fraud")
    ts = tx["timestamp"]
    train_mask = ((ts >= fold.train_start) & (ts < fold.train_end)).to_numpy()
    test_mask = ((ts >= fold.test_start) & (ts < fold.test_end)).to_numpy()
    if remove_known_compromised:
        test_mask = test_mask & ~known_compromised(tx, fold)
    train = np.flatnonzero(train_mask)
    test = np.flatnonzero(test_mask)
    y_train = training_labels(tx.iloc[train], fold.test_start)
    if len(train) == 0 or y_train.sum() == 0:
        raise no_training_fraud(fold, len(train))
    if len(test) == 0 or tx["is_fraud"].to_numpy()[test].sum() == 0:
        raise no_test_fraud(fold, len(test))
    return FoldData(fold, train, test, y_train)


def no_training_fraud(fold: Fold, rows: int) -> DataError:
    """The error of a fold whose training rows hold no fraud label known at go-live."""
    return DataError(
        f"{fold.name}: no fraud label known by {_day(fold.test_start)} among "
        f"{rows:,} training transactions; use longer split.train_days or other dates"
    )


def no_fraud_before(fold: Fold, end: pd.Timestamp) -> DataError:
    """The error of a cost-threshold model with no fraud label to learn from."""
    return DataError(
        f"{fold.name}: no fraud label known before {end:%Y-%m-%d} to fit the model that "
        "picks the cost threshold; use fewer evaluate.cost_validation_days"
    )


def no_test_fraud(fold: Fold, rows: int) -> DataError:
    """The error of a fold whose test window holds no fraud."""
    return DataError(
        f"{fold.name}: no fraud among {rows:,} test transactions; use longer split.test_days or other dates"
    )


def as_of_day(text: str | pd.Timestamp) -> pd.Timestamp:
    """The UTC day (midnight) of ``text``: what a retrain ``--as-of`` stands for."""
    ts = pd.Timestamp(text)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("D").as_unit("ns")


def training_fold(timestamps: pd.Series, params: SplitParams, as_of: str | None = None) -> Fold:
    """The fold a training run uses: the latest one, or the one known at ``as_of``."""
    split = params.model_copy(update={"n_folds": 1, "train_starts": None, "step_days": None})
    if as_of is not None:
        end = as_of_day(as_of) - pd.Timedelta(days=params.delay_days)
        split = split.model_copy(update={"test_end": end.strftime("%Y-%m-%d")})
    return make_folds(timestamps, split)[0]
