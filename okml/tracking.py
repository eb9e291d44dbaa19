"""Everything that touches MLflow: the store, runs, logged models and the registry.

The default store is a SQLite database under ``mlruns/`` with artifacts in
``mlruns/artifacts`` (MLflow 3.17 refuses the plain ``./mlruns`` file store). Set
``mlflow.tracking_uri`` in params (or ``MLFLOW_TRACKING_URI``) to use a team server.
Nothing here runs at import: call :func:`configure` first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import socket
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import url2pathname

import pandas as pd

from okml.config import MlflowParams
from okml.errors import LockedError, OkmlError
from okml.paths import PROJECT_ROOT, resolve

log = logging.getLogger(__name__)
CHAMPION = "champion"
CHALLENGER = "challenger"
# the MLflow UI opens an experiment of this kind on its runs (untagged: on GenAI traces)
EXPERIMENT_KIND, CUSTOM_MODEL = "mlflow.experimentKind", "custom_model_development"
# the process that owns a run, so a later run can close it when that process died (kill -9)
OWNER_PID, OWNER_HOST, OWNER_START = "okml.pid", "okml.host", "okml.pid_start"
PACKAGES = [
    "okml",
    "pandas",
    "numpy",
    "scikit-learn",
    "xgboost-cpu",
    "shap",
    "mlflow",
    "imbalanced-learn",
    "papermill",
    "pandera",
    "pyarrow",
]


def tracking_uri(params: MlflowParams) -> str:
    """The tracking URI: params, else ``MLFLOW_TRACKING_URI``, else SQLite under mlruns/."""
    import os

    if params.tracking_uri:
        uri = params.tracking_uri
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            # relative SQLite paths are taken from the project root, not the cwd
            uri = "sqlite:///" + str(resolve(uri[len("sqlite:///") :]))
        return uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    db = resolve("mlruns") / "mlflow.db"
    return f"sqlite:///{db}"


def store_id(params: MlflowParams) -> str:
    """A short fingerprint of the tracking store (``3fa2c1d0``): what a scored file and a
    report record, so that artifacts of different stores (a test store, a colleague's
    server) are kept apart even when their model names and versions coincide."""
    import hashlib

    return hashlib.sha256(tracking_uri(params).encode("utf-8")).hexdigest()[:8]


def given_uri(params: MlflowParams) -> str | None:
    """The tracking URI as the user gave it (params, else ``MLFLOW_TRACKING_URI``; None for
    the default store), without credentials: what runs record instead of :func:`tracking_uri`,
    whose relative SQLite paths are made absolute for this machine."""
    uri = params.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    return redact_uri(uri) if uri else None


def redact_uri(uri: str) -> str:
    """``uri`` without the ``user:password@`` of its network location."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def uri_credentials(uri: str) -> dict[str, str]:
    """The user and password in ``uri`` as MLflow's environment variables (empty if none):
    a child process given :func:`redact_uri` of ``uri`` and these reaches the same server."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return {}
    if parts.username is None:
        return {}
    creds = {"MLFLOW_TRACKING_USERNAME": unquote(parts.username)}
    if parts.password is not None:
        creds["MLFLOW_TRACKING_PASSWORD"] = unquote(parts.password)
    return creds


def configure(params: MlflowParams) -> str:
    """Point MLflow at the configured store and experiment; return the experiment id."""
    import mlflow

    uri = tracking_uri(params)
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    # mlflow also writes MLFLOW_TRACKING_URI into the environment: keep the user's own value
    # (given_uri reports what the user gave, never the absolute path resolved here)
    before = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(params.experiment)
    if exp is None:
        artifacts = None
        if uri.startswith("sqlite:"):
            root = resolve(params.artifact_root)
            root.mkdir(parents=True, exist_ok=True)
            artifacts = root.as_uri()
        return client.create_experiment(
            params.experiment, artifact_location=artifacts, tags={EXPERIMENT_KIND: CUSTOM_MODEL}
        )
    if EXPERIMENT_KIND not in exp.tags:
        # an experiment created by an older okml (or by hand): the UI would open on GenAI traces
        client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND, CUSTOM_MODEL)
    return exp.experiment_id


# ----------------------------------------------------------------------- provenance
def data_fingerprint(df: pd.DataFrame) -> dict[str, Any]:
    """Content hash (row-order independent of file format), row count and time range."""
    hashed = pd.util.hash_pandas_object(df.reset_index(drop=True), index=False)
    digest = hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()
    fp: dict[str, Any] = {"data.sha256": digest, "data.rows": int(len(df))}
    if len(df) and "timestamp" in df:
        fp["data.start"] = df["timestamp"].min().isoformat()
        fp["data.end"] = df["timestamp"].max().isoformat()
    return fp


def code_version() -> dict[str, str]:
    """Git commit (``+dirty`` when the tree has uncommitted changes) and package versions."""
    out: dict[str, str] = {}
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        out["git.commit"] = sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        out["git.commit"] = "unknown"
    out["python"] = platform.python_version()
    for pkg in PACKAGES:
        try:
            out[f"pkg.{pkg}"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def pip_requirements() -> list[str]:
    """What a logged model needs to load and score (the okml code travels as code_paths)."""
    names = [
        "pandas",
        "numpy",
        "pyarrow",
        "xgboost-cpu",
        "scikit-learn",
        "imbalanced-learn",  # the pipelines of random forest and logistic models are imblearn's
        "shap",  # the random forest's explanations
        "pandera",
        "pydantic",
        "pyyaml",
        "tqdm",
        "mlflow",
    ]
    reqs = []
    for n in names:
        try:
            reqs.append(f"{n}=={metadata.version(n)}")
        except metadata.PackageNotFoundError:
            reqs.append(n)
    return reqs


# ------------------------------------------------------------------------------ runs
def _start_ticks(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot, Linux): tells a reused pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_tags() -> dict[str, str]:
    """Tags naming this process as the owner of a run."""
    tags = {OWNER_PID: str(os.getpid()), OWNER_HOST: socket.gethostname()}
    start = _start_ticks(os.getpid())
    if start:
        tags[OWNER_START] = start
    return tags


def _owner_gone(tags: Mapping[str, str]) -> bool:
    """Whether the process named by a run's owner tags has ended (False when unknown)."""
    from okml.io import process_alive

    if tags.get(OWNER_HOST) != socket.gethostname() or not tags.get(OWNER_PID, "").isdigit():
        return False  # another machine's process (or no owner recorded): cannot tell
    pid = int(tags[OWNER_PID])
    if not process_alive(pid):
        return True
    start = tags.get(OWNER_START)
    return bool(start) and _start_ticks(pid) not in (None, start)  # the pid was reused


