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
from okml.errors import OkmlError
from okml.paths import PROJECT_ROOT, resolve

log = logging.getLogger(__name__)
CHAMPION = "champion"
CHALLENGER = "challenger"
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
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(params.experiment)
    if exp is None:
        artifacts = None
        if uri.startswith("sqlite:"):
            root = resolve(params.artifact_root)
            root.mkdir(parents=True, exist_ok=True)
            artifacts = root.as_uri()
        return client.create_experiment(params.experiment, artifact_location=artifacts)
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
    """Log numeric metrics (non-finite and non-numeric values are skipped as tags)."""
    import math

    import mlflow

    client = mlflow.MlflowClient()
    rid = run_id or _active_run_id()
    for k, v in metrics.items():
        if isinstance(v, int | float) and math.isfinite(float(v)):
            client.log_metric(rid, k.replace("@", "_at_"), float(v))
        else:
            client.set_tag(rid, f"metric.{k}", str(v))


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
def register(model_uri: str, params: MlflowParams, tags: Mapping[str, Any] | None = None) -> str:
    """Register a logged model under ``params.model_name``; return the new version. The tags
    are created with the version (a kill cannot leave it untagged)."""
    import mlflow

    mv = mlflow.register_model(
        model_uri, params.model_name, tags={k: str(v) for k, v in (tags or {}).items()}
    )
    return str(mv.version)


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
