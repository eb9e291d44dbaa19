"""Loading transactions users already have into the canonical schema.

:func:`load` reads a file or a folder of files through a *preset* (a column mapping) and
returns canonical transactions (:mod:`okml.schema`) sorted by time. No later step knows
about file formats or presets.

========== ================================================================================
preset     input
========== ================================================================================
canonical  Parquet or CSV already in canonical column names (what ``okml simulate`` writes)
handbook   the Fraud Detection Handbook (ULB MLG) simulated data: daily ``YYYY-MM-DD.pkl``
           pickles (or CSV/Parquet) with ``TRANSACTION_ID, TX_DATETIME, CUSTOMER_ID,
           TERMINAL_ID, TX_AMOUNT, TX_FRAUD, TX_FRAUD_SCENARIO``
paysim     the PaySim mobile-money CSV (``step, type, amount, nameOrig, nameDest, isFraud``)
custom     any table, with ``data.custom.columns`` mapping canonical names to your columns
========== ================================================================================

Security: unpickling a file can run arbitrary code. Pickles (``.pkl``, ``.pickle``) are read
only with the ``handbook`` preset, whose published data comes as pickles; load only pickles
you trust. Every other preset refuses them.

Nothing is silently dropped, clipped or filled: bad rows stop loading with a
:class:`~okml.errors.DataError` naming the file, the column (as it is called in *your* file)
and up to three example rows (0-based positions in that file). The one opt-in exception is
``data.nonpositive_amounts: drop``, which removes rows with ``amount <= 0`` and logs how many.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from okml.config import DataParams
from okml.errors import ConfigError, DataError
from okml.paths import PROJECT_ROOT, resolve
from okml.schema import CANONICAL, REQUIRED, TIME_COLUMNS, summarize, validate

log = logging.getLogger(__name__)

PRESETS = ("canonical", "handbook", "paysim", "custom")

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")
PICKLE_SUFFIXES = (".pkl", ".pickle")

#: canonical column <- Handbook column
HANDBOOK_COLUMNS = {
    "transaction_id": "TRANSACTION_ID",
    "timestamp": "TX_DATETIME",
    "customer_id": "CUSTOMER_ID",
    "merchant_id": "TERMINAL_ID",
    "amount": "TX_AMOUNT",
    "is_fraud": "TX_FRAUD",
}
HANDBOOK_SCENARIO = "TX_FRAUD_SCENARIO"
#: Handbook fraud scenarios: 1 large amounts, 2 compromised terminals, 3 compromised customers
HANDBOOK_FRAUD_TYPES = {k: f"handbook_scenario_{k}" for k in (1, 2, 3)}
# Redundant copies of TX_DATETIME that the Handbook pickles store as object dtype.
_HANDBOOK_INTEGERS = ("TX_TIME_SECONDS", "TX_TIME_DAYS")

#: canonical column <- PaySim column (``timestamp`` comes from ``step``, ids from row numbers)
PAYSIM_COLUMNS = {
    "customer_id": "nameOrig",
    "merchant_id": "nameDest",
    "merchant_category": "type",
    "amount": "amount",
    "is_fraud": "isFraud",
}
PAYSIM_STEP = "step"


# ------------------------------------------------------------------------ provenance
@dataclass(frozen=True)
class _Origin:
    """Where each row of a concatenated frame came from, to name files and rows in errors."""

    path: Path
    files: tuple[Path, ...]
    file_index: np.ndarray  # per row: index into ``files``
    file_row: np.ndarray  # per row: 0-based position in its file

    def take(self, keep: np.ndarray) -> _Origin:
        return _Origin(self.path, self.files, self.file_index[keep], self.file_row[keep])

    def locate(self, rows: Sequence[int]) -> tuple[Path, list[Any]]:
        """The file holding frame positions ``rows`` (first three) and their rows in it.

        Rows spread over several files are named ``file:row`` under the folder.
        """
        rows = [int(r) for r in rows][:3]
        files = {int(self.file_index[r]) for r in rows}
        if len(self.files) == 1 or len(files) == 1:
            file = self.files[files.pop()] if files else self.files[0]
            return file, [int(self.file_row[r]) for r in rows]
        if not rows:
            return self.path, []
        return self.path, [f"{self.files[int(self.file_index[r])].name}:{int(self.file_row[r])}"
                           for r in rows]

    def error(self, reason: str, column: str | None = None, rows: Sequence[int] = ()
              ) -> DataError:
        """A DataError whose file and rows point into the user's file, not our frame."""
        file, where = self.locate(rows)
        return DataError(reason, file=file, column=column, rows=where)

    def translate(self, e: DataError, preset: str, sources: dict[str, str]) -> DataError:
        """Re-point a :func:`okml.schema.validate` error at the source file and column."""
        column, reason = e.column, e.reason
        src = sources.get(column) if column is not None else None
        if src is not None and src != column:
            reason = f"{reason} ('{src}' is read as '{column}' by the {preset} preset)"
            column = src
        if e.column == "amount" and "> 0" in reason:
            reason += "; set data.nonpositive_amounts=drop to drop such rows (they are logged)"
        return self.error(reason, column, e.rows)


