"""Stopped and killed jobs leave no stale state: real signals sent to real ``okml`` processes.

Each test builds a throw-away project (``OKML_ROOT``: its own ``params.yaml``, ``data/``,
``mlruns/``; ``notebooks/`` and ``okml/`` linked to the repository's) and points ``TMPDIR`` at
a folder of its own, so what a job leaves in the temp folder can be checked exactly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import nbformat
import pytest
import yaml

import okml
from okml.paths import NOTEBOOKS_DIR

OKML = Path(sys.executable).with_name("okml")
PACKAGE = Path(okml.__file__).resolve().parent
# the small world of tests/test_train.py: a retrain as of 2026-02-01 has labels in both windows
SIM = {
    "n_customers": 600,
    "n_merchants": 150,
    "n_days": 60,
    "seed": 7,
    "fake_orders": {"rings": 2},
    "forged_identity": {"accounts": 20},
}


# --------------------------------------------------------------------------- helpers
def _project(base: Path, **mlflow_params: Any) -> dict[str, Any]:
    """A project folder with relative paths everywhere and a temp folder of its own (short:
    kernel socket names must fit in about 100 bytes); returns its paths and environment."""
    root = base / "p"
    root.mkdir(parents=True)
    (root / "notebooks").symlink_to(NOTEBOOKS_DIR)
    (root / "okml").symlink_to(PACKAGE)  # logged models carry the code from <root>/okml
    raw = {
        "simulate": {**SIM, "output": "data/tx.parquet"},
        "data": {"path": "data/tx.parquet"},
        "split": {"train_days": 10, "delay_days": 7, "test_days": 7},
        "model": {"n_estimators": 20, "max_depth": 3},
        "evaluate": {"k": 10},
        "explain": {"n_cases": 2},
        "mlflow": {"tracking_uri": "sqlite:///mlruns/mlflow.db", **mlflow_params},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    tmp = base / "t"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(OKML_ROOT=str(root), TMPDIR=str(tmp), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return {"root": root, "tmp": tmp, "env": env, "uri": f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"}


def _okml(
    project: dict[str, Any], *args: str, name: str = "okml", python: str | None = None
) -> tuple[subprocess.Popen, Path, Path]:
    """Start ``okml ARGS`` (or ``python -c PYTHON``) in the project; stdout/stderr go to files."""
    out = project["root"] / f"{name}.out"
    err = project["root"] / f"{name}.err"
    cmd = [sys.executable, "-c", python, *args] if python else [str(OKML), *args]
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(
            cmd,
            cwd=project["root"],
            env=project["env"],
            stdout=o,
            stderr=e,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            # a background shell may start us with SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    _STARTED.append(proc)
    return proc, out, err


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_strays() -> Iterator[None]:
    """Kill what a failed test left running: only processes these tests started that are still
    running (an unreaped child's pid, and its children's, cannot belong to anyone else)."""
    yield
    for proc in _STARTED:
        if proc.poll() is None:
            for kid in _children(proc.pid):
                try:
                    os.kill(kid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            proc.kill()
            proc.wait(30)
    _STARTED.clear()


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _kernel_of(pid: int) -> int | None:
    for kid in _children(pid):
        try:
            if b"ipykernel_launcher" in Path(f"/proc/{kid}/cmdline").read_bytes():
                return kid
        except OSError:
            pass
    return None


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def _wait(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    proc: subprocess.Popen | None = None,
    err: Path | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            tail = err.read_text()[-3000:] if err else ""
            pytest.fail(f"process ended (rc {proc.returncode}) before {what}:\n{tail}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _run_id(out: Path) -> str | None:
    m = re.search(r"MLflow run ([0-9a-f]{32})", out.read_text())
    return m.group(1) if m else None


def _client(project: dict[str, Any]) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=project["uri"], registry_uri=project["uri"])


def _notebook_parameters(project: dict[str, Any], run_id: str, dst: Path) -> str:
    """The parameters papermill injected into a run's executed notebook."""
    path = _client(project).download_artifacts(run_id, "notebook/02_train.ipynb", str(dst))
    nb = nbformat.read(path, as_version=4)
    return "".join(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))


def _simulate(project: dict[str, Any]) -> None:
    proc, _, err = _okml(project, "simulate", "-q", name="simulate")
    assert proc.wait(300) == 0, err.read_text()[-3000:]


