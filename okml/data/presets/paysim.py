"""``paysim``: the PaySim mobile-money CSV (``step, type, amount, nameOrig, nameDest, isFraud``).

``timestamp = data.paysim.start + step`` hours (so payments of one step share a timestamp and
keep file order); ``transaction_id`` is the 0-based row number, ``customer_id`` ``nameOrig``,
``merchant_id`` ``nameDest``, ``merchant_category`` ``type``. ``label_time = timestamp +
data.paysim.label_delay_days`` for fraud rows and missing for legitimate ones, as in okml's
simulated data (no label event for a good payment). The balance columns and
``isFlaggedFraud`` are kept as extra columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from okml.config import DataParams
from okml.data.origin import Origin, extras, utc_setting
from okml.data.presets.base import Preset

#: canonical column <- PaySim column (``timestamp`` comes from ``step``, ids from row numbers)
COLUMNS = {
    "customer_id": "nameOrig",
    "merchant_id": "nameDest",
    "merchant_category": "type",
    "amount": "amount",
    "is_fraud": "isFraud",
}
STEP = "step"


def _map(raw: pd.DataFrame, params: DataParams, origin: Origin) -> pd.DataFrame:
    start = utc_setting(params.paysim.start, "data.paysim.start")
    step = raw[STEP]
    hours = pd.to_numeric(step, errors="coerce")
    bad = hours.isna().to_numpy(dtype=bool) | pd.api.types.is_bool_dtype(step.dtype)
    if bad.any():
        raise origin.error(
            f"step must be a number of hours (found {str(step[bad].iloc[0])!r})", STEP, np.flatnonzero(bad)
        )
    cols: dict[str, Any] = {
        # PaySim has no transaction id: the row number (0-based, in file order) is stable
        "transaction_id": np.arange(len(raw), dtype="int64"),
        "timestamp": start + pd.to_timedelta(hours.to_numpy(dtype="float64"), unit="h"),
    }
    cols |= {c: raw[src] for c, src in COLUMNS.items()}
    return pd.DataFrame(cols | extras(raw, set(COLUMNS.values()) | {STEP}), index=raw.index)


def _label_time(out: pd.DataFrame, params: DataParams) -> pd.DataFrame:
    later = out["timestamp"] + pd.Timedelta(days=params.paysim.label_delay_days)
    return out.assign(label_time=later.where(out["is_fraud"] == 1))


PRESET = Preset(
    "paysim",
    "the PaySim mobile-money CSV (step, type, amount, nameOrig, nameDest, isFraud)",
    columns=COLUMNS,
    map=_map,
    required=lambda params: {STEP: "timestamp"} | {src: c for c, src in COLUMNS.items()},
    sources=lambda params: dict(COLUMNS) | {"timestamp": STEP},
    label_time=_label_time,
)