# --------------------------------------------------------------------------- reading
def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in CSV_SUFFIXES + PARQUET_SUFFIXES + PICKLE_SUFFIXES:
        if name.endswith(s):
            return s
    return path.suffix.lower()


def _allowed(preset: str) -> tuple[str, ...]:
    table = PARQUET_SUFFIXES + CSV_SUFFIXES
    return table + PICKLE_SUFFIXES if preset == "handbook" else table


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return (text[:200] + "...") if len(text) > 200 else text or type(e).__name__


def _list_files(path: Path, preset: str) -> list[Path]:
    if not path.exists():
        raise DataError(
            f"no such file or folder (relative paths are taken from the project root "
            f"{PROJECT_ROOT})",
            file=path,
        )
    allowed = _allowed(preset)
    if not path.is_dir():
        return [path]
    entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    files = [p for p in entries if p.is_file() and _suffix(p) in allowed]
    if not files:
        pickles = [p for p in entries if _suffix(p) in PICKLE_SUFFIXES]
        hint = ""
        if pickles:
            hint = "; pickles are read only with --preset handbook (unpickling can run code)"
        elif entries:
            hint = f"; found {', '.join(p.name for p in entries[:3])}"
        raise DataError(f"empty folder: no {'/'.join(allowed)} files{hint}", file=path)
    return files


def _check_csv_header(file: Path) -> None:
    """Refuse a header naming a column twice: pandas would rename the second ``amount.1``
    and the data in it would be silently ignored."""
    try:
        header = pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False)
    except Exception:  # unreadable or empty: the full read below says why
        return
    names = [str(v) for v in header.iloc[0]] if len(header) else []
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            first = names.index(name)
            raise DataError(f"the header names column '{name}' twice (columns {first + 1} and "
                            f"{i + 1}); rename or remove one", file=file, column=name)
        seen.add(name)


def _read_csv(file: Path) -> pd.DataFrame:
    _check_csv_header(file)
    try:
        return pd.read_csv(file, engine="pyarrow")
    except Exception:
        # pyarrow's reader is fast but strict; pandas' own names the bad line when it fails
        return pd.read_csv(file, low_memory=False)


def _read_file(file: Path, preset: str) -> pd.DataFrame:
    suffix = _suffix(file)
    if suffix in PICKLE_SUFFIXES and preset != "handbook":
        raise DataError(
            "pickles are read only with --preset handbook: unpickling can run code, so okml "
            "opens them only for the Handbook's published data; convert other data to Parquet",
            file=file,
        )
    if suffix not in _allowed(preset):
        raise DataError(
            f"unsupported file type '{suffix or file.name}'; use {', '.join(_allowed(preset))}",
            file=file,
        )
    try:
        if suffix in PARQUET_SUFFIXES:
            df = pd.read_parquet(file, engine="pyarrow")
        elif suffix in CSV_SUFFIXES:
            df = _read_csv(file)
        else:
            df = pd.read_pickle(file)
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"cannot read this file ({_one_line(e)})", file=file) from e
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pickled pandas DataFrame, found {type(df).__name__}",
                        file=file)
    return df


