"""params.yaml loading: typed, validated, overridable, with key paths in errors."""

from __future__ import annotations

import re

import pytest

from okml.cli import main
from okml.config import (
    Params,
    dump_params,
    flatten,
    format_duration,
    load_params,
    parse_duration,
)
from okml.errors import ConfigError
from okml.paths import PROJECT_ROOT, resolve


def test_shipped_params_match_defaults() -> None:
    # params.yaml is the documented default; it must load and equal the built-in defaults
    assert load_params(PROJECT_ROOT / "params.yaml") == Params()


def test_override_parses_yaml_values() -> None:
    p = load_params(
        overrides=["model.max_depth=4", "features.customer_windows=[1h, 2d]", "explain.language=zh"]
    )
    assert p.model.max_depth == 4
    assert p.features.customer_windows == ["1h", "2d"]
    assert p.explain.language == "zh"


def test_unquoted_dates_in_overrides_are_taken_as_dates() -> None:
    # YAML reads 2018-08-22 as a date; the split takes it as the same ISO day
    p = load_params(overrides=["split.train_starts=[2018-08-22, 2018-08-29]", "split.test_end=2018-09-30"])
    assert p.split.train_starts == ["2018-08-22", "2018-08-29"]
    assert p.split.test_end == "2018-09-30"


def test_unknown_key_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match=r"model\.max_dept: unknown key; did you mean max_depth\?"):
        load_params(overrides=["model.max_dept=3"])


def test_unknown_section_lists_known_keys() -> None:
    with pytest.raises(ConfigError, match=r"zzz: unknown key; known keys: data, simulate"):
        load_params(overrides=["zzz.a=1"])


def test_wrong_type_names_key_path() -> None:
    with pytest.raises(ConfigError, match=r"split\.train_days: .*integer.*'x'"):
        load_params(overrides=["split.train_days=x"])


def test_bad_window_names_key() -> None:
    with pytest.raises(ConfigError, match=r"features\.customer_windows: cannot parse duration '5q'"):
        load_params(overrides=["features.customer_windows=[5q]"])


def test_yaml_file_errors(tmp_path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("model:\n  max_depth: [1\n")
    with pytest.raises(ConfigError, match=r"p\.yaml: line \d+ not valid YAML"):
        load_params(bad)
    with pytest.raises(ConfigError, match="cannot read params file"):
        load_params(tmp_path / "missing.yaml")
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_params(bad)


def test_override_without_equals() -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_params(overrides=["model.max_depth"])


def test_partial_file_keeps_defaults(tmp_path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("model:\n  max_depth: 3\n")
    p = load_params(f)
    assert p.model.max_depth == 3 and p.model.n_estimators == Params().model.n_estimators


def test_dump_roundtrip(tmp_path) -> None:
    p = load_params(overrides=["model.max_depth=2"])
    f = tmp_path / "p.yaml"
    f.write_text(dump_params(p))
    assert load_params(f) == p


@pytest.mark.parametrize(
    ("text", "seconds"), [("10min", 600), ("1h", 3600), ("7d", 604800), ("2w", 1209600), (30, 30)]
)
def test_parse_duration(text, seconds) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "1.5s", "-1d", "0h", "1y", True])
def test_parse_duration_rejects(text) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (600, 3600, 86400, 90)] == ["10min", "1h", "1d", "90s"]


def test_flatten() -> None:
    assert flatten({"model": {"max_depth": 4, "x": {"y": 1}}, "a": []}) == {
        "model.max_depth": 4,
        "model.x.y": 1,
        "a": [],
    }
    assert Params().flat()["model.max_depth"] == Params().model.max_depth


