"""``okml report``: the reviewers' report of a day, run as a notebook and exported to HTML.

:func:`prepare` is what ``notebooks/03_explain_flagged.ipynb`` calls: it loads the params and
the model, then :func:`okml.report.prepare` picks and explains the cases.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from okml.config import Params, dump_params, load_params
from okml.errors import OkmlError
from okml.paths import resolve
from okml.report import (
    NOTEBOOK,
    ReportData,
    _t,
    check_same_model,
    day_rows,
    local_day,
    read_scored,
    whole_days,
)

log = logging.getLogger(__name__)


def prepare(
    scored_path: str | Path,
    model_uri: str,
    date: str | None = None,
    n_cases: int | None = None,
    language: str | None = None,
    params_file: str | None = None,
    overrides: Sequence[str] = (),
    model_version: str | None = None,
) -> ReportData:
    """Load params (as :func:`okml.config.load_params`) and the model at ``model_uri``, then
    :func:`okml.report.prepare` the day's cases of ``scored_path`` (refused when it was
    scored by another version than ``model_version``)."""
    from okml import report, tracking

    params = load_params(params_file, list(overrides or []))
    model = tracking.load_model(model_uri, params.mlflow)
    try:
        keys = pd.read_parquet(
            resolve(scored_path), columns=["transaction_id", "timestamp", "customer_id", "amount"]
        )
    except Exception:  # not a scored file: report.prepare says why, in one line
        keys = pd.DataFrame()
    transactions, source = transactions_for(params, keys)
    return report.prepare(
        scored_path,
        model,
        params,
        model_uri,
        date=date,
        n_cases=n_cases,
        language=language,
        model_version=model_version,
        transactions=transactions,
        ring_source=source,
    )


def default_scored(params: Params) -> Path:
    """The newest Parquet file in ``explain.scored_dir``."""
    folder = resolve(params.explain.scored_dir)
    files = sorted(folder.glob("*.parquet"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    if not files:
        raise OkmlError(f"no scored files in {folder}; run `okml score` first or pass --scored")
    return files[-1]


def _model_run_id(uri: str) -> str | None:
    """The MLflow run that logged the model at ``uri`` (None for a plain folder)."""
    from okml import tracking

    return tracking.model_run_id(uri)


def model_label(uri: str, version: str | None = None) -> str:
    """How a report file names its model: ``okpay-fraud-v3`` for a registered version,
    ``run-1a2b3c4d`` for a run's model, the folder's name for a model folder."""
    import re

    if version:
        name, _, number = version.rpartition("/")
        label = f"{name}-v{number}"
    elif uri.startswith("runs:/"):
        label = "run-" + uri[len("runs:/") :].split("/")[0][:8]
    elif uri.startswith("models:/"):
        label = uri[len("models:/") :].replace("@", "-").replace("/", "-")
    else:
        label = Path(uri.rstrip("/")).name or "model"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label)


def report_path(params: Params, day: pd.Timestamp, uri: str, version: str | None = None) -> Path:
    """``<explain.report_dir>/[store-ID/]report-DAY-MODEL.html``: one file per model and
    local day; reports of a tracking store's models sit in that store's folder, so another
    store (a test's, a server's) with the same model names cannot overwrite them."""
    from okml import tracking

    folder = resolve(params.explain.report_dir)
    if tracking.is_registry_uri(uri):
        folder = folder / f"store-{tracking.store_id(params.mlflow)}"
    return folder / f"report-{day:%Y-%m-%d}-{model_label(uri, version)}.html"


def write_report(
    params: Params,
    scored_path: str | Path,
    model_uri: str,
    date: str | pd.Timestamp | None = None,
    output: str | Path | None = None,
    language: str | None = None,
    run_id: str | None = None,
    model_version: str | None = None,
) -> Path:
    """Execute the reviewers' notebook and export it as self-contained HTML without code.

    Parameters
    ----------
    params:
        All parameters (passed to the notebook as a params file).
    scored_path:
        Parquet from ``okml score``.
    model_uri:
        The model that scored it.
    date:
        The reviewers' local day to report (``features.timezone``); default the day of the
        file's last payment.
    output:
        HTML path; default :func:`report_path`.
    language:
        ``en`` or ``zh``; default ``explain.language``.
    run_id:
        MLflow run to log the HTML to (under ``reports/``); default the run that logged
        the model when ``model_uri`` is an MLflow URI (``models:/``, ``runs:/``).
    model_version:
        ``NAME/N`` of the model: a file scored by another version is refused.

    Returns
    -------
    pathlib.Path
        The HTML file.
    """

    from okml import tracking
    from okml.jobs.notebooks import write_page

    # check what we can before starting a kernel: a bad date or file fails in a second
    scored_file = resolve(scored_path)
    scored = read_scored(scored_file)
    check_same_model(scored, model_version, scored_file)
    day = local_day(date, scored, params.features.timezone)
    day_rows(scored, day, scored_file)
    language = language or params.explain.language
    title = _t(language, "title", date=f"{day:%Y-%m-%d}")
    day_text = f"{day:%Y-%m-%d}"
    out = resolve(output) if output else report_path(params, day, model_uri, model_version)
    from okml.io import temp_prefix

    with tempfile.TemporaryDirectory(prefix=temp_prefix("report")) as tmp:
        params_file = Path(tmp) / "params.yaml"
        params_file.write_text(dump_params(params), encoding="utf-8")
        parameters: dict[str, Any] = {
            "scored_path": str(scored_file),
            "model_uri": model_uri,
            "date": day_text,
            "n_cases": params.explain.n_cases,
            "language": language,
            "params_file": str(params_file),
            "overrides": [],
            "model_version": model_version,
        }
        write_page(NOTEBOOK, parameters, params, out, title, language, Path(tmp))
    if run_id is None and tracking.is_registry_uri(model_uri):
        try:
            tracking.configure(params.mlflow)
            run_id = _model_run_id(model_uri)
        except Exception as e:  # the report exists; failing to find its run must not lose it
            log.warning("report not logged to MLflow: cannot find the run of %s (%s)", model_uri, e)
    if run_id:
        tracking.configure(params.mlflow)
        tracking.log_artifact(out, "reports", run_id)
    return out


def _scored_attrs(scored_file: Path) -> dict[str, str]:
    """The metadata ``okml score`` records in a scored file (pandas attrs in Parquet)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(scored_file).metadata or {}
        attrs = json.loads(meta.get(b"PANDAS_ATTRS", b"{}"))
    except (OSError, ValueError):
        return {}
    return attrs if isinstance(attrs, dict) else {}


