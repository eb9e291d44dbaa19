"""``okml rings --date D``: the groups of linked accounts active on a local day, ranked, with
their members, size, payments, amounts and the share already confirmed (:mod:`okml.rings`).

The transactions come from ``data.path`` with every label source merged (``okml.data.load``),
so "confirmed" is what was known by the end of the day. When a scored file covers the day
(``--scored``, default the newest in ``explain.scored_dir``), the members the model flagged
that day are counted too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from okml.config import Params
from okml.errors import OkmlError
from okml.paths import resolve


def _scored_flags(path: Path) -> pd.DataFrame:
    """``timestamp, customer_id, flag`` of a scored file, or a one-line :class:`DataError`."""
    import pyarrow.parquet as pq

    from okml.errors import DataError

    if not path.exists():
        raise DataError("scored file not found; run `okml score` first", file=path)
    try:
        names = set(pq.read_schema(path).names)
    except Exception as e:  # pyarrow raises several types for a broken file
        raise DataError(f"cannot read Parquet ({type(e).__name__})", file=path) from None
    for column in ("timestamp", "customer_id", "flag"):
        if column not in names:
            raise DataError(f"not a scored file (no column {column}); write one with `okml score`",
                            file=path, column=column)  # fmt: skip
    return pd.read_parquet(path, columns=["timestamp", "customer_id", "flag"])


def _flagged(params: Params, scored: str | None, day: str) -> tuple[pd.Series | None, str]:
    """Customers flagged on local ``day`` by the scored file, and which file (or why none)."""
    from okml.jobs.report import default_scored
    from okml.rings import local_day_bounds

    try:
        path = resolve(scored) if scored else default_scored(params)
    except OkmlError as e:
        if scored:
            raise
        return None, f"no scored file ({e})"
    rows = _scored_flags(path)
    start, end = local_day_bounds(day, params.features.timezone)
    of_day = rows.loc[(rows["timestamp"] >= start) & (rows["timestamp"] < end)]
    if of_day.empty:
        if scored:
            raise OkmlError(f"--scored {path}: it has no payment on {day} ({params.features.timezone})")
        return None, f"the newest scored file {path.name} does not cover {day}"
    return of_day.loc[of_day["flag"].fillna(False).astype(bool), "customer_id"], path.name


def listed(params: Params, date: str | None = None, scored: str | None = None) -> tuple[Any, ...]:
    """``(day, rings, has_flags, flags_note)`` of ``okml rings``."""
    from okml.data import load
    from okml.rings import active_rings

    tx = load(params.data.path, params=params.data)
    tz = params.features.timezone
    last = tx["timestamp"].max().tz_convert(tz).strftime("%Y-%m-%d")
    first = tx["timestamp"].min().tz_convert(tz).strftime("%Y-%m-%d")
    day = date or last
    try:
        stamp = pd.Timestamp(day)
    except ValueError:
        raise OkmlError(f"--date {day!r}: expected a local day YYYY-MM-DD") from None
    day = stamp.strftime("%Y-%m-%d")
    if not first <= day <= last:
        raise OkmlError(f"--date {day}: outside the data of {params.data.path} ({first} .. {last}, {tz})")
    flagged, note = _flagged(params, scored, day)
    return day, active_rings(tx, params.features, day, flagged=flagged), flagged is not None, note


def _members(row: pd.Series, shown: int = 20) -> str:
    members = list(map(str, row["members"]))
    more = f" and {len(members) - shown} more" if len(members) > shown else ""
    return ", ".join(members[:shown]) + more


def rings_cli(
    params: Params, date: str | None = None, scored: str | None = None, output: str | None = None
) -> int:
    """Print the rings of ``date`` (default: the data's last local day), ranked, and write them
    to ``output`` (CSV, one row per ring; members, devices and merchants joined by ``;``)."""
    from okml.io import atomic_path

    day, rings, has_flags, note = listed(params, date, scored)
    tz = params.features.timezone
    window = params.features.graph_window
    if rings.empty:
        print(f"no group of linked accounts active on {day} ({tz}; graph of {window}, hubs damped)")
    else:
        print(f"{len(rings)} group(s) of linked accounts active on {day} ({tz}; graph of the payments of "
              f"{window} before its end, hubs damped)")  # fmt: skip
        print(f"flagged members: {'from ' if has_flags else ''}{note}")
        for _, r in rings.iterrows():
            print(f"  {r['ring_id']}  {r['size']} accounts on {len(r['devices'])} device(s)  "
                  f"{r['payments_day']} payments {r['amount_day']:,.2f} that day, {r['payments']} "
                  f"({r['amount']:,.2f}) in the graph  confirmed {r['confirmed_share']:.0%}  "
                  + (f"flagged {r['flagged_customers']}  " if has_flags else "")
                  + f"merchants {', '.join(map(str, r['merchants'][:3]))}")  # fmt: skip
            print(f"        members {_members(r)}")
        print(f"evidence: okml evidence --ring {rings['ring_id'].iloc[0]}")
    if output:
        out = rings.assign(**{c: rings[c].map(lambda v: ";".join(map(str, v))) for c in
                              ("members", "devices", "merchants")})  # fmt: skip
        with atomic_path(output) as tmp:
            out.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
        print(f"wrote {Path(output)}")
    return 0
