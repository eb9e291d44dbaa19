"""Figures of the first look at a dataset (notebooks/01_explore.ipynb)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from okml import explore
from okml.config import SimulateParams
from okml.simulate import simulate


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return simulate(SimulateParams(n_customers=150, n_merchants=60, n_days=30, seed=3))


def test_feature_figure_refuses_unknown_names(tx) -> None:
    feats = pd.DataFrame({"cust_count_1h": np.arange(5.0)})
    with pytest.raises(KeyError, match="no feature named seconds_since_prev"):
        explore.feature_figure(feats, np.zeros(5), ["cust_count_1h", "seconds_since_prev"])


def test_volume_legend_names_the_fraud_rate_and_sits_below_the_plot(tx) -> None:
    fig = explore.volume_figure(tx)
    legend = fig.axes[1].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert "fraud rate, % (right axis)" in texts and set(tx["fraud_type"].dropna()) <= set(texts)
    assert legend.get_bbox_to_anchor().y0 < fig.axes[1].get_window_extent().y0


def test_amounts_have_currency_ticks_not_log10(tx) -> None:
    ax = explore.amount_figure(tx.assign(currency="CNY")).axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "amount (CNY)"


def test_feature_table_is_not_cut() -> None:
    html = explore.feature_table(["cust_amount_median_ratio_30d"]).to_html()
    assert "..." not in html and "median" in html