def _start_training(
    project: dict[str, Any], *args: str, name: str = "train"
) -> tuple[subprocess.Popen, Path, Path, str, int]:
    """Start ``okml train`` and return once its kernel runs the notebook's cells."""
    proc, out, err = _okml(project, "train", "-q", *args, name=name)
    run_id = _wait("the MLflow run", lambda: _run_id(out), 120, proc, err)
    kernel = _wait("the kernel", lambda: _kernel_of(proc.pid), 120, proc, err)
    _wait("the notebook to start", lambda: "Executing notebook" in err.read_text(), 120, proc, err)
    time.sleep(3)  # into the cells: data, features, fit
    assert proc.poll() is None, err.read_text()[-3000:]
    return proc, out, err, run_id, kernel


# ------------------------------------------------------------------------ stop signals
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_train_closes_its_run_and_cleans_up(tmp_path: Path, sig: signal.Signals) -> None:
    project = _project(tmp_path)
    _simulate(project)
    proc, _, err, run_id, kernel = _start_training(project)
    proc.send_signal(sig)
    rc = proc.wait(60)
    text = err.read_text()
    assert rc == 128 + sig, text[-3000:]
    assert "Traceback" not in text and "without encryption" not in text  # IPC sockets in use
    assert text.strip().splitlines()[-1] == (f"okml train: stopped by {sig.name}; run {run_id} marked KILLED")
    assert _gone(kernel)  # stopped by okml itself, not by its parent poller after okml exited
    run = _client(project).get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["okml.pid"] == str(proc.pid)
    # nothing left in the temp folder: no kernel sockets or connection file, no folders
    assert sorted(os.listdir(project["tmp"])) == []
    # the executed notebook (stopped mid-way) is kept with the run; it and the run's params
    # hold the tracking URI as given (relative), not this machine's absolute path
    nb = _notebook_parameters(project, run_id, tmp_path)
    assert 'tracking_uri = "sqlite:///mlruns/mlflow.db"' in nb and str(project["root"]) not in nb
    assert run.data.params["mlflow.tracking_uri"] == "sqlite:///mlruns/mlflow.db"


