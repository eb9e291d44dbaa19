"""``okml score``: score a file of new payments with their history and write the scored file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from okml.config import Params
from okml.features import lookback
from okml.score import describe_flags, flag_summary, operating_point, score_transactions


def default_output(params: Params, input_path: str | Path, scored: pd.DataFrame) -> Path:
    """``<explain.scored_dir>/<input name>-<first day>[_<last day>].parquet``."""
    from okml.paths import resolve

    days = scored["timestamp"].dt.strftime("%Y-%m-%d")
    first, last = days.min(), days.max()
    span = first if first == last else f"{first}_{last}"
    return resolve(params.explain.scored_dir) / f"{Path(input_path).stem}-{span}.parquet"


def load_scoring_model(params: Params, model: str | None) -> tuple[str, str | None, Any]:
    """The model URI asked for (default ``@champion``), its registry version and the model."""
    from okml import tracking

    uri = model or tracking.model_uri(params.mlflow, tracking.CHAMPION)
    if tracking.is_registry_uri(uri):
        tracking.configure(params.mlflow)
    # resolve the alias once, then load that version: a promotion in between cannot make the
    # file name a version that did not score it
    version = tracking.registry_version(uri)
    return uri, version, tracking.load_model(f"models:/{version}" if version else uri, params.mlflow)


def queue_note(params: Params, model: Any) -> str | None:
    """A note when ``evaluate.rings_first`` differs from the model's training run: scoring
    keeps the model's queue order (its threshold was measured in it)."""
    theirs = operating_point(model, params).rings_first
    if params.evaluate.rings_first == theirs:
        return None
    return (
        f"note: evaluate.rings_first is {str(params.evaluate.rings_first).lower()} but the model was "
        f"trained with {str(theirs).lower()}: flags and ranks follow the model; retrain to change it"
    )


def score_cli(
    params: Params,
    input: str,
    history: str | None = None,
    model: str | None = None,
    output: str | None = None,
    progress: bool = True,
    top_k: bool = False,
) -> int:
    """``okml score``: score ``input`` (with ``history``) and write the scored Parquet file.

    Prints where the file went and how many payments (and customers) were flagged.
    """
    from okml import tracking
    from okml.data import load
    from okml.io import write_parquet
    from okml.paths import resolve

    new = load(input, params=params.data)
    hist = load(history, params=params.data) if history else None
    uri, version, fm = load_scoring_model(params, model)
    note = queue_note(params, fm)
    if note:
        print(note)
    scored = score_transactions(fm, new, hist, params, progress=progress, top_k=top_k)
    summary = flag_summary(scored, params.evaluate.k)
    # in the file's metadata (pandas attrs in Parquet): which model scored it and how it flagged
    scored.attrs |= {"model_uri": uri, "model_version": version, "flags": summary}
    if tracking.is_registry_uri(uri):
        scored.attrs["tracking_store"] = tracking.store_id(params.mlflow)
    path = resolve(output) if output else default_output(params, input, scored)
    write_parquet(scored, path)
    print(
        f"scored {len(scored):,} transactions with {uri}"
        + (f" (version {version})" if version and not uri.endswith(version) else "")
    )
    for line in describe_flags(summary, scored.attrs["operating_point"]):
        print(line)
    approx = scored.attrs["approximate_features"]
    if approx:
        hint = (
            f"pass --history covering {lookback(fm.feature_params)} before the new payments"
            if not history
            else "they see only the look-back of the history"
        )
        print(
            f"note: {len(approx)} feature(s) are approximate ({', '.join(approx[:4])}"
            f"{', ...' if len(approx) > 4 else ''}): {hint}"
        )
    print(f"wrote {path}")
    return 0


def score_dask_cli(
    params: Params,
    input: str,
    history: str | None = None,
    model: str | None = None,
    output: str | None = None,
    progress: bool = True,
    top_k: bool = False,
) -> int:
    """``okml score --engine dask``: score a partitioned ``input`` with its full ``history``
    on the cluster and write a dataset partitioned by day (``day=YYYY-MM-DD/``) with the
    columns of the local engine's scored file."""
    from okml.jobs.distributed import score_job
    from okml.paths import resolve

    uri, version, fm = load_scoring_model(params, model)
    note = queue_note(params, fm)
    if note:
        print(note)
    name = Path(input).name.removesuffix(".parquet")
    target = resolve(output) if output else resolve(params.explain.scored_dir) / f"{name}-scored"
    rows, flagged = score_job(params, fm, input, history, target, quiet=not progress, top_k=top_k)
    print(
        f"scored {rows:,} transactions with {uri}"
        + (f" (version {version})" if version and not uri.endswith(version) else "")
        + f"; {flagged:,} flagged"
    )
    print(f"wrote {target}/ (a Parquet dataset, one folder per day)")
    return 0
