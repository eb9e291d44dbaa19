"""Where each row of a loaded table came from, so that errors name the user's file and row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from okml.errors import DataError
from okml.schema import CANONICAL


@dataclass(frozen=True)
class Origin:
    """Where each row of a concatenated frame came from, to name files and rows in errors."""

    path: Path
    files: tuple[Path, ...]
    file_index: np.ndarray  # per row: index into ``files``
    file_row: np.ndarray  # per row: 0-based position in its file

    def take(self, keep: np.ndarray) -> Origin:
        return Origin(self.path, self.files, self.file_index[keep], self.file_row[keep])

    def locate(self, rows: Sequence[int] | np.ndarray) -> tuple[Path, list[Any]]:
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
        return self.path, [
            f"{self.files[int(self.file_index[r])].name}:{int(self.file_row[r])}" for r in rows
        ]

    def error(
        self, reason: str, column: str | None = None, rows: Sequence[int] | np.ndarray = ()
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


def one_line(e: BaseException) -> str:
    """An exception's message on one line, at most about 200 characters."""
    text = " ".join(str(e).split())
    return (text[:200] + "...") if len(text) > 200 else text or type(e).__name__


def integer_ids(s: pd.Series) -> pd.Series:
    """Object columns holding Python ints (the Handbook pickles) as int64; others unchanged."""
    if s.dtype == object and s.notna().all():
        if pd.api.types.infer_dtype(s, skipna=False) == "integer":
            return s.astype("int64")
    return s


def extras(raw: pd.DataFrame, used: set[str]) -> dict[str, pd.Series]:
    """Source columns the preset does not map, kept under their own names (ignored later)."""
    return {c: raw[c] for c in raw.columns if c not in used and c not in CANONICAL}


def utc_setting(text: str, key: str) -> pd.Timestamp:
    """A timestamp from params that must carry an offset, in UTC."""
    from okml.errors import ConfigError

    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ConfigError(f"{key}: cannot parse {text!r}; use e.g. '2026-01-01T00:00:00Z'") from None
    if t.tzinfo is None:
        raise ConfigError(f"{key}: {text!r} has no offset; write e.g. '2026-01-01T00:00:00Z'")
    return t.tz_convert("UTC")