def report_cli(
    params: Params,
    date: str | None = None,
    scored: str | None = None,
    model: str | None = None,
    output: str | None = None,
) -> int:
    """``okml report``: the reviewers' HTML report of a day's cases.

    The model is the one that scored the file (``okml score`` records its version), else
    ``--model``, else the champion; a file scored by another version than ``--model`` (or
    than the champion), or by a model of another tracking store, is refused.
    """
    from okml import tracking

    scored_file = resolve(scored) if scored else default_scored(params)
    attrs = _scored_attrs(scored_file)
    by = attrs.get("model_version")
    store = attrs.get("tracking_store")
    here = tracking.store_id(params.mlflow)
    if store and store != here:
        raise OkmlError(
            f"{scored_file}: scored by models:/{by or '?'} of another tracking store (store-{store}; "
            f"this one is store-{here} at {tracking.given_uri(params.mlflow) or 'mlruns/'}): "
            "set mlflow.tracking_uri to that store, or rescore the file with a model of this one"
        )
    uri = model or (f"models:/{by}" if by else tracking.model_uri(params.mlflow, tracking.CHAMPION))
    version = None
    if uri.startswith("models:/"):
        tracking.configure(params.mlflow)
        version = tracking.registry_version(uri)
    path = write_report(params, scored_file, uri, date, output, model_version=version)
    print(f"wrote the reviewers' report to {path}")
    return 0


