"""Notebooks: committed without outputs, thin, and they run top to bottom on the okml kernel."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import nbformat
import pytest

from okml.config import load_params
from okml.jobs.notebooks import export_html, run_notebook
from okml.paths import NOTEBOOKS_DIR
from okml.simulate import simulate

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def test_expected_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_explore.ipynb", "02_train.ipynb", "03_explain_flagged.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameterized_and_on_okml_kernel(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "okml"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_thin(path):
    """Logic lives in okml/: no function or class definitions in notebooks."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "\ndef " not in "\n" + code and "\nclass " not in "\n" + code
    assert "%run" not in code and "import *" not in code


@pytest.mark.slow
def test_explore_notebook_runs(tmp_path, capfd):
    params = load_params(
        overrides=["simulate.n_customers=200", "simulate.n_merchants=60", "simulate.n_days=30"]
    )
    data = tmp_path / "tx.parquet"
    simulate(params.simulate).to_parquet(data, index=False)
    out = run_notebook(
        "01_explore.ipynb", tmp_path / "explore.ipynb", {"data_path": str(data), "sample_features": 5000}
    )
    nb = nbformat.read(out, as_version=4)
    images = sum(
        "image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert images >= 5
    # the kernel talks over local IPC sockets: no plain-TCP warning, no socket files left
    assert "without encryption" not in capfd.readouterr().err
    # (this process's only: other runs on the machine share the temp folder)
    assert not list(Path(tempfile.gettempdir()).glob(f"okml-kernel-{os.getpid()}-*"))
    html = export_html(out, tmp_path / "explore.html")
    assert "<img" in html.read_text() and "cdn.jsdelivr" not in html.read_text()


def test_missing_kernel_is_one_line(tmp_path, capfd):
    from okml.errors import NotebookError

    with pytest.raises(
        NotebookError,
        match=r"01_explore.ipynb: Jupyter kernel 'no-such-kernel' "
        r"is not installed; run `make setup`",
    ):
        run_notebook("01_explore.ipynb", tmp_path / "x.ipynb", {}, kernel="no-such-kernel")
    assert "Traceback" not in capfd.readouterr().err
    assert not (tmp_path / "x.ipynb").exists()


def test_kernel_sockets_fall_back_to_tcp_when_the_temp_path_is_too_long(tmp_path, monkeypatch):
    from okml.jobs.notebooks import _ipc_kernel_manager

    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    km = _ipc_kernel_manager()()
    assert km.transport == "ipc" and km.ip.startswith("/tmp/okml-kernel-")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / ("x" * 100)))
    assert _ipc_kernel_manager()().transport == "tcp"


# ------------------------------------- notebooks name only what exists (no silent fallback)
def _code(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    lines = []
    for c in nb.cells:
        if c.cell_type == "code":
            # IPython magics are not Python
            lines += [ln for ln in c.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_use_only_okml_names_that_exist(path):
    import ast
    import importlib

    tree = ast.parse(_code(path))
    modules: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("okml"):
            for alias in node.names:
                parent = importlib.import_module(node.module)
                target = getattr(parent, alias.name, None)
                if target is None:  # a submodule: `from okml import explore`
                    target = importlib.import_module(f"{node.module}.{alias.name}")
                modules[alias.asname or alias.name] = target
    missing = [
        f"{n.value.id}.{n.attr}"
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id in modules
        and not hasattr(modules[n.value.id], n.attr)
    ]
    assert not missing, f"{path.name} calls what okml does not have: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_name_only_features_and_columns_that_exist(path):
    import ast

    from okml.config import FeatureParams
    from okml.features import registry
    from okml.schema import CANONICAL

    known = set(registry(FeatureParams())) | set(CANONICAL) | {"score", "flag", "rank_in_day"}
    words = {
        n.value
        for n in ast.walk(ast.parse(_code(path)))
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    # identifiers with an underscore are what a feature or column is called
    named = {w for w in words if w.isidentifier() and "_" in w.strip("_") and w.islower()}
    assert named <= known, f"{path.name} names unknown features/columns: {sorted(named - known)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_metadata_is_what_the_okml_kernel_writes(path):
    """Opening a notebook in Lab must not mark it modified: the committed kernel and language
    metadata are what the okml kernel reports (its Python version aside)."""
    from ipykernel.ipkernel import IPythonKernel

    nb = nbformat.read(path, as_version=4)
    expected = {k: v for k, v in IPythonKernel.language_info.items() if k != "version"}
    got = {k: v for k, v in nb.metadata["language_info"].items() if k != "version"}
    assert got == expected
    assert nb.metadata["kernelspec"] == {
        "display_name": "Python (okml)",
        "language": "python",
        "name": "okml",
    }
