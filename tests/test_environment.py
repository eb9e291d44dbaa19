"""The environment definitions agree: pyproject ranges, uv.lock and environment.yml (generated
from the lock), and the lock avoids the known traps of today's stack."""

from __future__ import annotations

import importlib.util
import tomllib

from okml.paths import PROJECT_ROOT


def _lock_versions() -> dict[str, str]:
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"]}


def _tool():  # tools/ is not a package: load the script as a module
    spec = importlib.util.spec_from_file_location(
        "environment_yml", PROJECT_ROOT / "tools" / "environment_yml.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_environment_yml_is_generated_from_the_lock() -> None:
    assert (PROJECT_ROOT / "environment.yml").read_text() == _tool().render(), (
        "environment.yml is out of date: run python tools/environment_yml.py"
    )


def test_pyproject_gives_ranges_not_pins() -> None:
    pp = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    pinned = [d for d in pp["project"]["dependencies"] if "==" in d]
    assert not pinned, f"pin exact versions in uv.lock only: {pinned}"


def test_lock_avoids_known_traps() -> None:
    lock = _lock_versions()
    assert "xgboost" not in lock, "plain xgboost pulls ~800 MB of CUDA libraries; use xgboost-cpu"
    major_minor = {k: tuple(int(x) for x in lock[k].split(".")[:2]) for k in ("mlflow", "pyarrow")}
    assert major_minor["mlflow"] == (3, 17), "mlflow 3.18.0 cannot be installed with this stack"
    assert major_minor["pyarrow"] < (26, 0), "mlflow 3.17 needs pyarrow < 26"
    assert lock["pandas"].startswith("3.") and lock["xgboost-cpu"].startswith("3.")


def test_jupyterlab_is_for_make_lab_only() -> None:
    pp = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert not any(d.startswith("jupyterlab") for d in pp["project"]["dependencies"])
    assert any(d.startswith("jupyterlab") for d in pp["dependency-groups"]["lab"])
