"""Regenerate the Fraud Detection Handbook's simulated transactions locally.

The Handbook (Le Borgne et al., "Reproducible Machine Learning for Credit Card Fraud
Detection - Practical Handbook", ULB Machine Learning Group) publishes its benchmark data
as ``simulated-data-raw``: one pickle per day, ``YYYY-MM-DD.pkl``. We may not download it,
but it comes from a seeded generator, so this module re-implements that generator and
writes the same layout.

Source followed
---------------
Repository ``Fraud-Detection-Handbook/fraud-detection-handbook``, file
``Chapter_3_GettingStarted/SimulatedDataset.ipynb`` ("Transaction data simulator"), stored
version at commit ``8419c267c858353c53d9bf27bce31fa52b0afd2c`` (Python 3.9.7 kernel). The
functions below keep the Handbook's names, arguments and, above all, the order of every
random draw:

- customer profiles: ``np.random.seed(0)``, then per customer ``uniform(0, 100)`` twice
  (location), ``uniform(5, 100)`` (mean amount; std = mean / 2), ``uniform(0, 4)`` (mean
  transactions per day);
- terminal profiles: ``np.random.seed(1)`` (``generate_dataset`` passes 1), then
  ``uniform(0, 100)`` twice per terminal;
- available terminals: Euclidean distance ``< r``;
- transactions: per customer, ``random.seed(id)`` and ``np.random.seed(id)``; per day
  ``poisson(mean_nb_tx_per_day)``; per transaction ``int(normal(43200, 20000))`` seconds,
  kept only inside ``(0, 86400)``, then ``normal(mean, std)`` (``uniform(0, 2 * mean)`` when
  negative), rounded to cents, then ``random.choice`` of a terminal;
- rows sorted by ``TX_DATETIME`` with pandas' default (unstable) quicksort, then
  ``TRANSACTION_ID`` = row number;
- frauds: scenario 1, amount > 220; scenario 2, for ``day in range(max_day)`` two terminals
  drawn with ``sample(n=2, random_state=day)`` are compromised for 28 days; scenario 3, for
  each day three customers drawn with ``sample(n=3, random_state=day)``; over 14 days, a third
  of their transactions (``random.seed(day); random.sample(...)``) get amount x 5 and
  become frauds. Later scenarios overwrite earlier labels.

Differences from the notebook, none of which changes a random draw: per-customer streams use
private ``RandomState`` / ``random.Random`` objects seeded the same way (no global state is
touched); rounding and the fraud masks are vectorised; numpy 2 sorts ``int64`` with SIMD code
that orders ties differently, so the ties of the two quicksorts are reproduced with numpy's
classic introsort (see :func:`legacy_quicksort_order`); integer columns are written as
``int64`` (the Handbook's frames were built by ``groupby().apply``, whose dtypes depend on
the pandas version); ``add_frauds`` returns a new frame instead of editing its input.

Published figures for the full size (5000 customers, 10000 terminals, 183 days from
2018-04-01, r=5): 1,754,155 transactions; frauds added by scenario 978 / 9,099 / 4,604;
14,681 frauds (0.8369 %); final labels by scenario 973 / 9,077 / 4,631.

Usage::

    python bench/handbook_data.py --output data/handbook            # full size, pickles
    python bench/handbook_data.py --customers 50 --terminals 100 --days 10 --format parquet
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SOURCE = (
    "Fraud-Detection-Handbook/fraud-detection-handbook, "
    "Chapter_3_GettingStarted/SimulatedDataset.ipynb @ 8419c267c858353c53d9bf27bce31fa52b0afd2c"
)

COLUMNS = [
    "TRANSACTION_ID",
    "TX_DATETIME",
    "CUSTOMER_ID",
    "TERMINAL_ID",
    "TX_AMOUNT",
    "TX_TIME_SECONDS",
    "TX_TIME_DAYS",
    "TX_FRAUD",
    "TX_FRAUD_SCENARIO",
]

#: The Handbook's full-size settings (chapter 3, "Scaling up to a larger dataset").
HANDBOOK_SETTINGS = {
    "n_customers": 5000,
    "n_terminals": 10000,
    "nb_days": 183,
    "start_date": "2018-04-01",
    "r": 5.0,
}

#: What the Handbook's notebook printed for :data:`HANDBOOK_SETTINGS`.
PUBLISHED = {
    "transactions": 1_754_155,
    "frauds": 14_681,
    "fraud_rate": 0.008369271814634397,
    "frauds_added": {1: 978, 2: 9_099, 3: 4_604},
    "final_labels": {1: 973, 2: 9_077, 3: 4_631},
}

SECONDS_PER_DAY = 86400
FORMATS = {"pickle": ".pkl", "parquet": ".parquet"}
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.(pkl|parquet)$")


@dataclass(frozen=True)
class HandbookData:
    """Everything one run of the generator produces.

    Attributes
    ----------
    customers, terminals
        The profile tables (customers with their ``available_terminals``).
    transactions
        Labelled transactions with :data:`COLUMNS`, sorted like the Handbook's.
    frauds_added
        Frauds each scenario added when it ran, as the Handbook prints them
        (scenario -> count); they differ from the final ``TX_FRAUD_SCENARIO`` counts
        because later scenarios relabel earlier frauds.
    """

    customers: pd.DataFrame
    terminals: pd.DataFrame
    transactions: pd.DataFrame
    frauds_added: dict[int, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- profiles
def generate_customer_profiles_table(n_customers: int, random_state: int = 0) -> pd.DataFrame:
    """Draw customer locations, spending amounts and frequencies (Handbook order).

    Parameters
    ----------
    n_customers : int
        Number of customers; ids are ``0 .. n_customers - 1``.
    random_state : int
        Seed of the legacy ``RandomState`` the Handbook seeds globally.

    Returns
    -------
    pandas.DataFrame
        Columns ``CUSTOMER_ID, x_customer_id, y_customer_id, mean_amount, std_amount,
        mean_nb_tx_per_day``.
    """
    _check_positive(n_customers, "n_customers")
    rs = np.random.RandomState(random_state)
    rows = []
    # One customer at a time: the four draws are interleaved per customer in the stream.
    for customer_id in range(n_customers):
        x = rs.uniform(0, 100)
        y = rs.uniform(0, 100)
        mean_amount = rs.uniform(5, 100)
        mean_nb_tx_per_day = rs.uniform(0, 4)
        rows.append([customer_id, x, y, mean_amount, mean_amount / 2, mean_nb_tx_per_day])
    return pd.DataFrame(
        rows,
        columns=[
            "CUSTOMER_ID",
            "x_customer_id",
            "y_customer_id",
            "mean_amount",
            "std_amount",
            "mean_nb_tx_per_day",
        ],
    )


def generate_terminal_profiles_table(n_terminals: int, random_state: int = 0) -> pd.DataFrame:
    """Draw terminal locations on the 100 x 100 grid (Handbook order).

    Parameters
    ----------
    n_terminals : int
        Number of terminals; ids are ``0 .. n_terminals - 1``.
    random_state : int
        Seed of the legacy ``RandomState`` (the Handbook's ``generate_dataset`` uses 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``TERMINAL_ID, x_terminal_id, y_terminal_id``.
    """
    _check_positive(n_terminals, "n_terminals")
    rs = np.random.RandomState(random_state)
    rows = []
    for terminal_id in range(n_terminals):
        x = rs.uniform(0, 100)
        y = rs.uniform(0, 100)
        rows.append([terminal_id, x, y])
    return pd.DataFrame(rows, columns=["TERMINAL_ID", "x_terminal_id", "y_terminal_id"])


def get_list_terminals_within_radius(
    customer_profile: pd.Series, x_y_terminals: np.ndarray, r: float
) -> list[int]:
    """Return the ids (row numbers) of terminals strictly closer than ``r`` to a customer.

    Parameters
    ----------
    customer_profile : pandas.Series
        One row of the customer table (needs ``x_customer_id``, ``y_customer_id``).
    x_y_terminals : numpy.ndarray
        Terminal coordinates, shape ``(n_terminals, 2)``.
    r : float
        Radius.

    Returns
    -------
    list of int
        Terminal row numbers in increasing order.
    """
    x_y_customer = np.array(
        [customer_profile["x_customer_id"], customer_profile["y_customer_id"]], dtype=float
    )
    # Same arithmetic as the Handbook (square, sum, sqrt) so boundary cases fall the same way.
    dist = np.sqrt(np.sum(np.square(x_y_customer - x_y_terminals), axis=1))
    return [int(i) for i in np.where(dist < r)[0]]


def _available_terminals(customers: pd.DataFrame, terminals: pd.DataFrame, r: float) -> pd.DataFrame:
    """Return a copy of ``customers`` with ``available_terminals`` and ``nb_terminals``."""
    x_y_terminals = terminals[["x_terminal_id", "y_terminal_id"]].to_numpy(dtype=float)
    out = customers.copy()
    out["available_terminals"] = [
        get_list_terminals_within_radius(row, x_y_terminals, r) for _, row in customers.iterrows()
    ]
    out["nb_terminals"] = out["available_terminals"].map(len)
    return out


# --------------------------------------------------------------------------- transactions
def _customer_draws(
    customer_id: int,
    mean_nb_tx_per_day: float,
    mean_amount: float,
    std_amount: float,
    available_terminals: Sequence[int],
    nb_days: int,
) -> tuple[list[int], list[int], list[int], list[float]]:
    """One customer's transactions as raw lists (seconds, day, terminal, unrounded amount).

    This is the Handbook's inner loop, call for call; it is kept apart from
    :func:`generate_transactions_table` so the full run does not build 5000 small frames.
    """
    # Same seeds as random.seed(id) / np.random.seed(id), without touching global state.
    py_rng = random.Random(customer_id)
    np_rng = np.random.RandomState(customer_id)
    poisson, normal, uniform, choice = np_rng.poisson, np_rng.normal, np_rng.uniform, py_rng.choice
    terminals = list(available_terminals)
    seconds: list[int] = []
    days: list[int] = []
    chosen: list[int] = []
    amounts: list[float] = []
    for day in range(nb_days):
        nb_tx = poisson(mean_nb_tx_per_day)
        for _ in range(nb_tx):
            time_tx = int(normal(SECONDS_PER_DAY / 2, 20000))
            if 0 < time_tx < SECONDS_PER_DAY:
                amount = normal(mean_amount, std_amount)
                if amount < 0:
                    amount = uniform(0, mean_amount * 2)
                # The amount is drawn even when no terminal is in reach: the stream must
                # advance exactly as in the Handbook.
                if terminals:
                    chosen.append(int(choice(terminals)))
                    seconds.append(time_tx + day * SECONDS_PER_DAY)
                    days.append(day)
                    amounts.append(float(amount))
    return seconds, days, chosen, amounts


def _transactions_frame(
    seconds: np.ndarray,
    days: np.ndarray,
    customer_ids: np.ndarray,
    terminal_ids: np.ndarray,
    amounts: np.ndarray,
    start_date: str,
) -> pd.DataFrame:
    tx_datetime = pd.Timestamp(start_date) + pd.to_timedelta(seconds, unit="s")
    return pd.DataFrame(
        {
            "TX_DATETIME": np.asarray(tx_datetime, dtype="datetime64[ns]"),
            "CUSTOMER_ID": customer_ids.astype(np.int64),
            "TERMINAL_ID": terminal_ids.astype(np.int64),
            # np.round on the array equals the Handbook's per-value np.round (same ufuncs).
            "TX_AMOUNT": np.round(amounts.astype(np.float64), 2),
            "TX_TIME_SECONDS": seconds.astype(np.int64),
            "TX_TIME_DAYS": days.astype(np.int64),
        }
    )


def generate_transactions_table(
    customer_profile: pd.Series, start_date: str = "2018-04-01", nb_days: int = 10
) -> pd.DataFrame:
    """Generate one customer's transactions, exactly as the Handbook does.

    Parameters
    ----------
    customer_profile : pandas.Series
        One customer row with ``available_terminals``.
    start_date : str
        Day 0, ``YYYY-MM-DD``.
    nb_days : int
        Number of days to simulate.

    Returns
    -------
    pandas.DataFrame
        Columns ``TX_DATETIME, CUSTOMER_ID, TERMINAL_ID, TX_AMOUNT, TX_TIME_SECONDS,
        TX_TIME_DAYS`` in generation order (not sorted by time).
    """
    customer_id = int(customer_profile["CUSTOMER_ID"])
    seconds, days, chosen, amounts = _customer_draws(
        customer_id,
        float(customer_profile["mean_nb_tx_per_day"]),
        float(customer_profile["mean_amount"]),
        float(customer_profile["std_amount"]),
        customer_profile["available_terminals"],
        nb_days,
    )
    return _transactions_frame(
        np.asarray(seconds, dtype=np.int64),
        np.asarray(days, dtype=np.int64),
        np.full(len(seconds), customer_id, dtype=np.int64),
        np.asarray(chosen, dtype=np.int64),
        np.asarray(amounts, dtype=np.float64),
        start_date,
    )


def legacy_quicksort_order(values: np.ndarray) -> np.ndarray:
    """Argsort ``values`` as numpy 1.x's default quicksort did, ties included.

    The Handbook sorts with pandas' default ``kind="quicksort"`` (numpy's introsort, not
    stable), so rows with equal timestamps come out in an order set by the algorithm.
    numpy >= 1.25 sends ``int64`` argsorts to SIMD code with another tie order on CPUs
    that have it, while ``datetime64`` still uses the classic introsort, so the integers
    are sorted as datetimes.

    Parameters
    ----------
    values : numpy.ndarray
        Integers (no ``INT64_MIN``, which would read as NaT).

    Returns
    -------
    numpy.ndarray
        Positions that sort ``values``.
    """
    as_int = np.asarray(values, dtype=np.int64)
    return np.argsort(as_int.view("datetime64[s]"), kind="quicksort")


def generate_dataset(
    n_customers: int = 10000,
    n_terminals: int = 1000000,
    nb_days: int = 90,
    start_date: str = "2018-04-01",
    r: float = 5,
    *,
    verbose: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Profiles and unlabelled transactions, sorted by time, as the Handbook's function.

    Parameters
    ----------
    n_customers, n_terminals, nb_days : int
        Sizes (the Handbook's defaults are kept; its data uses 5000, 10000, 183).
    start_date : str
        Day 0, ``YYYY-MM-DD``.
    r : float
        Radius within which a customer uses terminals.
    verbose : bool
        Print the Handbook's timing lines.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(customer_profiles_table, terminal_profiles_table, transactions_df)``; the
        transactions have ``TRANSACTION_ID`` = row number after the time sort.
    """
    _check_positive(nb_days, "nb_days")
    _check_date(start_date)
    if not r > 0:
        raise ValueError(f"r must be > 0, got {r!r}")

    t0 = time.perf_counter()
    customers = generate_customer_profiles_table(n_customers, random_state=0)
    terminals = generate_terminal_profiles_table(n_terminals, random_state=1)
    customers = _available_terminals(customers, terminals, r)
    if verbose:
        print(f"Time to generate profiles and associate terminals: {time.perf_counter() - t0:.2f}s")

    t0 = time.perf_counter()
    parts: list[tuple[list[int], list[int], list[int], list[float]]] = []
    id_parts: list[np.ndarray] = []
    # Customers in id order, as groupby('CUSTOMER_ID').apply concatenated them.
    for row in customers.itertuples(index=False):
        draws = _customer_draws(
            int(row.CUSTOMER_ID),
            float(row.mean_nb_tx_per_day),
            float(row.mean_amount),
            float(row.std_amount),
            row.available_terminals,
            nb_days,
        )
        parts.append(draws)
        id_parts.append(np.full(len(draws[0]), int(row.CUSTOMER_ID), dtype=np.int64))
    if verbose:
        print(f"Time to generate transactions: {time.perf_counter() - t0:.2f}s")

    def column(i: int, dtype: type) -> np.ndarray:
        return np.fromiter((v for p in parts for v in p[i]), dtype=dtype)

    tx = _transactions_frame(
        column(0, np.int64),
        column(1, np.int64),
        np.concatenate(id_parts) if id_parts else np.empty(0, dtype=np.int64),
        column(2, np.int64),
        column(3, np.float64),
        start_date,
    )
    order = legacy_quicksort_order(tx["TX_TIME_SECONDS"].to_numpy())
    tx = tx.iloc[order].reset_index(drop=True)
    tx.insert(0, "TRANSACTION_ID", np.arange(len(tx), dtype=np.int64))
    return customers, terminals, tx


