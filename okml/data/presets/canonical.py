"""``canonical``: Parquet or CSV already in canonical column names (what ``okml simulate``
writes)."""

from __future__ import annotations

from okml.data.presets.base import Preset
from okml.schema import REQUIRED

PRESET = Preset(
    "canonical",
    "Parquet or CSV already in canonical column names (what `okml simulate` writes)",
    columns={c: c for c in REQUIRED},
)
