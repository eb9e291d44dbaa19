"""Reading the user's files through a preset into validated canonical transactions.

Nothing is silently dropped, clipped or filled: bad rows stop loading with a
:class:`~okml.errors.DataError` naming the file, the column (as it is called in *your* file)
and up to three example rows (0-based positions in that file). The one opt-in exception is
``data.nonpositive_amounts: drop``, which removes rows with ``amount <= 0`` and logs how many.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from okml.config import DataParams
from okml.data import presets
from okml.data.origin import Origin, one_line
from okml.data.presets import PRESETS, Preset
from okml.errors import DataError
from okml.paths import PROJECT_ROOT, resolve
from okml.schema import CANONICAL, validate

log = logging.getLogger("okml.data")

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")
PICKLE_SUFFIXES = (".pkl", ".pickle")


# --------------------------------------------------------------------------- reading
def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in CSV_SUFFIXES + PARQUET_SUFFIXES + PICKLE_SUFFIXES:
        if name.endswith(s):
            return s
    return path.suffix.lower()


def _allowed(preset: Preset) -> tuple[str, ...]:
    table = PARQUET_SUFFIXES + CSV_SUFFIXES
    return table + PICKLE_SUFFIXES if preset.reads_pickles else table


def _list_files(path: Path, preset: Preset) -> list[Path]:
    if not path.exists():
        raise DataError(
            f"no such file or folder (relative paths are taken from the project root {PROJECT_ROOT})",
            file=path,
        )
    allowed = _allowed(preset)
    if not path.is_dir():
        return [path]
    entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    files = [p for p in entries if p.is_file() and _suffix(p) in allowed]
    # a hive-partitioned dataset (day=2026-03-01/part-0.parquet): files in nested folders
    files += dataset_files(path, allowed, nested_only=True)
    if not files:
        pickles = [p for p in entries if _suffix(p) in PICKLE_SUFFIXES]
        hint = ""
        if pickles:
            readers = ", ".join(p.name for p in PRESETS.values() if p.reads_pickles)
            hint = f"; pickles are read only with --preset {readers} (unpickling can run code)"
        elif entries:
            hint = f"; found {', '.join(p.name for p in entries[:3])}"
        raise DataError(f"empty folder: no {'/'.join(allowed)} files{hint}", file=path)
    return files


def _hidden(part: str) -> bool:
    # Spark and Dask write _SUCCESS, _metadata and _common_metadata beside the data
    return part.startswith((".", "_"))


def dataset_files(
    path: Path, allowed: tuple[str, ...] = PARQUET_SUFFIXES, nested_only: bool = False
) -> list[Path]:
    """The data files of a folder and of its sub-folders (``key=value`` folders of a
    hive-partitioned dataset, or any other nesting), in path order; hidden entries and
    those starting with ``_`` are skipped. ``nested_only``: only files in sub-folders."""
    found = []
    for p in path.rglob("*"):
        rel = p.relative_to(path).parts
        if nested_only and len(rel) < 2:
            continue
        if any(_hidden(part) for part in rel) or not p.is_file() or _suffix(p) not in allowed:
            continue
        found.append(p)
    return sorted(found)


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
        if not name.strip():  # spreadsheet exports end rows with empty cells: not a name
            continue
        if name in seen:
            first = names.index(name)
            raise DataError(
                f"the header names column '{name}' twice (columns {first + 1} and "
                f"{i + 1}); rename or remove one",
                file=file,
                column=name,
            )
        seen.add(name)


def _read_csv(file: Path) -> pd.DataFrame:
    _check_csv_header(file)
    try:
        return pd.read_csv(file, engine="pyarrow")
    except Exception:
        # pyarrow's reader is fast but strict; pandas' own names the bad line when it fails
        return pd.read_csv(file, low_memory=False)


def _read_file(file: Path, preset: Preset) -> pd.DataFrame:
    suffix = _suffix(file)
    if suffix in PICKLE_SUFFIXES and not preset.reads_pickles:
        readers = ", ".join(p.name for p in PRESETS.values() if p.reads_pickles)
        raise DataError(
            f"pickles are read only with --preset {readers}: unpickling can run code, so okml "
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
        raise DataError(f"cannot read this file ({one_line(e)})", file=file) from e
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pickled pandas DataFrame, found {type(df).__name__}", file=file)
    return df


def _preset_hint(columns: pd.Index, preset: Preset) -> str:
    """Suggest the preset whose columns a file has, when another preset was asked for."""
    defaults = DataParams()
    for other in PRESETS.values():
        need = set(other.required_columns(defaults))
        if other is not preset and other.columns and need <= set(columns):
            return f" (this looks like {other.name} data: use --preset {other.name})"
    return ""


def _read_all(path: Path, preset: Preset, params: DataParams) -> tuple[pd.DataFrame, Origin]:
    files = _list_files(path, preset)
    need = preset.required_columns(params)
    frames: list[pd.DataFrame] = []
    for file in files:
        df = _read_file(file, preset)
        missing = [src for src in need if src not in df.columns]
        if missing:
            src = missing[0]
            via = "" if need[src] == src else f" (read as '{need[src]}')"
            hint = _preset_hint(df.columns, preset)
            if preset.name == "custom" and not hint:
                hint = f"; map it with --set data.custom.columns.{need[src]}=YOUR_COLUMN"
            found = ", ".join(map(str, df.columns[:12]))
            raise DataError(
                f"missing column '{src}' that the {preset.name} preset needs{via}{hint}; found {found}",
                file=file,
                column=src,
            )
        if frames and set(df.columns) != set(frames[0].columns):
            first = set(frames[0].columns)
            lacks = sorted(map(str, first - set(df.columns)))
            extra = sorted(map(str, set(df.columns) - first))
            col = (lacks or extra)[0]
            what = (
                f"lacks column(s) {', '.join(lacks)} that {files[0].name} has"
                if lacks
                else f"has column(s) {', '.join(extra)} that {files[0].name} lacks"
            )
            raise DataError(f"{what}; files in a folder must share their columns", file=file, column=col)
        frames.append(df if not frames else df[list(frames[0].columns)])
    lengths = np.array([len(f) for f in frames])
    origin = Origin(
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


# ---------------------------------------------------------------------------- loading
def _drop_nonpositive(frame: pd.DataFrame, origin: Origin) -> tuple[pd.DataFrame, Origin]:
    amount = pd.to_numeric(frame["amount"], errors="coerce")  # non-numbers: validate reports
    drop = (amount <= 0).fillna(False).to_numpy(dtype=bool)
    if not drop.any():
        return frame, origin
    file, rows = origin.locate(np.flatnonzero(drop))
    log.warning(
        "dropped %d rows with amount <= 0 from %s (e.g. rows %s) because data.nonpositive_amounts=drop",
        int(drop.sum()),
        file,
        ", ".join(map(str, rows)),
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
        files are skipped and all files must share their columns. A file (or folder) with no
        rows is an error. Relative paths are taken
        from the project root (:func:`okml.paths.resolve`).
    preset:
        A name in :data:`okml.data.presets.PRESETS` (``canonical``, ``handbook``, ``paysim``,
        ``custom``, ...); ``None`` uses ``params.preset``.
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
    What each preset reads, and how it sets ``label_time`` where the data has none, is in its
    module under :mod:`okml.data.presets` (``okml validate --help`` lists them).

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
    spec = presets.get(preset if preset is not None else params.preset)
    if spec.check is not None:
        spec.check(params)
    file = resolve(path)
    raw, origin = _read_all(file, spec, params)
    out = canonical(raw, origin, spec, params, file)
    out = out.sort_values(["timestamp", "transaction_id"], kind="stable", ignore_index=True)
    return with_stored_labels(out, params)


def label_paths(params: DataParams) -> tuple[Path | None, Path | None]:
    """``data.labels_dir`` and ``data.review_db`` resolved (None where switched off)."""
    return (
        resolve(params.labels_dir) if params.labels_dir else None,
        resolve(params.review_db) if params.review_db else None,
    )


def with_stored_labels(tx: pd.DataFrame, params: DataParams) -> pd.DataFrame:
    """``tx`` with the label events stored under ``data.labels_dir`` and the reviewers'
    decisions in ``data.review_db`` merged in
    (:func:`okml.data.labels.merge_labels`); unchanged when there are none."""
    from okml.data.labels import label_sources, merge_labels

    events = label_sources(*label_paths(params))
    if events is None:
        return tx
    merged = merge_labels(tx, events)
    if merged.applied:
        log.info("labels: %d imported and reviewed label events applied", merged.applied)
    return merged.transactions


def canonical(
    raw: pd.DataFrame, origin: Origin, spec: Preset, params: DataParams, source: Path
) -> pd.DataFrame:
    """Raw rows read from ``source`` through ``spec`` into validated canonical columns (canonical
    order, then the source columns the preset does not map); errors name the user's file,
    column and rows (``origin``)."""
    frame = spec.map(raw, params, origin)
    if params.nonpositive_amounts == "drop":
        frame, origin = _drop_nonpositive(frame, origin)
    try:
        out = validate(
            frame,
            source=source,
            timezone=spec.timezone(params),
            amount_min=params.amount_min,
            amount_max=params.amount_max,
        )
    except DataError as e:
        raise origin.translate(e, spec.name, spec.source_names(params)) from e
    if spec.label_time is not None:
        out = spec.label_time(out, params)
    order = [c for c in CANONICAL if c in out] + [c for c in out if c not in CANONICAL]
    return out[order]