# --------------------------------------------------------------------------- frauds
def _add_frauds(
    customer_profiles_table: pd.DataFrame,
    terminal_profiles_table: pd.DataFrame,
    transactions_df: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[int, int]]:
    days = transactions_df["TX_TIME_DAYS"].to_numpy()
    if len(days) and np.any(np.diff(days) < 0):
        raise ValueError("transactions_df must be sorted by time, as generate_dataset returns it")
    if not transactions_df.index.equals(pd.RangeIndex(len(transactions_df))):
        # Scenario 3 samples from index labels; our arrays use positions.
        raise ValueError("transactions_df must have a default RangeIndex")

    amount = transactions_df["TX_AMOUNT"].to_numpy(dtype=np.float64, copy=True)
    terminal = transactions_df["TERMINAL_ID"].to_numpy()
    customer = transactions_df["CUSTOMER_ID"].to_numpy()
    fraud = np.zeros(len(amount), dtype=np.int64)
    scenario = np.zeros(len(amount), dtype=np.int64)
    terminal_ids = terminal_profiles_table["TERMINAL_ID"].to_numpy()
    customer_ids = customer_profiles_table["CUSTOMER_ID"].to_numpy()
    max_day = int(days.max()) if len(days) else 0

    def window(day: int, length: int) -> slice:
        # Rows are sorted by time, so a day range is a contiguous block.
        lo, hi = np.searchsorted(days, [day, day + length], side="left")
        return slice(int(lo), int(hi))

    # Scenario 1: large amounts.
    big = amount > 220
    fraud[big] = 1
    scenario[big] = 1
    added = {1: int(fraud.sum())}

    # Scenario 2: two terminals a day, compromised for 28 days. range(max_day) skips the
    # last day, as in the Handbook. Series.sample(n, random_state=day) is
    # RandomState(day).choice(len, n, replace=False).
    for day in range(max_day):
        picks = terminal_ids[np.random.RandomState(day).choice(len(terminal_ids), 2, replace=False)]
        w = window(day, 28)
        hit = np.flatnonzero(np.isin(terminal[w], picks)) + w.start
        fraud[hit] = 1
        scenario[hit] = 2
    added[2] = int(fraud.sum()) - added[1]

    # Scenario 3: three customers a day; a third of their next 14 days' transactions are
    # multiplied by 5 (again on every overlapping window, as in the Handbook).
    for day in range(max_day):
        picks = customer_ids[np.random.RandomState(day).choice(len(customer_ids), 3, replace=False)]
        w = window(day, 14)
        candidates = (np.flatnonzero(np.isin(customer[w], picks)) + w.start).tolist()
        chosen = random.Random(day).sample(candidates, k=int(len(candidates) / 3))
        amount[chosen] = amount[chosen] * 5
        fraud[chosen] = 1
        scenario[chosen] = 3
    added[3] = int(fraud.sum()) - added[2] - added[1]

    out = transactions_df.copy()
    out["TX_AMOUNT"] = amount
    out["TX_FRAUD"] = fraud
    out["TX_FRAUD_SCENARIO"] = scenario
    return out, added


