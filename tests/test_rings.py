"""``okml rings`` and the ring evidence pack: the groups active on a local day (exact, on a
hand-made frame), the command on a simulated world with two fake-order rings, and a ring's
pack built, verified and caught when one byte of its members changes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from test_evidence import _rewrite
from test_graph import at, frame

from okml.cases import build_cases, day_ring_cases
from okml.cli import main
from okml.config import FeatureParams, SimulateParams
from okml.errors import OkmlError
from okml.rings import active_rings, local_day_bounds, parse_ring_id, ring_id
from okml.simulate import simulate

# the reviewers' day: Asia/Shanghai is UTC+8, so local 2026-03-02 is 03-01 16:00 .. 03-02 16:00 UTC
P = FeatureParams(timezone="Asia/Shanghai")


def _four_on_one_phone() -> pd.DataFrame:
    """c1..c4 share phone d1 (c1 on 03-01, local; the rest on 03-02), c5 pays alone; c1's
    first payment is a fraud known at 03-02 16:30 UTC, after the local day ended."""
    rows = [
        {"timestamp": at("10:00", -1), "customer_id": "c1", "device_id": "d1", "amount": 5.0, "is_fraud": 1,
         "label_time": at("16:30")},
        {"timestamp": at("09:00"), "customer_id": "c2", "device_id": "d1", "amount": 7.0, "is_fraud": 1,
         "label_time": at("09:30")},
        {"timestamp": at("09:10"), "customer_id": "c3", "device_id": "d1", "amount": 11.0},
        {"timestamp": at("09:20"), "customer_id": "c4", "device_id": "d1", "amount": 13.0},
        {"timestamp": at("09:30"), "customer_id": "c5", "device_id": "d9", "amount": 99.0},
        # after the local day's end (16:00 UTC): not in its graph
        {"timestamp": at("17:00"), "customer_id": "c6", "device_id": "d1", "amount": 1.0},
    ]  # fmt: skip
    return frame(rows)


def test_the_rings_of_a_local_day_with_their_payments_of_the_day_and_what_was_known() -> None:
    tx = _four_on_one_phone()
    start, end = local_day_bounds("2026-03-02", "Asia/Shanghai")
    assert (start, end) == (at("16:00", -1), at("16:00"))
    rings = active_rings(tx, P, "2026-03-02", flagged=pd.Series(["c3", "c5"]))
    assert len(rings) == 1
    r = rings.iloc[0]
    assert r["ring_id"] == "2026-03-02/G1" and r["day"] == "2026-03-02"
    assert r["members"] == ("c1", "c2", "c3", "c4") and r["devices"] == ("d1",)
    # c1 paid on the 1st (local day 03-01 18:00): in the graph, not among the day's payments
    assert (r["payments"], r["amount"]) == (4, 36.0)
    assert (r["payments_day"], r["amount_day"]) == (3, 31.0)
    # c2's fraud was known at 09:30, c1's only after the day ended
    assert (r["known_frauds"], r["confirmed_share"]) == (1, 0.25)
    assert r["flagged_customers"] == 1
    # the day before: c1 alone, no group; a day with no payment of the group: not listed
    assert active_rings(tx, P, "2026-03-01").empty
    assert active_rings(tx.iloc[:4].assign(timestamp=tx["timestamp"].iloc[:4] - pd.Timedelta(days=2)),
                        P, "2026-03-02").empty  # fmt: skip


def test_ring_ids_round_trip_and_bad_ones_get_one_line() -> None:
    assert parse_ring_id(ring_id("2026-05-16", 3)) == ("2026-05-16", 3)
    for bad in ["2026-05-16", "2026-05-16/G0", "G1", "2026-5-16/G1"]:
        with pytest.raises(OkmlError, match="expected DAY/Gn"):
            parse_ring_id(bad)


# ------------------------------------------------------------------ the command, a world
@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[pd.DataFrame, list[str]]:
    small = SimulateParams(n_customers=400, n_merchants=80, n_days=30, seed=3, fake_orders={"rings": 2})
    tx = simulate(small)
    root = tmp_path_factory.mktemp("rings")
    data = root / "tx.parquet"
    tx.to_parquet(data, index=False)
    sets = ["--set", f"data.path={data}", "--set", f"data.review_db={root / 'review' / 'review.db'}",
            "--set", f"data.labels_dir={root / 'labels'}",
            "--set", f"explain.scored_dir={root / 'scored'}"]  # fmt: skip
    return tx, sets


def _ring_day(tx: pd.DataFrame) -> tuple[set, str]:
    """The accounts of the simulator's first ring and the local day of its last payment."""
    ring = tx.loc[tx["actor_id"].astype("string").str.startswith("ring-").fillna(False)]
    first = ring.loc[ring["actor_id"] == sorted(ring["actor_id"].unique())[0]]
    day = first["timestamp"].max().tz_convert("Asia/Shanghai").strftime("%Y-%m-%d")
    return set(first["customer_id"]), day


