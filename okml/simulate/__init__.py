"""Simulate OKPay transactions: legitimate customers plus five kinds of fraud with late labels.

The generator is vectorized with numpy: every stage draws whole arrays at once, and only the
fraud scenarios loop, over a few dozen victims, rings or merchants. Each stage has its own
random stream spawned from ``params.seed``, so the same seed gives byte-identical output, and
changing one scenario's knobs leaves the other stages' draws alone.

The world (:mod:`okml.simulate.world`, :mod:`okml.simulate.legit`)
------------------------------------------------------------------
- Merchants have a category (grocery, food, travel, electronics, games, digital goods, ...)
  that sets their price level and whether they sell online; their popularity is lognormal
  (a few merchants take much of the traffic) and they are grouped by region.
- Customers live in a home region (local time UTC+8) and have their own spending level
  (lognormal), payment rate, weekly rhythm (weekend factor), preferred hour, app/web mix,
  a small personal set of favourite merchants (mostly local, picked by popularity), one or
  two devices (some switch phones, a few share a family device) and the odd trip to another
  region. Some open their account during the period, some stop paying before its end.
  About one in twelve play games and sometimes buy several in-game items in a few minutes.
- Traffic follows a slow trend, shopping festivals (618, 11.11) and Chinese New Year.

Fraud (``fraud_type``, :mod:`okml.simulate.scenarios`)
------------------------------------------------------
One module per scenario, registered in ``okml.simulate.scenarios.SCENARIOS``; each module's
docstring says what it simulates.

``account_takeover``
    A victim's account pays from a new device and region at cash-out merchants, in bursts.
``fake_orders``
    Brushing rings (骗单): many small, fast orders at one colluding merchant.
``compromised_merchant``
    For a period a share of a merchant's payments are skimmed.
``forged_identity``
    New accounts spend large amounts soon after opening, then vanish.
``new_pattern``
    Card testing, only late in the period: small payments at digital-goods and games merchants.

Labels (:mod:`okml.simulate.labels`) arrive late: chargebacks come days to weeks after a
payment; some victims report themselves within hours and their whole incident is labelled
shortly after; a share of fraud is never labelled (``label_time`` NaT while ``is_fraud`` stays
1 as ground truth).

Large worlds (:mod:`okml.simulate.shards`)
-------------------------------------------
With ``simulate.shards: N`` the customers are cut into blocks of 1000, each drawing its own
rows from its own random streams, and :func:`simulate_to_file` writes a folder of N Parquet
files (``part-00000.parquet`` ...), one shard of whole blocks at a time, so memory holds one
shard. Any N gives the same rows for the same seed; they are not the rows of one run of the
whole world (``shards: null``), but have its statistics: the world's victims, rings, skimmed
merchants and forged accounts are split over the blocks.
"""

from __future__ import annotations

from okml.simulate.pipeline import STAGES, simulate, simulate_to_file
from okml.simulate.scenarios import FRAUD_TYPES
from okml.simulate.scenarios.new_pattern import new_pattern_start
from okml.simulate.shards import simulate_shards, write_shards
from okml.simulate.summary import Summary, print_summary, summarise, summary_text
from okml.simulate.tables import CATEGORIES, CHANNELS, CURRENCY, REGIONS

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "CURRENCY",
    "FRAUD_TYPES",
    "REGIONS",
    "STAGES",
    "Summary",
    "new_pattern_start",
    "print_summary",
    "simulate",
    "simulate_shards",
    "simulate_to_file",
    "summarise",
    "summary_text",
    "write_shards",
]