def close_stale_runs(experiment_id: str) -> list[str]:
    """Mark KILLED the runs of the experiment left RUNNING by an okml process of this host
    that no longer exists (killed with SIGKILL, or the machine went down); returns their ids."""
    import mlflow

    client = mlflow.MlflowClient()
    runs = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    closed = []
    for r in runs:
        tags = r.data.tags
        if not _owner_gone(tags):
            continue
        rid = r.info.run_id
        why = (
            f"left RUNNING by process {tags[OWNER_PID]} on {tags[OWNER_HOST]}, which is gone; "
            f"closed by process {os.getpid()}"
        )
        client.set_tag(rid, "okml.closed", why)
        client.set_terminated(rid, "KILLED")
        log.warning("run %s was %s: marked KILLED", rid, why.split("; ")[0])
        closed.append(rid)
    return closed


@contextmanager
def run(params: MlflowParams, run_name: str, tags: Mapping[str, str] | None = None) -> Iterator[Any]:
    """Open an MLflow run owned by this process; it ends KILLED if the body is interrupted
    (SIGINT/SIGTERM: ``KeyboardInterrupt``), FAILED if it raises, FINISHED otherwise.

    Runs that dead processes of this host left RUNNING are closed first. The id of a killed run
    is added to the interrupt's ``killed_runs`` list, when it has one, for the CLI's message.
    """
    import mlflow

    exp_id = configure(params)
    close_stale_runs(exp_id)
    active = mlflow.start_run(
        experiment_id=exp_id, run_name=run_name, tags={**owner_tags(), **dict(tags or {})}
    )
    try:
        yield active
    except KeyboardInterrupt as e:
        mlflow.end_run(status="KILLED")
        killed = getattr(e, "killed_runs", None)
        if isinstance(killed, list):
            killed.append(active.info.run_id)
        raise
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run(status="FINISHED")