def test_okml_rings_lists_the_ring_whole_and_writes_csv(world, tmp_path, capsys) -> None:
    tx, sets = world
    accounts, day = _ring_day(tx)
    out = tmp_path / "rings.csv"
    assert main(["rings", "--date", day, "--output", str(out), *sets]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out)
    mine = table.loc[table["members"].map(lambda m: bool(accounts & set(m.split(";"))))]
    assert len(mine) == 1 and set(mine["members"].iloc[0].split(";")) == accounts
    assert mine["ring_id"].iloc[0] in printed and "no scored file" in printed
    assert (table["payments_day"] > 0).all() and (table["size"] >= 4).all()
    # with a scored file of the day: how many members the model flagged
    start, end = local_day_bounds(day, "Asia/Shanghai")
    scored = tx.loc[(tx["timestamp"] >= start) & (tx["timestamp"] < end)]
    scored = scored.assign(score=0.5, flag=scored["customer_id"].isin(list(accounts)[:3]))
    scored.to_parquet(tmp_path / "day.parquet", index=False)
    assert main(["rings", "--date", day, "--scored", str(tmp_path / "day.parquet"), *sets]) == 0
    assert f"{len(accounts)} accounts" in (printed := capsys.readouterr().out) and "flagged 3" in printed
    for argv, message in [
        (["--date", "someday"], "expected a local day"),
        (["--date", "2030-01-01"], "outside the data"),
        (["--date", day, "--scored", str(tmp_path / "none.parquet")], "none.parquet"),
    ]:
        assert main(["rings", *argv, *sets]) != 0
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_a_ring_pack_holds_its_members_verifies_and_names_a_changed_member_file(
    world, tmp_path, capsys
) -> None:
    tx, sets = world
    accounts, day = _ring_day(tx)
    rings = active_rings(tx, P, day)
    rid = rings.loc[rings["members"].map(lambda m: set(m) == accounts), "ring_id"].iloc[0]
    pack = tmp_path / "ring.zip"
    assert main(["evidence", "--ring", rid, "--output", str(pack), *sets]) == 0
    assert f"evidence pack of ring {rid}" in capsys.readouterr().out
    with zipfile.ZipFile(pack) as z:
        members = pd.read_csv(z.open("members.csv"))
        payments = pd.read_csv(z.open("payments.csv"))
        manifest = json.loads(z.read("manifest.json"))
        summary = z.read("summary.html").decode()
    assert set(members["customer_id"]) == accounts and (members["ring"] == rid).all()
    assert set(payments["customer_id"]) == accounts
    assert members["payments"].sum() == len(payments)
    assert members["confirmed_frauds"].sum() == int((payments["is_fraud"] == 1).sum())
    assert "members.csv" in manifest["files"] and manifest["kind"] == "ring"
    assert "Members of the ring" in summary and "团伙成员" in summary and "<script" not in summary
    assert main(["evidence", "verify", str(pack), *sets]) == 0
    capsys.readouterr()
    _rewrite(pack, "members.csv", lambda b: b.replace(b",", b";", 1))
    assert main(["evidence", "verify", str(pack), *sets]) == 1
    assert "members.csv" in capsys.readouterr().out
    n = len(rings) + 1
    assert main(["evidence", "--ring", f"{day}/G{n}", *sets]) == 2
    assert f"lists {len(rings)} ring(s) on {day}" in capsys.readouterr().err


# ------------------------------------------------------------------- the review queue
def _ring_scored() -> pd.DataFrame:
    """A local day (Asia/Shanghai 2026-03-02) of c1..c4 on phone d1 (c1..c3 flagged) and c5
    alone (flagged): one ring case with three members' cases, and c5's case outside it."""
    tx = _four_on_one_phone().iloc[:5].drop(columns=["is_fraud", "label_time"], errors="ignore")
    tx = tx.assign(timestamp=tx["timestamp"].where(tx["customer_id"] != "c1", at("09:05")))
    return tx.assign(score=[0.9, 0.8, 0.7, 0.1, 0.95], flag=[True, True, True, False, True]).reset_index(
        drop=True
    )


