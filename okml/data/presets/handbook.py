"""``handbook``: the Fraud Detection Handbook (ULB MLG) simulated data.

Daily ``YYYY-MM-DD.pkl`` pickles (or CSV/Parquet) with ``TRANSACTION_ID, TX_DATETIME,
CUSTOMER_ID, TERMINAL_ID, TX_AMOUNT, TX_FRAUD, TX_FRAUD_SCENARIO``. ``TX_DATETIME`` is naive
and read as UTC; ``TERMINAL_ID`` becomes ``merchant_id``; ids stored as Python objects in the
pickles become int64; ``TX_FRAUD_SCENARIO`` 1/2/3 becomes ``fraud_type``
``handbook_scenario_N`` (0: missing). The Handbook has no label times, so ``label_time =
timestamp + data.handbook.label_delay_days`` for **all** rows, legitimate ones included (a
label, fraud or not, becomes known after the delay).

Security: unpickling can run code. This is the only preset that reads pickles, because the
Handbook's published data comes as pickles; use it only on files you trust.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from okml.config import DataParams
from okml.data.origin import Origin, extras, integer_ids
from okml.data.presets.base import Preset

#: canonical column <- Handbook column
COLUMNS = {
    "transaction_id": "TRANSACTION_ID",
    "timestamp": "TX_DATETIME",
    "customer_id": "CUSTOMER_ID",
    "merchant_id": "TERMINAL_ID",
    "amount": "TX_AMOUNT",
    "is_fraud": "TX_FRAUD",
}
SCENARIO = "TX_FRAUD_SCENARIO"
#: Handbook fraud scenarios: 1 large amounts, 2 compromised terminals, 3 compromised customers
FRAUD_TYPES = {k: f"handbook_scenario_{k}" for k in (1, 2, 3)}
# Redundant copies of TX_DATETIME that the Handbook pickles store as object dtype.
_INTEGERS = ("TX_TIME_SECONDS", "TX_TIME_DAYS")


def _map(raw: pd.DataFrame, params: DataParams, origin: Origin) -> pd.DataFrame:
    cols: dict[str, Any] = {c: raw[src] for c, src in COLUMNS.items()}
    # object amounts and labels are converted (or rejected) by okml.schema.validate
    for c in ("transaction_id", "customer_id", "merchant_id"):
        cols[c] = integer_ids(cols[c])
    if SCENARIO in raw:
        scenario = pd.to_numeric(raw[SCENARIO], errors="coerce")
        bad = (~scenario.isin([0, *FRAUD_TYPES])).to_numpy(dtype=bool)
        if bad.any():
            found = raw[SCENARIO][bad].iloc[0]
            raise origin.error(
                f"fraud scenario must be 0, 1, 2 or 3 (found {found})", SCENARIO, np.flatnonzero(bad)
            )
        # scenario 0 means legitimate: no fraud type (missing), as in the canonical schema
        cols["fraud_type"] = scenario.map(FRAUD_TYPES).astype("string")
    kept = extras(raw, set(COLUMNS.values()) | {SCENARIO})
    for c in _INTEGERS:
        if c in kept:
            kept[c] = integer_ids(kept[c])
    return pd.DataFrame(cols | kept, index=raw.index)


def _label_time(out: pd.DataFrame, params: DataParams) -> pd.DataFrame:
    return out.assign(label_time=out["timestamp"] + pd.Timedelta(days=params.handbook.label_delay_days))


PRESET = Preset(
    "handbook",
    "the Fraud Detection Handbook's simulated data: daily YYYY-MM-DD.pkl pickles (trusted files "
    "only) or CSV/Parquet with TRANSACTION_ID, TX_DATETIME, CUSTOMER_ID, TERMINAL_ID, ...",
    columns=COLUMNS,
    map=_map,
    timezone=lambda params: "UTC",  # the Handbook's naive TX_DATETIME is UTC
    label_time=_label_time,
    reads_pickles=True,
)
