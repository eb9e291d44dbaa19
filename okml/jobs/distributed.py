"""The jobs of ``compute.engine: dask``: features, training and scoring on a Dask cluster.

The data stay partitioned from end to end: :func:`okml.data.partitioned.load_dask` reads and
validates each file on the workers, :func:`okml.features.distributed.enrich` adds the
features in entity passes (equal to the local engine), the training and test windows are
written once as a temporary Parquet dataset beside the spill folder (so nothing is computed
twice and nothing needs to fit in memory), XGBoost trains with ``xgboost.dask`` on the
workers, and the test window is scored on the workers. Only the test window's rows (a week)
come back to this process, where the same metric functions as the local engine run on them:
the metrics of the same scores are the same numbers.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from okml.config import FeatureParams, Params
from okml.errors import DataError, OkmlError

log = logging.getLogger(__name__)

# columns of the window dataset that evaluation and the report need besides the features
_TX_COLUMNS = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "merchant_id",
    "amount",
    "is_fraud",
    "label_time",
)
NEW = "okml_new"  # marks the payments to score among their history
DAY = "day"  # the hive partition of scored and window datasets: day=2026-06-30/


@dataclass
class DaskRun:
    """A training run on the dask engine: the fields of :class:`okml.jobs.train.TrainResult`
    and what logging needs besides them."""

    fold: Any
    estimator: Any
    feature_columns: list[str]
    metrics: dict[str, float]
    scored: pd.DataFrame
    threshold: float
    test_tx: pd.DataFrame  # the test window's transactions (canonical columns), sorted
    test_features: pd.DataFrame  # their features, same rows and order
    fingerprint: dict[str, Any]
    dashboard: str
    timings: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------------ helpers
def dataset(params: Params, path: str | None = None, columns: list[str] | None = None) -> Any:
    """``data.path`` (or ``path``) as validated dask partitions (simulated first if missing)."""
    from okml.data.partitioned import load_dask
    from okml.jobs.data import ensure_data

    if path is None:
        ensure_data(params)
    return load_dask(path or params.data.path, preset=params.data.preset, params=params.data, columns=columns)


def count_rows(path: str | os.PathLike[str], params: Params) -> int | None:
    """Rows of a Parquet dataset from its footers (no data read); None for other formats."""
    import pyarrow.parquet as pq

    from okml.data import presets
    from okml.data.loading import PARQUET_SUFFIXES, _suffix
    from okml.data.partitioned import partition_files

    files = partition_files(path, presets.get(params.data.preset))
    if any(_suffix(f) not in PARQUET_SUFFIXES for f in files):
        return None
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def n_partitions(rows: int | None, ddf: Any, params: Params, client: Any) -> int:
    """Partitions of the shuffles: ``rows / compute.dask.partition_rows``, at least one per
    worker."""
    workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
    if rows is None:
        return max(ddf.npartitions, workers)
    return max(workers, math.ceil(rows / params.compute.dask.partition_rows))


def fingerprint(ddf: Any) -> dict[str, Any]:
    """Content hash independent of row order and partitioning (the sum of pandas' row hashes
    modulo 2**64, as 16 hex digits), row count and time range, computed on the workers."""
    import dask

    def part(df: pd.DataFrame) -> pd.DataFrame:
        h = pd.util.hash_pandas_object(df.reset_index(drop=True), index=False).to_numpy(dtype=np.uint64)
        return pd.DataFrame({"h": [int(h.sum(dtype=np.uint64))], "n": [len(df)]}, dtype=object)

    parts, start, end = dask.compute(
        ddf.map_partitions(part, meta={"h": object, "n": object}),
        ddf["timestamp"].min(),
        ddf["timestamp"].max(),
    )
    total = sum(int(h) for h in parts["h"]) % (1 << 64)
    return {
        "data.hash64": f"{total:016x}",
        "data.rows": int(sum(int(n) for n in parts["n"])),
        "data.start": pd.Timestamp(start).isoformat(),
        "data.end": pd.Timestamp(end).isoformat(),
    }


@contextmanager
def scratch(params: Params, name: str) -> Iterator[Path]:
    """A temporary folder under ``compute.dask.spill_dir`` (removed afterwards). Workers of a
    remote cluster must see the same path: point ``spill_dir`` at a shared disk there."""
    from okml.io import temp_prefix
    from okml.paths import resolve

    root = resolve(params.compute.dask.spill_dir)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{temp_prefix(name)}{os.getpid()}-{time.time_ns()}"
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_dataset(frame: Any, target: Path, step: str, quiet: bool, **kwargs: Any) -> Path:
    """Write dask ``frame`` as a Parquet dataset at ``target``: into a hidden sibling folder
    first, renamed into place when every partition is written (an old dataset there is
    replaced only then), so a failure leaves nothing half-written."""
    from distributed import futures_of, wait

    from okml import cluster

    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        job = frame.to_parquet(tmp, write_index=False, compute=False, **kwargs)
        future = job.persist()
        cluster.progress(future, quiet)
        cluster.step(step, lambda: wait(futures_of(future)) and future.compute())
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove_stale(target: Path) -> None:
    """Hidden folders a killed writer of ``target`` left (its process is gone)."""
    for old in target.parent.glob(f".{target.name}.*-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(old, ignore_errors=True)


def dataset_rows(path: Path) -> int:
    """Rows of a Parquet dataset okml wrote, from the files' footers."""
    import pyarrow.parquet as pq

    from okml.data.loading import dataset_files

    files = dataset_files(path) or sorted(path.glob("*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


# ----------------------------------------------------------------------------- features
def features_job(params: Params, input: str | None, output: Path, quiet: bool = False) -> tuple[int, int]:
    """``okml features --engine dask``: the feature table as a Parquet dataset (columns
    ``transaction_id``, ``timestamp``, then the features). Returns (rows, features)."""
    from okml import cluster
    from okml.features.distributed import enrich, feature_table

    with cluster.cluster(params.compute.dask, quiet=quiet) as client:
        ddf = dataset(params, input)
        n = n_partitions(count_rows(input or params.data.path, params), ddf, params, client)
        table = feature_table(enrich(ddf, params.features, n), params.features)
        write_dataset(table, output, "features", quiet)
    return dataset_rows(output), len(table.columns) - 2


def _read(path: Path, columns: list[str] | None = None) -> Any:
    """A dataset okml wrote, one partition per file (never fused: frames derived from it
    keep the same partitions, as ``xgboost.dask`` needs for features and labels)."""
    import dask.dataframe as dd

    from okml.data.loading import dataset_files

    files = dataset_files(path) or sorted(path.glob("*.parquet"))
    meta = pd.read_parquet(files[0], columns=columns).iloc[:0]
    return dd.from_map(_ReadPart(columns), files, meta=meta, label="okml-read", enforce_metadata=False)


class _ReadPart:
    def __init__(self, columns: list[str] | None) -> None:
        self.columns = columns

    def __call__(self, file: Path) -> pd.DataFrame:
        return pd.read_parquet(file, columns=self.columns)


def _read_days(
    path: Path,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    columns: list[str] | None = None,
) -> Any:
    """A dataset written with ``partition_on=["day"]``, one partition per day in day order
    (the days of ``[start, end)`` only, when given), each sorted by time and id: the rows in
    the order of the local engine's sorted transactions."""
    import dask.dataframe as dd

    days = sorted(p for p in path.glob(f"{DAY}=*") if p.is_dir())
    if start is not None and end is not None:
        lo, hi = f"{DAY}={start:%Y-%m-%d}", f"{DAY}={end:%Y-%m-%d}"
        days = [d for d in days if lo <= d.name <= hi]
    if not days:
        raise OkmlError(f"no payments from {start} to {end}")
    meta = pd.read_parquet(next(days[0].glob("*.parquet")), columns=columns).iloc[:0]
    return dd.from_map(_ReadDay(columns), days, meta=meta, label="okml-day", enforce_metadata=False)


class _ReadDay:
    def __init__(self, columns: list[str] | None) -> None:
        self.columns = columns

    def __call__(self, folder: Path) -> pd.DataFrame:
        files = sorted(folder.glob("*.parquet"))
        df = pd.concat([pd.read_parquet(f, columns=self.columns) for f in files], ignore_index=True)
        return df.sort_values(["timestamp", "transaction_id"], kind="stable", ignore_index=True)


def _day_of(ts: Any) -> Any:
    """The UTC day (``2026-06-30``) of a dask series of timestamps."""
    return ts.map_partitions(_day_strings, meta=_day_strings(ts._meta))


def _day_strings(ts: pd.Series) -> pd.Series:
    # strftime once per distinct day: 0.1 s instead of 1.5 s per 1.6 M rows
    days = ts.dt.floor("D")
    distinct = pd.Series(days.unique())
    names = dict(zip(distinct, distinct.dt.strftime("%Y-%m-%d"), strict=True))
    return days.map(names).astype("str").rename(DAY)


def _write_days(frame: Any, path: Path, quiet: bool) -> Path:
    """``frame`` written as one folder per UTC day (see :func:`_read_days`)."""
    by_day = frame.assign(**{DAY: _day_of(frame["timestamp"])})
    return write_dataset(by_day, path, "features", quiet, partition_on=[DAY])


def _training_xy(
    path: Path, names: list[str], start: pd.Timestamp, end: pd.Timestamp, known_at: pd.Timestamp
) -> Any:
    """Features and labels known at ``known_at`` (``__y``) of the payments in ``[start, end)``,
    in the local engine's order: one partition per day."""
    columns = [*names, "transaction_id", "timestamp", "is_fraud", "label_time"]
    days = _read_days(path, start, end, columns=columns)
    ts = days["timestamp"]
    rows = days[(ts >= start) & (ts < end)]
    meta = rows._meta[names].astype("float64").assign(__y=np.zeros(0, dtype=np.int8))
    # X and y from the same partitions: xgboost.dask needs them aligned
    return rows.map_partitions(_xy, names, known_at, meta=meta)


# ------------------------------------------------------------------------------ training
def queue_features(rings_first: bool, features: FeatureParams) -> tuple[FeatureParams, str | None]:
    """The feature settings the dask engine builds and the column the queue reads: with
    ``rings_first`` the graph family is built too (its group size orders the queue; the model
    is given only its own ``features``' columns), else ``features`` and None."""
    from okml.evaluate.scoring import ring_feature_params
    from okml.features.graph import group_size_name

    if not rings_first:
        return features, None
    return ring_feature_params(features), group_size_name(features)


def queue_frame(name: str, *frames: pd.DataFrame) -> pd.DataFrame:
    """The group sizes ``name`` of the first of ``frames`` (same rows) that has them, as one
    column; NaN with a warning when none has (data without ``device_id``: no rings, score
    order, as :func:`okml.evaluate.scoring.group_sizes`)."""
    from okml.evaluate.scoring import no_rings

    for frame in frames:
        if name in frame:
            return frame[[name]].reset_index(drop=True)
    return no_rings(pd.RangeIndex(len(frames[0])), name)


def train_model_dask(params: Params, as_of: str | None = None, quiet: bool = False) -> DaskRun:
    """:func:`okml.jobs.train.train_model` on the dask engine (XGBoost only)."""
    from okml import cluster
    from okml.evaluate.scoring import evaluate_test
    from okml.evaluate.splits import as_of_day, known_compromised, training_fold, training_labels
    from okml.features import feature_names
    from okml.features.distributed import enrich
    from okml.models.distributed import check_dask_model, predict_dask

    check_dask_model(params.model)
    built, queue_name = queue_features(params.evaluate.rings_first, params.features)
    timings: dict[str, float] = {}
    with cluster.cluster(params.compute.dask, quiet=quiet) as client, scratch(params, "window") as tmp:
        t0 = time.perf_counter()
        dashboard = cluster.dashboard_link(client)
        ddf = dataset(params)
        fp = cluster.step("load", lambda: fingerprint(ddf))
        timings["load_s"] = time.perf_counter() - t0
        fold = training_fold(
            pd.Series(pd.to_datetime([fp["data.start"], fp["data.end"]])), params.split, as_of
        )
        known_at = as_of_day(as_of) if as_of is not None else fold.test_start
        names = feature_names(params.features, list(ddf.columns))

        t0 = time.perf_counter()
        n = n_partitions(fp["data.rows"], ddf, params, client)
        enriched = enrich(ddf, built, n, keep=["fraud_type"])
        ts = enriched["timestamp"]
        window = enriched[(ts >= fold.train_start) & (ts < fold.test_end)]
        extra = ("fraud_type", queue_name)
        keep = [c for c in window.columns if c in _TX_COLUMNS or c in names or c in extra]
        # one folder per day, so that the training rows reach XGBoost in the local engine's
        # order (time, then id): its row subsampling then draws the same rows, and one
        # worker grows the same trees as the local engine (tests/test_dask.py)
        _write_days(window[keep], tmp, quiet)
        timings["features_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        xy = _training_xy(tmp, names, fold.train_start, fold.train_end, known_at)
        est = _fit_xy(
            client, xy, names, params.model,
            lambda rows: DataError(
                f"{fold.name}: no fraud label known by {known_at:%Y-%m-%d} among the {rows:,} "
                "training transactions; use longer split.train_days or other dates"
            ),
        )  # fmt: skip
        timings["fit_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        win = _read_days(tmp)
        test = _read_days(tmp, fold.test_start, fold.test_end)
        test = test[test["timestamp"] >= fold.test_start]
        scores = predict_dask(client, est, test[names].astype("float64"))
        frauds = win[win["is_fraud"] == 1][
            ["transaction_id", "timestamp", "customer_id", "is_fraud", "label_time"]
        ]
        test_local, scores, frauds = cluster.step("scoring", lambda: _compute(test, scores, frauds))
        timings["score_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    order = np.lexsort((test_local["transaction_id"].to_numpy(), test_local["timestamp"].to_numpy()))
    test_local, scores = test_local.iloc[order].reset_index(drop=True), scores[order]
    if params.split.remove_known_compromised:
        both = pd.concat([frauds, test_local], ignore_index=True).drop_duplicates("transaction_id")
        mask = known_compromised(both, fold)
        gone = set(both.loc[mask, "transaction_id"])
        keep_rows = ~test_local["transaction_id"].isin(gone).to_numpy()
        test_local, scores = test_local[keep_rows].reset_index(drop=True), scores[keep_rows]
    tx_cols = [c for c in test_local.columns if (c not in names or c == "amount") and c != queue_name]
    test_tx = test_local[tx_cols]
    if as_of is not None:
        test_tx = test_tx.assign(is_fraud=training_labels(test_tx, known_at))
    if len(test_tx) == 0 or test_tx["is_fraud"].sum() == 0:
        raise OkmlError(f"{fold.name}: no fraud among the {len(test_tx):,} test transactions")
    feats = test_local[names].astype("float64").reset_index(drop=True)
    queue = None if queue_name is None else queue_frame(queue_name, test_local)
    metrics, scored, threshold = evaluate_test(test_tx, scores, params, queue)
    timings["evaluate_s"] = time.perf_counter() - t0
    return DaskRun(
        fold, est, names, metrics, scored.reset_index(drop=True), threshold,
        test_tx.reset_index(drop=True), feats, fp, dashboard, timings,
    )  # fmt: skip


def _fit_xy(client: Any, xy: Any, names: list[str], model: Any, no_fraud: Callable[[int], Exception]) -> Any:
    """XGBoost fitted with ``xgboost.dask`` on the features ``names`` and labels ``__y`` of
    dask ``xy`` (computed once into the workers' memory, released on return), with as many
    threads as each worker has (histograms are summed in double precision: on the default
    data 1 and 2 threads grow the same trees); ``no_fraud(rows)`` is raised when no label
    is positive."""
    from okml import cluster
    from okml.models.distributed import fit_xgboost_dask, persist_training

    X, y, positives, rows = cluster.step(
        "training rows", lambda: persist_training(client, xy[names], xy["__y"])
    )
    if positives == 0:
        raise no_fraud(rows)
    counts = (positives, rows)
    threads = min(client.nthreads().values())
    return cluster.step("training", lambda: fit_xgboost_dask(client, X, y, model, threads, counts))


def _xy(df: pd.DataFrame, names: list[str], known_at: pd.Timestamp) -> pd.DataFrame:
    from okml.evaluate.splits import training_labels

    return df[names].astype("float64").assign(__y=training_labels(df, known_at))


def _compute(test: Any, scores: Any, frauds: Any) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    import dask

    test_local, values, fraud_rows = dask.compute(test, scores, frauds)
    return test_local.reset_index(drop=True), np.asarray(values, dtype=np.float64), fraud_rows


# ------------------------------------------------------------------------------- scoring


def scored_frame_dask(
    params: Params, model: Any, new: Any, history: Any | None, n: int, top_k: bool = False
) -> Any:
    """Scored payments of dask ``new`` (with the earlier payments ``history``, whose full
    history makes every feature exact), as a dask frame of whole days per partition with the
    columns of :func:`okml.score.score_transactions` plus ``day``."""
    import dask.dataframe as dd

    from okml.features.distributed import enrich
    from okml.score import operating_point

    fparams = model.feature_params
    built, queue_name = queue_features(operating_point(model, params).rings_first, fparams)
    parts = [new.assign(**{NEW: True})]
    if history is not None:
        parts.insert(0, history.assign(**{NEW: False}))
    combined = dd.concat(parts) if len(parts) > 1 else parts[0]
    # the scored file carries the payments' context columns (merchant name, channel, ...)
    enriched = enrich(combined, built, n, keep=list(combined.columns))
    rows = enriched[enriched[NEW]]
    rows = rows.assign(**{DAY: _day_of(rows["timestamp"])})
    by_day = rows.shuffle(DAY, npartitions=n)
    sample = _score_part(by_day._meta, model, params, top_k, queue_name, example=True)
    return by_day.map_partitions(_score_part, model, params, top_k, queue_name, meta=sample)


def _score_part(
    df: pd.DataFrame,
    model: Any,
    params: Params,
    top_k: bool,
    queue_name: str | None = None,
    example: bool = False,
) -> pd.DataFrame:
    """One partition of whole days scored; ``queue_name``: the group-size column the queue
    reads (rings first, :func:`queue_features`), built beside the features."""
    from okml.score import score_features

    columns = list(model.columns)
    if example:  # the columns of a scored partition, from one made-up flagged payment
        df = _example(df)
    order = np.lexsort((df["transaction_id"].to_numpy(), df["timestamp"].to_numpy()))
    df = df.iloc[order].reset_index(drop=True)
    new = df[[c for c in df.columns if c not in columns or c == "amount"]].drop(columns=[NEW, DAY])
    queue = None if queue_name is None else queue_frame(queue_name, df)
    out = score_features(model, new, df[columns].astype("float64"), params, top_k=top_k, queue=queue)
    out[DAY] = df[DAY].to_numpy()
    return out.iloc[:0] if example else out


def _example(meta: pd.DataFrame) -> pd.DataFrame:
    row = {}
    for c, dtype in meta.dtypes.items():
        if isinstance(dtype, pd.DatetimeTZDtype):
            row[c] = pd.Series([pd.Timestamp("2026-01-01", tz="UTC")], dtype=dtype)
        elif pd.api.types.is_bool_dtype(dtype):
            row[c] = pd.Series([True], dtype=dtype)
        elif pd.api.types.is_numeric_dtype(dtype):
            row[c] = pd.Series([1], dtype=dtype)
        else:
            row[c] = pd.Series(["x"], dtype=dtype)
    return pd.DataFrame(row)


def score_job(
    params: Params,
    model: Any,
    input: str,
    history: str | None,
    output: Path,
    quiet: bool = False,
    top_k: bool = False,
) -> tuple[int, int]:
    """``okml score --engine dask``: score ``input`` (a partitioned dataset) with ``history``
    and write the scored rows as a dataset partitioned by day. Returns (rows, flagged)."""
    from okml import cluster

    with cluster.cluster(params.compute.dask, quiet=quiet) as client:
        new = dataset(params, input)
        hist = dataset(params, history) if history else None
        rows = (count_rows(input, params) or 0) + (count_rows(history, params) or 0 if history else 0)
        n = n_partitions(rows or None, new, params, client)
        scored = scored_frame_dask(params, model, new, hist, n, top_k)
        write_dataset(scored, output, "scoring", quiet, partition_on=[DAY])
        flags = _read(output, columns=["flag"])["flag"]
        flagged = cluster.step("scoring", lambda: int(flags.sum().compute()))
    return dataset_rows(output), flagged


def score_window_dask(params: Params, model: Any, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Payments of ``data.path`` in ``[start, end)`` scored with their full history, as one
    local frame (a report's week)."""
    from okml import cluster

    with cluster.cluster(params.compute.dask, quiet=True) as client:
        ddf = dataset(params)
        n = n_partitions(count_rows(params.data.path, params), ddf, params, client)
        ts = ddf["timestamp"]
        scored = scored_frame_dask(params, model, ddf[(ts >= start) & (ts < end)], ddf[ts < start], n)
        out = cluster.step("scoring", lambda: scored.compute())
    order = np.lexsort((out["transaction_id"].to_numpy(), out["timestamp"].to_numpy()))
    return out.iloc[order].drop(columns=[DAY]).reset_index(drop=True)


# ---------------------------------------------------------------------------- evaluation
@contextmanager
def dask_folds(params: Params, quiet: bool = False) -> Iterator[tuple[list[Any], DaskFolds]]:
    """``okml evaluate --engine dask``: the folds of ``params.split`` and a
    :class:`DaskFolds` over the payments of their windows (the first fold's training start to
    the last fold's test end), with features built over the *whole* history on the cluster."""
    from okml import cluster
    from okml.evaluate.splits import make_folds
    from okml.features import feature_names
    from okml.features.distributed import enrich

    built, _ = queue_features(params.evaluate.rings_first, params.features)
    with cluster.cluster(params.compute.dask, quiet=quiet) as client, scratch(params, "folds") as tmp:
        ddf = dataset(params)
        fp = cluster.step("load", lambda: fingerprint(ddf))
        folds = make_folds(pd.Series(pd.to_datetime([fp["data.start"], fp["data.end"]])), params.split)
        start, end = min(f.train_start for f in folds), max(f.test_end for f in folds)
        names = feature_names(params.features, list(ddf.columns))
        n = n_partitions(fp["data.rows"], ddf, params, client)
        enriched = enrich(ddf, built, n, keep=list(ddf.columns))
        ts = enriched["timestamp"]
        _write_days(enriched[(ts >= start) & (ts < end)], tmp, quiet)
        cols = ["transaction_id", "timestamp", "customer_id", "is_fraud", "label_time"]
        window = _read_days(tmp, columns=cols)
        frauds = cluster.step("features", lambda: window[window["is_fraud"] == 1].compute())
        yield folds, DaskFolds(client, tmp, names, params, frauds)


class DaskFolds:
    """The folds' payments as a day-partitioned dataset on the cluster (see
    :class:`okml.jobs.evaluate.FoldSource`). XGBoost candidates are fitted with
    ``xgboost.dask`` on the workers, on the rows in the local engine's order (one worker
    grows the local engine's trees); the other kinds, which have no distributed trainer, are
    fitted in this process on the fold's training rows. Test weeks come back here, where the
    local metric functions run on them."""

    def __init__(self, client: Any, path: Path, names: list[str], params: Params, frauds: pd.DataFrame):
        self.client, self.path, self.names, self.params, self.frauds = client, path, names, params, frauds
        self._local_kinds: set[str] = set()

    def test(self, fold: Any) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        import dask

        from okml import cluster
        from okml.evaluate.splits import known_compromised, no_test_fraud, no_training_fraud

        days = _read_days(self.path, fold.test_start, fold.test_end)
        test = days[(days["timestamp"] >= fold.test_start) & (days["timestamp"] < fold.test_end)]
        labels = _training_xy(self.path, [], fold.train_start, fold.train_end, fold.test_start)["__y"]
        rows, (n_train, positives) = cluster.step(
            "test window", lambda: dask.compute(test, (labels.shape[0], labels.sum()))
        )
        rows = rows.iloc[np.lexsort((rows["transaction_id"].to_numpy(), rows["timestamp"].to_numpy()))]
        rows = rows.reset_index(drop=True)
        if self.params.split.remove_known_compromised and len(rows):
            both = pd.concat([self.frauds, rows], ignore_index=True).drop_duplicates("transaction_id")
            gone = set(both.loc[known_compromised(both, fold), "transaction_id"])
            rows = rows[~rows["transaction_id"].isin(gone).to_numpy()].reset_index(drop=True)
        if int(n_train) == 0 or int(positives) == 0:
            raise no_training_fraud(fold, int(n_train))
        if len(rows) == 0 or rows["is_fraud"].sum() == 0:
            raise no_test_fraud(fold, len(rows))
        tx = rows[[c for c in rows.columns if c not in self.names or c == "amount"]]
        return tx, rows[self.names].astype("float64"), int(n_train)

    def fit(self, model_params: Any, fold: Any, end: pd.Timestamp | None = None) -> Any:
        from okml import cluster
        from okml.evaluate.splits import no_fraud_before, no_training_fraud
        from okml.models import build_estimator
        from okml.models.distributed import dask_trainable

        xy = _training_xy(self.path, self.names, fold.train_start, end or fold.train_end, fold.test_start)
        if dask_trainable(model_params):
            return _fit_xy(
                self.client, xy, self.names, model_params,
                lambda rows: no_training_fraud(fold, rows) if end is None else no_fraud_before(fold, end),
            )  # fmt: skip
        if model_params.kind not in self._local_kinds:
            self._local_kinds.add(model_params.kind)
            log.info("model.kind=%s has no distributed trainer: fitted in this process", model_params.kind)
        local = cluster.step("training rows", lambda: xy.compute())
        if end is not None and local["__y"].sum() == 0:
            raise no_fraud_before(fold, end)
        return build_estimator(model_params).fit(local[self.names], local["__y"].to_numpy())

    def rows(self, fold: Any, start: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
        from okml import cluster
        from okml.evaluate.splits import training_labels

        days = _read_days(self.path, start, fold.train_end)
        hold = days[(days["timestamp"] >= start) & (days["timestamp"] < fold.train_end)]
        rows = cluster.step("validation rows", lambda: hold.compute()).reset_index(drop=True)
        tx = rows[[c for c in rows.columns if c not in self.names or c == "amount"]]
        tx = tx.assign(is_fraud=training_labels(tx, fold.test_start))
        return tx, rows[self.names].astype("float64")

    def queue(self, rows: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame | None:
        # dask_folds built the group size beside the features (queue_features): rows hold it
        _, name = queue_features(self.params.evaluate.rings_first, self.params.features)
        return None if name is None else queue_frame(name, rows, X)


# ---------------------------------------------------------------------------- validation
def validate_job(params: Params, path: str, preset: str | None, quiet: bool = False) -> list[str]:
    """``okml validate --engine dask``: every partition validated on the workers; a summary
    (rows, files, time range, customers, merchants, frauds) in a few lines."""
    import dask

    from okml import cluster
    from okml.data import presets
    from okml.data.partitioned import load_dask, partition_files

    spec = presets.get(preset or params.data.preset)
    with cluster.cluster(params.compute.dask, quiet=quiet):
        files = partition_files(path, spec)
        ddf = load_dask(path, preset=spec.name, params=params.data)
        parts = [len(ddf), ddf["timestamp"].min(), ddf["timestamp"].max()]
        parts += [ddf["customer_id"].nunique(), ddf["merchant_id"].nunique()]
        if "is_fraud" in ddf.columns:
            parts.append(ddf["is_fraud"].sum())
        values = cluster.step("validate", lambda: dask.compute(*parts))
    rows, start, end, customers, merchants = values[:5]
    lines = [
        f"{path}: {int(rows):,} valid transactions in {len(files)} file(s), "
        f"{pd.Timestamp(start):%Y-%m-%d %H:%M} to {pd.Timestamp(end):%Y-%m-%d %H:%M} UTC",
        f"customers {int(customers):,}, merchants {int(merchants):,}",
    ]
    if len(values) > 5:
        lines.append(f"fraud {int(values[5]):,} ({int(values[5]) / max(int(rows), 1):.3%})")
    return lines
