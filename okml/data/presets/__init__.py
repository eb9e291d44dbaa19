"""Data presets: how a kind of input file maps onto the canonical transaction schema.

A preset is one module in this folder that defines ``PRESET``, a :class:`Preset`, and one
line in :data:`PRESETS` below. Nothing else in okml knows the preset's columns: ``okml
validate --preset``, ``data.preset`` and :func:`okml.data.load` all look them up here.

Adding one (say ``acme``, a bank export with ``TxnRef, PostedAt, Card, Shop, Value``)::

    # okml/data/presets/acme.py
    from okml.data.presets.base import Preset, rename

    COLUMNS = {"transaction_id": "TxnRef", "timestamp": "PostedAt", "customer_id": "Card",
               "merchant_id": "Shop", "amount": "Value"}
    PRESET = Preset("acme", "Acme Bank daily export", columns=COLUMNS, map=rename(COLUMNS))

then add ``acme.PRESET`` to the list in :data:`PRESETS`. The README has the same example.
"""

from __future__ import annotations

import difflib

from okml.data.presets import canonical, custom, handbook, paysim
from okml.data.presets.base import Preset, rename
from okml.errors import ConfigError

#: Every preset by name, in the order ``--help`` lists them. Add a new one here.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        canonical.PRESET,
        handbook.PRESET,
        paysim.PRESET,
        custom.PRESET,
    ]
}


def get(name: str) -> Preset:
    """The preset called ``name``, or a one-line :class:`~okml.errors.ConfigError`."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, list(PRESETS), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(f"data.preset: unknown preset {name!r}; {hint}choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


__all__ = ["PRESETS", "Preset", "get", "rename"]