def _active_run_id() -> str:
    import mlflow

    active = mlflow.active_run()
    if active is None:
        raise OkmlError("no active MLflow run: pass run_id")
    return str(active.info.run_id)


def log_params(flat: Mapping[str, Any]) -> None:
    """Log flattened params; lists and None become their JSON text (MLflow stores strings)."""
    import mlflow

    clean = {k: (json.dumps(v) if isinstance(v, list | dict) or v is None else v) for k, v in flat.items()}
    items = list(clean.items())
    for i in range(0, len(items), 90):  # MLflow caps a batch at 100 params
        mlflow.log_params(dict(items[i : i + 90]))


def log_metrics(metrics: Mapping[str, float], run_id: str | None = None) -> None:
    """Log the finite numeric metrics; NaN, infinite and non-numeric values are not logged
    at all (an undefined metric, such as ``threshold`` at the top-k operating point, is absent
    from the run rather than a ``metric.NAME = nan`` tag)."""
    import math

    import mlflow

    client = mlflow.MlflowClient()
    rid = run_id or _active_run_id()
    skipped = []
    for k, v in metrics.items():
        if isinstance(v, int | float) and math.isfinite(float(v)):
            client.log_metric(rid, k.replace("@", "_at_"), float(v))
        else:
            skipped.append(k)
    if skipped:
        log.debug("run %s: not logged (undefined): %s", rid, ", ".join(skipped))


