"""The shape of the package: layers that point one way, no cycle, light low layers.

`make check` runs import-linter on the contracts in pyproject.toml; these tests check what a
newcomer relies on in a fresh interpreter: importing a low layer loads nothing heavy.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ["xgboost", "shap", "mlflow", "papermill", "matplotlib", "sklearn", "imblearn"]


def _loaded(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("okml.config", set()),
        ("okml.schema", set()),
        ("okml.data", set()),
        ("okml.features", set()),
        ("okml.evaluate.splits", {"sklearn"}),
        ("okml.explain.phrases", set()),
        ("okml.cli", set()),
    ],
)
def test_low_layers_load_no_heavy_dependency(module: str, allowed: set[str]) -> None:
    assert _loaded(module) <= allowed


def test_the_import_graph_has_no_cycle() -> None:
    import grimp

    graph = grimp.build_graph("okml")
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for m in modules:
        if m not in index:
            visit(m)
    assert not cycles, f"import cycles: {cycles}"
