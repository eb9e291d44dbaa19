"""The review queue: decisions stored append-only, tokens only as hashes, decisions back as
labels, and the web page worked as a reviewer would (headless Chromium)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_cases import _scored
from test_labels import _tx

from okml.cases import build_cases
from okml.config import DataParams, FeatureParams
from okml.data import load
from okml.review import ReviewStore

HOSTILE = "<script>window.pwned = 1</script>"


def test_decisions_are_appended_never_overwritten_and_tokens_kept_as_hashes(tmp_path) -> None:
    store = ReviewStore(tmp_path / "review.db")
    assert store.version == 1
    token = store.add_reviewer("ana")
    assert store.reviewer(token) == "ana" and store.reviewer("guess") is None and store.reviewer("") is None
    case = build_cases(_scored(), "UTC")[0]
    store.decide(case, "legitimate", "looks fine", "ana", "okpay-fraud/3")
    store.decide(case, "fraud", "the customer called", "ana", "okpay-fraud/3")
    history = store.history(case.case_id)
    assert [h["decision"] for h in history] == ["legitimate", "fraud"]
    assert history[0]["score"] == case.score and history[0]["model_version"] == "okpay-fraud/3"
    with pytest.raises(sqlite3.DatabaseError, match="never overwritten"):
        store.db.execute("UPDATE decisions SET decision = 'legitimate'")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        store.db.execute("DELETE FROM decisions")
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("review.db*"))
    assert token.encode() not in raw
    again = ReviewStore(tmp_path / "review.db")  # reopened: migrated once, history kept
    assert again.version == 1 and len(again.history(case.case_id)) == 2


def test_the_latest_decision_becomes_a_label_of_source_review(tmp_path) -> None:
    tx = _tx().assign(label_time=lambda d: pd.to_datetime(d["label_time"], utc=True))
    data = tmp_path / "tx.parquet"
    tx.to_parquet(data, index=False)
    scored = tx.assign(score=[0.1, 0.2, 0.3, 0.9, 0.1, 0.1], flag=[False, False, False, True, False, False])
    case = build_cases(scored, "UTC")[0]  # C4's payment 4
    store = ReviewStore(tmp_path / "review.db")
    store.add_reviewer("ana")
    store.decide(case, "more_info", "asked the merchant", "ana")
    dp = DataParams(review_db=str(tmp_path / "review.db"), labels_dir=None)
    assert load(data, params=dp)["is_fraud"].tolist() == tx["is_fraud"].tolist()  # says nothing
    store.decide(case, "fraud", "confirmed", "ana")
    merged = load(data, params=dp).set_index("transaction_id")
    assert merged.loc[4, "is_fraud"] == 1 and merged.loc[4, "label_source"] == "review"
    assert merged.loc[4, "label_time"] == pd.Timestamp(store.history(case.case_id)[-1]["time"])
    from okml.features import build_features

    feats = build_features(merged.reset_index(), FeatureParams())
    # decided today, after every payment here: none of them may see it (time is sacred)
    assert feats["cust_known_frauds"].tolist()[3:] == [0, 0, 0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.slow
def test_a_reviewer_signs_in_decides_a_case_and_nothing_hostile_runs(tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from test_report import _browser, _no_alert

    scored = _scored()
    scored["merchant_id"] = scored["merchant_id"].where(scored["customer_id"] != "C1", HOSTILE)
    path = tmp_path / "scored.parquet"
    scored.to_parquet(path, index=False)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"review_db": str(tmp_path / "review.db")},
                                      "features": {"timezone": "Asia/Shanghai"}}))  # fmt: skip
    okml = str(Path(sys.executable).parent / "okml")
    out = subprocess.run([okml, "review", "add-reviewer", "ana", "--params", str(params)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    token = out.strip().splitlines()[-1]
    port = _free_port()
    proc = subprocess.Popen(
        [okml, "review", "--scored", str(path), "--port", str(port), "--params", str(params)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                urllib.request.urlopen(f"{base}/login", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "okml review did not start"
                time.sleep(0.2)
        with _browser() as driver:
            from selenium.webdriver.support.ui import WebDriverWait

            def wait(ready) -> None:  # a click that navigates: the next page, loaded
                WebDriverWait(driver, 30, ignored_exceptions=(Exception,)).until(ready)

            driver.get(base + "/")
            assert driver.current_url.endswith("/login")
            driver.find_element(By.ID, "token").send_keys(token)
            driver.find_element(By.ID, "sign-in").click()
            wait(lambda d: d.find_elements(By.ID, "queue"))
            assert "2026-03-02" in driver.find_element(By.TAG_NAME, "h1").text  # the last day first
            driver.get(base + "/?day=2026-03-01")
            rows = driver.find_elements(By.CSS_SELECTOR, "#queue tr.open")
            assert len(rows) == 2  # 03-01 in Shanghai: C2 and C1
            assert HOSTILE in driver.find_element(By.ID, "queue").text  # shown as text
            driver.find_element(By.LINK_TEXT, "C1").click()
            wait(lambda d: d.find_elements(By.ID, "record"))
            driver.find_element(By.ID, "decision-fraud").click()
            driver.find_element(By.ID, "note").send_keys('<img src=x onerror="window.pwned = 2">')
            driver.find_element(By.ID, "record").click()
            wait(lambda d: "fraud confirmed" in d.find_element(By.ID, "history").text)
            driver.refresh()
            history = driver.find_element(By.ID, "history").text
            assert "fraud confirmed" in history and "onerror" in history
            # a confirmed case lists what to pay back to its victim (okml.compensation)
            pay = driver.find_element(By.ID, "pay-back").text
            assert "own confirmed fraud" in pay and "C1" in pay
            _no_alert(driver)
            assert driver.execute_script("return window.pwned === undefined")
            driver.get(base + "/?day=2026-03-01")
            assert len(driver.find_elements(By.CSS_SELECTOR, "#queue tr.open")) == 1
            cookie = driver.get_cookie("okml_review")["value"]
        # the database has it; a form without the CSRF token is refused; scripts use the token
        store = ReviewStore(tmp_path / "review.db")
        (row,) = store.history("2026-03-01/C1")
        assert (row["decision"], row["reviewer"], row["score"]) == ("fraud", "ana", 0.8)
        forged = _post(f"{base}/case/2026-03-01%2FC1/decide", b"decision=legitimate&note=x",
                       {"Cookie": f"okml_review={cookie}",
                        "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert forged == 403
        api = f"{base}/api/decisions"
        body = b'{"case_id": "2026-03-01/C2", "decision": "legitimate", "note": "script"}'
        assert _post(api, body, {"Authorization": "Bearer wrong"}) == 401
        assert _post(api, body, {"Authorization": f"Bearer {token}"}) == 201
        assert [h["decision"] for h in store.history("2026-03-01/C2")] == ["legitimate"]
        assert len(store.history("2026-03-01/C1")) == 1
    finally:
        proc.terminate()
        log = proc.communicate(timeout=30)[0]
    assert token not in log
