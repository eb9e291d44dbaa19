"""``okml monitor``: the live model watched day by day, as a notebook exported to HTML, with
one MLflow metric point per day on the model's run and an exit code for cron.

:func:`build_inputs` scores and explains the model's training window, its reference week
and the monitored days (features built over all history before the last monitored day, as
training built them); :func:`okml.monitor.analyse` turns them into signals and alarms;
:func:`prepare` is what ``notebooks/05_monitor.ipynb`` calls; :func:`write_monitor` runs the
notebook with papermill, exports the page and logs the metrics; :func:`monitor_cli` is the
command, which exits 1 with one line when a threshold of ``monitor.thresholds`` is crossed.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from okml.config import Params, dump_params, load_params
from okml.errors import DataError, OkmlError
from okml.monitor import MonitorInputs, MonitorResult, Windows, analyse, day_of, top_reason_group
from okml.monitor.signals import DAY, Alarm
from okml.paths import NOTEBOOKS_DIR, resolve

log = logging.getLogger(__name__)
NOTEBOOK = NOTEBOOKS_DIR / "05_monitor.ipynb"
#: the scored columns the signals use (labels where the data has them)
_SCORED = ["timestamp", "customer_id", "amount", "score", "flag"]
_LABELS = ["is_fraud", "label_time", "fraud_type"]


def utc_day(text: str | pd.Timestamp, what: str) -> pd.Timestamp:
    """``YYYY-MM-DD`` -> its UTC midnight (one line when it is not a date)."""
    try:
        ts = pd.Timestamp(text)
    except ValueError:
        raise OkmlError(f"{what}: cannot read date {text!r}; use YYYY-MM-DD") from None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("D")


def model_windows(model: Any, start: pd.Timestamp, days: int) -> Windows:
    """The model's training window and reference week (its run's test window), from the
    ``fold`` its training run recorded; without one, the ``days`` days before ``start``."""
    windows = Windows.from_fold((getattr(model, "meta", None) or {}).get("fold"))
    if windows is None:
        first = start - days * DAY
        log.warning("the model records no training fold: the %d days before --from are its baseline", days)
        windows = Windows(first, start, first, start)
    return windows


def _rows(ts: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    return np.flatnonzero(((ts >= start) & (ts < end)).to_numpy())


def _flags(
    scores: np.ndarray, frame: pd.DataFrame, model: Any, params: Params, queue: pd.DataFrame | None
) -> np.ndarray:
    """``okml score``'s flags of ``scores`` (``queue``: the group sizes of the same rows when
    the model ranks rings first)."""
    from okml.evaluate.metrics import flags_top_k
    from okml.evaluate.scoring import ranking_priority
    from okml.score import operating_point

    point = operating_point(model, params)
    priority = ranking_priority(scores, queue, model.feature_params, point.rings_first)
    if point.kind == "threshold":
        return priority >= float(point.threshold)  # type: ignore[arg-type]
    scored = frame[["timestamp", "customer_id"]].assign(score=priority, is_fraud=0)
    return flags_top_k(scored, int(point.k))  # type: ignore[arg-type]


def _shap_sample(
    model: Any, feats: pd.DataFrame, days: pd.Series, n: int, seed: int, per_day: bool
) -> pd.DataFrame:
    """SHAP contributions of up to ``n`` payments a day (``per_day``) or in all, at random."""
    from okml.explain import explain

    rng = np.random.default_rng(seed)
    if per_day:
        codes = pd.factorize(days.to_numpy())[0]
        pick = np.concatenate(
            [np.sort(rng.permutation(np.flatnonzero(codes == c))[:n]) for c in range(codes.max() + 1)]
        )
    else:
        pick = np.sort(rng.permutation(len(days))[:n])
    columns = list(model.columns)
    ex = explain(model, feats.iloc[pick], columns, model.feature_params, top=0)
    return ex.contributions.reset_index(drop=True).assign(day=days.iloc[pick].to_numpy())


def with_feature_columns(
    frame: pd.DataFrame, feats: pd.DataFrame, pos: np.ndarray, columns: list[str]
) -> pd.DataFrame:
    """``frame`` with the model's feature columns of rows ``pos`` (a feature named like an
    input column, ``amount``, is that column already)."""
    extra = [c for c in columns if c not in frame]
    return pd.concat([frame, feats.iloc[pos][extra].reset_index(drop=True)], axis=1)


def build_inputs(
    params: Params, model: Any, start: pd.Timestamp, end: pd.Timestamp, tx: pd.DataFrame | None = None
) -> MonitorInputs:
    """Score and explain what the signals need (see :class:`okml.monitor.MonitorInputs`).

    ``start``, ``end``: UTC midnights of the first monitored day and after the last.
    ``tx``: the canonical transactions (default: ``data.path``, loaded).

    Raises
    ------
    DataError
        No payment on the monitored days, or the data does not hold the model's windows.
    """
    from okml.data import load
    from okml.evaluate.scoring import group_sizes
    from okml.features import feature_matrix
    from okml.models import as_scorer
    from okml.score import operating_point, score_features

    if params.compute.engine == "dask":
        raise OkmlError("okml monitor runs on the local engine: use --engine local")
    if tx is None:
        tx = load(params.data.path, params=params.data)
    mp = params.monitor
    windows = model_windows(model, start, mp.reference_days)
    last = max(end, windows.train_end, windows.reference_end)
    # all history before the last day, as training built the features (a look-back slice
    # would make the all-history features of the earliest window differ from the later ones')
    history = tx.loc[tx["timestamp"] < last].sort_values(["timestamp", "transaction_id"], kind="stable")
    history = history.reset_index(drop=True)
    ts = history["timestamp"]
    current = _rows(ts, start, end)
    if len(current) == 0:
        raise DataError(
            f"no payments from {start:%Y-%m-%d} to {end - DAY:%Y-%m-%d} (the data covers "
            f"{ts.min():%Y-%m-%d} to {ts.max():%Y-%m-%d})",
            file=params.data.path,
        )
    train = _rows(ts, windows.train_start, windows.train_end)
    reference = _rows(ts, windows.reference_start, windows.reference_end)
    if len(train) == 0 or len(reference) == 0:
        raise DataError(
            f"the data holds no payments of the model's {windows.describe()} (it covers "
            f"{ts.min():%Y-%m-%d} to {ts.max():%Y-%m-%d}): monitor it on the data it was trained on",
            file=params.data.path,
        )
    feats = feature_matrix(history, model.feature_params)
    # okml score's queue order: rings first when the model was trained with evaluate.rings_first
    rings_first = operating_point(model, params).rings_first
    queue = group_sizes(history, model.feature_params, feats).reset_index(drop=True) if rings_first else None
    columns = list(model.columns)
    labels = [c for c in _LABELS if c in history]
    inputs_cols = ["channel", "merchant_category"]

    def base(pos: np.ndarray) -> pd.DataFrame:
        rows = history.iloc[pos]
        frame = rows[["timestamp", "customer_id", "amount", *labels]].reset_index(drop=True)
        for c in inputs_cols:
            if c in rows:
                frame[c] = rows[c].to_numpy()
        if "cust_first_device" in feats:
            frame["new_device"] = feats["cust_first_device"].to_numpy()[pos]
        return frame.assign(day=day_of(frame["timestamp"]))

    def scored(pos: np.ndarray, with_features: bool) -> pd.DataFrame:
        sizes = None if queue is None else queue.iloc[pos]
        out = score_features(model, history.iloc[pos], feats.iloc[pos], params, queue=sizes)
        frame = base(pos).assign(
            score=out["score"].to_numpy(),
            # the queue order the flags were chosen in (rings first): ranking signals read it
            **({"priority": out["priority"].to_numpy()} if rings_first else {}),
            flag=out["flag"].to_numpy(dtype=bool),
            top_reason=[
                top_reason_group(r) if f else None for r, f in zip(out["reasons"], out["flag"], strict=True)
            ],
        )
        return with_feature_columns(frame, feats, pos, columns) if with_features else frame

    scorer = as_scorer(model)
    train_frame = base(train)
    train_scores = scorer.predict_proba(feats.iloc[train])
    train_frame = train_frame.assign(
        score=train_scores,
        flag=_flags(train_scores, train_frame, model, params, None if queue is None else queue.iloc[train]),
    )
    train_frame = with_feature_columns(train_frame, feats, train, columns)
    ref_frame = scored(reference, with_features=False)
    cur_frame = scored(current, with_features=True)
    ref_shap = _shap_sample(
        model,
        feats.iloc[reference],
        ref_frame["day"],
        mp.shap_rows * max(ref_frame["day"].nunique(), 1),
        mp.seed,
        per_day=False,
    )
    cur_shap = _shap_sample(model, feats.iloc[current], cur_frame["day"], mp.shap_rows, mp.seed, per_day=True)
    meta = getattr(model, "meta", None) or {}
    return MonitorInputs(
        columns=columns,
        windows=windows,
        start=start,
        end=end,
        train=train_frame,
        reference=ref_frame,
        current=cur_frame,
        reference_shap=ref_shap,
        current_shap=cur_shap,
        threshold=meta.get("threshold"),
        k=params.evaluate.k,
    )


# ----------------------------------------------------------------------------- page
@dataclass
class MonitorPage:
    """What the notebook shows: the inputs, the result and how to word it."""

    params: Params
    model_uri: str
    model_version: str | None
    language: str
    inputs: MonitorInputs
    result: MonitorResult

    @property
    def windows(self) -> Windows:
        return self.inputs.windows


def prepare(
    model_uri: str,
    start: str,
    end: str,
    as_of: str | None = None,
    language: str | None = None,
    params_file: str | None = None,
    overrides: Sequence[str] = (),
    model_version: str | None = None,
    results_path: str | None = None,
) -> MonitorPage:
    """Load params and the model, build the inputs and analyse ``start``..``end`` (UTC days,
    both included; labels known at ``as_of``, default the end of ``end``). With
    ``results_path`` the daily signals and the alarms are written there (a folder) for the
    job that ran the notebook."""
    from okml import tracking

    params = load_params(params_file, list(overrides or []))
    first, last = utc_day(start, "--from"), utc_day(end, "--to") + DAY
    if last <= first:
        raise OkmlError(f"--to {end} is before --from {start}")
    known = utc_day(as_of, "--as-of") + DAY if as_of else last
    model = tracking.load_model(model_uri, params.mlflow)
    inputs = build_inputs(params, model, first, last)
    result = analyse(inputs, params.monitor, known)
    if results_path:
        save_results(result, Path(results_path))
    return MonitorPage(params, model_uri, model_version, language or params.explain.language, inputs, result)


def save_results(result: MonitorResult, folder: Path) -> None:
    """``daily.parquet`` (the per-day metrics) and ``alarms.json`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    daily = result.daily.select_dtypes("number").reset_index()
    daily.to_parquet(folder / "daily.parquet", index=False)
    alarms = [
        {"signal": a.signal, "first_day": f"{a.first_day:%Y-%m-%d}", "days": a.days, "message": a.message}
        for a in result.alarms
    ]
    (folder / "alarms.json").write_text(json.dumps(alarms, indent=1), encoding="utf-8")


def load_results(folder: Path) -> tuple[pd.DataFrame, list[Alarm]]:
    daily = pd.read_parquet(folder / "daily.parquet").set_index("day")
    raw = json.loads((folder / "alarms.json").read_text(encoding="utf-8"))
    alarms = [
        Alarm(a["signal"], pd.Timestamp(a["first_day"], tz="UTC"), a["days"], a["message"]) for a in raw
    ]
    return daily, alarms


# ------------------------------------------------------------------------------ job
def monitor_path(params: Params, start: str, end: str, uri: str, version: str | None) -> Path:
    """``<explain.report_dir>/[store-ID/]monitor-D1_D2-MODEL.html``."""
    from okml import tracking
    from okml.jobs.report import model_label

    folder = resolve(params.explain.report_dir)
    if tracking.is_registry_uri(uri):
        folder = folder / f"store-{tracking.store_id(params.mlflow)}"
    return folder / f"monitor-{start}_{end}-{model_label(uri, version)}.html"


def write_monitor(
    params: Params,
    model_uri: str,
    start: str,
    end: str,
    as_of: str | None = None,
    output: str | Path | None = None,
    language: str | None = None,
    model_version: str | None = None,
    run_id: str | None = None,
) -> tuple[Path, pd.DataFrame, list[Alarm]]:
    """Run ``notebooks/05_monitor.ipynb``, export it as self-contained HTML without code
    (no script; images and the Chinese font embedded) and log the daily metrics (one point
    per day, ``monitor.*``) and the page to the model's MLflow run (``run_id``, default the
    run that logged the model). Returns the page, the daily metrics and the alarms."""
    from okml import tracking
    from okml.io import temp_prefix
    from okml.jobs.notebooks import write_page
    from okml.monitor.render import title

    language = language or params.explain.language
    first, last = f"{utc_day(start, '--from'):%Y-%m-%d}", f"{utc_day(end, '--to'):%Y-%m-%d}"
    if last < first:
        raise OkmlError(f"--to {last} is before --from {first}")
    if as_of is not None:
        utc_day(as_of, "--as-of")
    out = resolve(output) if output else monitor_path(params, first, last, model_uri, model_version)
    with tempfile.TemporaryDirectory(prefix=temp_prefix("monitor")) as tmp:
        params_file = Path(tmp) / "params.yaml"
        params_file.write_text(dump_params(params), encoding="utf-8")
        results = Path(tmp) / "results"
        parameters: dict[str, Any] = {
            "model_uri": model_uri,
            "start": first,
            "end": last,
            "as_of": as_of,
            "language": language,
            "params_file": str(params_file),
            "overrides": [],
            "model_version": model_version,
            "results_path": str(results),
        }
        write_page(NOTEBOOK, parameters, params, out, title(language, first, last), language, Path(tmp))
        daily, alarms = load_results(results)
    if run_id is None and tracking.is_registry_uri(model_uri):
        try:
            run_id = tracking.model_run_id(model_uri)
        except Exception as e:  # the page exists; failing to find its run must not lose it
            log.warning("monitoring not logged to MLflow: cannot find the run of %s (%s)", model_uri, e)
    if run_id:
        n = tracking.log_daily_metrics(daily, run_id, prefix="monitor.")
        tracking.log_artifact(out, "monitor", run_id)
        log.info("logged %d daily metric points to run %s", n, run_id)
    return out, daily, alarms


def monitor_cli(
    params: Params,
    start: str | None,
    end: str | None,
    model: str | None = None,
    output: str | None = None,
    as_of: str | None = None,
) -> int:
    """``okml monitor``: write the page, log the metrics, exit 1 with one line when a
    threshold is crossed (0 otherwise)."""
    import sys

    from okml import tracking

    if not (start and end):
        raise OkmlError("give the monitored days: --from D1 --to D2 (UTC days, YYYY-MM-DD)")
    uri = model or tracking.model_uri(params.mlflow, tracking.CHAMPION)
    version = None
    if uri.startswith("models:/"):
        tracking.configure(params.mlflow)
        version = tracking.registry_version(uri)
    path, daily, alarms = write_monitor(params, uri, start, end, as_of, output, model_version=version)
    print(f"wrote the monitoring page to {path}")
    print(summary_line(daily))
    if alarms:
        ordered = sorted(alarms, key=lambda a: (a.first_day, a.signal))
        sys.stdout.flush()  # the alarm is the last line of a log that takes both (cron: tail -n 1)
        print("okml monitor: " + "; also ".join(a.line() for a in ordered), file=sys.stderr, flush=True)
        return 1
    return 0


def summary_line(daily: pd.DataFrame) -> str:
    """One line of the monitored days' headline figures."""
    parts = [f"{len(daily)} days"]
    for col, label, fmt in (
        ("score_psi", "score PSI max", "{:.3f}"),
        ("feature_psi_max", "top-feature PSI max", "{:.3f}"),
        ("alerts", "flagged payments a day", "{:.1f}"),
        ("precision_est", "estimated precision", "{:.2f}"),
    ):
        if col in daily and daily[col].notna().any():
            value = daily[col].max() if "max" in label else daily[col].mean()
            parts.append(f"{label} {fmt.format(value)}")
    return "monitored " + ", ".join(parts)