def add_frauds(
    customer_profiles_table: pd.DataFrame,
    terminal_profiles_table: pd.DataFrame,
    transactions_df: pd.DataFrame,
    *,
    verbose: bool = False,
) -> pd.DataFrame:
    """Label transactions with the Handbook's three fraud scenarios.

    Parameters
    ----------
    customer_profiles_table, terminal_profiles_table : pandas.DataFrame
        The profile tables (``CUSTOMER_ID`` / ``TERMINAL_ID`` columns in id order).
    transactions_df : pandas.DataFrame
        Output of :func:`generate_dataset`: sorted by time, default ``RangeIndex``.
    verbose : bool
        Print "Number of frauds from scenario k" lines like the Handbook.

    Returns
    -------
    pandas.DataFrame
        A new frame with ``TX_FRAUD`` and ``TX_FRAUD_SCENARIO`` (0 = legitimate) and the
        scenario-3 amounts multiplied; the input is not modified.
    """
    out, added = _add_frauds(customer_profiles_table, terminal_profiles_table, transactions_df)
    if verbose:
        for k, n in added.items():
            print(f"Number of frauds from scenario {k}: {n}")
    return out


def simulate(
    n_customers: int = HANDBOOK_SETTINGS["n_customers"],
    n_terminals: int = HANDBOOK_SETTINGS["n_terminals"],
    nb_days: int = HANDBOOK_SETTINGS["nb_days"],
    start_date: str = HANDBOOK_SETTINGS["start_date"],
    r: float = HANDBOOK_SETTINGS["r"],
    *,
    verbose: bool = False,
) -> HandbookData:
    """Run the whole generator (defaults: the Handbook's published dataset).

    Returns
    -------
    HandbookData
        Profiles, labelled transactions (:data:`COLUMNS`) and per-scenario counts.
    """
    customers, terminals, tx = generate_dataset(
        n_customers, n_terminals, nb_days, start_date, r, verbose=verbose
    )
    labelled, added = _add_frauds(customers, terminals, tx)
    return HandbookData(customers, terminals, labelled[COLUMNS], added)


