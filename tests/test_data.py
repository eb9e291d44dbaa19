"""Loaders for data users already have: each preset on a tiny fixture with values worked out
by hand, the errors users meet, and ``okml validate`` end to end."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from okml.cli import main
from okml.config import CustomPreset, DataParams, HandbookPreset, PaysimPreset
from okml.data import format_validation_summary, load, print_validation_summary
from okml.errors import ConfigError, DataError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
UTC = pd.DatetimeTZDtype("ns", "UTC")


def utc(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601")).astype(UTC)


def strings(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def copy_fixture(name: str, tmp_path: Path) -> Path:
    src = FIXTURES / name
    dst = tmp_path / name
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return dst


# ------------------------------------------------------------------------- canonical
CANONICAL_EXPECTED = pd.DataFrame(
    {
        # the CSV holds t3, t1, t2, t4; loading sorts by time
        "transaction_id": strings("t1", "t2", "t3", "t4"),
        # t2 was 07:30-05:00 and t3 08:00+08:00 in the file
        "timestamp": utc(
            "2026-01-01T10:00:00Z", "2026-01-01T12:30:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"
        ),
        "customer_id": strings("c1", "c2", "c1", "c2"),
        "merchant_id": strings("m1", "m1", "m2", "m3"),
        "amount": [12.5, 99.99, 20.0, 5.0],
        "merchant_category": strings("food", "grocery", "food", "travel"),
        "channel": strings("app", "web", "app", "pos"),
        "is_fraud": pd.array([0, 0, 1, 1], dtype="int8"),
        "fraud_type": strings(None, None, "account_takeover", "fake_order"),
        "label_time": utc(None, None, "2026-01-05T00:00:00Z", None),
        "reported_by_user": [False, False, True, False],
        "report_time": utc(None, None, "2026-01-02T12:00:00Z", None),
    }
)


@pytest.mark.parametrize("name", ["canonical.csv", "canonical.parquet"])
def test_canonical_file(name: str) -> None:
    out = load(FIXTURES / name)  # preset=None -> params.preset, default canonical
    pd.testing.assert_frame_equal(out, CANONICAL_EXPECTED)


def test_canonical_folder_is_concatenated(tmp_path: Path) -> None:
    raw = pd.read_csv(FIXTURES / "canonical.csv")
    folder = tmp_path / "tx"
    folder.mkdir()
    raw.iloc[2:].to_csv(folder / "b.csv", index=False)
    raw.iloc[:2].to_csv(folder / "a.csv", index=False)
    (folder / ".a.csv.tmp").write_text("half-written by another process")
    out = load(folder, preset="canonical")
    pd.testing.assert_frame_equal(out, CANONICAL_EXPECTED)


def test_relative_path_resolves_from_project_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    out = load("tests/fixtures/canonical.csv")
    assert list(out["transaction_id"]) == ["t1", "t2", "t3", "t4"]


def test_load_does_not_touch_files(tmp_path: Path) -> None:
    path = copy_fixture("canonical.csv", tmp_path)
    before = path.read_bytes()
    load(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canonical.csv"]


# -------------------------------------------------------------------------- handbook
HANDBOOK_EXPECTED = pd.DataFrame(
    {
        "transaction_id": np.array([0, 1, 2, 3, 4], dtype="int64"),
        "timestamp": utc(
            "2018-04-01T00:00:31Z",
            "2018-04-01T00:02:10Z",
            "2018-04-01T09:12:00Z",
            "2018-04-02T00:01:00Z",
            "2018-04-02T10:00:00Z",
        ),
        "customer_id": np.array([596, 4961, 2, 596, 2], dtype="int64"),
        "merchant_id": np.array([3156, 3412, 1365, 3156, 1365], dtype="int64"),
        "amount": [57.16, 81.51, 250.00, 12.50, 30.00],
        "is_fraud": pd.array([0, 0, 1, 1, 1], dtype="int8"),
        "fraud_type": strings(
            None, None, "handbook_scenario_1", "handbook_scenario_2", "handbook_scenario_3"
        ),
        # no label times in the Handbook: timestamp + 7 days for every row, legit ones included
        "label_time": utc(
            "2018-04-08T00:00:31Z",
            "2018-04-08T00:02:10Z",
            "2018-04-08T09:12:00Z",
            "2018-04-09T00:01:00Z",
            "2018-04-09T10:00:00Z",
        ),
        "TX_TIME_SECONDS": np.array([31, 130, 33120, 86460, 122400], dtype="int64"),
        "TX_TIME_DAYS": np.array([0, 0, 0, 1, 1], dtype="int64"),
    }
)


def test_handbook_fixture_has_object_dtypes() -> None:
    # what makes the fixture realistic: the loader must cast these
    day = pd.read_pickle(FIXTURES / "handbook" / "2018-04-01.pkl")
    assert day["CUSTOMER_ID"].dtype == object
    assert day["TX_AMOUNT"].dtype == object
    assert str(day["TX_DATETIME"].dtype) == "datetime64[ns]"


def test_handbook_folder_of_daily_pickles() -> None:
    out = load(FIXTURES / "handbook", preset="handbook")
    pd.testing.assert_frame_equal(out, HANDBOOK_EXPECTED)


def test_handbook_single_file_and_label_delay() -> None:
    params = DataParams(handbook=HandbookPreset(label_delay_days=0.5))
    out = load(FIXTURES / "handbook" / "2018-04-02.pkl", preset="handbook", params=params)
    assert list(out["transaction_id"]) == [3, 4]
    assert list(out["label_time"]) == list(utc("2018-04-02T12:01:00Z", "2018-04-02T22:00:00Z"))


def test_handbook_preset_from_params() -> None:
    out = load(FIXTURES / "handbook", params=DataParams(preset="handbook"))
    assert len(out) == 5


def test_handbook_csv_folder(tmp_path: Path) -> None:
    folder = tmp_path / "hb"
    folder.mkdir()
    for day in ("2018-04-01", "2018-04-02"):
        pd.read_pickle(FIXTURES / "handbook" / f"{day}.pkl").to_csv(folder / f"{day}.csv", index=False)
    out = load(folder, preset="handbook")
    pd.testing.assert_frame_equal(out, HANDBOOK_EXPECTED)


def test_handbook_missing_source_column(tmp_path: Path) -> None:
    day = pd.read_pickle(FIXTURES / "handbook" / "2018-04-02.pkl").drop(columns="TX_AMOUNT")
    path = tmp_path / "2018-04-02.pkl"
    day.to_pickle(path)
    with pytest.raises(DataError) as info:
        load(path, preset="handbook")
    assert (info.value.file, info.value.column) == (path, "TX_AMOUNT")
    msg = str(info.value)
    assert "missing column 'TX_AMOUNT'" in msg and "handbook preset" in msg
    assert "'amount'" in msg


def test_handbook_bad_scenario_names_file_and_row(tmp_path: Path) -> None:
    folder = copy_fixture("handbook", tmp_path)
    day = pd.read_pickle(folder / "2018-04-02.pkl")
    day.loc[day.index[1], "TX_FRAUD_SCENARIO"] = 9
    day.to_pickle(folder / "2018-04-02.pkl")
    with pytest.raises(DataError) as info:
        load(folder, preset="handbook")
    e = info.value
    # row 1 of the second file, not row 4 of the concatenation
    assert (e.file, e.column, e.rows) == (folder / "2018-04-02.pkl", "TX_FRAUD_SCENARIO", [1])
    assert "found 9" in str(e)


def test_handbook_errors_name_the_handbook_column(tmp_path: Path) -> None:
    folder = copy_fixture("handbook", tmp_path)
    day = pd.read_pickle(folder / "2018-04-01.pkl")
    day["TX_FRAUD"] = [0, 2, 1]
    day.to_pickle(folder / "2018-04-01.pkl")
    with pytest.raises(DataError) as info:
        load(folder, preset="handbook")
    e = info.value
    assert (e.file, e.column, e.rows) == (folder / "2018-04-01.pkl", "TX_FRAUD", [1])
    assert "0 or 1" in str(e) and "read as 'is_fraud' by the handbook preset" in str(e)


def test_duplicate_ids_across_files_name_both(tmp_path: Path) -> None:
    folder = copy_fixture("handbook", tmp_path)
    day = pd.read_pickle(folder / "2018-04-02.pkl")
    day["TRANSACTION_ID"] = [0, 9]  # 0 is also row 0 of 2018-04-01
    day.to_pickle(folder / "2018-04-02.pkl")
    with pytest.raises(DataError) as info:
        load(folder, preset="handbook")
    e = info.value
    assert (e.file, e.column) == (folder, "TRANSACTION_ID")
    assert e.rows == ["2018-04-01.pkl:0", "2018-04-02.pkl:0"]
    assert "duplicate" in str(e)


# ---------------------------------------------------------------------------- paysim
def test_paysim_steps_become_hours_after_start() -> None:
    out = load(FIXTURES / "paysim.csv", preset="paysim")
    expected = pd.DataFrame(
        {
            "transaction_id": np.arange(5, dtype="int64"),
            # step 1 = start + 1 h; step 743 = start + 30 days 23 h
            "timestamp": utc(
                "2026-01-01T01:00:00Z",
                "2026-01-01T01:00:00Z",
                "2026-01-01T01:00:00Z",
                "2026-01-01T02:00:00Z",
                "2026-01-31T23:00:00Z",
            ),
            "customer_id": strings("C1231006815", "C1305486145", "C840083671", "C712410124", "C1231006815"),
            "merchant_id": strings("M1979787155", "C553264065", "C38997010", "C195600860", "M1979787155"),
            "amount": [9839.64, 181.0, 181.0, 5337.77, 11.5],
            "merchant_category": strings("PAYMENT", "TRANSFER", "CASH_OUT", "DEBIT", "PAYMENT"),
            "is_fraud": pd.array([0, 1, 1, 0, 0], dtype="int8"),
            # frauds labelled 7 days later, legitimate payments never
            "label_time": utc(None, "2026-01-08T01:00:00Z", "2026-01-08T01:00:00Z", None, None),
            "oldbalanceOrg": [170136.0, 181.0, 181.0, 41720.0, 160296.36],
            "newbalanceOrig": [160296.36, 0.0, 0.0, 36382.23, 160284.86],
            "oldbalanceDest": [0.0, 0.0, 21182.0, 41898.0, 0.0],
            "newbalanceDest": [0.0, 0.0, 0.0, 40348.79, 0.0],
            "isFlaggedFraud": np.zeros(5, dtype="int64"),
        }
    )
    pd.testing.assert_frame_equal(out, expected)


def test_paysim_start_and_delay_from_params() -> None:
    params = DataParams(paysim=PaysimPreset(start="2026-03-01T00:00:00+08:00", label_delay_days=1))
    out = load(FIXTURES / "paysim.csv", preset="paysim", params=params)
    assert out["timestamp"].iloc[0] == pd.Timestamp("2026-02-28T17:00:00Z")
    assert out["label_time"].iloc[1] == pd.Timestamp("2026-03-01T17:00:00Z")


def test_paysim_naive_start_is_a_config_error() -> None:
    params = DataParams(paysim=PaysimPreset(start="2026-01-01 00:00"))
    with pytest.raises(ConfigError, match="data.paysim.start.*no offset"):
        load(FIXTURES / "paysim.csv", preset="paysim", params=params)


def test_paysim_bad_step(tmp_path: Path) -> None:
    path = tmp_path / "paysim.csv"
    path.write_text((FIXTURES / "paysim.csv").read_text().replace("\n2,DEBIT", "\nx,DEBIT"))
    with pytest.raises(DataError) as info:
        load(path, preset="paysim")
    assert (info.value.file, info.value.column, info.value.rows) == (path, "step", [3])
    assert "'x'" in str(info.value)


def test_paysim_missing_source_column(tmp_path: Path) -> None:
    path = tmp_path / "paysim.csv"
    pd.read_csv(FIXTURES / "paysim.csv").drop(columns="nameDest").to_csv(path, index=False)
    with pytest.raises(
        DataError, match="missing column 'nameDest' that the paysim preset needs \\(read as 'merchant_id'\\)"
    ) as info:
        load(path, preset="paysim")
    assert info.value.column == "nameDest"


def test_zero_amounts_fail_unless_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "paysim.csv"
    path.write_text((FIXTURES / "paysim.csv").read_text().replace(",181.0,C840", ",0.0,C840"))
    with pytest.raises(DataError) as info:
        load(path, preset="paysim")
    assert (info.value.column, info.value.rows) == ("amount", [2])
    assert "nonpositive_amounts=drop" in str(info.value)
    with caplog.at_level(logging.WARNING, logger="okml.data"):
        out = load(path, preset="paysim", params=DataParams(nonpositive_amounts="drop"))
    assert list(out["transaction_id"]) == [0, 1, 3, 4]  # ids stay file row numbers
    assert "dropped 1 rows with amount <= 0" in caplog.text and "rows 2" in caplog.text


# ---------------------------------------------------------------------------- custom
BANK_MAPPING = {
    "transaction_id": "id",
    "timestamp": "epoch",
    "customer_id": "card",
    "merchant_id": "shop",
    "amount": "value",
    "is_fraud": "fraud",
    "account_created_at": "opened",
}


def test_custom_mapping_epoch_seconds_and_timezone() -> None:
    params = DataParams(
        custom=CustomPreset(
            columns=BANK_MAPPING, timestamp_unit="s", timezone="Asia/Shanghai", label_delay_days=3
        )
    )
    out = load(FIXTURES / "custom.csv", preset="custom", params=params)
    expected = pd.DataFrame(
        {
            "transaction_id": np.array([100, 101, 102], dtype="int64"),
            # 1767225600 is 2026-01-01T00:00:00Z
            "timestamp": utc("2026-01-01T09:00:00Z", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"),
            "customer_id": strings("card-1", "card-1", "card-2"),
            "merchant_id": strings("shop-B", "shop-A", "shop-A"),
            "amount": [7.25, 10.0, 25.5],
            # naive Shanghai wall-clock times are UTC+8
            "account_created_at": utc("2025-12-31T12:00:00Z", "2025-12-31T12:00:00Z", "2025-06-01T00:30:00Z"),
            "is_fraud": pd.array([0, 0, 1], dtype="int8"),
            "label_time": utc("2026-01-04T09:00:00Z", "2026-01-04T10:00:00Z", "2026-01-04T11:00:00Z"),
            "note": pd.Series(["z", "x", "y"], dtype="str"),
        }
    )
    pd.testing.assert_frame_equal(out, expected)


def test_custom_epoch_milliseconds(tmp_path: Path) -> None:
    path = tmp_path / "ms.parquet"
    pd.DataFrame(
        {
            "id": ["a", "b"],
            "when": [1767225600000, 1767225601500],
            "customer_id": ["c", "c"],
            "merchant_id": ["m", "m"],
            "amount": [1.0, 2.0],
        }
    ).to_parquet(path)
    params = DataParams(
        custom=CustomPreset(columns={"transaction_id": "id", "timestamp": "when"}, timestamp_unit="ms")
    )
    out = load(path, preset="custom", params=params)
    assert list(out["timestamp"]) == list(utc("2026-01-01T00:00:00Z", "2026-01-01T00:00:01.5Z"))
    assert list(out.columns) == ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"]


def test_custom_without_unit_or_timezone_says_how_to_fix() -> None:
    params = DataParams(custom=CustomPreset(columns=BANK_MAPPING))
    with pytest.raises(DataError, match="timestamp_unit") as info:
        load(FIXTURES / "custom.csv", preset="custom", params=params)
    assert info.value.column == "epoch"
    params = DataParams(custom=CustomPreset(columns=BANK_MAPPING, timestamp_unit="s"))
    with pytest.raises(DataError, match="timezone-naive.*data.custom.timezone") as info:
        load(FIXTURES / "custom.csv", preset="custom", params=params)
    assert (info.value.column, info.value.rows) == ("opened", [0, 1, 2])


def test_custom_missing_source_column() -> None:
    params = DataParams(
        custom=CustomPreset(
            columns=BANK_MAPPING | {"customer_id": "cardholder"}, timestamp_unit="s", timezone="UTC"
        )
    )
    with pytest.raises(
        DataError,
        match="missing column 'cardholder' that the custom preset needs \\(read as 'customer_id'\\)",
    ) as info:
        load(FIXTURES / "custom.csv", preset="custom", params=params)
    assert (info.value.file, info.value.column) == (FIXTURES / "custom.csv", "cardholder")


def test_custom_unmapped_required_column_says_how_to_map() -> None:
    mapping = {k: v for k, v in BANK_MAPPING.items() if k != "merchant_id"}
    params = DataParams(custom=CustomPreset(columns=mapping, timestamp_unit="s"))
    with pytest.raises(DataError, match="data.custom.columns.merchant_id=YOUR_COLUMN"):
        load(FIXTURES / "custom.csv", preset="custom", params=params)


def test_custom_unknown_canonical_name() -> None:
    params = DataParams(custom=CustomPreset(columns={"ammount": "value"}))
    with pytest.raises(ConfigError, match="data.custom.columns.ammount.*did you mean amount"):
        load(FIXTURES / "custom.csv", preset="custom", params=params)


def test_custom_label_delay_conflicts_with_label_time() -> None:
    params = DataParams(custom=CustomPreset(label_delay_days=2))
    with pytest.raises(ConfigError, match="label_delay_days"):
        load(FIXTURES / "canonical.csv", preset="custom", params=params)


def test_custom_unknown_timezone() -> None:
    params = DataParams(
        custom=CustomPreset(columns=BANK_MAPPING, timestamp_unit="s", timezone="Asia/Atlantis")
    )
    with pytest.raises(ConfigError, match="unknown timezone 'Asia/Atlantis'"):
        load(FIXTURES / "custom.csv", preset="custom", params=params)


# ---------------------------------------------------------------------------- errors
def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'kaggle'.*canonical, handbook"):
        load(FIXTURES / "canonical.csv", preset="kaggle")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder") as info:
        load(tmp_path / "nope.parquet")
    assert info.value.file == tmp_path / "nope.parquet"


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "tx.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match="unsupported file type '.xlsx'") as info:
        load(path)
    assert info.value.file == path


def test_pickles_only_with_the_handbook_preset() -> None:
    path = FIXTURES / "handbook" / "2018-04-01.pkl"
    for preset in ("canonical", "custom", "paysim"):
        with pytest.raises(DataError, match="pickles are read only with --preset handbook"):
            load(path, preset=preset)
    with pytest.raises(DataError, match="empty folder.*pickles are read only"):
        load(FIXTURES / "handbook", preset="canonical")


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty folder") as info:
        load(tmp_path)
    assert info.value.file == tmp_path
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="empty folder.*found notes.txt"):
        load(tmp_path)


@pytest.mark.parametrize(
    ("name", "content"), [("tx.parquet", b"not parquet at all"), ("tx.csv", b""), ("tx.pkl", b"not a pickle")]
)
def test_unreadable_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match="cannot read this file") as info:
        load(path, preset="handbook" if name.endswith(".pkl") else "canonical")
    assert info.value.file == path
    assert "\n" not in str(info.value)


def test_pickle_of_something_else(tmp_path: Path) -> None:
    path = tmp_path / "2018-04-01.pkl"
    pd.to_pickle({"TX_AMOUNT": [1.0]}, path)
    with pytest.raises(DataError, match="expected a pickled pandas DataFrame, found dict"):
        load(path, preset="handbook")


def test_folder_files_must_share_columns(tmp_path: Path) -> None:
    raw = pd.read_csv(FIXTURES / "canonical.csv")
    raw.iloc[:2].to_csv(tmp_path / "a.csv", index=False)
    raw.iloc[2:].drop(columns="channel").to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(DataError, match="lacks column\\(s\\) channel that a.csv has") as info:
        load(tmp_path)
    assert (info.value.file, info.value.column) == (tmp_path / "b.csv", "channel")


def test_canonical_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    pd.read_csv(FIXTURES / "canonical.csv").drop(columns="merchant_id").to_csv(path, index=False)
    with pytest.raises(DataError, match="missing column 'merchant_id' that the canonical"):
        load(path)


def test_wrong_preset_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="looks like paysim data: use --preset paysim"):
        load(FIXTURES / "paysim.csv")
    path = tmp_path / "2018-04-01.csv"
    pd.read_pickle(FIXTURES / "handbook" / "2018-04-01.pkl").to_csv(path, index=False)
    with pytest.raises(DataError, match="looks like handbook data: use --preset handbook"):
        load(path, preset="custom")


def test_canonical_naive_timestamps_name_rows(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text(
        (FIXTURES / "canonical.csv").read_text().replace("2026-01-01T10:00:00Z", "2026-01-01 10:00:00")
    )
    with pytest.raises(DataError, match="timezone-naive.*add an offset") as info:
        load(path)
    assert (info.value.file, info.value.column) == (path, "timestamp")


# --------------------------------------------------------------------------- summary
def test_validation_summary_text(capsys: pytest.CaptureFixture[str]) -> None:
    df = load(FIXTURES / "canonical.csv")
    print_validation_summary(df, source="canonical.csv")
    assert capsys.readouterr().out == format_validation_summary(df, "canonical.csv") + "\n"
    assert format_validation_summary(df, "canonical.csv").splitlines() == [
        "canonical.csv: valid canonical transactions",
        "  rows               4",
        "  time range (UTC)   2026-01-01 10:00 to 2026-01-03 00:00 (1.6 days)",
        "  customers          2",
        "  merchants          3",
        "  fraud              2 rows (50.00%)",
        "    account_takeover                    1 (25.00% of rows)",
        "    fake_order                          1 (25.00% of rows)",
        "  label delay (days) p10 3, median 3, p90 3 (frauds)",
        "  never labelled     1 of 2 frauds",
        "  reported by users  50.00% of frauds",
    ]


def test_validation_summary_without_labels() -> None:
    df = load(FIXTURES / "canonical.csv").drop(columns=["is_fraud", "fraud_type", "label_time"])
    text = format_validation_summary(df, "x")
    assert text.splitlines()[-1] == "  labels             none (no is_fraud column)"


# ------------------------------------------------------------------------------- CLI
@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text("{}\n")  # built-in defaults, whatever the project's params.yaml says
    return path


@pytest.mark.parametrize(
    ("name", "preset", "rows"),
    [("handbook", "handbook", 5), ("paysim.csv", "paysim", 5), ("canonical.parquet", "canonical", 4)],
)
def test_cli_validate_prints_summary(
    name: str, preset: str, rows: int, params_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(FIXTURES / name)
    code = main(["validate", path, "--preset", preset, "--params", str(params_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"{path}: valid canonical transactions\n")
    assert f"  rows               {rows}\n" in out
    assert "fraud" in out


def test_cli_validate_custom_with_set(params_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [f"data.custom.columns.{k}={v}" for k, v in BANK_MAPPING.items()]
    sets += ["data.custom.timestamp_unit=s", "data.custom.timezone=Asia/Shanghai"]
    argv = ["validate", str(FIXTURES / "custom.csv"), "--preset", "custom", "--params", str(params_file)]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0
    assert "  rows               3\n" in capsys.readouterr().out


def test_cli_bad_file_one_line_exit_2(
    tmp_path: Path, params_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text((FIXTURES / "canonical.csv").read_text().replace(",99.99,", ",-3,"))
    code = main(["validate", str(path), "--params", str(params_file)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"okml validate: error: {path}, column 'amount', rows 2: ")
    assert "Traceback" not in err


def test_cli_missing_source_column_exit_2(
    tmp_path: Path, params_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "paysim.csv"
    pd.read_csv(FIXTURES / "paysim.csv").drop(columns="step").to_csv(path, index=False)
    code = main(["validate", str(path), "--preset", "paysim", "--params", str(params_file)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert str(path) in err and "column 'step'" in err and "paysim preset" in err
    assert "Traceback" not in err


def test_cli_debug_propagates(tmp_path: Path, params_file: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text((FIXTURES / "canonical.csv").read_text().replace(",99.99,", ",-3,"))
    with pytest.raises(DataError, match="amount must be > 0"):
        main(["validate", str(path), "--params", str(params_file), "--debug"])


# ------------------------------------------------------- hardening (issue 10, items 1, 3, 4, 7)
def _small(**columns: object) -> pd.DataFrame:
    data: dict[str, object] = {
        "transaction_id": ["t1", "t2", "t3"],
        "timestamp": ["2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"],
        "customer_id": ["c1", "c2", "c1"],
        "merchant_id": ["m1", "m1", "m2"],
        "amount": [10.0, 20.0, 30.0],
        "is_fraud": [0, 0, 1],
    }
    return pd.DataFrame(data | columns)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_header_only_file_is_one_line_at_load(tmp_path: Path, suffix: str, capsys) -> None:
    path = tmp_path / f"tx{suffix}"
    empty = _small().iloc[:0]
    empty.to_csv(path, index=False) if suffix == ".csv" else empty.to_parquet(path)
    with pytest.raises(DataError, match="no payments: the file has a header but no rows") as info:
        load(path)
    assert info.value.file == path
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no payments" in err and "Traceback" not in err


def test_folder_of_header_only_files(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv"):
        _small().iloc[:0].to_csv(tmp_path / name, index=False)
    with pytest.raises(DataError, match="its 2 files have a header but no rows"):
        load(tmp_path)


def test_duplicate_csv_column_is_refused_not_renamed(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text(
        "transaction_id,timestamp,customer_id,merchant_id,amount,amount\n"
        "t1,2026-01-01T10:00:00Z,c1,m1,10.0,99.0\n"
    )
    with pytest.raises(DataError) as info:
        load(path)
    assert str(info.value) == (
        f"{path}, column 'amount': the header names column 'amount' twice "
        "(columns 5 and 6); rename or remove one"
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_ids_rejected_whatever_the_format(tmp_path: Path, suffix: str, blank: str) -> None:
    path = tmp_path / f"tx{suffix}"
    df = _small(customer_id=["c1", blank, "c2"])
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    # CSV readers turn an empty cell into a missing value: both are refused for a key
    with pytest.raises(DataError, match=r"column 'customer_id', rows 1: (empty or blank ids|empty values)"):
        load(path)


@pytest.mark.parametrize("amount", [1e308, 1e-320])
def test_extreme_amounts_rejected_at_load(tmp_path: Path, amount: float, capsys) -> None:
    path = tmp_path / "tx.parquet"
    _small(amount=[10.0, amount, amount]).to_parquet(path)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rows 1, 2" in err and "data.amount_" in err


def test_amount_bounds_come_from_params(tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    _small(amount=[10.0, 5e12, 0.001]).to_parquet(path)
    with pytest.raises(DataError, match="rows 2: amount 0.001 is below data.amount_min"):
        load(path)
    assert len(load(path, params=DataParams(amount_min=0.001, amount_max=1e13))) == 3


# ------------------------------------------------------------- the preset registry
def test_a_new_preset_is_one_record_in_the_registry(tmp_path: Path, monkeypatch) -> None:
    """The README's worked example: a bank export mapped by one Preset."""
    from okml.data import presets
    from okml.data.presets.base import Preset, rename

    columns = {
        "transaction_id": "TxnRef",
        "timestamp": "PostedAt",
        "customer_id": "Card",
        "merchant_id": "Shop",
        "amount": "Value",
    }
    monkeypatch.setitem(
        presets.PRESETS, "acme", Preset("acme", "Acme Bank export", columns=columns, map=rename(columns))
    )
    path = tmp_path / "acme.csv"
    pd.DataFrame(
        {
            "TxnRef": ["a2", "a1"],
            "PostedAt": ["2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"],
            "Card": ["c1", "c1"],
            "Shop": ["s1", "s2"],
            "Value": [5.0, 0.005],
            "Memo": ["x", "y"],
        }
    ).to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=r"column 'Value', rows 1: amount 0.005 is below data.amount_min.*"
        r"\('Value' is read as 'amount' by the acme preset\)",
    ):
        load(path, preset="acme")
    path.write_text(path.read_text().replace("0.005", "7.5"))
    out = load(path, preset="acme")
    assert out["transaction_id"].tolist() == ["a1", "a2"] and out["Memo"].tolist() == ["y", "x"]
    with pytest.raises(DataError, match="missing column 'TxnRef' that the acme preset needs"):
        load(FIXTURES / "canonical.csv", preset="acme")


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="data.preset: unknown preset 'handbok'; did you mean handbook"):
        load(FIXTURES / "canonical.csv", preset="handbok")


def test_empty_trailing_header_cells_are_not_duplicates(tmp_path: Path) -> None:
    """Spreadsheet exports end rows with empty cells: they name no column twice."""
    path = tmp_path / "tx.csv"
    path.write_text(
        "transaction_id,timestamp,customer_id,merchant_id,amount,,\nt1,2026-01-01T10:00:00Z,c1,m1,10.0,,\n"
    )
    assert len(load(path)) == 1
