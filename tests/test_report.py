"""The reviewers' report: HTML pieces (fast) and one real run checked in a browser (slow)."""

from __future__ import annotations

import base64
import contextlib
import html
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from okml.config import FeatureParams, MlflowParams, ModelParams, Params, SimulateParams
from okml.errors import DataError, OkmlError
from okml.io import write_parquet

DAY = "2026-02-05"
EVIL = "<script>alert(1)</script>"
# 10,000 characters without a single line-break opportunity (letters only): the browser
# cannot wrap it by itself
LONG = "LongMerchantName" * 625
WIDTH = 1280  # browser window (CSS px)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _params(tmp: Path, **explain: Any) -> Params:
    base = Params()
    return base.model_copy(
        update={
            "explain": base.explain.model_copy(
                update={"report_dir": str(tmp / "reports"), "scored_dir": str(tmp / "scored"), **explain}
            ),
            "mlflow": MlflowParams(
                tracking_uri=f"sqlite:///{tmp}/mlflow.db", artifact_root=str(tmp / "artifacts")
            ),
        }
    )


def _build(tmp: Path) -> dict[str, Any]:
    """A tiny model saved as an MLflow model folder and two scored UTC days (so the local day
    DAY in Asia/Shanghai is whole) with a hostile merchant name on the riskiest flagged payment
    of the local day and a 10,000-character one on the next case's."""
    import mlflow.pyfunc

    from okml.features import build_features
    from okml.models import build_estimator, final_booster
    from okml.models.scorers import XGBoostScorer
    from okml.pyfunc import FraudModel, write_model_files
    from okml.score import score_transactions
    from okml.simulate import simulate

    tx = simulate(SimulateParams(n_customers=150, n_merchants=60, n_days=37, seed=7))
    fp = FeatureParams()
    train = tx[tx["timestamp"] < pd.Timestamp("2026-01-25", tz="UTC")]
    feats = build_features(train, fp)
    est = build_estimator(ModelParams(n_estimators=15, max_depth=3, n_jobs=1))
    booster = final_booster(est.fit(feats, train["is_fraud"].to_numpy()))
    arts = write_model_files(
        XGBoostScorer(booster, list(feats.columns)), fp, tmp / "files", extra={"threshold": 0.5, "k": 10}
    )
    mlflow.pyfunc.save_model(
        str(tmp / "model"), python_model=FraudModel(), artifacts=arts, pip_requirements=["xgboost"]
    )
    model = SimpleNamespace(
        booster=booster, feature_params=fp, columns=list(feats.columns), meta={"threshold": 0.5}
    )
    day = pd.Timestamp(DAY, tz="UTC") - pd.Timedelta(days=1)
    new = tx[(tx["timestamp"] >= day) & (tx["timestamp"] < day + pd.Timedelta(days=2))]
    scored = score_transactions(model, new, tx[tx["timestamp"] < day], Params())
    local = _local_day(scored)
    assert scored["flag"][local].sum() >= 3
    flagged = scored.loc[scored["flag"] & local].sort_values("score", ascending=False, kind="stable")
    top = flagged.index[0]
    second = flagged.index[flagged["customer_id"] != flagged["customer_id"].iloc[0]][0]
    # names belong to merchants: every payment of the two merchants carries them
    scored.loc[scored["merchant_id"] == scored.loc[top, "merchant_id"], "merchant_name"] = EVIL
    scored.loc[top, "merchant_category"] = "<b>bold</b>"
    scored.loc[scored["merchant_id"] == scored.loc[second, "merchant_id"], "merchant_name"] = LONG
    path = write_parquet(scored, tmp / "scored" / f"day-{DAY}.parquet")
    return {"scored": path, "model": str(tmp / "model"), "arts": arts, "frame": scored, "top": top}


def _local_day(frame: pd.DataFrame, day: str = DAY) -> pd.Series:
    """Rows of the reviewers' local day (the default ``features.timezone``)."""
    local = frame["timestamp"].dt.tz_convert(FeatureParams().timezone).dt.strftime("%Y-%m-%d")
    return local == day


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _build(tmp_path_factory.mktemp("report"))


