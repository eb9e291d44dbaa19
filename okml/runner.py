"""Run the project's notebooks with papermill on the named ``okml`` kernel.

A failing notebook still leaves its executed copy (with the error in place) and raises a
:class:`NotebookError` naming the failing cell and its error in one line.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from okml.errors import NotebookError
from okml.io import atomic_path, write_text
from okml.paths import NOTEBOOKS_DIR, PROJECT_ROOT

log = logging.getLogger(__name__)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Unix socket names hold about 104 bytes; the kernel adds "-<port>" (up to 6) to the prefix
_MAX_SOCKET_PREFIX = 96


def _ipc_kernel_manager() -> type:
    """A kernel manager that talks to the kernel over local IPC sockets (in the temp
    folder, removed at shutdown) rather than unencrypted TCP on localhost, so the kernel
    has no reason to warn about it. Where the temp folder's path is too long for a Unix
    socket name (about 104 bytes), it stays on TCP."""
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    prefix = str(Path(tempfile.gettempdir()) / f"okml-kernel-{uuid.uuid4().hex[:12]}")

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if len(prefix.encode()) <= _MAX_SOCKET_PREFIX:
                self.transport = "ipc"
                self.ip = prefix

    return IpcKernelManager


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
) -> Path:
    """Execute ``notebook`` with ``parameters`` into ``output`` and return ``output``.

    Raises
    ------
    NotebookError
        When a cell fails (the executed copy is written first), the kernel does not start or
        the notebook is missing.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    src = Path(notebook)
    if not src.is_absolute():
        src = NOTEBOOKS_DIR / src if not (PROJECT_ROOT / src).exists() else PROJECT_ROOT / src
    if not src.exists():
        raise NotebookError(f"{src}: notebook not found")
    _check_kernel(kernel, src)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    env_before = os.environ.get("OKML_ROOT")
    os.environ["OKML_ROOT"] = str(PROJECT_ROOT)  # the kernel inherits it: same project paths
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
            kernel_manager_class=_ipc_kernel_manager(),
        )
    except PapermillExecutionError as e:
        evalue = _ANSI.sub("", str(e.evalue)).strip().splitlines()
        first = evalue[-1] if evalue else ""
        raise NotebookError(
            f"{src.name}: cell {e.cell_index} (execution count {e.exec_count}) failed: "
            f"{e.ename}: {first}; executed copy: {out}"
        ) from None
    except (RuntimeError, TimeoutError) as e:
        # kernel start failures and timeouts come as RuntimeError/TimeoutError from nbclient
        raise NotebookError(f"{src.name}: {type(e).__name__}: {e}".splitlines()[0]) from None
    finally:
        if env_before is None:
            os.environ.pop("OKML_ROOT", None)
        else:
            os.environ["OKML_ROOT"] = env_before
    return out


def notebook_duration(path: str | Path) -> float | None:
    """Seconds papermill spent executing cells of an executed notebook (None if unknown)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return nb.metadata.get("papermill", {}).get("duration")


def export_html(notebook: str | Path, output: str | Path, *, hide_code: bool = False,
                title: str | None = None) -> Path:
    """Export an executed notebook to self-contained HTML (images embedded, no CDN scripts)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    exporter = HTMLExporter(template_name="lab", exclude_input=hide_code,
                            exclude_input_prompt=hide_code, exclude_output_prompt=hide_code,
                            embed_images=True)
    if title:
        nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    # drop external scripts (MathJax, require.js from a CDN): the report must work offline
    body = re.sub(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', "", body)
    return write_text(body, output)


__all__ = ["atomic_path", "export_html", "run_notebook"]
