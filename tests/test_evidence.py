"""The evidence pack end to end: built from a reviewed case, opened in headless Chromium,
verified, tampered with by one byte, and caught naming the file."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from test_compensation import _decide, _tx

from okml.cli import main
from okml.review import ReviewStore

HOSTILE = '<img src=x onerror="window.pwned = 1">'


def _project(tmp_path: Path) -> list[str]:
    tx = _tx()
    tx["device_id"] = ["D1", "D1", "D2", "D3", "D9", "D9", "D9", "D4", "D5"]
    tx.loc[tx["transaction_id"] == 3, "merchant_id"] = HOSTILE  # a merchant name from data
    data = tmp_path / "tx.parquet"
    tx.to_parquet(data, index=False)
    store = ReviewStore(tmp_path / "review" / "review.db")
    store.add_reviewer("ana")
    _decide(store, "C1", "2026-03-01", [1], "more_info")
    _decide(store, "C1", "2026-03-01", [1], "fraud")
    _decide(store, "C3", "2026-03-01", [5], "fraud")
    store.close()
    scored = tx.loc[tx["transaction_id"].isin([1, 3, 5])].assign(
        score=[0.97, 0.2, 0.91], flag=[True, False, True], reason_1=["9 payments in the last hour", None, "x"]
    )
    scored.attrs["model_version"] = "okpay-fraud/4"
    (tmp_path / "scored").mkdir()
    scored.to_parquet(tmp_path / "scored" / "day.parquet", index=False)
    return ["--set", f"data.path={data}", "--set", f"data.review_db={tmp_path / 'review' / 'review.db'}",
            "--set", f"data.labels_dir={tmp_path / 'labels'}",
            "--set", f"explain.scored_dir={tmp_path / 'scored'}"]  # fmt: skip


def _rewrite(pack: Path, name: str, change) -> None:
    """The pack with one member changed (as someone editing it by hand would)."""
    with zipfile.ZipFile(pack) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[name] = change(members[name])
    with zipfile.ZipFile(pack, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)


@pytest.mark.slow
def test_an_evidence_pack_is_built_opens_offline_verifies_and_catches_one_changed_byte(
    tmp_path, capsys
) -> None:
    from selenium.webdriver.common.by import By
    from test_report import _browser, _no_alert

    sets = _project(tmp_path)
    pack = tmp_path / "case.zip"
    assert main(["evidence", "--case", "2026-03-01/C1", "--output", str(pack), *sets]) == 0
    out = capsys.readouterr().out
    assert "evidence pack of case 2026-03-01/C1" in out and "manifest sha256" in out
    with zipfile.ZipFile(pack) as z:
        assert sorted(z.namelist()) == sorted([
            "summary.html", "payments.csv", "alerts.csv", "decisions.csv", "victims.csv", "links.png",
            "timeline.png", "provenance.json", "manifest.json",
        ])  # fmt: skip
        manifest = json.loads(z.read("manifest.json"))
        assert manifest["files"]["payments.csv"] == hashlib.sha256(z.read("payments.csv")).hexdigest()
        payments = pd.read_csv(z.open("payments.csv"))
        alerts = pd.read_csv(z.open("alerts.csv"))
        decisions = pd.read_csv(z.open("decisions.csv"))
        victims = pd.read_csv(z.open("victims.csv"))
        provenance = json.loads(z.read("provenance.json"))
        z.extract("summary.html", tmp_path / "opened")
    # the customer's payments of the look-back, the alerts as raised, every decision, the victim
    assert payments["transaction_id"].tolist() == [1, 3]
    assert alerts.loc[alerts["transaction_id"] == 1, "model_version"].item() == "okpay-fraud/4"
    assert alerts.loc[alerts["transaction_id"] == 1, "score"].item() == 0.97
    assert decisions["decision"].tolist() == ["more_info", "fraud"] and set(decisions["reviewer"]) == {"ana"}
    assert victims[["payee", "transaction_id", "amount"]].values.tolist() == [["C1", 1, 100.0]]
    assert (
        len(provenance["data.sha256"]) == 64 and provenance["made_by"] == "okml evidence --case 2026-03-01/C1"
    )
    page = (tmp_path / "opened" / "summary.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and HOSTILE not in page and "&lt;img src=x" in page
    with _browser() as driver:
        driver.get((tmp_path / "opened" / "summary.html").as_uri())
        _no_alert(driver)
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "Evidence pack: case 2026-03-01/C1" in body and "证据包：案例 2026-03-01/C1" in body
        assert HOSTILE in body  # shown as text, run as nothing
        assert driver.execute_script("return window.pwned === undefined")
        widths = driver.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
        assert len(widths) == 2 and all(w > 0 for w in widths)
    # verified; then one byte of the payments changed: caught, naming the file
    assert main(["evidence", "verify", str(pack), *sets]) == 0
    assert "all 8 files match the manifest and the manifest is the one recorded" in capsys.readouterr().out
    _rewrite(pack, "payments.csv", lambda b: b.replace(b"100.0", b"900.0", 1))
    assert main(["evidence", "verify", str(pack), *sets]) == 1
    out = capsys.readouterr().out
    assert "payments.csv: changed" in out and "summary.html" not in out

    # the manifest rewritten to match: its own hash is not the one recorded
    def reseal(raw: bytes) -> bytes:
        m = json.loads(raw)
        with zipfile.ZipFile(pack) as z:
            m["files"]["payments.csv"] = hashlib.sha256(z.read("payments.csv")).hexdigest()
        return json.dumps(m).encode()

    _rewrite(pack, "manifest.json", reseal)
    assert main(["evidence", "verify", str(pack), *sets]) == 1
    assert "manifest.json: its sha256" in capsys.readouterr().out


def test_a_merchant_pack_names_its_skimmed_victims_and_bad_requests_get_one_line(tmp_path, capsys) -> None:
    sets = _project(tmp_path)
    pack = tmp_path / "m9.zip"
    assert main(["evidence", "--merchant", "M9", "--output", str(pack), *sets]) == 0
    with zipfile.ZipFile(pack) as z:
        victims = pd.read_csv(z.open("victims.csv"))
        payments = pd.read_csv(z.open("payments.csv"))
    assert set(payments["transaction_id"]) == {5, 6, 7, 8}
    assert victims["payee"].tolist() == ["C3", "C4"] and victims["amount"].sum() == 70.0
    capsys.readouterr()
    for argv, message in [
        (["--case", "2026-03-01/C1", "--merchant", "M9"], "exactly one of"),
        (["--case", "2026-03-09/C7"], "no decision on this case"),
        (["--merchant", "M404"], "no payment to this merchant"),
        (["verify"], "give the pack to check"),
        (["verify", str(tmp_path / "none.zip")], "not an evidence pack"),
    ]:
        assert main(["evidence", *argv, *sets]) != 0
        assert message in capsys.readouterr().err