# ---------------------------------------------------------------------- fast pieces
def test_prepare_picks_the_riskiest_flagged_cases(built, tmp_path: Path) -> None:
    from okml.cases import build_cases
    from okml.jobs import report as jobs_report

    rep = jobs_report.prepare(built["scored"], built["model"], DAY, n_cases=4, language="en")
    frame = built["frame"]
    day = frame[_local_day(frame)]
    # the report's day is the reviewers' local day, and its cases are okml.cases' cases
    assert rep.date == pd.Timestamp(DAY, tz=FeatureParams().timezone)
    assert len(rep.day) == len(day) and set(rep.day["transaction_id"]) == set(day["transaction_id"])
    cases = [c for c in build_cases(frame, FeatureParams().timezone) if c.day == DAY][:4]
    assert [c.case_id for c in rep.case_list] == [c.case_id for c in cases]
    flagged = day[day["flag"]].sort_values("score", ascending=False, kind="stable")
    # a case is a customer: shown by their riskiest flagged payment, with all of them counted
    want = flagged.drop_duplicates("customer_id").head(4)
    assert rep.cases["transaction_id"].tolist() == want["transaction_id"].tolist()
    assert rep.cases["customer_id"].is_unique
    counts = flagged.groupby("customer_id").size()
    assert rep.cases["case_payments"].tolist() == counts[want["customer_id"]].tolist()
    assert (counts[want["customer_id"]] > 1).any()  # the fixture has a customer with several
    # every flagged payment of the shown cases is listed and explained, all of the local day
    assert sorted(rep.payments["transaction_id"]) == sorted(
        flagged.loc[flagged["customer_id"].isin(want["customer_id"]), "transaction_id"]
    )
    assert _local_day(rep.payments).all() and len(rep.payments_explained) == len(rep.payments)
    assert len(rep.explained) == 4 and len(rep.overview) == len(day)
    assert rep.explained.reasons.iloc[0][0].text == want["reason_1"].iloc[0]
    # the case's reasons are the group sums over its payments (okml.cases.case_reasons)
    assert [r.group for r in rep.case_reasons[0]] == [r.group for r in cases[0].reasons]


def test_case_html_escapes_data(built) -> None:
    from okml import report
    from okml.jobs import report as jobs_report

    rep = jobs_report.prepare(built["scored"], built["model"], DAY, n_cases=2, language="en")
    page = report.case_html(rep, 0)
    assert "<script>" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert page.count('src="data:image/png;base64,') == 2
    table = report.cases_table_html(rep)
    assert "&lt;script&gt;" in table and "<script>" not in table
    rep.model_uri = 'models:/x"><img src=x onerror=alert(2)>'
    assert "<img src=x" not in report.header_html(rep)


_CUT = re.compile(r'<span class="okml-cut[^"]*" title="([^"]*)">([^<]*)</span>')


def test_long_data_text_is_cut_with_the_whole_in_a_title(built) -> None:
    from okml import report
    from okml.jobs import report as jobs_report

    rep = jobs_report.prepare(built["scored"], built["model"], DAY, n_cases=2, language="en")
    hostile = EVIL * 400  # 10,000 characters, no spaces
    case = rep.case_list[0]
    case.payments["merchant_name"] = hostile
    case.devices[:] = [hostile]
    mine = rep.payments["_case"] == 0
    for column in ("merchant_name", "merchant_category", "channel"):
        rep.payments.loc[mine, column] = hostile
    # the cases table: this case's merchant names and the next case's real long one (from
    # the scored file); the case's own tables: merchants, device, category and channel
    pieces = {
        "cases table": (report.cases_table_html(rep), {hostile, LONG}),
        "case": (report.case_html(rep, 0), {hostile}),
    }
    for where, (page, whole) in pieces.items():
        assert not re.search(r"<script", page, re.I), where
        cuts = _CUT.findall(page)
        assert {html.unescape(title) for title, _ in cuts} == whole, where  # all on hover
        for title, shown in cuts:
            shown = html.unescape(shown)
            assert shown.endswith("…") and len(shown) <= report.MAX_CELL_CHARS
            assert html.unescape(title).startswith(shown[:-1])
        shown_text = re.sub(r' title="[^"]*"', "", page)  # what is on screen, not hover
        assert LONG not in shown_text and html.escape(hostile) not in shown_text
    assert report.cell_text("a <b>") == "a &lt;b&gt;" and report.cell_text(None) == ""
    # a long word that is not cut may still break anywhere; ordinary words stay whole
    assert report.cell_text("x" * 30) == f'<span class="okml-long">{"x" * 30}</span>'
    assert report.cell_text("four words, each short " * 3) == "four words, each short " * 3
    assert "okml-long" in report.cell_text("no\xa0break\xa0space" * 3)  # one word to a browser


