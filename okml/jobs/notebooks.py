"""Run the project's notebooks with papermill on the named ``okml`` kernel.

A failing notebook still leaves its executed copy (with the error in place) and raises a
:class:`NotebookError` naming the failing cell and its error in one line.

Papermill runs in a worker thread while the main thread waits, so the CLI's SIGTERM/SIGINT
handlers keep working (nbclient would otherwise take both signals over for the whole run and
swallow them). When the wait is interrupted, the kernel is stopped here: no further cell
starts, the running one gets SIGINT (its ``finally`` blocks and context managers clean up),
then the kernel is shut down normally, with SIGTERM and SIGKILL as the fallbacks.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import tempfile
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from okml.errors import NotebookError
from okml.io import atomic_path, remove_stale_temp, temp_prefix, write_text
from okml.paths import NOTEBOOKS_DIR, PROJECT_ROOT

log = logging.getLogger(__name__)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Unix socket names hold about 104 bytes; the kernel adds "-<port>" (up to 6) to the prefix
_MAX_SOCKET_PREFIX = 96
# stopping a kernel: SIGINT to the running cell, then SIGTERM, then SIGKILL, each given this
# long (seconds) for the notebook run to wind down before the next
_STOP_STEPS = ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0))


class _CellsStopped(Exception):
    """Raised in the papermill thread instead of starting a cell once the job is stopping."""


class KernelHandle:
    """The kernel of one notebook run as the main thread sees it: the manager (set when papermill
    creates it) and a flag that stops further cells."""

    def __init__(self) -> None:
        self.manager: Any = None
        self.stopping = threading.Event()

    def process(self) -> Any:
        """The kernel's ``Popen`` while it runs, else None."""
        proc = getattr(getattr(self.manager, "provisioner", None), "process", None)
        return proc if proc is not None and proc.poll() is None else None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the kernel's process group (it runs in a session of its own, so
        this reaches what the kernel started too)."""
        proc = self.process()
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def _ipc_kernel_manager(handle: KernelHandle | None = None) -> type:
    """A kernel manager that talks to the kernel over local IPC sockets (in the temp folder,
    removed at shutdown) rather than unencrypted TCP on localhost, so the kernel has no reason
    to warn about it. Where the temp folder's path is too long for a Unix socket name (about
    104 bytes), it stays on TCP. Its sockets and connection file are named
    ``okml-kernel-PID-*`` so that a later run removes them if this process is killed.

    It does not interrupt the kernel before shutting it down: nbclient shuts down only an idle
    kernel (cells done, failed, or interrupted on timeout), and a SIGINT that lands while the
    kernel still finishes its last request is logged by it as ``KeyboardInterrupt caught in
    kernel``. Stopping a busy kernel is :func:`_stop_kernel`'s job."""
    from jupyter_client.manager import AsyncKernelManager

    prefix = str(Path(tempfile.gettempdir()) / f"{temp_prefix('kernel')}{uuid.uuid4().hex[:8]}")

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.connection_file = f"{prefix}.json"
            if len(prefix.encode()) <= _MAX_SOCKET_PREFIX:
                self.transport = "ipc"
                self.ip = prefix
            if handle is not None:
                handle.manager = self

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return  # see the class docstring
            await super()._async_interrupt_kernel()

        def client(self, **kwargs: Any) -> Any:
            kc = super().client(**kwargs)
            if handle is not None:
                execute = kc.execute

                def guarded(*args: Any, **kw: Any) -> Any:
                    if handle.stopping.is_set():
                        raise _CellsStopped("the job is stopping")
                    return execute(*args, **kw)

                kc.execute = guarded  # type: ignore[method-assign]
            return kc

    return IpcKernelManager


def _stop_kernel(handle: KernelHandle, done: threading.Event) -> None:
    """Stop the notebook run of ``handle``: no new cell, then SIGINT, SIGTERM, SIGKILL to the
    kernel until the run is ``done`` (nbclient then shuts the kernel down and removes its
    files)."""
    handle.stopping.set()
    for signum, grace in _STOP_STEPS:
        handle.signal(signum)
        if done.wait(grace):
            return
    log.warning("the notebook run did not end after its kernel was killed")


def _remove_own_files(prefix: str) -> None:
    """Remove what a kernel killed hard left under ``prefix`` (sockets, connection file)."""
    folder, name = os.path.split(prefix)
    for entry in Path(folder).glob(f"{name}*"):
        try:
            entry.unlink()
        except OSError:
            pass


