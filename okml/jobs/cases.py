"""``okml cases``: the day's cases of a scored file, as a table a reviewer or a script reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from okml.config import Params
from okml.errors import OkmlError
from okml.features import lookback
from okml.paths import resolve


def cases_cli(
    params: Params, scored: str | None = None, date: str | None = None, output: str | None = None
) -> int:
    """Print the cases of ``date`` (default: the scored file's last local day), best first,
    and write them to ``output`` (CSV, one row per case) when given."""
    from okml.cases import build_cases, cases_frame
    from okml.io import atomic_path
    from okml.jobs.report import default_scored

    path = resolve(scored) if scored else default_scored(params)
    rows = pd.read_parquet(path)
    cases = build_cases(rows, params.features.timezone, lookback(params.features), params.explain.top_reasons)
    days = sorted({c.day for c in cases})
    if not days:
        print(f"{path}: no flagged payment, no case")
        return 0
    day = date or days[-1]
    if day not in days:
        raise OkmlError(
            f"--date {day}: no case that day in {path} (days with cases: {days[0]} .. {days[-1]})"
        )
    chosen = [c for c in cases if c.day == day]
    table = cases_frame(chosen)
    money = table["flagged_amount"].sum()
    print(f"{len(chosen)} cases on {day} ({params.features.timezone}) in {path.name}: "
          f"{int(table['n_flagged'].sum())} flagged payments, {money:,.2f} flagged")  # fmt: skip
    shown = table.head(params.evaluate.k)
    for _, c in shown.iterrows():
        why = "; ".join(c["reasons"][:2])
        print(f"  {c['rank']:>3}  {c['customer_id']}  score {c['score']:.3f}  "
              f"{c['n_flagged']} payment(s), {c['flagged_amount']:,.2f}  {why}")  # fmt: skip
    if len(table) > len(shown):
        print(f"  ... {len(table) - len(shown)} more (the budget evaluate.k is {params.evaluate.k})")
    if output:
        out = table.assign(reasons=table["reasons"].map(" | ".join))
        with atomic_path(output) as tmp:
            out.to_csv(tmp, index=False)
        print(f"wrote {Path(output)}")
    return 0


def compensation_cli(params: Params, start: str, end: str, output: str | None = None) -> int:
    """``okml cases --compensation --from D1 --to D2``: the ledger of payments to pay back for
    the cases confirmed as fraud on local days D1 .. D2 (:func:`okml.compensation.ledger`),
    written as CSV for finance (default ``<review db folder>/compensation-D1_D2.csv``)."""
    from okml.compensation import ledger
    from okml.data import load
    from okml.io import atomic_path
    from okml.review import ReviewStore

    for flag, text in (("--from", start), ("--to", end)):
        try:
            pd.Timestamp(text)
        except ValueError:
            raise OkmlError(f"{flag} {text!r}: not a date; use YYYY-MM-DD") from None
    if str(start) > str(end):
        raise OkmlError(f"--from {start} is after --to {end}")
    if not params.data.review_db:
        raise OkmlError("data.review_db is null: set it to the decisions database (data/review/review.db)")
    db = resolve(params.data.review_db)
    if not db.exists():
        raise OkmlError(f"{db}: no review database yet; decisions are made in `okml review`")
    store = ReviewStore(db)
    try:
        confirmed = store.confirmed(start, end)
    finally:
        store.close()
    out = resolve(output) if output else db.parent / f"compensation-{start}_{end}.csv"
    tx = load(params.data.path, params=params.data)  # labels merged: the decisions count
    book = ledger(tx, confirmed, params.features.timezone, lookback(params.features))
    with atomic_path(out) as tmp:
        book.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
    total = book["amount"].sum() if len(book) else 0.0
    payees = book["payee"].nunique() if len(book) else 0
    print(f"{len(confirmed)} case(s) confirmed as fraud on {start} .. {end}: {len(book)} payment(s) to pay "
          f"back to {payees} customer(s), {total:,.2f} in all")  # fmt: skip
    if len(book):
        for basis, part in book.groupby("basis", sort=True):
            print(f"  {basis}: {len(part)} payment(s), {part['amount'].sum():,.2f}")
    print(f"wrote {out}")
    return 0