def test_strip_scripts_leaves_no_script_element() -> None:
    from okml.report import strip_scripts

    page = (
        '<html><head><script src="https://cdn.example/require.js"></script>\n'
        '<script type="module">\n  const m = await import("https://cdn/mermaid.mjs");\n'
        '</script><SCRIPT type="text/x-mathjax-config">init()</SCRIPT >'
        "<style>.a { color: red; }</style></head>"
        '<body><p>&lt;script&gt;shown as text&lt;/script&gt;</p><img src="data:x">'
        "<script>unclosed</body></html>"
    )
    out = strip_scripts(page)
    assert not re.search(r"<script", out, re.I), out
    assert "import(" not in out and "init()" not in out
    assert "<style>.a { color: red; }</style>" in out and '<img src="data:x">' in out
    assert "<p>&lt;script&gt;shown as text&lt;/script&gt;</p>" in out


def test_chinese_report_pieces(built) -> None:
    from okml import report
    from okml.jobs import report as jobs_report

    rep = jobs_report.prepare(built["scored"], built["model"], DAY, n_cases=1, language="zh")
    head, case = report.header_html(rep), report.case_html(rep, 0)
    assert "待审核的可疑支付" in head and "标记原因" in case
    assert all(CJK.search(r.text) for r in rep.explained.reasons.iloc[0])
    assert "供数据科学家参考" in report.data_science_html(rep)
    # categories and channels by their Chinese names
    from okml.explain.vocab import display_value

    pay = rep.payments.iloc[-1]  # (the first has a hostile category)
    assert html.escape(display_value("merchant_category", pay["merchant_category"], "zh")) in case
    assert CJK.search(display_value("channel", pay["channel"], "zh"))


def test_figures_are_embedded_png(built) -> None:
    from okml import report
    from okml.explain.phrases import group_title
    from okml.jobs import report as jobs_report

    rep = jobs_report.prepare(built["scored"], built["model"], DAY, n_cases=1)
    fig = report.waterfall_figure(rep.explained, 0, rep.feature_params, "en", 5)
    labels = [t.get_text().replace("\n", " ") for t in fig.axes[0].get_yticklabels()]
    # bars are the groups the reasons are told by, whole names, largest at the top; at least
    # 5 of them, more while the rest would outweigh the smallest shown
    groups = report.waterfall_groups(rep.explained.by_group.iloc[0], 5)
    assert len(groups) >= 5 and labels[::-1][: len(groups)] == [group_title(g) for g in groups]
    assert labels[0].startswith("other factors (") and len(labels) == len(groups) + 1
    rest = rep.explained.by_group.iloc[0].drop(groups).sum()
    assert abs(rest) <= abs(rep.explained.by_group.iloc[0][groups[-1]]) or len(groups) == 16
    assert [r.group for r in rep.explained.reasons.iloc[0]] == [
        g for g in groups if g in {r.group for r in rep.explained.reasons.iloc[0]}
    ][: len(rep.explained.reasons.iloc[0])]
    tag = report.figure_html(fig, 'a "chart"')
    data = re.search(r'base64,([^"]+)"', tag).group(1)
    assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'alt="a &quot;chart&quot;"' in tag


def test_a_day_without_flags(built, tmp_path: Path) -> None:
    from okml import report
    from okml.jobs import report as jobs_report

    quiet = built["frame"].assign(flag=False)
    path = write_parquet(quiet, tmp_path / "quiet.parquet")
    rep = jobs_report.prepare(path, built["model"], DAY)
    assert rep.cases.empty
    assert "No payments were flagged on 2026-02-05" in report.cases_table_html(rep)