def log_daily_metrics(daily: pd.DataFrame, run_id: str, prefix: str = "") -> int:
    """Log every numeric column of ``daily`` (indexed by UTC day) as a metric with one point
    per day: ``step`` is the day's number since 1970-01-01 and the timestamp its midnight, so
    the MLflow UI plots them against the day. NaN and infinite values are left out. Sent in
    batches (MLflow takes 1,000 metrics a request); returns the number of points."""
    import math

    import mlflow
    from mlflow.entities import Metric

    days = pd.to_datetime(daily.index, utc=True)
    since = days - pd.Timestamp("1970-01-01", tz="UTC")
    steps = (since // pd.Timedelta(days=1)).astype(int)
    stamps = (since // pd.Timedelta(milliseconds=1)).astype(int)
    points = []
    for col in daily.select_dtypes("number").columns:
        key = f"{prefix}{col}".replace("@", "_at_")
        for step, stamp, value in zip(steps, stamps, daily[col].to_numpy(dtype=float), strict=True):
            if math.isfinite(value):
                points.append(Metric(key=key, value=float(value), timestamp=int(stamp), step=int(step)))
    client = mlflow.MlflowClient()
    for i in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=points[i : i + 1000])
    return len(points)


def set_tags(tags: Mapping[str, Any], run_id: str | None = None) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    rid = run_id or _active_run_id()
    for k, v in tags.items():
        client.set_tag(rid, k, str(v))


def log_artifact(path: str | Path, artifact_path: str | None = None, run_id: str | None = None) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    rid = run_id or _active_run_id()
    client.log_artifact(rid, str(path), artifact_path)


def artifact_location(run_id: str, path: str) -> str:
    """Where a logged artifact can be opened: a file path for a local artifact store, else its
    URI (``mlflow-artifacts:/...``, ``s3://...``; `mlflow artifacts download -u URI`)."""
    import mlflow

    root = mlflow.MlflowClient().get_run(run_id).info.artifact_uri
    parts = urlsplit(root)
    if parts.scheme == "file":
        return str(Path(url2pathname(parts.path)) / path)
    if not parts.scheme:
        return str(Path(root) / path)
    return f"{redact_uri(root).rstrip('/')}/{path}"


# -------------------------------------------------------------------------- registry
def register(
    model_uri: str,
    params: MlflowParams,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> str:
    """Register a logged model under ``params.model_name``; return the new version. The tags
    are created with the version (a kill cannot leave it untagged); the description (what the
    registry's version page shows) is set right after."""
    import mlflow

    mv = mlflow.register_model(
        model_uri, params.model_name, tags={k: str(v) for k, v in (tags or {}).items()}
    )
    if description:
        mlflow.MlflowClient().update_model_version(params.model_name, mv.version, description=description)
    return str(mv.version)


def version_description(what: str, run_id: str, run_tags: Mapping[str, str], headline: str) -> str:
    """A registered version's description: what made it, from which run, on which data and
    windows (the run's tags ``fold``, ``data.*``), and its metrics ``headline``."""
    lines = [f"{what}; MLflow run {run_id}."]
    if run_tags.get("fold"):
        lines.append(f"Windows: {run_tags['fold']}.")
    if run_tags.get("data.rows"):
        span = ""
        if run_tags.get("data.start") and run_tags.get("data.end"):
            span = f" from {run_tags['data.start'][:10]} to {run_tags['data.end'][:10]}"
        sha = run_tags.get("data.sha256", "")[:12]
        lines.append(
            f"Data: {int(run_tags['data.rows']):,} transactions{span}" + (f", sha256 {sha}." if sha else ".")
        )
    lines.append(f"Test window: {headline}.")
    return "\n".join(lines)


def rename_run(run_id: str, name: str) -> None:
    """Give a run the name the MLflow UI lists it by."""
    import mlflow

    mlflow.MlflowClient().update_run(run_id, name=name)


def alias_version(params: MlflowParams, alias: str) -> str | None:
    """The version behind ``@alias``, or None if the alias (or the model) does not exist."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(params.model_name, alias).version)
    except MlflowException:
        return None


def set_alias(params: MlflowParams, alias: str, version: str) -> None:
    import mlflow

    mlflow.MlflowClient().set_registered_model_alias(params.model_name, alias, version)


def tag_version(params: MlflowParams, version: str, tags: Mapping[str, Any]) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    for k, v in tags.items():
        client.set_model_version_tag(params.model_name, version, k, str(v))


def version_run_id(params: MlflowParams, version: str) -> str:
    import mlflow

    return str(mlflow.MlflowClient().get_model_version(params.model_name, version).run_id)


def model_uri(params: MlflowParams, alias: str = CHAMPION) -> str:
    return f"models:/{params.model_name}@{alias}"


def model_run_id(uri: str) -> str | None:
    """The MLflow run that logged the model at ``uri`` (None for a plain folder)."""
    from mlflow.models import get_model_info

    return get_model_info(uri).run_id or None


def download_run_artifact(run_id: str, path: str, folder: str | Path) -> Path | None:
    """A run's artifact ``path`` downloaded into ``folder`` (None when the run has none)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return Path(
            mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(folder))
        )
    except (MlflowException, OSError):
        return None


def run_tag(run_id: str, key: str) -> str | None:
    """One tag of a run (None when it is not set)."""
    import mlflow

    return mlflow.MlflowClient().get_run(run_id).data.tags.get(key)


def run_data(run_id: str) -> dict[str, Any]:
    """A run's latest ``metrics`` and its ``tags``."""
    import mlflow

    run = mlflow.MlflowClient().get_run(run_id)
    return {"metrics": dict(run.data.metrics), "tags": dict(run.data.tags)}


def run_metrics(run_id: str) -> dict[str, float]:
    """The latest value of every metric of a run."""
    import mlflow

    return dict(mlflow.MlflowClient().get_run(run_id).data.metrics)


# ------------------------------------------------------------------------ retrain lock
#: the registered model's tag that holds the lock of a tracking server
LOCK_TAG = "okml.retrain_lock"
#: how long past ``start_timeout + execution_timeout`` a lock whose holder stopped renewing it
#: (killed, machine down, network gone) keeps other retrains out
LOCK_MARGIN_S = 600.0