def test_a_ring_is_one_case_in_the_queue_and_one_decision_labels_every_member(tmp_path) -> None:
    import http.cookiejar
    import re
    import sys
    import urllib.error
    import urllib.parse
    import urllib.request

    import yaml
    from test_review import _serve

    from okml.review import ReviewStore

    scored = _ring_scored()
    path = tmp_path / "scored.parquet"
    scored.to_parquet(path, index=False)
    cases = [c for c in build_cases(scored, "Asia/Shanghai") if c.day == "2026-03-02"]
    (ring,) = day_ring_cases(scored, P, cases, "2026-03-02")
    assert ring.ring_id == "2026-03-02/G1" and ring.members == ("c1", "c2", "c3", "c4")
    assert [c.customer_id for c in ring.cases] == ["c1", "c2", "c3"]
    assert (ring.n_flagged, ring.flagged_amount, ring.score) == (3, 23.0, 0.9)

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"review_db": str(tmp_path / "review.db"),
                                               "path": str(tmp_path / "none.parquet")},
                                      "features": {"timezone": "Asia/Shanghai"}}))  # fmt: skip
    store = ReviewStore(tmp_path / "review.db")
    token = store.add_reviewer("ana")
    store.close()
    okml = str(Path(sys.executable).parent / "okml")
    proc, base = _serve(okml, path, params)
    try:
        jar = http.cookiejar.CookieJar()
        web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = web.open(base + "/login").read().decode()
        csrf = re.search(r"name='csrf' value='([^']+)'", login).group(1)
        web.open(base + "/login", urllib.parse.urlencode({"csrf": csrf, "token": token}).encode())
        queue = web.open(base + "/?day=2026-03-02").read().decode()
        assert "id='rings'" in queue and "/ring/2026-03-02%2FG1" in queue
        assert "the scored file&#x27;s payments only" in queue  # says where the rings come from
        page = web.open(base + "/ring/2026-03-02%2FG1").read().decode()
        assert page.count("class='case'") == 3 and "c4" in page  # c4: a member without a case
        form = re.search(r"name='csrf' value='([^']+)'", page).group(1)
        body = urllib.parse.urlencode({"csrf": form, "decision": "fraud", "note": "one ring"}).encode()
        after = web.open(base + "/ring/2026-03-02%2FG1/decide", body).read().decode()
        members = after.split("id='members'")[1].split("</table>")[0]
        assert members.count("fraud confirmed") == 3
        forged = urllib.parse.urlencode({"decision": "legitimate"}).encode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            web.open(base + "/ring/2026-03-02%2FG1/decide", forged)
        assert refused.value.code == 403
        with pytest.raises(urllib.error.HTTPError) as missing:
            web.open(base + "/ring/2026-03-02%2FG9")
        assert missing.value.code == 404
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    store = ReviewStore(tmp_path / "review.db")
    for c in ("c1", "c2", "c3"):
        (row,) = store.history(f"2026-03-02/{c}")
        assert (row["decision"], row["note"]) == ("fraud", "ring 2026-03-02/G1: one ring")
    assert store.history("2026-03-02/c5") == []
    store.close()


def test_the_report_lists_the_days_rings_with_members_linked_to_their_cases() -> None:
    from types import SimpleNamespace

    from okml.report import rings_html

    hostile = '<img src=x onerror="alert(1)">'
    scored = _ring_scored()
    scored["customer_id"] = scored["customer_id"].replace({"c4": hostile})
    cases = [c for c in build_cases(scored, "Asia/Shanghai") if c.day == "2026-03-02"]
    rings = day_ring_cases(scored, P, cases, "2026-03-02")
    shown = cases[:2]  # c5 and c1 shown below; c2 and c3 have cases not shown
    assert [c.customer_id for c in shown] == ["c5", "c1"]
    for lang, title, source in [("en", "Rings of linked accounts", "the payments of data/tx.parquet"),
                                ("zh", "关联账户团伙", "data/tx.parquet中的支付")]:  # fmt: skip
        rep = SimpleNamespace(rings=rings, case_list=shown, language=lang, ring_source="data/tx.parquet")
        page = rings_html(rep)
        assert title in page and source in page and "2026-03-02/G1" in page
        assert '<a href="#case-2">c1</a>' in page and "<b>c2</b>" in page and "<b>c3</b>" in page
        assert hostile not in page and "&lt;img" in page
    rep = SimpleNamespace(rings=[], case_list=shown, language="en", ring_source="")
    assert rings_html(rep) == ""