def test_bad_inputs(built, tmp_path: Path) -> None:
    from okml.jobs import report as jobs_report

    with pytest.raises(DataError, match="scored file not found"):
        jobs_report.prepare(tmp_path / "nope.parquet", built["model"])
    plain = write_parquet(built["frame"].drop(columns="score"), tmp_path / "plain.parquet")
    with pytest.raises(DataError, match="no column score"):
        jobs_report.prepare(plain, built["model"])
    nofeat = built["frame"][[c for c in built["frame"] if not c.startswith("feat_")]]
    with pytest.raises(DataError, match="no feature columns"):
        jobs_report.prepare(write_parquet(nofeat, tmp_path / "nofeat.parquet"), built["model"])
    with pytest.raises(DataError, match="no scored payments on 2026-03-01"):
        jobs_report.prepare(built["scored"], built["model"], "2026-03-01")
    with pytest.raises(OkmlError, match="cannot read date"):
        jobs_report.prepare(built["scored"], built["model"], "yesterday-ish")
    with pytest.raises(ValueError, match="unknown language"):
        jobs_report.prepare(built["scored"], built["model"], DAY, language="fr")
    with pytest.raises(OkmlError, match="no scored files"):
        jobs_report.default_scored(_params(tmp_path))


def test_reports_are_named_by_model_and_day_and_refuse_another_models_file(built, tmp_path: Path) -> None:
    from okml.jobs import report as jobs_report

    frame = built["frame"].copy()
    frame.attrs |= {"model_version": "okpay-fraud/3", "tracking_store": "deadbeef"}
    path = write_parquet(frame, tmp_path / "scored" / "by-v3.parquet")
    # flags and threshold are the scoring model's: another version must not explain them
    with pytest.raises(DataError, match=r"scored by models:/okpay-fraud/3, not by models:/okpay-fraud/4"):
        jobs_report.prepare(path, built["model"], DAY, model_version="okpay-fraud/4")
    assert len(jobs_report.prepare(path, built["model"], DAY, model_version="okpay-fraud/3").day)
    params = _params(tmp_path)
    with pytest.raises(OkmlError, match="another tracking store"):
        jobs_report.report_cli(params, scored=str(path))
    day = pd.Timestamp(DAY, tz="Asia/Shanghai")
    named = jobs_report.report_path(params, day, "models:/okpay-fraud/3", "okpay-fraud/3")
    assert named.name == "report-2026-02-05-okpay-fraud-v3.html"
    other = _params(tmp_path / "elsewhere")
    assert named.parent.name.startswith("store-")
    assert jobs_report.report_path(other, day, "models:/okpay-fraud/3", "okpay-fraud/3") != named
    assert (
        jobs_report.report_path(params, day, str(tmp_path / "model")).name == "report-2026-02-05-model.html"
    )
    assert jobs_report.model_label("runs:/0123456789abcdef/model") == "run-01234567"
    # a run's report: the last whole local day of the test window with a flag
    start, end = pd.Timestamp("2026-02-04", tz="UTC"), pd.Timestamp("2026-02-06", tz="UTC")
    assert jobs_report.report_day(built["frame"], "Asia/Shanghai", start, end) == day
    assert jobs_report.report_day(built["frame"], "UTC", start, end) == pd.Timestamp("2026-02-05", tz="UTC")


def test_the_report_says_when_the_file_covers_part_of_its_day(built, tmp_path: Path) -> None:
    from okml import report
    from okml.jobs import report as jobs_report

    frame = built["frame"]
    late = frame[frame["timestamp"] >= pd.Timestamp(DAY, tz="UTC")]  # from 08:00 local
    rep = jobs_report.prepare(write_parquet(late, tmp_path / "late.parquet"), built["model"], DAY)
    assert re.search(r"covers this day only from 08:\d\d to 23:\d\d\.", report.header_html(rep))
    assert "covers this day only" not in report.header_html(
        jobs_report.prepare(built["scored"], built["model"], DAY)
    )


def test_notebook_is_committed_clean_and_parameterized() -> None:
    import ast

    import nbformat

    from okml.report import NOTEBOOK

    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert code[0].metadata.get("tags") == ["parameters"]
    assigned = {t.id for node in ast.parse(code[0].source).body for t in node.targets}
    assert assigned == {
        "scored_path", "model_uri", "date", "n_cases", "language", "params_file", "overrides", "model_version"
    }  # fmt: skip
    assert nb.metadata.kernelspec.name == "okml"