def _required_sources(preset: str, params: DataParams) -> dict[str, str]:
    """Source column -> what needs it, checked in every file before anything is parsed."""
    if preset == "canonical":
        return {c: c for c in REQUIRED}
    if preset == "handbook":
        return {src: canon for canon, src in HANDBOOK_COLUMNS.items()}
    if preset == "paysim":
        return {PAYSIM_STEP: "timestamp"} | {src: c for c, src in PAYSIM_COLUMNS.items()}
    mapping = params.custom.columns
    need = {src: canon for canon, src in mapping.items()}
    for canon in REQUIRED:
        if canon not in mapping:
            need.setdefault(canon, canon)
    return need


def _preset_hint(columns: pd.Index, preset: str) -> str:
    """Suggest the preset whose columns a file has, when another preset was asked for."""
    for other, cols in (("handbook", HANDBOOK_COLUMNS.values()),
                        ("paysim", [PAYSIM_STEP, *PAYSIM_COLUMNS.values()])):
        if other != preset and set(cols) <= set(columns):
            return f" (this looks like {other} data: use --preset {other})"
    return ""


def _read_all(path: Path, preset: str, params: DataParams) -> tuple[pd.DataFrame, _Origin]:
    files = _list_files(path, preset)
    need = _required_sources(preset, params)
    frames: list[pd.DataFrame] = []
    for file in files:
        df = _read_file(file, preset)
        missing = [src for src in need if src not in df.columns]
        if missing:
            src = missing[0]
            via = "" if need[src] == src else f" (read as '{need[src]}')"
            hint = _preset_hint(df.columns, preset)
            if preset == "custom" and not hint:
                hint = f"; map it with --set data.custom.columns.{need[src]}=YOUR_COLUMN"
            found = ", ".join(map(str, df.columns[:12]))
            raise DataError(
                f"missing column '{src}' that the {preset} preset needs{via}{hint}; "
                f"found {found}",
                file=file,
                column=src,
            )
        if frames and set(df.columns) != set(frames[0].columns):
            first = set(frames[0].columns)
            lacks = sorted(map(str, first - set(df.columns)))
            extra = sorted(map(str, set(df.columns) - first))
            col = (lacks or extra)[0]
            what = (f"lacks column(s) {', '.join(lacks)} that {files[0].name} has" if lacks
                    else f"has column(s) {', '.join(extra)} that {files[0].name} lacks")
            raise DataError(f"{what}; files in a folder must share their columns",
                            file=file, column=col)
        frames.append(df if not frames else df[list(frames[0].columns)])
    lengths = np.array([len(f) for f in frames])
    origin = _Origin(
        path=path,
        files=tuple(files),
        file_index=np.repeat(np.arange(len(files)), lengths),
        file_row=np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else np.array([]),
    )
    raw = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if raw.empty:
        what = "the file has" if len(files) == 1 else f"its {len(files)} files have"
        raise DataError(f"no payments: {what} a header but no rows", file=path)
    return raw.reset_index(drop=True), origin


# --------------------------------------------------------------------------- presets
def _integer_ids(s: pd.Series) -> pd.Series:
    """Object columns holding Python ints (the Handbook pickles) as int64; others unchanged."""
    if s.dtype == object and s.notna().all():
        if pd.api.types.infer_dtype(s, skipna=False) == "integer":
            return s.astype("int64")
    return s


def _extras(raw: pd.DataFrame, used: set[str]) -> dict[str, pd.Series]:
    """Source columns the preset does not map, kept under their own names (ignored later)."""
    return {c: raw[c] for c in raw.columns if c not in used and c not in CANONICAL}


def _from_canonical(raw: pd.DataFrame, params: DataParams, origin: _Origin) -> pd.DataFrame:
    return raw


