"""``forged_identity``: new accounts with fabricated details spend large amounts soon after
opening, then vanish.

Each account has its own device and pays only at cash-out merchants; nobody reports it (there
is no victim). Knobs: ``simulate.forged_identity``.
"""

from __future__ import annotations

import numpy as np

from okml.config import SimulateParams
from okml.simulate.rows import Ids, Rows, make_rows
from okml.simulate.scenario import Context, Scenario
from okml.simulate.tables import APP, CASH_OUT, DAY, HOUR, REGION_P, REGIONS, WEB
from okml.simulate.world import World, category_pool


def _forged_identities(p: SimulateParams, w: World, ids: Ids, rng: np.random.Generator, n: int) -> Rows:
    """``n``: the accounts this run makes (all, or a block's share)."""
    q = p.forged_identity
    if n == 0:
        return make_rows(0)
    within_s = q.within_days * DAY
    created = rng.uniform(w.start, max(w.end - within_s, w.start + 1), n)
    accounts = ids.accounts(created.astype(np.int64))
    devices = ids.devices(n)
    regions = rng.choice(len(REGIONS), n, p=REGION_P)
    k = 1 + rng.poisson(max(q.payments_mean - 1.0, 0.0), n)
    acc = np.repeat(np.arange(n), k)
    # first payment within hours of opening, the rest spread over the following days
    first = created + rng.exponential(2 * HOUR, n) + 600
    spread = rng.uniform(0, within_s, len(acc))
    spread[np.cumsum(k) - k] = 0.0
    ts = np.clip((first[acc] + spread).astype(np.int64), w.start, w.end - 1)
    sigma = 0.6
    amount = rng.lognormal(np.log(q.amount_mean) - sigma**2 / 2, sigma, len(acc))
    amount = np.where(
        rng.random(len(acc)) < 0.4, np.maximum(100.0, np.round(amount, -2)), np.round(amount, 2)
    )
    merch = category_pool(w, CASH_OUT).draw(rng.random(len(acc)))
    channel = np.where(rng.random(len(acc)) < 0.6, APP, WEB)
    return make_rows(
        len(acc),
        ts=ts,
        cust=accounts[acc],
        merch=merch,
        amount=amount,
        channel=channel,
        device=devices[acc],
        region=regions[acc],
        incident=accounts[acc],
        actor=1,  # forged-<customer>-1
    )


def generate(ctx: Context) -> Rows:
    n = len(ctx.units(ctx.params.forged_identity.accounts))
    return _forged_identities(ctx.params, ctx.world, ctx.ids, ctx.rng, n)


SCENARIO = Scenario(
    name="forged_identity",
    code=4,
    reportable=False,
    stage="forged identities",
    generate=generate,
    actor="customer",
    actor_prefix="forged",
)
