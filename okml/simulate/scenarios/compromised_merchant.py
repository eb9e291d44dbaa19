"""``compromised_merchant``: for a period a share of the payments at a merchant are fraudulent
(skimming, inflated charges), paid by its ordinary customers.

The scenario adds no payments: it turns legitimate ones at busy offline shops into fraud,
charged a little more than the customer meant to pay. Knobs: ``simulate.compromised_merchant``.
"""

from __future__ import annotations

import numpy as np

from okml.config import SimulateParams
from okml.simulate.rows import Rows, make_rows
from okml.simulate.scenario import Context, Scenario
from okml.simulate.tables import CAT, DAY
from okml.simulate.world import World

_SKIMMABLE = [CAT[c] for c in ("grocery", "food", "health", "entertainment", "fashion", "home")]


def _compromised_merchants(
    p: SimulateParams,
    w: World,
    legit: Rows,
    rng: np.random.Generator,
    shared: np.random.Generator,
    counts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions of legitimate rows that become skimming fraud, their new amounts,
    incidents (one per merchant and customer) and actors (the merchant).

    ``counts``: legitimate payments of each merchant, over the whole world; ``shared`` draws
    which merchants and when, the same for every block of a sharded world, whose payments at
    those merchants each block then skims on its own.
    """
    q = p.compromised_merchant
    empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64))
    if q.merchants == 0 or q.fraud_share == 0:
        return empty
    shops = np.isin(w.m_cat, _SKIMMABLE) & ~w.m_online & (counts > 0)
    if not shops.any():
        shops = counts > 0
    # skimmers go where the card traffic is
    weight = np.where(shops, counts, 0.0)
    n = min(q.merchants, int(shops.sum()))
    if n == 0:
        return empty
    chosen = shared.choice(len(w.m_cat), n, replace=False, p=weight / weight.sum())
    days_s = q.days * DAY
    at = np.flatnonzero(np.isin(legit.merch, chosen))
    pos, amount, incident, actor = [], [], [], []
    for m in chosen:  # a few dozen merchants
        t0 = shared.uniform(w.start, max(w.end - days_s, w.start + 1))
        rows = at[(legit.merch[at] == m) & (legit.ts[at] >= t0) & (legit.ts[at] < t0 + days_s)]
        hit = rows[rng.random(len(rows)) < q.fraud_share]
        pos.append(hit)
        # skimmed payments are charged a little more than the customer meant to pay
        amount.append(np.round(legit.amount[hit] * rng.uniform(1.05, 1.8, len(hit)), 2))
        incident.append(int(m) * np.int64(w.n_customers) + legit.cust[hit])
        actor.append(np.full(len(hit), m, dtype=np.int64))
    return np.concatenate(pos), np.concatenate(amount), np.concatenate(incident), np.concatenate(actor)


def generate(ctx: Context) -> Rows:
    pos, amount, incident, actor = _compromised_merchants(
        ctx.params, ctx.world, ctx.legit, ctx.rng, ctx.shared, ctx.merchant_traffic()
    )
    ctx.turn_into_fraud(pos, amount, incident, actor)
    return make_rows(0)


SCENARIO = Scenario(
    name="compromised_merchant",
    code=3,
    reportable=True,
    stage="compromised merchants",
    generate=generate,
    actor="merchant",
    actor_prefix="merchant",
)
