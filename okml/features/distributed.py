"""The feature engine on Dask partitions, with the same numbers as over one frame.

Every family needs the history of one entity, plus (for ``merch_risk_*``) the share of known
fraud among *all* payments of a trailing window. So the table is built in passes, each a
shuffle that brings whole entities into one partition, where the tested single-frame engine
(:func:`okml.features.build_features`) runs unchanged on the partition's rows:

0. **time**: rows grouped in buckets of the longest risk window ``W``, each bucket with the
   bucket before it as history: :func:`okml.features.engine.intermediates` gives every row of
   a bucket the all-merchant fraud shares (``global_rate_S``), which need only the trailing
   ``W`` of payments. Only five narrow columns travel.
1. **customer** (shuffled by ``customer_id``, the time pass's output co-partitioned with it):
   every customer feature, the row-local ones (hour, amount, round amounts), the
   customer-merchant pair counts, and each payment's amount over its customer's recent median
   (``median_ratio``), which the merchant pass needs for frauds of *other* customers.
2. **merchant** (shuffled by ``merchant_id``): the merchant families, given the shares and
   median ratios of pass 0 and 1.
3. **device** (shuffled by ``device_id``): distinct customers per device.
4. **graph** (the ``graph`` and ``compromise`` families, when on: their groups span every
   entity, so no entity shuffle brings them together; but they need only a trailing window,
   their look-back ``L``): rows grouped in buckets of ``L`` rounded up to whole
   ``graph_epoch``s (so buckets start at epoch starts), each bucket with the bucket before it
   as history, the local engine run on both and kept for the bucket's own rows; joined back
   on ``transaction_id``.

Within a partition the engine sorts by (timestamp, transaction_id) itself, so the order in
which a shuffle delivers rows does not matter; entities split over input files are whole
after their shuffle; a hot merchant is one large partition, still exact. Tested against the
local engine in ``tests/test_dask.py`` (same NaN pattern, values within 1e-9).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from okml.config import FeatureParams
from okml.errors import FeatureError
from okml.features.engine import build_features, intermediates, rate_windows
from okml.features.graph import GRAPH_FAMILIES
from okml.features.registry import feature_names, registry
from okml.schema import REQUIRED

PREFIX = "__f_"  # carried feature columns ("amount" is a feature and an input column)
_MEDIAN = "__median_ratio"
_PART = "__part"
_MERCHANT_FAMILIES = ("merchant", "merchant_risk", "merchant_fraud_history")


def plan(params: FeatureParams, columns: list[str]) -> dict[str, list[str]]:
    """The features each pass computes (``customer``, ``merchant``, ``device``, ``graph``)."""
    specs = registry(params)
    out: dict[str, list[str]] = {"customer": [], "merchant": [], "device": [], "graph": []}
    for name in feature_names(params, columns):
        family = specs[name].family
        if family in GRAPH_FAMILIES:
            out["graph"].append(name)
        elif family in _MERCHANT_FAMILIES:
            out["merchant"].append(name)
        elif name.startswith("device_customers_"):
            out["device"].append(name)
        else:
            out["customer"].append(name)
    return out


def _rate_names(params: FeatureParams, names: list[str]) -> list[str]:
    if not any(n.startswith("merch_risk_") for n in names):
        return []
    return [f"global_rate_{w}" for w in rate_windows(params)]


def _stable_part(keys: pd.Series, n: int) -> np.ndarray:
    """Partition of each key, the same in every process (pandas' fixed-key hash)."""
    return (pd.util.hash_pandas_object(keys, index=False).to_numpy() % np.uint64(n)).astype(np.int64)


# ------------------------------------------------------------------ per-partition steps
def _time_rows(df: pd.DataFrame, bucket_ns: int, history: bool) -> pd.DataFrame:
    t = df["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    return df.assign(__bucket=t // bucket_ns + int(history), __own=not history)


def _rates(df: pd.DataFrame, params: FeatureParams, names: list[str], n_parts: int) -> pd.DataFrame:
    """Shares of known fraud for the own rows of each bucket in ``df``."""
    out = []
    for _, rows in df.groupby("__bucket", sort=False):
        tx = rows.drop(columns=["__bucket", "__own"]).assign(merchant_id=0, amount=1.0)
        r = intermediates(tx, params, names).reset_index()
        out.append(r[rows["__own"].to_numpy()])
    own = df[df["__own"]]
    if not out:
        res = pd.DataFrame({"transaction_id": own["transaction_id"], **{n: np.zeros(0) for n in names}})
    else:
        res = pd.concat(out, ignore_index=True)
    keys = own.set_index("transaction_id")["customer_id"]
    res[_PART] = _stable_part(keys.loc[res["transaction_id"]].reset_index(drop=True), n_parts)
    return res.reset_index(drop=True)


def _customer(tx: pd.DataFrame, rates: pd.DataFrame | None, params: FeatureParams, names: list[str]) -> Any:
    tx = tx.drop(columns=[_PART]).reset_index(drop=True)
    feats = build_features(tx, params, names=names)
    out = tx.copy()
    if rates is not None:
        rates = rates.drop(columns=[_PART]).set_index("transaction_id")
        if len(rates) != len(tx) or not rates.index.isin(tx["transaction_id"]).all():
            raise FeatureError(
                "the time pass and the customer pass of the dask feature engine are not "
                "co-partitioned; this is a bug in okml"
            )
        joined = rates.reindex(tx["transaction_id"])
        for c in rates.columns:
            out[f"__{c}"] = joined[c].to_numpy()
    out[_MEDIAN] = intermediates(tx, params, ["median_ratio"])["median_ratio"].to_numpy()
    for c in feats.columns:
        out[PREFIX + c] = feats[c].to_numpy()
    return out


def _inputs(df: pd.DataFrame) -> pd.DataFrame:
    return df[[c for c in df.columns if not c.startswith("__")]]


def _merchant(df: pd.DataFrame, params: FeatureParams, names: list[str], rates: list[str]) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    given = {"median_ratio": df[_MEDIAN].to_numpy()} | {r: df[f"__{r}"].to_numpy() for r in rates}
    feats = build_features(_inputs(df), params, names=names, given=given)
    out = df.drop(columns=[_MEDIAN, *(f"__{r}" for r in rates)])
    for c in feats.columns:
        out[PREFIX + c] = feats[c].to_numpy()
    return out


def _device(df: pd.DataFrame, params: FeatureParams, names: list[str]) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    feats = build_features(_inputs(df), params, names=names)
    out = df.copy()
    for c in feats.columns:
        out[PREFIX + c] = feats[c].to_numpy()
    return out


def graph_bucket_ns(params: FeatureParams, names: list[str]) -> int:
    """The graph pass's bucket: the look-back of ``names`` rounded up to whole epochs (ns)."""
    from okml.config import parse_duration

    specs = registry(params)
    look = max(int(specs[n].lookback_seconds or 0) for n in names)
    epoch = parse_duration(params.graph_epoch)
    return -(-look // epoch) * epoch * 1_000_000_000


def _graph(df: pd.DataFrame, params: FeatureParams, names: list[str]) -> pd.DataFrame:
    """The graph features of the own rows of each bucket in ``df`` (with their history)."""
    out = []
    for _, rows in df.groupby("__bucket", sort=False):
        own = rows.loc[rows["__own"].to_numpy(), "transaction_id"]
        feats = build_features(_inputs(rows), params, names=names)
        out.append(feats.loc[own.to_numpy()].reset_index())
    if not out:
        return pd.DataFrame({"transaction_id": df["transaction_id"].iloc[:0],
                             **{PREFIX + n: np.zeros(0) for n in names}})  # fmt: skip
    res = pd.concat(out, ignore_index=True)
    return res.rename(columns={n: PREFIX + n for n in names})[
        ["transaction_id", *(PREFIX + n for n in names)]
    ]


def _finish(df: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    inputs = _inputs(df)
    # ``amount`` is an input column and a feature of the same float64 values: kept once
    feats = {n: df[PREFIX + n].to_numpy(dtype=np.float64) for n in order if n not in inputs.columns}
    return pd.concat([inputs, pd.DataFrame(feats, index=df.index)], axis=1)


# ------------------------------------------------------------------------------- graph
def inputs(params: FeatureParams, columns: list[str]) -> list[str]:
    """The input columns the features of ``columns`` read (what the passes carry)."""
    specs = registry(params)
    need = set(REQUIRED) | {c for n in feature_names(params, columns) for c in specs[n].needs}
    need |= {"is_fraud", "label_time"} & set(columns)  # label events, read by fraud families
    return [c for c in columns if c in need]


def enrich(ddf: Any, params: FeatureParams, npartitions: int | None = None, keep: Sequence[str] = ()) -> Any:
    """The transactions of ``ddf`` (validated canonical partitions, any order) with every
    feature of :func:`okml.features.feature_names` added as a float64 column, lazily.

    Only the input columns the features read travel through the shuffles, plus ``keep``.
    Partitions come out grouped by the last pass's entity (device, else merchant), in no
    particular order; feature columns keep their registry names, after the input columns.

    """
    import dask
    import dask.dataframe as dd

    wanted = inputs(params, list(ddf.columns))
    ddf = ddf[wanted + [c for c in keep if c in ddf.columns and c not in wanted]]
    columns = list(ddf.columns)
    names = feature_names(params, columns)
    passes = plan(params, columns)
    rates = _rate_names(params, passes["merchant"])
    n = npartitions or ddf.npartitions
    meta_in = ddf._meta.assign(**{_PART: np.zeros(0, dtype=np.int64)})

    with_part = ddf.map_partitions(
        lambda df: df.assign(**{_PART: _stable_part(df["customer_id"], n)}), meta=meta_in
    )
    by_customer = with_part.shuffle(_PART, npartitions=n)
    if rates:
        bucket_ns = max(rate_windows(params)) * 1_000_000_000
        proj = ddf[[c for c in ("transaction_id", "timestamp", "customer_id", "is_fraud", "label_time")]]
        meta_t = _time_rows(proj._meta, bucket_ns, False)
        both = dd.concat(
            [
                proj.map_partitions(_time_rows, bucket_ns, False, meta=meta_t),
                proj.map_partitions(_time_rows, bucket_ns, True, meta=meta_t),
            ]
        ).shuffle("__bucket", npartitions=n)
        meta_r = _rates(meta_t, params, rates, n)
        rate_parts = both.map_partitions(_rates, params, rates, n, meta=meta_r).shuffle(_PART, npartitions=n)
        meta_c = _customer(meta_in, meta_r, params, passes["customer"])
        parts = [
            dask.delayed(_customer)(a, b, params, passes["customer"])
            for a, b in zip(by_customer.to_delayed(), rate_parts.to_delayed(), strict=True)
        ]
    else:
        meta_c = _customer(meta_in, None, params, passes["customer"])
        parts = [
            dask.delayed(_customer)(a, None, params, passes["customer"]) for a in by_customer.to_delayed()
        ]
    frame = dd.from_delayed(parts, meta=meta_c, verify_meta=False)
    if passes["merchant"]:
        meta_m = _merchant(meta_c, params, passes["merchant"], rates)
        frame = frame.shuffle("merchant_id", npartitions=n).map_partitions(
            _merchant, params, passes["merchant"], rates, meta=meta_m
        )
    else:
        frame = frame.drop(columns=[_MEDIAN, *(f"__{r}" for r in rates)])
    if passes["device"]:
        meta_d = _device(frame._meta, params, passes["device"])
        frame = frame.shuffle("device_id", npartitions=n).map_partitions(
            _device, params, passes["device"], meta=meta_d
        )
    if passes["graph"]:
        frame = frame.merge(_graph_pass(ddf, params, passes["graph"], n), on="transaction_id", how="left")
    return frame.map_partitions(_finish, names, meta=_finish(frame._meta, names))


def _graph_pass(ddf: Any, params: FeatureParams, names: list[str], n: int) -> Any:
    """``transaction_id`` and the graph families' columns, by time buckets (pass 4)."""
    import dask.dataframe as dd

    bucket_ns = graph_bucket_ns(params, names)
    meta_t = _time_rows(ddf._meta, bucket_ns, False)
    both = dd.concat(
        [
            ddf.map_partitions(_time_rows, bucket_ns, False, meta=meta_t),
            ddf.map_partitions(_time_rows, bucket_ns, True, meta=meta_t),
        ]
    ).shuffle("__bucket", npartitions=n)
    return both.map_partitions(_graph, params, names, meta=_graph(meta_t, params, names))


def feature_table(enriched: Any, params: FeatureParams) -> Any:
    """``transaction_id``, ``timestamp`` and the feature columns of an :func:`enrich` frame."""
    names = feature_names(params, [c for c in enriched.columns])
    return enriched[["transaction_id", "timestamp", *[n for n in names if n in enriched.columns]]]
