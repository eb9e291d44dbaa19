"""Errors that users can act on.

Each ``OkmlError`` is printed by the CLI as one line (no traceback unless ``--debug``)
and ends the process with exit code 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class OkmlError(Exception):
    """An error caused by input, parameters or environment, with a one-line message."""

    exit_code = 2


class ConfigError(OkmlError):
    """``params.yaml`` or a ``--set`` override is wrong."""


class DataError(OkmlError):
    """An input file does not fit the canonical transaction schema."""

    def __init__(
        self,
        reason: str,
        *,
        file: Any = None,
        column: str | None = None,
        rows: Iterable[Any] | None = None,
    ) -> None:
        self.reason, self.file, self.column = reason, file, column
        self.rows = list(rows)[:3] if rows is not None else []
        parts = []
        if file is not None:
            parts.append(str(file))
        if column is not None:
            parts.append(f"column '{column}'")
        if self.rows:
            parts.append("rows " + ", ".join(str(r) for r in self.rows))
        where = ": ".join([", ".join(parts)]) if parts else ""
        super().__init__(f"{where}: {reason}" if where else reason)


class FeatureError(OkmlError):
    """The feature engine computed something it must never return (an okml defect)."""


class LockedError(OkmlError):
    """Another retrain holds the lock."""

    exit_code = 3


class NotebookError(OkmlError):
    """A papermill-run notebook failed; the message names the cell and its error."""


class ClusterError(OkmlError):
    """The Dask cluster cannot be reached, or a step failed on it (a worker died)."""