# --------------------------------------------------------------------------- files
def split_by_day(transactions_df: pd.DataFrame, start_date: str) -> Iterator[tuple[str, pd.DataFrame]]:
    """Yield ``(YYYY-MM-DD, rows of that day)`` as the Handbook saves them.

    Each day is sorted by ``TX_TIME_SECONDS`` with the classic quicksort (ties as the
    Handbook's files) and keeps the global index, which equals ``TRANSACTION_ID``.
    Days without transactions still yield an empty frame, so every day has a file.
    """
    day0 = dt.datetime.strptime(start_date, "%Y-%m-%d")
    days = transactions_df["TX_TIME_DAYS"].to_numpy()
    last = int(days.max()) if len(days) else -1
    for day in range(last + 1):
        rows = transactions_df[days == day]
        rows = rows.iloc[legacy_quicksort_order(rows["TX_TIME_SECONDS"].to_numpy())]
        yield (day0 + dt.timedelta(days=day)).strftime("%Y-%m-%d"), rows


def write_days(
    transactions_df: pd.DataFrame,
    output: str | Path,
    start_date: str,
    fmt: str = "pickle",
) -> list[Path]:
    """Write one file per day (``YYYY-MM-DD.pkl`` or ``.parquet``) into ``output``.

    Pickles use protocol 4 and keep the index, like the published files; Parquet files
    drop the index (it equals ``TRANSACTION_ID``). Each file is written atomically.
    """
    from okml.io import atomic_path, write_parquet

    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {sorted(FORMATS)}, got {fmt!r}")
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in split_by_day(transactions_df, start_date):
        path = out_dir / f"{name}{FORMATS[fmt]}"
        if fmt == "parquet":
            write_parquet(rows, path)
        else:
            with atomic_path(path) as tmp:
                rows.to_pickle(tmp, protocol=4)
        written.append(path)
    return written


