"""The environment definitions agree: pyproject pins, uv.lock and environment.yml."""

from __future__ import annotations

import re
import tomllib

import yaml

from okml.paths import PROJECT_ROOT


def _lock_versions() -> dict[str, str]:
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"]}


def test_environment_yml_matches_lock() -> None:
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    assert env["name"] == "okml"
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    lock = _lock_versions()
    pins = dict(p.split("==") for p in pip)
    mismatched = {n: (v, lock.get(n)) for n, v in pins.items() if lock.get(n) != v}
    assert not mismatched, f"environment.yml disagrees with uv.lock: {mismatched}"


def test_every_direct_dependency_is_in_environment_yml() -> None:
    pp = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    names = {re.split(r"[=<>]", d)[0] for d in pp["project"]["dependencies"]}
    names |= {re.split(r"[=<>]", d)[0] for d in pp["dependency-groups"]["dev"]}
    env = (PROJECT_ROOT / "environment.yml").read_text()
    assert all(f"- {n}==" in env for n in names)


def test_known_good_stack_is_locked() -> None:
    lock = _lock_versions()
    expected = {"pandas": "3.1.1", "numpy": "2.4.6", "scikit-learn": "1.9.1", "xgboost-cpu": "3.2.0",
                "shap": "0.51.0", "mlflow": "3.17.2", "imbalanced-learn": "0.14.2",
                "papermill": "2.7.0", "jupyterlab": "4.6.6"}
    assert {k: lock.get(k) for k in expected} == expected
    assert "xgboost" not in lock, "plain xgboost pulls ~800 MB of CUDA libraries; use xgboost-cpu"