def retrain_lock_path(params: MlflowParams) -> Path | None:
    """The lock file of a local store (beside the SQLite database: ``mlflow.db.retrain.lock``;
    in the folder of a file store), or None for a tracking server (the lock is then a tag)."""
    uri = tracking_uri(params)
    if uri.startswith("sqlite:///"):
        db = uri[len("sqlite:///") :].split("?", 1)[0]
        return Path(db + ".retrain.lock") if db and db != ":memory:" else None
    parts = urlsplit(uri)
    # a plain path is a file store, except the names MLflow gives Databricks ("databricks")
    if parts.scheme == "file" or (not parts.scheme and not uri.startswith(("databricks", "uc"))):
        return Path(url2pathname(parts.path)) / ".retrain.lock"
    return None


@contextmanager
def retrain_lock(params: MlflowParams) -> Iterator[str]:
    """Hold the retrain lock of the configured store while the body runs; yield where it is.

    A local store (SQLite, file) is locked by a file beside it: the operating system releases
    it when the process ends, however it ends. A tracking server (``http(s)://``,
    ``databricks``, a database URI) is shared by machines that share no file, so the lock is
    the registered model's tag :data:`LOCK_TAG` (see :func:`registry_lock`).

    Raises
    ------
    LockedError
        Another retrain holds the lock (exit code 3; one line naming the lock).
    """
    path = retrain_lock_path(params)
    if path is not None:
        with file_lock(path):
            yield str(path)
    else:
        with registry_lock(params) as where:
            yield where


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created with its folder), or :class:`LockedError`."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise LockedError(f"another retrain is running (lock {path}); not starting a second one") from None
    try:
        yield
    finally:
        lock.release()


def _utc_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _lock_holder(text: str | None) -> dict[str, Any] | None:
    """The lock tag's value (None when absent or unreadable: such a tag is taken over)."""
    try:
        held = json.loads(text) if text else None
    except ValueError:
        return None
    return held if isinstance(held, dict) else None