# ----------------------------------------------------------------- the real report
@pytest.fixture(scope="module")
def report_run(built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``okml report`` once, on a model registered in a temporary MLflow store."""
    import mlflow

    from okml import tracking
    from okml.jobs.report import report_cli
    from okml.pyfunc import FraudModel

    tmp = tmp_path_factory.mktemp("report_run")
    params = _params(tmp, n_cases=3)
    tracking.configure(params.mlflow)
    with tracking.run(params.mlflow, "test") as active:
        info = mlflow.pyfunc.log_model(
            name="model", python_model=FraudModel(), artifacts=built["arts"], pip_requirements=["xgboost"]
        )
    version = tracking.register(info.model_uri, params.mlflow)
    tracking.set_alias(params.mlflow, tracking.CHAMPION, version)
    out = tmp / "report.html"
    assert report_cli(params, date=None, scored=str(built["scored"]), model=None, output=str(out)) == 0
    return {"html": out, "run_id": active.info.run_id, "params": params}


@pytest.mark.slow
def test_report_html_is_self_contained_without_code(report_run) -> None:
    import mlflow

    page = report_run["html"].read_text(encoding="utf-8")
    assert "Flagged payments for review: 2026-02-05" in page
    assert page.count('class="okml-case"') == 3
    assert "jobs_report.prepare(" not in page  # code cells are hidden
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page  # no warnings shown
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', page)
    assert not re.search(r"<script", page, re.I)  # the report runs no script at all
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    artifacts = mlflow.MlflowClient().list_artifacts(report_run["run_id"], "reports")
    assert [Path(a.path).name for a in artifacts] == ["report.html"]


def _chromium() -> tuple[str, str]:
    browser, driver = "/usr/bin/chromium", "/usr/bin/chromedriver"
    if not (os.path.exists(browser) and os.path.exists(driver)):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            try:
                subprocess.run(
                    ["apt-get", "install", "-y", "chromium", "chromium-driver"],
                    env=env,
                    timeout=600,
                    capture_output=True,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired):
                pass
        if not (os.path.exists(browser) and os.path.exists(driver)):
            pytest.skip("headless Chromium is not available (apt-get install chromium chromium-driver)")
    return browser, driver


@contextlib.contextmanager
def _browser(width: int = WIDTH, height: int = 900) -> Iterator[Any]:
    """Headless Chromium at a fixed window size (1 CSS px = 1 screenshot px), offline."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    profile = tempfile.mkdtemp(prefix="okml-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = browser
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _no_alert(driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        alert = driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        pytest.fail(f"the report ran a script: alert {text!r}")
    except NoAlertPresentException:
        pass


def _png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", data[16:20])[0]  # IHDR: width, then height


@pytest.mark.slow
def test_report_renders_in_a_browser(report_run) -> None:
    from selenium.webdriver.common.by import By

    with _browser() as driver:
        driver.get(report_run["html"].as_uri())
        _no_alert(driver)
        cases = driver.find_elements(By.CSS_SELECTOR, "section.okml-case")
        assert len(cases) == 3 and all(c.is_displayed() for c in cases)
        assert "Case 1: customer" in cases[0].text
        assert EVIL in cases[0].text  # shown as text
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "Flagged payments for review: 2026-02-05" in body
        assert "For data scientists" in body
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth])"
        )
        assert len(images) == 3 * 2 + 2  # two charts per case, two for data scientists
        assert all(done and width > 0 for done, width in images)
        # text reads from the left, numbers line up on the right (nbconvert's own table
        # style right-aligns every cell)
        align = driver.execute_script(
            "return Array.from(document.querySelectorAll('.okml-report td, .okml-report th'))"
            ".map(c => [c.classList.contains('num'), getComputedStyle(c).textAlign])"
        )
        assert align and all(a == ("right" if num else "left") for num, a in align), set(map(tuple, align))


