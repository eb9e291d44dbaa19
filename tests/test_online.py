"""The online feature state against the batch engine: replaying a stream of payments and
labels gives every feature within 1e-9 of :func:`okml.features.build_features` over the
full history (hypothesis streams with ties, window edges and late labels; a simulated world)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from test_features_props import PARAMS, SETTINGS, transactions

from okml.config import FeatureParams, SimulateParams
from okml.features import build_features
from okml.features.online import LateEvent, OnlineFeatures, replay
from okml.simulate import simulate


def assert_parity(tx: pd.DataFrame, params: FeatureParams) -> None:
    want = build_features(tx, params)
    got = replay(tx, params)
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


def test_replayed_simulated_world_equals_the_batch_engine() -> None:
    tx = simulate(SimulateParams(n_customers=300, n_merchants=60, n_days=40, seed=5))
    assert_parity(tx, FeatureParams())


def test_a_payment_not_after_the_latest_is_refused() -> None:
    state = OnlineFeatures(PARAMS, ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"])
    pay = {"transaction_id": 2, "timestamp": "2026-01-05T10:00:00Z", "customer_id": "c", "merchant_id": "m",
           "amount": 5.0}  # fmt: skip
    state.payment(pay)
    with pytest.raises(LateEvent, match="not after the latest"):
        state.payment({**pay, "transaction_id": 1})
