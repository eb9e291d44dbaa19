"""Payments as parallel arrays (:class:`Rows`) and the ids of accounts and devices that the
fraud scenarios add (:class:`Ids`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class Rows:
    """Payments as parallel arrays, compact dtypes; strings are built once at the end."""

    ts: np.ndarray  # int64 seconds since the epoch (UTC)
    cust: np.ndarray  # int32 account index
    merch: np.ndarray  # int32 merchant index
    amount: np.ndarray  # float64 CNY, 2 decimals
    channel: np.ndarray  # int8 code into CHANNELS
    device: np.ndarray  # int32 device index
    region: np.ndarray  # int16 code into REGIONS
    ftype: np.ndarray  # int8: 0 legitimate, else the code of its scenario (Scenario.code)
    incident: np.ndarray  # int64: rows of one victim's incident share it; -1 legitimate
    # int64: who is behind a fraud (a ring's number, a merchant, a customer's episode: see
    # Scenario.actor), the ground truth of actor_id; -1 legitimate
    actor: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, idx: np.ndarray) -> Rows:
        return Rows(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


def make_rows(n: int, **cols: np.ndarray | int | float) -> Rows:
    """Build rows from arrays or scalars (broadcast), casting to the compact dtypes; ``actor``
    defaults to ``incident``."""
    dtypes = {
        "ts": np.int64,
        "cust": np.int32,
        "merch": np.int32,
        "amount": np.float64,
        "channel": np.int8,
        "device": np.int32,
        "region": np.int16,
        "ftype": np.int8,
        "incident": np.int64,
        "actor": np.int64,
    }
    cols.setdefault("incident", -1)
    cols.setdefault("actor", cols["incident"])  # by default each incident is its own actor
    return Rows(
        **{k: np.broadcast_to(np.asarray(cols.get(k, 0), dtype=t), (n,)).copy() for k, t in dtypes.items()}
    )


def concat(parts: Sequence[Rows]) -> Rows:
    return Rows(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Rows)})


class Ids:
    """Hands out new account and device indices after the legitimate ones."""

    def __init__(self, n_customers: int, n_devices: int) -> None:
        self.n_customers, self.n_devices = n_customers, n_devices
        self.created: list[np.ndarray] = []  # account_created_at of the new accounts, in order

    def accounts(self, created: np.ndarray) -> np.ndarray:
        created = np.asarray(created, dtype=np.int64)
        ids = np.arange(self.n_customers, self.n_customers + len(created), dtype=np.int32)
        self.n_customers += len(created)
        self.created.append(created)
        return ids

    def devices(self, n: int) -> np.ndarray:
        ids = np.arange(self.n_devices, self.n_devices + n, dtype=np.int32)
        self.n_devices += n
        return ids


def by_customer(rows: Rows, customers: np.ndarray) -> dict[int, Rows]:
    """Rows of a few customers, each in time order."""
    sub = rows.take(np.flatnonzero(np.isin(rows.cust, customers)))
    order = np.lexsort((sub.ts, sub.cust))
    sub = sub.take(order)
    cuts = np.searchsorted(sub.cust, customers)
    ends = np.searchsorted(sub.cust, customers, side="right")
    return {int(c): sub.take(np.arange(a, b)) for c, a, b in zip(customers, cuts, ends, strict=True)}