# Cells of the row that holds the long merchant name (cases table: by column heading; the
# case's own table: by row heading), each scrolled into view and measured.
_CELLS_JS = """
const [long, labels] = arguments;
const holds = td => td.textContent.includes(long) ||
  Array.from(td.querySelectorAll('[title]')).some(e => e.title === long);
const measure = (where, label, td) => {
  if (!td) return [where, label, null, '', false];
  td.scrollIntoView({block: 'center', inline: 'nearest'});
  const r = td.getBoundingClientRect();
  const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  return [where, label, [r.left, r.top, r.right, r.bottom], td.innerText.trim(),
          !!hit && td.contains(hit)];
};
const out = [];
const cases = document.querySelector('table thead').closest('table');  // the only thead
const heads = Array.from(cases.querySelectorAll('thead th')).map(th => th.innerText.trim());
const row = Array.from(cases.querySelectorAll('tbody tr'))
  .find(tr => Array.from(tr.cells).some(holds));
for (const label of labels.cases) {
  out.push(measure('cases table', label, row ? row.cells[heads.indexOf(label)] : null));
}
const facts = Array.from(document.querySelectorAll('section.okml-case table'))
  .find(t => Array.from(t.querySelectorAll('td')).some(holds));
for (const label of labels.facts) {
  const tr = facts ? Array.from(facts.rows).find(r => r.cells[0].innerText.trim() === label)
    : null;
  out.push(measure('case table', label, tr ? tr.cells[1] : null));
}
window.scrollTo(0, 0);
return out;
"""


@pytest.mark.slow
def test_long_merchant_name_keeps_every_table_on_screen(report_run, tmp_path: Path) -> None:
    """A 10,000-character merchant name must not widen its column off-screen (it wraps or
    is cut, the whole name on hover) in any table of the report."""
    with _browser() as driver:
        driver.get(report_run["html"].as_uri())
        _no_alert(driver)
        inner, scroll = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]"
        )
        assert inner == WIDTH
        assert scroll <= inner, f"the page is {scroll} px wide in a {inner} px window"
        tables = driver.execute_script(
            "return Array.from(document.querySelectorAll('table'))"
            ".map(t => { const r = t.getBoundingClientRect(); return [r.left, r.right]; })"
        )
        assert len(tables) == 1 + 3 * 2  # the cases table, and per case its facts and payments
        assert all(0 <= left and right <= inner for left, right in tables), tables
        labels = {
            "cases": ["time", "customer", "flagged payments", "score"],
            "facts": ["customer", "score", "first to last flag", "merchants"],
        }
        cells = driver.execute_script(_CELLS_JS, LONG, labels)
        assert len(cells) == 8
        height = driver.execute_script("return window.innerHeight")
        for where, label, rect, text, hit in cells:
            assert rect is not None, f"{where}: no {label} cell in the long name's row"
            left, top, right, bottom = rect
            assert 0 <= left < right <= inner and 0 <= top < bottom <= height, (where, label, rect)
            assert text and hit, f"{where}: the {label} cell is not visible ({text!r})"
        shot = tmp_path / "report.png"
        assert driver.save_screenshot(str(shot))
        assert _png_width(shot.read_bytes()) == inner
        # the whole width of the content (beyond the viewport): the window's, not wider
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        full = driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": min(size["height"], 2000),
                    "scale": 1,
                },
            },
        )
        assert _png_width(base64.b64decode(full["data"])) == inner


@pytest.mark.slow
def test_the_chinese_report_is_chinese_on_a_machine_without_a_chinese_font(built, tmp_path: Path) -> None:
    """The exported zh report carries okml's font cut to its characters: the browser draws
    every heading with it (not as boxes), and the charts are drawn in Chinese without a
    missing glyph."""
    import warnings

    from selenium.webdriver.common.by import By
    from test_fonts import _FONTS_JS, _used_fonts

    from okml.explain.fonts import FONT_FAMILY
    from okml.jobs.report import write_report

    params = _params(tmp_path, n_cases=2, language="zh")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing")
        out = write_report(params, built["scored"], built["model"], DAY, tmp_path / "zh.html", language="zh")
    page = out.read_text(encoding="utf-8")
    assert "@font-face" in page and f'font-family:"{FONT_FAMILY}"' in page
    assert '<html lang="zh-Hans">' in page
    assert len(page) < 3_000_000  # a subset, not the 2 MB font base64'd whole (with the charts)
    with _browser() as driver:
        driver.set_script_timeout(30)
        driver.get(out.as_uri())
        title = "待审核的可疑支付"
        state = driver.execute_async_script(_FONTS_JS, title)
        assert [FONT_FAMILY, "loaded"] in state["faces"] and state["check"] is True
        used = _used_fonts(driver, "h1")
        assert used and all(f["familyName"] == FONT_FAMILY for f in used), used
        assert title in driver.find_element(By.TAG_NAME, "h1").text
        images = driver.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
        assert len(images) == 2 * 2 + 2 and all(w > 0 for w in images)
        assert driver.save_screenshot(str(tmp_path / "zh.png"))
