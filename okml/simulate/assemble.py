"""The canonical frame: rows in time order, ids and names as Arrow strings, labels and the
ground truth of who is behind each fraud (``actor_id``) joined."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from okml.schema import CANONICAL
from okml.simulate.labels import NAT, LabelArrays
from okml.simulate.rows import Ids, Rows
from okml.simulate.tables import CATEGORIES, CHANNELS, CURRENCY, REGIONS
from okml.simulate.world import Market, World


def _strings(values: Sequence[str], codes: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """A pandas ``string`` column from codes into ``values``, built in Arrow without Python
    objects per row."""
    idx = pa.array(codes.astype(np.int32), mask=missing)
    arr = pa.array(list(values), type=pa.string()).take(idx)
    return pd.Series(pd.arrays.ArrowStringArray(arr), copy=False)


def _times(seconds: np.ndarray) -> pd.Series:
    ns = np.where(seconds == NAT, NAT, seconds * 1_000_000_000)
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC")


def random_ids(prefix: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct random ids such as ``C048213``.

    Random numbers so that an id does not tell when (or why) an account or device was made;
    a prefix of one permutation, so that the first ids stay the same when fraud scenarios
    add accounts or devices after them.
    """
    width = max(6, len(str(4 * n)))
    numbers = rng.permutation(10**width - 1)[:n] + 1
    return [f"{prefix}{k:0{width}d}" for k in numbers.tolist()]


def _merchant_ids(n: int) -> list[str]:
    width = max(5, len(str(n)))
    return [f"M{k:0{width}d}" for k in range(1, n + 1)]


def actor_ids(
    rows: Rows,
    actors: Sequence[tuple[str, str] | None],
    customer_ids: Sequence[str],
    merchant_ids: Sequence[str],
) -> pd.Series:
    """The ``actor_id`` of each row: who is behind a fraud, named by its scenario's
    ``(kind, prefix)`` in ``actors[code]`` (:attr:`okml.simulate.scenario.Scenario.actor`):
    ``ring-3``, ``merchant-M00218``, ``ato-C048213-1``; missing for legitimate rows."""
    fraud = np.flatnonzero(rows.ftype > 0)
    names: list[str] = []
    for code, a, c in zip(
        rows.ftype[fraud].tolist(),
        rows.actor[fraud].tolist(),
        rows.cust[fraud].tolist(),
        strict=True,
    ):
        kind, prefix = actors[code] or ("unit", f"fraud{code}")
        if kind == "merchant":
            names.append(f"{prefix}-{merchant_ids[a]}")
        elif kind == "customer":
            names.append(f"{prefix}-{customer_ids[c]}-{a}")
        else:
            names.append(f"{prefix}-{a}")
    values, codes = np.unique(np.asarray(names, dtype=object), return_inverse=True)
    full = np.zeros(len(rows), dtype=np.int32)
    full[fraud] = codes
    return _strings(values.tolist() or [""], full, rows.ftype == 0)


def assemble(
    w: World,
    rows: Rows,
    labels: LabelArrays,
    ids: Ids,
    created: np.ndarray,
    fraud_types: Sequence[str],
    customer_rng: np.random.Generator,
    device_rng: np.random.Generator,
    actors: Sequence[tuple[str, str] | None] = (),
) -> pd.DataFrame:
    """The canonical frame of ``rows`` in time order; ``fraud_types[code]`` names the fraud with
    that code (entry 0, legitimate, is never used), ``actors[code]`` its actors (see
    :func:`actor_ids`)."""
    order = np.argsort(rows.ts, kind="stable")
    return canonical_frame(
        w,
        rows.take(order),
        labels.take(order),
        np.arange(1, len(rows) + 1, dtype=np.int64),
        random_ids("C", ids.n_customers, customer_rng),
        random_ids("D", ids.n_devices, device_rng),
        created,
        fraud_types,
        actors,
    )


def canonical_frame(
    m: Market,
    rows: Rows,
    labels: LabelArrays,
    transaction_id: np.ndarray,
    customer_ids: Sequence[str],
    device_ids: Sequence[str],
    created: np.ndarray,
    fraud_types: Sequence[str],
    actors: Sequence[tuple[str, str] | None] = (),
) -> pd.DataFrame:
    """The canonical frame of ``rows`` as they are ordered, with their ``transaction_id``;
    ``customer_ids[rows.cust]`` and ``device_ids[rows.device]`` name accounts and devices,
    ``created[rows.cust]`` is when the account was opened, ``actors[code]`` names the actors
    of the fraud with that code (:func:`actor_ids`; unnamed codes get ``fraud<code>-<n>``)."""
    n = len(rows)
    merchant_ids = _merchant_ids(len(m.m_cat))
    actors = list(actors) + [None] * max(0, len(fraud_types) - len(actors))
    df = pd.DataFrame(
        {
            "transaction_id": transaction_id,
            "timestamp": _times(rows.ts),
            "customer_id": _strings(customer_ids, rows.cust),
            "merchant_id": _strings(merchant_ids, rows.merch),
            "amount": rows.amount,
            "merchant_name": _strings(m.m_names, rows.merch),
            "merchant_category": _strings(CATEGORIES, m.m_cat[rows.merch]),
            "currency": _strings([CURRENCY], np.zeros(n, dtype=np.int32)),
            "channel": _strings(CHANNELS, rows.channel),
            "device_id": _strings(device_ids, rows.device),
            "region": _strings(REGIONS, rows.region),
            "account_created_at": _times(created[rows.cust]),
            "is_fraud": (rows.ftype > 0).astype(np.int8),
            "fraud_type": _strings(fraud_types, rows.ftype, rows.ftype == 0),
            "label_time": _times(labels.label_time),
            "reported_by_user": labels.reported,
            "report_time": _times(labels.report_time),
            "actor_id": actor_ids(rows, actors, customer_ids, merchant_ids),
        }
    )
    return df[CANONICAL]