def _from_handbook(raw: pd.DataFrame, params: DataParams, origin: _Origin) -> pd.DataFrame:
    cols: dict[str, Any] = {c: raw[src] for c, src in HANDBOOK_COLUMNS.items()}
    # object amounts and labels are converted (or rejected) by okml.schema.validate
    for c in ("transaction_id", "customer_id", "merchant_id"):
        cols[c] = _integer_ids(cols[c])
    if HANDBOOK_SCENARIO in raw:
        scenario = pd.to_numeric(raw[HANDBOOK_SCENARIO], errors="coerce")
        bad = (~scenario.isin([0, *HANDBOOK_FRAUD_TYPES])).to_numpy(dtype=bool)
        if bad.any():
            found = raw[HANDBOOK_SCENARIO][bad].iloc[0]
            raise origin.error(
                f"fraud scenario must be 0, 1, 2 or 3 (found {found})",
                HANDBOOK_SCENARIO,
                np.flatnonzero(bad),
            )
        # scenario 0 means legitimate: no fraud type (missing), as in the canonical schema
        cols["fraud_type"] = scenario.map(HANDBOOK_FRAUD_TYPES).astype("string")
    extras = _extras(raw, set(HANDBOOK_COLUMNS.values()) | {HANDBOOK_SCENARIO})
    for c in _HANDBOOK_INTEGERS:
        if c in extras:
            extras[c] = _integer_ids(extras[c])
    return pd.DataFrame(cols | extras, index=raw.index)


def _utc_setting(text: str, key: str) -> pd.Timestamp:
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{key}: cannot parse {text!r}; use e.g. '2026-01-01T00:00:00Z'"
        ) from None
    if t.tzinfo is None:
        raise ConfigError(f"{key}: {text!r} has no offset; write e.g. '2026-01-01T00:00:00Z'")
    return t.tz_convert("UTC")


def _from_paysim(raw: pd.DataFrame, params: DataParams, origin: _Origin) -> pd.DataFrame:
    start = _utc_setting(params.paysim.start, "data.paysim.start")
    step = raw[PAYSIM_STEP]
    hours = pd.to_numeric(step, errors="coerce")
    bad = hours.isna().to_numpy(dtype=bool) | pd.api.types.is_bool_dtype(step.dtype)
    if bad.any():
        raise origin.error(
            f"step must be a number of hours (found {str(step[bad].iloc[0])!r})",
            PAYSIM_STEP,
            np.flatnonzero(bad),
        )
    cols: dict[str, Any] = {
        # PaySim has no transaction id: the row number (0-based, in file order) is stable
        "transaction_id": np.arange(len(raw), dtype="int64"),
        "timestamp": start + pd.to_timedelta(hours.to_numpy(dtype="float64"), unit="h"),
    }
    cols |= {c: raw[src] for c, src in PAYSIM_COLUMNS.items()}
    extras = _extras(raw, set(PAYSIM_COLUMNS.values()) | {PAYSIM_STEP})
    return pd.DataFrame(cols | extras, index=raw.index)


def _from_custom(raw: pd.DataFrame, params: DataParams, origin: _Origin) -> pd.DataFrame:
    cfg = params.custom
    used = set(cfg.columns.values())
    cols: dict[str, Any] = {}
    for canon in CANONICAL:
        if canon in cfg.columns:
            cols[canon] = raw[cfg.columns[canon]]
        elif canon in raw.columns and canon not in used:
            cols[canon] = raw[canon]
    if cfg.label_delay_days is not None and "label_time" in cols:
        raise ConfigError(
            "data.custom.label_delay_days is set but the file has a label_time column; "
            "use one or the other"
        )
    for canon in TIME_COLUMNS:
        s = cols.get(canon)
        if s is None or cfg.timestamp_unit is None:
            continue
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            try:
                cols[canon] = pd.to_datetime(s, unit=cfg.timestamp_unit, utc=True)
            except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime) as e:
                raise origin.error(
                    f"epoch values out of range for unit '{cfg.timestamp_unit}' ({_one_line(e)})",
                    cfg.columns.get(canon, canon),
                ) from e
    return pd.DataFrame(cols | _extras(raw, used), index=raw.index)


_MAPPERS = {
    "canonical": _from_canonical,
    "handbook": _from_handbook,
    "paysim": _from_paysim,
    "custom": _from_custom,
}