def report_for_run(params: Params, run_id: str, version: str | None = None) -> Path:
    """The report ``okml train`` writes at the end, logged to the run.

    The run's test window is scored with the run's model (history before it from
    ``data.path``); the report shows the last test day with a flagged payment (the last
    day if none has one). With the registry ``version`` of that model, the report names it
    as reviewers know it (``models:/okpay-fraud/3``) rather than by its logged-model id.
    """

    from okml import tracking
    from okml.data import load
    from okml.evaluate.splits import training_fold
    from okml.io import write_parquet
    from okml.score import score_transactions

    tracking.configure(params.mlflow)
    uri = tracking.run_tag(run_id, "okml.model_uri")
    if not uri:
        raise OkmlError(f"run {run_id} logged no model (tag okml.model_uri)")
    if version is not None:
        uri = f"models:/{params.mlflow.model_name}/{version}"
    model = tracking.load_model(uri, params.mlflow)
    if params.compute.engine == "dask":  # only the test week comes back to this process
        from okml.jobs.distributed import score_window_dask

        start, end = (pd.Timestamp(tracking.run_tag(run_id, f"data.{k}")) for k in ("start", "end"))
        fold = training_fold(pd.Series([start, end]), params.split)
        scored = score_window_dask(params, model, fold.test_start, fold.test_end)
    else:
        tx = load(params.data.path, params=params.data)
        fold = training_fold(tx["timestamp"], params.split)
        new = tx.loc[(tx["timestamp"] >= fold.test_start) & (tx["timestamp"] < fold.test_end)]
        history = tx.loc[tx["timestamp"] < fold.test_start]
        scored = score_transactions(model, new, history, params)
    day = report_day(scored, params.features.timezone, fold.test_start, fold.test_end)
    name = params.mlflow.model_name
    scored.attrs |= {
        "model_uri": uri,
        "model_version": f"{name}/{version}" if version is not None else None,
        "tracking_store": tracking.store_id(params.mlflow),
    }
    path = resolve(params.explain.scored_dir) / (
        f"run-{run_id[:8]}-{fold.test_start:%Y-%m-%d}_{fold.test_end - pd.Timedelta(days=1):%Y-%m-%d}.parquet"
    )
    write_parquet(scored, path)
    model_version = f"{name}/{version}" if version is not None else None
    return write_report(params, path, uri, day, run_id=run_id, model_version=model_version)


def report_day(scored: pd.DataFrame, timezone: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Timestamp:
    """The reviewers' local day a run's report shows: the last local day wholly inside the
    scored window ``[start, end)`` (UTC days) with a flagged payment; the last whole day if
    none has one (the window's first local day if it holds no whole day)."""
    local = scored["timestamp"].dt.tz_convert(timezone)
    whole = whole_days(start, end, timezone)
    if not whole:
        return start.tz_convert(timezone).normalize()
    flagged = set(local[scored["flag"].to_numpy()].dt.normalize())
    with_flags = [d for d in whole if d in flagged]
    return (with_flags or whole)[-1]


def transactions_for(params: Params, rows: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """The payments rings are found in for a scored file's ``rows``: the transactions of
    ``data.path`` (labels merged) when they hold the scored payments (the same
    ``transaction_id``, ``timestamp``, ``customer_id`` and ``amount``, checked on up to 200
    of them), and ``data.path``; else ``(None, "")``: find them in the scored rows (the
    review queue and the report say which)."""
    from okml.data import load

    path = resolve(params.data.path)
    key = ["transaction_id", "timestamp", "customer_id", "amount"]
    if path.exists() and len(rows) and all(c in rows.columns for c in key):
        tx = load(params.data.path, params=params.data)
        probe = rows[key].iloc[:: max(1, len(rows) // 200)]
        found = probe.merge(tx[key], on="transaction_id", how="left", suffixes=("", "_tx"))
        same = all(
            (found[c].astype(str) == found[c + "_tx"].astype(str)).all() for c in key if c != "transaction_id"
        )
        if same and len(found) == len(probe):
            return tx, str(params.data.path)
    return None, ""