def test_paths_resolve_from_project_root(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve("data/raw") == PROJECT_ROOT / "data" / "raw"
    assert resolve(tmp_path) == tmp_path


def test_cli_reports_config_error_in_one_line(capsys) -> None:
    rc = main(["simulate", "--set", "simulate.n_custmers=3"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "did you mean n_customers?" in err
    assert "Traceback" not in err


def test_cli_help_teaches(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("simulate", "validate", "features", "evaluate", "train", "retrain", "score", "report"):
        assert cmd in out
    assert "--set" in out


def _help(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as e:
        main([*args, "--help"])
    assert e.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines at the terminal width


COMMANDS = ("simulate", "validate", "features", "evaluate", "train", "retrain", "score", "report")


def test_every_help_lists_the_exit_codes_main_returns(capsys) -> None:
    # what okml.cli.main returns: 0, OkmlError.exit_code 2, LockedError 3, 128 + SIGINT/SIGTERM
    from okml.errors import LockedError, OkmlError

    assert (OkmlError.exit_code, LockedError.exit_code) == (2, 3)
    codes = ["0 success", "2 bad input, params or environment: one line on stderr"]
    codes += ["130 interrupted (Ctrl-C, SIGINT)", "143 stopped by SIGTERM"]
    for args in [(), *((c,) for c in COMMANDS)]:
        out = _help(capsys, *args)
        assert "exit codes:" in out, args
        for code in codes:
            assert code in out, (args, code)
        # 3 only where it can happen: okml retrain (and the overview)
        assert ("3 okml retrain: another retrain holds the lock" in out) == (args in [(), ("retrain",)])


def test_report_help_describes_the_report(capsys) -> None:
    out = _help(capsys, "report")
    assert "notebooks/03" not in out.split("options:")[0]  # the task, not the code behind it
    assert "reviewers' report of one day" in out
    assert "explain.n_cases (default 50)" in out
    assert "explain.language (en or zh; default en)" in out
    assert "data/reports/store-ID/report-DAY-MODEL-vN.html" in out and "local day" in out
    assert "self-contained" in out


def test_score_help_says_how_much_history_and_which_model(capsys) -> None:
    from okml.features import lookback

    days = lookback(Params().features).days
    out = _help(capsys, "score")
    assert days == 60 and "the model's look-back before the first new payment: 60 days" in out
    assert "covering the model's look-back (60 days by default)" in out
    assert "models:/NAME@champion, NAME being mlflow.model_name (okpay-fraud)" in out
    assert "okml.features.lookback of the model's feature params" in out


def test_features_help_explains_preset(capsys) -> None:
    out = _help(capsys, "features")
    assert "--preset {canonical,handbook,paysim,custom} input format (default: data.preset)" in out
    assert "handbook: the Fraud Detection Handbook" in out


# ------------------------------------------------------- hardening (issue 10, item 6)
def test_params_file_that_is_not_utf8_is_one_line(tmp_path, capsys) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_bytes("model:\n  max_depth: 4\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"p\.yaml: line 3: not UTF-8 text \(byte 0xe9"):
        load_params(bad)
    rc = main(["simulate", "--params", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err and "UTF-8" in err


def test_utf8_with_bom_and_chinese_comments_load(tmp_path) -> None:
    ok = tmp_path / "p.yaml"
    ok.write_bytes("\ufeff# 参数\nmodel:\n  max_depth: 4\n".encode())
    assert load_params(ok).model.max_depth == 4


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("model:\n  max_depth: 4\nsplit:\n  delay_days: 7\nmodel:\n  max_depth: 5\n", "model", (5, 1)),
        ("model:\n  max_depth: 4\n  max_depth: 5\n", "max_depth", (3, 2)),
    ],
)
def test_duplicate_keys_are_refused(tmp_path, text, key, lines) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_params(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: line {lines[0]}: key '{key}' is given twice (first on line {lines[1]})")
    assert "\n" not in msg


@pytest.mark.parametrize("metric", ["cp_at_k", "cp@k", "ap", "auc", "recall.fake_orders"])
def test_promote_metric_known(metric) -> None:
    assert load_params(overrides=[f"mlflow.promote_metric={metric}"]).mlflow.promote_metric == metric


@pytest.mark.parametrize(
    ("metric", "hint"),
    [
        ("nope", "choose one of"),
        ("cp_at_kk", "did you mean cp_at_k?"),
        ("missed_amount", "choose one of"),
        ("recall.", ""),
    ],
)
def test_promote_metric_unknown_is_refused_at_load(metric, hint) -> None:
    # a metric no run logs would leave every challenger "undefined": never promoted, exit 0
    pattern = rf"mlflow\.promote_metric: unknown metric '{re.escape(metric)}'.*{hint}"
    with pytest.raises(ConfigError, match=pattern):
        load_params(overrides=[f"mlflow.promote_metric={metric}"])


def test_amount_bounds_are_checked(tmp_path) -> None:
    p = load_params(overrides=["data.amount_min=1", "data.amount_max=100"])
    assert (p.data.amount_min, p.data.amount_max) == (1, 100)
    with pytest.raises(ConfigError, match="amount_min .* must be below amount_max"):
        load_params(overrides=["data.amount_min=100", "data.amount_max=10"])
    with pytest.raises(ConfigError, match=r"data\.amount_max"):
        load_params(overrides=["data.amount_max=1e300"])


def test_rings_first_needs_no_graph_family_and_works_with_feedback(tmp_path) -> None:
    on = load_params(overrides=["evaluate.rings_first=true", "split.feedback=true"])
    assert on.evaluate.rings_first and not on.features.families.graph  # group sizes for the queue
    assert not load_params().evaluate.rings_first and not Params().evaluate.rings_first


def test_yaml_merge_keys_still_work_and_odd_keys_are_one_line(tmp_path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(
        "evaluate:\n  candidates:\n    - &xgb {kind: xgboost, imbalance: none}\n"
        "    - <<: *xgb\n      imbalance: class_weight\n"
    )
    assert [c.label for c in load_params(p).evaluate.candidates] == ["xgboost:none", "xgboost:class_weight"]
    p.write_text("model:\n  [a, b]: 1\n")
    with pytest.raises(ConfigError, match=r"line 2: a key must be a name, not list"):
        load_params(p)