def _lock_expired(held: Mapping[str, Any]) -> bool:
    """Past its expiry, or held by a process of this host that has ended (killed)."""
    from datetime import datetime

    try:
        expires = datetime.fromisoformat(str(held["expires"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return True
    if expires.tzinfo is None or expires <= _utc_now():
        return True
    host, _, pid = str(held.get("owner", "")).rpartition(":")
    tags = {OWNER_HOST: host, OWNER_PID: pid, OWNER_START: str(held.get("start") or "")}
    return _owner_gone(tags)


def _locked(name: str, held: Mapping[str, Any] | None) -> LockedError:
    who = f", held by {held.get('owner')} until {held.get('expires')}" if held else ""
    return LockedError(
        f"another retrain is running (lock: tag {LOCK_TAG} of registered model {name}{who}); "
        "not starting a second one"
    )


@contextmanager
def registry_lock(
    params: MlflowParams,
    ttl_s: float | None = None,
    settle_s: float = 1.0,
    renew_s: float | None = None,
) -> Iterator[str]:
    """The retrain lock of a tracking server: the tag :data:`LOCK_TAG` of the registered model
    ``params.model_name`` (created empty if need be), whose value is JSON ``{"owner":
    "HOST:PID", "start", "token", "expires"}`` (ISO UTC time). Yields where the lock is.

    Taken when the tag is absent, expired, or held by a process of this host that has ended:
    read, set, wait ``settle_s`` for a concurrent writer's tag to land, read again; only the
    one whose token is still there holds it (the registry offers no compare-and-set; two
    retrains starting within the same second could still both see their own tag, if the
    second one's read and write were more than ``settle_s`` apart). A thread renews the expiry
    every ``renew_s`` (default a third of the time to live) while the body runs, so only a
    holder that stopped renewing (killed, disconnected) keeps others out, for at most
    ``ttl_s`` (default ``start_timeout + execution_timeout +`` :data:`LOCK_MARGIN_S`). The tag
    is removed on the way out, if it is still this holder's.
    """
    import threading
    import time
    import uuid
    from datetime import timedelta

    import mlflow
    from mlflow.exceptions import MlflowException

    uri = tracking_uri(params)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = params.model_name
    ttl = ttl_s if ttl_s is not None else params.start_timeout + params.execution_timeout + LOCK_MARGIN_S
    where = f"tag {LOCK_TAG} of registered model {name}"

    def holder() -> dict[str, Any] | None:
        return _lock_holder(client.get_registered_model(name).tags.get(LOCK_TAG))

    try:
        held = holder()
    except MlflowException as e:
        if e.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            client.create_registered_model(
                name, description="fraud models registered by `okml train` and `okml retrain`"
            )
        except MlflowException as e2:
            if e2.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        held = holder()
    if held is not None and not _lock_expired(held):
        raise _locked(name, held)
    mine: dict[str, Any] = {
        "owner": f"{socket.gethostname()}:{os.getpid()}",
        "start": _start_ticks(os.getpid()),
        "token": uuid.uuid4().hex,
    }

    def write() -> None:
        expires = _utc_now() + timedelta(seconds=ttl)
        mine["expires"] = expires.isoformat(timespec="seconds").replace("+00:00", "Z")
        client.set_registered_model_tag(name, LOCK_TAG, json.dumps(mine))

    def ours(value: Mapping[str, Any] | None) -> bool:
        return value is not None and value.get("token") == mine["token"]

    def release() -> None:
        try:
            if ours(holder()):
                client.delete_registered_model_tag(name, LOCK_TAG)
        except Exception as e:  # never hide the body's error; the lock expires by itself
            log.warning("could not release the retrain lock (%s; expires %s): %s", where, mine["expires"], e)

    write()
    try:  # a stop or a network error while settling must not leave our tag behind
        time.sleep(settle_s)
        now_held = holder()
    except BaseException:
        release()
        raise
    if not ours(now_held):
        raise _locked(name, now_held)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(renew_s if renew_s is not None else ttl / 3):
            try:
                if not ours(holder()):
                    log.warning("the retrain lock (%s) was taken over by another retrain", where)
                    return
                if not stop.is_set():  # never write it back once the body is done
                    write()
            except Exception as e:  # a network blip: the next renewal may succeed
                log.warning("could not renew the retrain lock (%s): %s", where, e)

    renewer = threading.Thread(target=renew, name="okml-retrain-lock", daemon=True)
    renewer.start()
    try:
        yield where
    finally:
        stop.set()
        renewer.join(timeout=10)
        release()


# ------------------------------------------------------------------------ models
def is_registry_uri(uri: str) -> bool:
    """MLflow URIs that need the tracking store (``models:/``, ``runs:/``)."""
    return uri.startswith(("models:/", "runs:/"))


def load_model(uri: str, mlflow_params: MlflowParams) -> Any:
    """Load an okml model (the ``FraudModel``) from an MLflow URI or a local model folder.

    Raises
    ------
    OkmlError
        Nothing loadable at ``uri`` (one line, naming what to do).
    """
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    if is_registry_uri(uri):
        configure(mlflow_params)
    try:
        loaded = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = "; run `okml train` first or pass --model" if uri.startswith("models:/") else ""
        raise OkmlError(f"cannot load model {uri}: {first}{hint}") from None
    return loaded.unwrap_python_model()


def registry_version(uri: str) -> str | None:
    """``models:/NAME@alias`` or ``models:/NAME/N`` -> ``NAME/N`` (None for other URIs).

    Resolved when scoring, so a scored file names the version that scored it even after the
    alias has moved on.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    if not uri.startswith("models:/"):
        return None
    ref = uri[len("models:/") :]
    client = mlflow.MlflowClient()
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return f"{name}/{client.get_model_version_by_alias(name, alias).version}"
        name, _, version = ref.rpartition("/")
        return f"{name}/{int(version)}" if name else None
    except (MlflowException, ValueError):
        return None
