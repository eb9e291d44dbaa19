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

import pandas as pd

from okml.config import Params, dump_params, load_params
from okml.errors import OkmlError
from okml.paths import resolve
from okml.report import NOTEBOOK, ReportData, _t, day_rows, read_scored, strip_scripts, utc_day

log = logging.getLogger(__name__)


def prepare(
    scored_path: str | Path,
    model_uri: str,
    date: str | None = None,
    n_cases: int | None = None,
    language: str | None = None,
    params_file: str | None = None,
    overrides: Sequence[str] = (),
) -> ReportData:
    """Load params (as :func:`okml.config.load_params`) and the model at ``model_uri``, then
    :func:`okml.report.prepare` the day's cases of ``scored_path``."""
    from okml import report, tracking

    params = load_params(params_file, list(overrides or []))
    model = tracking.load_model(model_uri, params.mlflow)
    return report.prepare(
        scored_path, model, params, model_uri, date=date, n_cases=n_cases, language=language
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


def write_report(
    params: Params,
    scored_path: str | Path,
    model_uri: str,
    date: str | pd.Timestamp | None = None,
    output: str | Path | None = None,
    language: str | None = None,
    run_id: str | None = None,
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
        UTC day to report; default the last day in the scored file.
    output:
        HTML path; default ``<explain.report_dir>/report-DATE.html``.
    language:
        ``en`` or ``zh``; default ``explain.language``.
    run_id:
        MLflow run to log the HTML to (under ``reports/``); default the run that logged
        the model when ``model_uri`` is an MLflow URI (``models:/``, ``runs:/``).

    Returns
    -------
    pathlib.Path
        The HTML file.
    """
    import shutil

    from okml import tracking
    from okml.errors import NotebookError
    from okml.io import write_text
    from okml.jobs.notebooks import export_html, run_notebook

    # check what we can before starting a kernel: a bad date or file fails in a second
    scored_file = resolve(scored_path)
    scored = read_scored(scored_file)
    day = utc_day(date, scored)
    day_rows(scored, day, scored_file)
    language = language or params.explain.language
    title = _t(language, "title", date=f"{day:%Y-%m-%d}")
    day_text = f"{day:%Y-%m-%d}"
    out = resolve(output) if output else resolve(params.explain.report_dir) / f"report-{day_text}.html"
    from okml.io import temp_prefix

    with tempfile.TemporaryDirectory(prefix=temp_prefix("report")) as tmp:
        exported = Path(tmp) / "report.html"
        params_file = Path(tmp) / "params.yaml"
        params_file.write_text(dump_params(params), encoding="utf-8")
        executed = Path(tmp) / NOTEBOOK.name
        try:
            run_notebook(
                NOTEBOOK,
                executed,
                {
                    "scored_path": str(scored_file),
                    "model_uri": model_uri,
                    "date": day_text,
                    "n_cases": params.explain.n_cases,
                    "language": language,
                    "params_file": str(params_file),
                    "overrides": [],
                },
                kernel=params.mlflow.kernel,
                start_timeout=params.mlflow.start_timeout,
                execution_timeout=params.mlflow.execution_timeout,
            )
        except NotebookError as e:
            if not executed.exists():
                raise
            # keep the executed copy (with the error in place) where the user can open it
            kept = out.with_name(out.stem + ".failed.ipynb")
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(executed, kept)
            raise NotebookError(str(e).replace(str(executed), str(kept))) from None
        export_html(executed, exported, hide_code=True, title=title)
        # written once, already without scripts (never a moment with them at ``out``)
        write_text(strip_scripts(exported.read_text(encoding="utf-8")), out)
    out.with_name(out.stem + ".failed.ipynb").unlink(missing_ok=True)  # an earlier failure
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


def _scoring_model(scored_file: Path) -> str | None:
    """``models:/NAME/N`` of the version that scored the file (``okml score`` records it),
    so the report explains a day with the model that scored it, not today's champion."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(scored_file).metadata or {}
        attrs = json.loads(meta.get(b"PANDAS_ATTRS", b"{}"))
    except (OSError, ValueError):
        return None
    version = attrs.get("model_version")
    return f"models:/{version}" if version else None


def report_cli(
    params: Params,
    date: str | None = None,
    scored: str | None = None,
    model: str | None = None,
    output: str | None = None,
) -> int:
    """``okml report``: the reviewers' HTML report of a day's flagged payments."""
    from okml import tracking

    scored_file = resolve(scored) if scored else default_scored(params)
    uri = model or _scoring_model(scored_file) or tracking.model_uri(params.mlflow, tracking.CHAMPION)
    path = write_report(params, scored_file, uri, date, output)
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
    days = scored["timestamp"].dt.floor("D")
    flagged_days = days[scored["flag"].to_numpy()]
    day = flagged_days.max() if len(flagged_days) else days.max()
    path = resolve(params.explain.scored_dir) / (
        f"run-{run_id[:8]}-{fold.test_start:%Y-%m-%d}_{fold.test_end - pd.Timedelta(days=1):%Y-%m-%d}.parquet"
    )
    write_parquet(scored, path)
    return write_report(params, path, uri, day, run_id=run_id)
