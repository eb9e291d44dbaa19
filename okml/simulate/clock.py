"""Time helpers: the start date, local hours to UTC, and bursts of payments minutes apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from okml.errors import ConfigError
from okml.simulate.tables import DAY, HOUR, LOCAL_OFFSET_S


def start_seconds(start: str) -> int:
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"simulate.start: cannot parse {start!r} as a date ({e})") from None
    if ts is pd.NaT:
        raise ConfigError(f"simulate.start: cannot parse {start!r} as a date")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000_000)


def local_to_utc(day: np.ndarray, local_hour: np.ndarray, start: int) -> np.ndarray:
    """Timestamps for local hours of a day; early-morning hours wrap inside the same UTC day
    so that every payment stays inside the simulated period."""
    sec = (np.mod(local_hour, 24.0) * HOUR).astype(np.int64)
    return start + day.astype(np.int64) * DAY + np.mod(sec - LOCAL_OFFSET_S, DAY)


def burst_offsets(sizes: np.ndarray, gap_s: float, rng: np.random.Generator) -> np.ndarray:
    """Seconds from the first payment of each group, exponential gaps of mean ``gap_s``."""
    n = int(sizes.sum())
    gap = rng.exponential(gap_s, n)
    starts = np.cumsum(sizes) - sizes
    gap[starts[sizes > 0]] = 0.0
    total = np.cumsum(gap)
    return total - np.repeat(total[starts[sizes > 0]], sizes[sizes > 0])
