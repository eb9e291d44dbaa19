"""``custom``: any table, with ``data.custom.columns`` mapping canonical names to its columns.

Unmapped canonical names are taken as they are. Numeric time columns are epochs in
``data.custom.timestamp_unit``; naive timestamps are read in ``data.custom.timezone``.
``data.custom.label_delay_days`` (only without a ``label_time`` column) sets ``label_time =
timestamp + delay`` for all rows, like the Handbook.
"""

from __future__ import annotations

import difflib
from typing import Any

import pandas as pd

from okml.config import DataParams
from okml.data.origin import Origin, extras, one_line
from okml.data.presets.base import Preset
from okml.errors import ConfigError
from okml.schema import CANONICAL, REQUIRED, TIME_COLUMNS


def _map(raw: pd.DataFrame, params: DataParams, origin: Origin) -> pd.DataFrame:
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
            "data.custom.label_delay_days is set but the file has a label_time column; use one or the other"
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
                    f"epoch values out of range for unit '{cfg.timestamp_unit}' ({one_line(e)})",
                    cfg.columns.get(canon, canon),
                ) from e
    return pd.DataFrame(cols | extras(raw, used), index=raw.index)


def _required(params: DataParams) -> dict[str, str]:
    mapping = params.custom.columns
    need = {src: canon for canon, src in mapping.items()}
    for canon in REQUIRED:
        if canon not in mapping:
            need.setdefault(canon, canon)
    return need


def _check(params: DataParams) -> None:
    for canon in params.custom.columns:
        if canon not in CANONICAL:
            close = difflib.get_close_matches(canon, CANONICAL, n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(CANONICAL)}"
            raise ConfigError(f"data.custom.columns.{canon}: not a canonical column{hint}")


def _label_time(out: pd.DataFrame, params: DataParams) -> pd.DataFrame:
    delay = params.custom.label_delay_days
    if delay is None:
        return out
    return out.assign(label_time=out["timestamp"] + pd.Timedelta(days=delay))


PRESET = Preset(
    "custom",
    "any table, with data.custom.columns mapping canonical names to your columns",
    map=_map,
    required=_required,
    sources=lambda params: dict(params.custom.columns),
    timezone=lambda params: params.custom.timezone,
    label_time=_label_time,
    check=_check,
)
