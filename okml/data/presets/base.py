"""The :class:`Preset` record and helpers that preset modules share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from okml.config import DataParams
    from okml.data.origin import Origin

#: ``map(raw, params, origin) -> frame``: the user's table -> canonical column names.
Mapper = Callable[[pd.DataFrame, "DataParams", "Origin"], pd.DataFrame]


@dataclass(frozen=True)
class Preset:
    """One kind of input.

    Attributes
    ----------
    name, description:
        What ``--preset`` takes and what ``okml validate --help`` says of it.
    columns:
        canonical column -> the file's column, for columns mapped one to one (error messages
        name the file's column; :func:`okml.data.load` checks they exist in every file).
    map:
        Builds the canonical frame from the raw table (see :data:`Mapper`).
    required:
        ``params -> {file column: canonical column}`` that every file must have; default
        ``columns`` as they are.
    sources:
        ``params -> {canonical column: file column}`` for error messages; default ``columns``.
    timezone:
        ``params -> zone`` in which naive timestamps are read (None: naive ones are errors).
    label_time:
        ``(frame, params) -> frame`` that sets ``label_time`` after validation, for data that
        has none (None: the file's own ``label_time``, if any, is kept).
    check:
        ``params -> None``: raise :class:`~okml.errors.ConfigError` for bad settings before
        any file is read.
    reads_pickles:
        Open ``.pkl`` files (unpickling runs code: only for published data that comes so).
    """

    name: str
    description: str
    columns: Mapping[str, str] = field(default_factory=dict)
    map: Mapper = lambda raw, params, origin: raw  # noqa: E731 (the identity is the default)
    required: Callable[[DataParams], dict[str, str]] | None = None
    sources: Callable[[DataParams], dict[str, str]] | None = None
    timezone: Callable[[DataParams], str | None] = lambda params: None  # noqa: E731
    label_time: Callable[[pd.DataFrame, DataParams], pd.DataFrame] | None = None
    check: Callable[[DataParams], None] | None = None
    reads_pickles: bool = False

    def required_columns(self, params: DataParams) -> dict[str, str]:
        """File column -> canonical column that every file of this preset must have."""
        if self.required is not None:
            return self.required(params)
        return {src: canon for canon, src in self.columns.items()}

    def source_names(self, params: DataParams) -> dict[str, str]:
        """Canonical column -> the file's column, for messages."""
        return self.sources(params) if self.sources is not None else dict(self.columns)


def rename(columns: Mapping[str, str]) -> Mapper:
    """A mapper that renames ``columns`` (canonical -> file) and keeps the rest as extras."""
    from okml.data.origin import extras

    def _map(raw: pd.DataFrame, params: DataParams, origin: Origin) -> pd.DataFrame:
        cols: dict[str, Any] = {c: raw[src] for c, src in columns.items()}
        return pd.DataFrame(cols | extras(raw, set(columns.values())), index=raw.index)

    return _map
