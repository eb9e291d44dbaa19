"""The online feature state against the batch engine: replaying a stream of payments and
labels gives every feature within 1e-9 of :func:`okml.features.build_features` over the
full history (hypothesis streams with ties, window edges and late labels; a simulated world)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_features_props import PARAMS, SETTINGS, transactions

from okml.config import FeatureParams, SimulateParams
from okml.features import build_features
from okml.features.online import LateEvent, OnlineFeatures, replay, warm_state
from okml.simulate import simulate


def assert_parity(tx: pd.DataFrame, params: FeatureParams, split: int | None = None) -> None:
    """Every feature of the online path equals the batch engine's over all of ``tx``; with
    ``split``, the first ``split`` payments (in time order) warm the state in batch
    (:func:`warm_state`) and the rest are replayed one at a time."""
    want = build_features(tx, params)
    if split is None:
        got = replay(tx, params)
    else:
        ordered = tx.sort_values(["timestamp", "transaction_id"], kind="stable")
        head, rest = ordered.iloc[:split], ordered.iloc[split:]
        if len(rest) == 0:
            return
        got = replay(rest, params, state=warm_state(head, params, tx.columns))
        want = want.loc[rest["transaction_id"].to_numpy()]
    assert list(got.columns) == list(want.columns)
    g, w = got.to_numpy(dtype=np.float64), want.to_numpy(dtype=np.float64)
    nan = np.isnan(w)
    bad = np.argwhere(np.isnan(g) != nan)
    assert not len(bad), f"NaN differs: {[(want.index[i], want.columns[j]) for i, j in bad[:5]]}"
    diff = np.abs(np.where(nan, 0, g - w)) / np.maximum(1.0, np.abs(np.where(nan, 0, w)))
    worst = np.unravel_index(np.argmax(diff), diff.shape) if diff.size else None
    assert diff.size == 0 or diff.max() <= 1e-9, (
        f"{want.columns[worst[1]]} of {want.index[worst[0]]}: {g[worst]} vs {w[worst]}"
    )


@SETTINGS
@given(transactions(max_size=40))
def test_replayed_stream_equals_the_batch_engine(tx: pd.DataFrame) -> None:
    assert_parity(tx, PARAMS)


@SETTINGS
@given(transactions(max_size=40), st.data())
def test_a_state_warmed_in_batch_continues_like_the_batch_engine(tx: pd.DataFrame, data) -> None:
    assert_parity(tx, PARAMS, split=data.draw(st.integers(0, len(tx)), label="warm payments"))


@pytest.mark.parametrize("split", [None, 0.8])
def test_replayed_simulated_world_equals_the_batch_engine(split) -> None:
    tx = simulate(SimulateParams(n_customers=300, n_merchants=60, n_days=40, seed=5))
    assert_parity(tx, FeatureParams(), None if split is None else int(len(tx) * split))


def test_a_payment_not_after_the_latest_is_refused() -> None:
    state = OnlineFeatures(PARAMS, ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"])
    pay = {"transaction_id": 2, "timestamp": "2026-01-05T10:00:00Z", "customer_id": "c", "merchant_id": "m",
           "amount": 5.0}  # fmt: skip
    state.payment(pay)
    with pytest.raises(LateEvent, match="not after the latest"):
        state.payment({**pay, "transaction_id": 1})