def _sources(preset: str, params: DataParams) -> dict[str, str]:
    """Canonical column -> the user's column name, for error messages."""
    if preset == "handbook":
        return dict(HANDBOOK_COLUMNS)
    if preset == "paysim":
        return dict(PAYSIM_COLUMNS) | {"timestamp": PAYSIM_STEP}
    if preset == "custom":
        return dict(params.custom.columns)
    return {}


def _check_custom_mapping(params: DataParams) -> None:
    for canon in params.custom.columns:
        if canon not in CANONICAL:
            close = difflib.get_close_matches(canon, CANONICAL, n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(CANONICAL)}"
            raise ConfigError(f"data.custom.columns.{canon}: not a canonical column{hint}")


def _drop_nonpositive(frame: pd.DataFrame, origin: _Origin) -> tuple[pd.DataFrame, _Origin]:
    amount = pd.to_numeric(frame["amount"], errors="coerce")  # non-numbers: validate reports
    drop = (amount <= 0).fillna(False).to_numpy(dtype=bool)
    if not drop.any():
        return frame, origin
    file, rows = origin.locate(np.flatnonzero(drop))
    log.warning(
        "dropped %d rows with amount <= 0 from %s (e.g. rows %s) because "
        "data.nonpositive_amounts=drop",
        int(drop.sum()), file, ", ".join(map(str, rows)),
    )
    return frame.loc[~drop].reset_index(drop=True), origin.take(~drop)


def load(
    path: str | os.PathLike[str],
    preset: str | None = None,
    params: DataParams | None = None,
) -> pd.DataFrame:
    """Read transactions through a preset and return validated canonical transactions.

    Parameters
    ----------
    path:
        A Parquet or CSV file, or a folder whose ``.parquet``/``.csv`` files (and, for the
        ``handbook`` preset only, ``.pkl`` pickles) are concatenated in name order; hidden
        files are skipped and all files must share their columns. Relative paths are taken
        from the project root (:func:`okml.paths.resolve`).
    preset:
        ``canonical``, ``handbook``, ``paysim`` or ``custom``; ``None`` uses ``params.preset``.
    params:
        The ``data`` section of ``params.yaml`` (default :class:`~okml.config.DataParams`).

    Returns
    -------
    pandas.DataFrame
        A new frame in the canonical schema (see :func:`okml.schema.validate`), columns in
        canonical order followed by any source columns the preset does not map, sorted by
        ``timestamp`` then ``transaction_id``, with a fresh ``RangeIndex``.

    Notes
    -----
    * ``handbook``: ``TX_DATETIME`` is naive and read as UTC; ``TERMINAL_ID`` becomes
      ``merchant_id``; ids stored as Python objects in the pickles become int64;
      ``TX_FRAUD_SCENARIO`` 1/2/3 becomes ``fraud_type`` ``handbook_scenario_N`` (0: missing).
      The Handbook has no label times, so ``label_time = timestamp +
      data.handbook.label_delay_days`` for **all** rows, legitimate ones included (a label,
      fraud or not, becomes known after the delay). **Pickles are unpickled, which can run
      code: only this preset reads them; use it only on files you trust.**
    * ``paysim``: ``timestamp = data.paysim.start + step`` hours (so payments of one step share
      a timestamp and keep file order); ``transaction_id`` is the 0-based row number,
      ``customer_id`` ``nameOrig``, ``merchant_id`` ``nameDest``, ``merchant_category``
      ``type``. ``label_time = timestamp + data.paysim.label_delay_days`` for fraud rows and
      missing for legitimate ones, as in okml's simulated data (no label event for a good
      payment). The balance columns and ``isFlaggedFraud`` are kept as extra columns.
    * ``custom``: ``data.custom.columns`` maps canonical names to your columns; unmapped
      canonical names are taken as they are. Numeric time columns are epochs in
      ``data.custom.timestamp_unit``; naive timestamps are read in ``data.custom.timezone``.
      ``data.custom.label_delay_days`` (only without a ``label_time`` column) sets
      ``label_time = timestamp + delay`` for all rows, like the Handbook.

    Raises
    ------
    ConfigError
        Unknown preset, a bad ``data.custom`` mapping, timezone or ``data.paysim.start``.
    DataError
        Missing or unreadable file, unsupported extension, empty folder, a missing source
        column, or a value the canonical schema rejects; one line naming file, column and
        up to three rows.
    """
    params = params if params is not None else DataParams()
    preset = preset if preset is not None else params.preset
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if preset == "custom":
        _check_custom_mapping(params)
    file = resolve(path)
    raw, origin = _read_all(file, preset, params)
    frame = _MAPPERS[preset](raw, params, origin)
    if params.nonpositive_amounts == "drop":
        frame, origin = _drop_nonpositive(frame, origin)
    # the Handbook's naive TX_DATETIME is UTC; custom data names its own zone
    timezone = {"handbook": "UTC", "custom": params.custom.timezone}.get(preset)
    try:
        out = validate(frame, source=file, timezone=timezone, amount_min=params.amount_min,
                       amount_max=params.amount_max)
    except DataError as e:
        raise origin.translate(e, preset, _sources(preset, params)) from e
    if preset == "handbook":
        out["label_time"] = out["timestamp"] + pd.Timedelta(days=params.handbook.label_delay_days)
    elif preset == "paysim":
        later = out["timestamp"] + pd.Timedelta(days=params.paysim.label_delay_days)
        out["label_time"] = later.where(out["is_fraud"] == 1)
    elif preset == "custom" and params.custom.label_delay_days is not None:
        out["label_time"] = out["timestamp"] + pd.Timedelta(days=params.custom.label_delay_days)
    order = [c for c in CANONICAL if c in out] + [c for c in out if c not in CANONICAL]
    return out[order].sort_values(["timestamp", "transaction_id"], kind="stable",
                                  ignore_index=True)


