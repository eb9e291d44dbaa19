"""Transactions as Dask partitions, one per file, read lazily and validated on the workers.

:func:`load_dask` is :func:`okml.data.load` for data that does not fit in one process: a
folder of Parquet (or CSV) files, or a hive-partitioned dataset (``day=2026-03-01/...``).
Each file becomes one partition; only the columns asked for are read (Parquet column
pruning); each partition goes through the preset and :func:`okml.schema.validate` when it is
computed, so a bad value still stops everything with today's one line naming the file, the
column and the rows (0-based in that file). The files' schemas are compared up front, from
their Parquet footers: a file whose columns or types differ is named before anything runs.

Unlike :func:`okml.data.load`, partitions are not sorted into one global order: every step
of the dask engine sorts what it needs within its partitions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from okml.config import DataParams
from okml.data import presets
from okml.data.loading import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    _list_files,
    _preset_hint,
    _read_file,
    _suffix,
    canonical,
    label_paths,
)
from okml.data.origin import Origin, one_line
from okml.data.presets import Preset
from okml.errors import ConfigError, DataError
from okml.paths import resolve
from okml.schema import CANONICAL


def _schema(file: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(file)
    except Exception as e:
        raise DataError(f"cannot read this file ({one_line(e)})", file=file) from e
    return {name: str(schema.field(name).type) for name in schema.names if not name.startswith("__")}


def check_schemas(files: Sequence[Path]) -> None:
    """All Parquet files share column names and types (read from their footers only).

    Raises
    ------
    DataError
        One line naming the first file that differs from the first file, and the column.
    """
    parquet = [f for f in files if _suffix(f) in PARQUET_SUFFIXES]
    if len(parquet) < 2:
        return
    first = _schema(parquet[0])
    root = Path(os.path.commonpath([str(f) for f in parquet]))
    name = str(parquet[0].relative_to(root))  # day=2026-03-01/part-0.parquet, not part-0
    for file in parquet[1:]:
        this = _schema(file)
        lacks = [c for c in first if c not in this]
        extra = [c for c in this if c not in first]
        if lacks or extra:
            what = (
                f"lacks column(s) {', '.join(lacks)} that {name} has"
                if lacks
                else f"has column(s) {', '.join(extra)} that {name} lacks"
            )
            raise DataError(
                f"{what}; the files of a dataset must share their schema",
                file=file,
                column=(lacks or extra)[0],
            )
        for column, kind in first.items():
            if this[column] != kind and not _compatible(this[column], kind):
                raise DataError(
                    f"is {this[column]} here but {kind} in {name}; the files of a "
                    "dataset must share their schema",
                    file=file,
                    column=column,
                )


def _compatible(a: str, b: str) -> bool:
    # the same logical type written by different tools (string vs large_string, dictionary
    # encoded strings, timestamp units) validates to the same canonical column
    def kind(t: str) -> str:
        if "string" in t or "utf8" in t:
            return "string"
        if t.startswith("timestamp"):
            return "timestamp" + ("tz" if "tz=" in t else "")
        if t.startswith("dictionary"):
            return kind(t.split("value=")[1].split(",")[0])
        return t

    return kind(a) == kind(b)


def load_file(
    file: Path, preset: Preset, params: DataParams, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """One file through ``preset`` into validated canonical transactions (errors name the
    file), reading only ``columns`` (canonical names) and what the preset needs."""
    need = preset.required_columns(params)
    if columns is not None and preset.name == "canonical" and _suffix(file) in PARQUET_SUFFIXES:
        present = _schema(file)
        keep = [c for c in present if c in set(columns) | set(need)]
        raw = pd.read_parquet(file, engine="pyarrow", columns=keep)
    else:
        raw = _read_file(file, preset)
    missing = [src for src in need if src not in raw.columns]
    if missing:
        raise DataError(
            f"missing column '{missing[0]}' that the {preset.name} preset needs"
            f"{_preset_hint(raw.columns, preset)}",
            file=file,
            column=missing[0],
        )
    if raw.empty:
        raise DataError("no payments: the file has a header but no rows", file=file)
    origin = Origin(file, (file,), np.zeros(len(raw), dtype=np.int64), np.arange(len(raw)))
    out = canonical(raw.reset_index(drop=True), origin, preset, params, file)
    if columns is None:
        return out
    return out[[c for c in out if c in set(columns) or c in CANONICAL and c in need.values()]]


def partition_files(path: str | os.PathLike[str], preset: Preset) -> list[Path]:
    """The files of a dataset (a file, a folder, or a hive-partitioned folder tree)."""
    root = resolve(path)
    files = _list_files(root, preset)
    check_schemas(files)
    return files


def load_dask(
    path: str | os.PathLike[str],
    preset: str | None = None,
    params: DataParams | None = None,
    columns: Sequence[str] | None = None,
) -> Any:
    """Validated canonical transactions as a ``dask.dataframe.DataFrame``, one partition per
    file (see the module docstring).

    Parameters
    ----------
    path:
        A file, a folder of ``.parquet``/``.csv`` files, or a hive-partitioned folder tree;
        relative paths are taken from the project root.
    preset, params:
        As for :func:`okml.data.load`.
    columns:
        Canonical columns to read (the preset's required ones are always read); default all.

    Raises
    ------
    DataError
        Missing path, no data files, or a file whose schema differs from the first one (one
        line naming it) at once; bad values when the partitions are computed.
    """
    import dask.dataframe as dd

    params = params if params is not None else DataParams()
    spec = presets.get(preset if preset is not None else params.preset)
    if spec.check is not None:
        spec.check(params)
    from okml.data.labels import label_sources

    if label_sources(*label_paths(params)) is not None:
        raise ConfigError(
            f"data.labels_dir ({params.labels_dir}) or data.review_db ({params.review_db}) holds "
            "label events, which only the local engine merges (the dask engine would train "
            "without them): use --engine local, or set both to null to leave them out"
        )
    files = partition_files(path, spec)
    meta = load_file(files[0], spec, params, columns).iloc[:0]
    return dd.from_map(
        _Part(spec.name, params, list(columns) if columns is not None else None),
        files,
        meta=meta,
        label="okml-load",
        enforce_metadata=False,
    )


class _Part:
    """Picklable per-file loader for ``dd.from_map`` (presets are looked up by name)."""

    def __init__(self, preset: str, params: DataParams, columns: list[str] | None) -> None:
        self.preset, self.params, self.columns = preset, params, columns

    def __call__(self, file: Path) -> pd.DataFrame:
        return load_file(file, presets.get(self.preset), self.params, self.columns)


__all__ = ["CSV_SUFFIXES", "check_schemas", "load_dask", "load_file", "partition_files"]