def _check_kernel(kernel: str, src: Path) -> None:
    """Fail in one line before papermill starts (which would log a traceback first)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise NotebookError(
            f"{src.name}: Jupyter kernel '{kernel}' is not installed; run `make setup`"
        ) from None


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: Mapping[str, Any],
    *,
    kernel: str = "okml",
    start_timeout: int = 120,
    execution_timeout: int = 1800,
    progress: bool = False,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Execute ``notebook`` with ``parameters`` into ``output`` and return ``output``.

    ``env`` holds extra environment variables for the kernel (credentials that must not appear
    in the parameters, which are written into the executed notebook).

    Raises
    ------
    NotebookError
        When a cell fails (the executed copy is written first), the kernel does not start or
        the notebook is missing.
    KeyboardInterrupt
        When the wait is interrupted (SIGINT, or the CLI's SIGTERM handler); the kernel is
        stopped and its files removed first.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    src = Path(notebook)
    if not src.is_absolute():
        src = NOTEBOOKS_DIR / src if not (PROJECT_ROOT / src).exists() else PROJECT_ROOT / src
    if not src.exists():
        raise NotebookError(f"{src}: notebook not found")
    _check_kernel(kernel, src)
    remove_stale_temp()  # sockets and connection files of kernels whose okml process was killed
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    # the kernel inherits the environment: OKML_ROOT gives it the same project paths
    extra = {"OKML_ROOT": str(PROJECT_ROOT), **dict(env or {})}
    before = {k: os.environ.get(k) for k in extra}
    handle = KernelHandle()
    outcome: dict[str, BaseException] = {}

    def execute() -> None:
        try:
            pm.execute_notebook(
                str(src),
                str(out),
                parameters=dict(parameters),
                kernel_name=kernel,
                start_timeout=start_timeout,
                execution_timeout=execution_timeout,
                progress_bar=progress,
                cwd=str(src.parent),
                kernel_manager_class=manager_class,
                # a timed-out cell is interrupted (its finally blocks run, the kernel is idle
                # when it is shut down) and fails the run with this error
                interrupt_on_timeout=True,
                error_on_timeout={
                    "ename": "TimeoutError",
                    "evalue": f"cell execution timed out after {execution_timeout} s",
                },
            )
        except BaseException as e:  # handed to the main thread
            outcome["error"] = e
        finally:
            done.set()

    # wait on an Event, not Thread.join: a join interrupted by a signal marks the thread as
    # finished although it still runs (Python 3.11, bpo-45274)
    done = threading.Event()
    worker = threading.Thread(target=execute, name=f"okml-notebook-{src.stem}", daemon=True)
    try:
        # set inside the try: the finally below restores it (credentials must not linger)
        os.environ.update(extra)
        manager_class = _ipc_kernel_manager(handle)
        worker.start()
        while not done.wait(0.25):
            pass
    except KeyboardInterrupt:
        _stop_kernel(handle, done)
        raise
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if done.is_set() and handle.manager is not None:
            _remove_own_files(handle.manager.connection_file.removesuffix(".json"))
    error = outcome.get("error")
    if isinstance(error, PapermillExecutionError):
        evalue = _ANSI.sub("", str(error.evalue)).strip().splitlines()
        first = evalue[-1] if evalue else ""
        if error.ename == "KeyboardInterrupt" and not handle.stopping.is_set():
            # nothing but the timeout interrupts a cell of a run that was not stopped
            error.ename, first = "TimeoutError", f"cell execution timed out after {execution_timeout} s"
        raise NotebookError(
            f"{src.name}: cell {error.cell_index} (execution count {error.exec_count}) failed: "
            f"{error.ename}: {first}; executed copy: {out}"
        ) from None
    if isinstance(error, RuntimeError | TimeoutError):
        # kernel start failures and timeouts come as RuntimeError/TimeoutError from nbclient
        raise NotebookError(f"{src.name}: {type(error).__name__}: {error}".splitlines()[0]) from None
    if error is not None:
        raise error
    return out


def notebook_duration(path: str | Path) -> float | None:
    """Seconds papermill spent executing cells of an executed notebook (None if unknown)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return nb.metadata.get("papermill", {}).get("duration")


def export_html(
    notebook: str | Path, output: str | Path, *, hide_code: bool = False, title: str | None = None
) -> Path:
    """Export an executed notebook to self-contained HTML (images embedded, no CDN scripts)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    exporter = HTMLExporter(
        template_name="lab",
        exclude_input=hide_code,
        exclude_input_prompt=hide_code,
        exclude_output_prompt=hide_code,
        embed_images=True,
    )
    if title:
        nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    # drop external scripts (MathJax, require.js from a CDN): the report must work offline
    body = re.sub(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', "", body)
    return write_text(body, output)


__all__ = ["atomic_path", "export_html", "run_notebook"]


def write_page(
    notebook: Path,
    parameters: dict[str, Any],
    params: Any,
    out: Path,
    title: str,
    language: str,
    tmp: Path,
) -> None:
    """Execute ``notebook`` with ``parameters`` in ``tmp`` and write it to ``out`` as one
    self-contained page without code: no script, ``lang`` set, okml's Chinese font embedded
    (the reviewers' report and the monitoring page). A failed run keeps its executed copy
    beside ``out`` (``.failed.ipynb``, named in the error); a later success removes it."""
    import shutil

    from okml.errors import NotebookError
    from okml.io import write_text
    from okml.report import embed_font, strip_scripts

    executed = tmp / notebook.name
    kept = out.with_name(out.stem + ".failed.ipynb")
    try:
        run_notebook(
            notebook,
            executed,
            parameters,
            kernel=params.mlflow.kernel,
            start_timeout=params.mlflow.start_timeout,
            execution_timeout=params.mlflow.execution_timeout,
        )
    except NotebookError as e:
        if not executed.exists():
            raise
        # keep the executed copy (with the error in place) where the user can open it
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(executed, kept)
        raise NotebookError(str(e).replace(str(executed), str(kept))) from None
    exported = tmp / (out.stem + ".export.html")
    export_html(executed, exported, hide_code=True, title=title)
    # written once, already without scripts (never a moment with them at ``out``)
    page = strip_scripts(exported.read_text(encoding="utf-8"))
    page = page.replace('<html lang="en">', f'<html lang="{"zh-Hans" if language == "zh" else "en"}">', 1)
    write_text(embed_font(page), out)
    kept.unlink(missing_ok=True)  # an earlier failure