# --------------------------------------------------------------------------- summary
def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def format_validation_summary(df: pd.DataFrame, source: Any) -> str:
    """The text :func:`print_validation_summary` prints (one screen)."""
    s = summarize(df)
    lines = [f"{source}: valid canonical transactions", f"  rows               {s['rows']:,}"]
    if s["rows"]:
        days = (s["end"] - s["start"]).total_seconds() / 86400
        fmt = "%Y-%m-%d %H:%M"
        lines.append(f"  time range (UTC)   {s['start']:{fmt}} to {s['end']:{fmt}} "
                     f"({days:.1f} days)")
    lines.append(f"  customers          {s['customers']:,}")
    lines.append(f"  merchants          {s['merchants']:,}")
    if "fraud_rate" not in s:
        lines.append("  labels             none (no is_fraud column)")
        return "\n".join(lines)
    lines.append(f"  fraud              {s['frauds']:,} rows ({_pct(s['fraud_rate'])})")
    for kind, n in sorted(s.get("by_type", {}).items(), key=lambda kv: (-kv[1], str(kv[0]))):
        lines.append(f"    {str(kind):<28} {n:>8,} ({_pct(n / s['rows'])} of rows)")
    q = s.get("label_delay_days")
    if q is not None and s["frauds"]:
        if all(pd.isna(v) for v in q.values()):
            lines.append("  label delay        no fraud has a label_time")
        else:
            lines.append(f"  label delay (days) p10 {q[0.1]:g}, median {q[0.5]:g}, p90 {q[0.9]:g}"
                         " (frauds)")
        lines.append(f"  never labelled     {s['never_labelled']:,} of {s['frauds']:,} frauds")
    if "reported_share" in s and s["frauds"]:
        lines.append(f"  reported by users  {_pct(s['reported_share'])} of frauds")
    return "\n".join(lines)


def print_validation_summary(df: pd.DataFrame, source: Any) -> None:
    """Print a one-screen summary of canonical transactions.

    Rows, time range, customers, merchants, fraud rate overall and by type, label-delay
    quantiles, frauds never labelled and the share reported by users; built on
    :func:`okml.schema.summarize`.
    """
    print(format_validation_summary(df, source))