@pytest.mark.slow
def test_kill9_leaves_state_the_next_job_closes(tmp_path: Path) -> None:
    """kill -9 cannot be handled: the next job closes the dead job's run and removes its temp
    files. A retrain killed right after registering leaves its version marked as not evaluated
    (not as promoted) and the champion alias where it was."""
    project = _project(tmp_path)
    _simulate(project)
    proc, _, err, run_id, kernel = _start_training(project)
    proc.kill()
    proc.wait(30)
    client = _client(project)
    assert client.get_run(run_id).info.status == "RUNNING"
    # the kernel notices its parent is gone and exits; its files stay behind
    _wait("the orphaned kernel to exit", lambda: _gone(kernel), 15)
    assert any(n.startswith(f"okml-kernel-{proc.pid}-") for n in os.listdir(project["tmp"]))

    # the next job: a retrain that is itself killed (SIGKILL) as it moves @champion
    inject = (
        "import os, signal, sys\n"
        "from okml import tracking\n"
        "from okml.cli import main\n"
        "move = tracking.set_alias\n"
        "def set_alias(params, alias, version):\n"
        "    if alias == tracking.CHAMPION:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    move(params, alias, version)\n"
        "tracking.set_alias = set_alias\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    second, _, err2 = _okml(project, "retrain", "--as-of", "2026-02-01", "-q", name="retrain", python=inject)
    rc = second.wait(400)
    text = err2.read_text()
    assert rc == -signal.SIGKILL, text[-3000:]
    stale = client.get_run(run_id)
    assert stale.info.status == "KILLED"
    assert f"process {proc.pid}" in stale.data.tags["okml.closed"]
    assert re.search(rf"run {run_id} .*process {proc.pid}.*marked KILLED", text)
    assert sorted(os.listdir(project["tmp"])) == []

    # the retrain's own records: the URI as given, nowhere this machine's project path
    (retrain_run,) = [r for r in client.search_runs([stale.info.experiment_id]) if r.info.run_id != run_id]
    params_yaml = Path(client.download_artifacts(retrain_run.info.run_id, "params.yaml", str(tmp_path)))
    assert yaml.safe_load(params_yaml.read_text())["mlflow"]["tracking_uri"] == "sqlite:///mlruns/mlflow.db"
    assert str(project["root"]) not in params_yaml.read_text()
    assert str(project["root"]) not in _notebook_parameters(project, retrain_run.info.run_id, tmp_path)

    versions = client.search_model_versions("name = 'okpay-fraud'")
    assert len(versions) == 1
    tags = versions[0].tags
    assert tags["promotion.status"] == "registered, not evaluated"
    assert "promotion.promoted" not in tags
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias("okpay-fraud", "champion")


# ----------------------------------------------------------------- simulate temp files
_WRITER = (
    "import sys, time\n"
    "from okml.io import atomic_path\n"
    "with atomic_path(sys.argv[1]) as tmp:\n"
    "    tmp.write_bytes(b'half a parquet file')\n"
    "    print(tmp, flush=True)\n"
    "    time.sleep(600)\n"
)


def test_simulate_removes_temp_files_of_dead_writers_only(tmp_path: Path) -> None:
    """A killed `okml simulate` leaves its hidden temp file; the next start removes it, and
    the temp files of a writer that is still alive stay."""
    project = _project(tmp_path)
    target = project["root"] / "data" / "tx.parquet"
    killed, out_k, err_k = _okml(project, str(target), name="killed", python=_WRITER)
    alive, out_a, err_a = _okml(project, str(target), name="alive", python=_WRITER)
    dead_tmp = Path(_wait("the first writer", lambda: out_k.read_text().strip(), 60, killed, err_k))
    live_tmp = Path(_wait("the second writer", lambda: out_a.read_text().strip(), 60, alive, err_a))
    killed.kill()
    killed.wait(30)
    # a temp file in the old naming (no writer recorded), untouched for an hour, and a fresh one
    old = target.with_name(f".{target.name}.abc123xy.tmp")
    fresh = target.with_name(f".{target.name}.fresh9zz.tmp")
    other = target.with_name(".other.parquet.abc123xy.tmp")
    for p in (old, fresh, other):
        p.write_bytes(b"x")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    assert dead_tmp.exists() and live_tmp.exists()

    proc, _, err = _okml(project, "simulate", "-q", name="simulate")
    assert proc.wait(300) == 0, err.read_text()[-3000:]
    assert target.exists()
    assert not dead_tmp.exists() and not old.exists()
    assert live_tmp.exists() and fresh.exists() and other.exists()
    assert f"removed {dead_tmp}" in err.read_text()
    alive.kill()
    alive.wait(30)


# ---------------------------------------------------------------- kernel shutdown noise
@pytest.mark.slow
def test_a_successful_notebook_prints_no_kernel_interrupt(tmp_path: Path, capfd) -> None:
    """The kernel was sent SIGINT before every shutdown: if it was still inside the handler
    of the last request (papermill's kernel_info), it logged ``KeyboardInterrupt caught in
    kernel``. The first cell holds that handler open after its reply so the race is certain."""
    from okml.jobs.notebooks import run_notebook

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "okml", "display_name": "okml", "language": "python"}
    hold = (
        "import inspect, time\n"
        "kernel = get_ipython().kernel\n"
        "reply = kernel.shell_handlers['kernel_info_request']\n"
        "async def replied_then_busy(*args):\n"
        "    result = reply(*args)\n"
        "    if inspect.isawaitable(result):\n"
        "        await result\n"
        "    time.sleep(2)\n"
        "kernel.shell_handlers['kernel_info_request'] = replied_then_busy\n"
    )
    nb.cells = [
        nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(hold),
        nbformat.v4.new_code_cell("print(x + 1)"),
    ]
    src = tmp_path / "hold.ipynb"
    nbformat.write(nb, src)
    out = run_notebook(src, tmp_path / "out.ipynb", {"x": 41})
    assert nbformat.read(out, as_version=4).cells[-1].outputs[0]["text"] == "42\n"
    err = capfd.readouterr().err
    assert "KeyboardInterrupt" not in err


@pytest.mark.slow
def test_a_timed_out_cell_is_interrupted_and_named(tmp_path: Path) -> None:
    """A cell past the execution timeout gets KeyboardInterrupt (its finally blocks run) and
    the error says it timed out; the later cells do not run."""
    from okml.errors import NotebookError
    from okml.jobs.notebooks import run_notebook

    flag = tmp_path / "cleaned-up"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "okml", "display_name": "okml", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("flag = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import pathlib, time\ntry:\n    time.sleep(60)\nfinally:\n    pathlib.Path(flag).touch()"
        ),
        nbformat.v4.new_code_cell("pathlib.Path(flag + '.next').touch()"),
    ]
    src = tmp_path / "slow.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(
        NotebookError,
        match=r"slow.ipynb: cell 2 \(execution count 3\) failed: "
        r"TimeoutError: cell execution timed out after 3 s",
    ):
        run_notebook(src, tmp_path / "out.ipynb", {"flag": str(flag)}, execution_timeout=3)
    assert flag.exists() and not Path(f"{flag}.next").exists()