def existing_day_files(output: str | Path) -> list[Path]:
    """Day files (``YYYY-MM-DD.pkl`` / ``.parquet``) already in ``output``."""
    out_dir = Path(output)
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if _DAY_FILE.match(p.name))


# --------------------------------------------------------------------------- summary
def summary(data: HandbookData) -> dict[str, object]:
    """Counts the Handbook reports: transactions, frauds, rate, per-scenario counts."""
    tx = data.transactions
    final = tx["TX_FRAUD_SCENARIO"].value_counts().to_dict()
    return {
        "transactions": len(tx),
        "frauds": int(tx["TX_FRAUD"].sum()),
        "fraud_rate": float(tx["TX_FRAUD"].mean()) if len(tx) else 0.0,
        "frauds_added": dict(data.frauds_added),
        "final_labels": {k: int(final.get(k, 0)) for k in (1, 2, 3)},
        "customers": int(tx["CUSTOMER_ID"].nunique()),
        "terminals": int(tx["TERMINAL_ID"].nunique()),
    }


def format_summary(stats: dict[str, object], compare: bool) -> str:
    """Render :func:`summary`, side by side with the published figures when ``compare``."""

    def line(label: str, ours: object, published: object | None) -> str:
        text = f"  {label:<36}{ours:>12}"
        if compare:
            mark = "same" if ours == published else "DIFFERS"
            text += f"{published:>14}  {mark}"
        return text

    lines = ["  " + " " * 36 + f"{'this run':>12}" + (f"{'Handbook':>14}" if compare else "")]
    lines.append(line("transactions", f"{stats['transactions']:,}", f"{PUBLISHED['transactions']:,}"))
    lines.append(line("frauds (TX_FRAUD = 1)", f"{stats['frauds']:,}", f"{PUBLISHED['frauds']:,}"))
    lines.append(line("fraud rate", f"{stats['fraud_rate']:.4%}", f"{PUBLISHED['fraud_rate']:.4%}"))
    for k in (1, 2, 3):
        lines.append(
            line(
                f"frauds added by scenario {k}",
                f"{stats['frauds_added'][k]:,}",
                f"{PUBLISHED['frauds_added'][k]:,}",
            )
        )
    for k in (1, 2, 3):
        lines.append(
            line(
                f"final TX_FRAUD_SCENARIO == {k}",
                f"{stats['final_labels'][k]:,}",
                f"{PUBLISHED['final_labels'][k]:,}",
            )
        )
    lines.append(
        f"  customers with transactions: {stats['customers']:,}; terminals used: {stats['terminals']:,}"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI
def _check_positive(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_date(value: str) -> None:
    try:
        dt.datetime.strptime(value, "%Y-%m-%d")
    except (TypeError, ValueError):
        raise ValueError(f"start date must be YYYY-MM-DD, got {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Regenerate the Fraud Detection Handbook's simulated-data-raw locally.",
        epilog=f"source: {SOURCE}",
    )
    p.add_argument(
        "--output",
        default="data/handbook",
        help="folder for the day files, relative to the project root (default: data/handbook)",
    )
    p.add_argument("--customers", type=int, default=HANDBOOK_SETTINGS["n_customers"])
    p.add_argument("--terminals", type=int, default=HANDBOOK_SETTINGS["n_terminals"])
    p.add_argument("--days", type=int, default=HANDBOOK_SETTINGS["nb_days"])
    p.add_argument("--start", default=HANDBOOK_SETTINGS["start_date"], help="day 0, YYYY-MM-DD")
    p.add_argument(
        "--radius",
        type=float,
        default=HANDBOOK_SETTINGS["r"],
        help="customers use terminals closer than this (default: 5)",
    )
    p.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default="pickle",
        help="one YYYY-MM-DD.pkl (as published) or .parquet file per day",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace day files already in --output (otherwise leave them)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    from okml.paths import resolve

    args = _parser().parse_args(argv)
    out_dir = resolve(args.output)
    try:
        for value, name in (
            (args.customers, "--customers"),
            (args.terminals, "--terminals"),
            (args.days, "--days"),
        ):
            _check_positive(value, name)
        _check_date(args.start)
        if not args.radius > 0:
            raise ValueError(f"--radius must be > 0, got {args.radius}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    existing = existing_day_files(out_dir)
    if existing and not args.force:
        print(
            f"{out_dir} already holds {len(existing)} day files; not regenerating "
            "(pass --force to replace them)"
        )
        return 0

    settings = {
        "n_customers": args.customers,
        "n_terminals": args.terminals,
        "nb_days": args.days,
        "start_date": args.start,
        "r": args.radius,
    }
    print(f"generating: {settings}\nsource: {SOURCE}")
    t0 = time.perf_counter()
    data = simulate(**settings, verbose=True)
    t_gen = time.perf_counter() - t0

    for path in existing:  # only files named like days, and only with --force
        path.unlink()
    t0 = time.perf_counter()
    written = write_days(data.transactions, out_dir, args.start, fmt=args.format)
    t_write = time.perf_counter() - t0

    print()
    print(format_summary(summary(data), compare=settings == HANDBOOK_SETTINGS))
    print(
        f"\nwrote {len(written)} {args.format} files to {out_dir} "
        f"(generation {t_gen:.1f}s, writing {t_write:.1f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
