"""The fraud scenarios: one module each, registered in :data:`SCENARIOS` in generation order.

A scenario is a module ``okml/simulate/scenarios/<name>.py`` that defines
``SCENARIO = Scenario(name=..., code=..., reportable=..., stage=..., generate=...)``
(see :class:`okml.simulate.scenario.Scenario`). Adding one is that file and its line in
:data:`SCENARIOS`; the fraud types, codes, the reportable set and the progress-bar stages are
derived from the list, and :func:`okml.simulate.simulate` runs the list in order.

Each scenario draws from its own random stream (chosen by its code), so adding, removing or
retuning one leaves the other scenarios' draws alone; a new scenario goes at the end so that the
accounts and devices the others make keep their ids.

A sharded world (:mod:`okml.simulate.shards`) runs each scenario once per block of customers:
a scenario sizes itself with ``ctx.units(n)`` (its share of the world's ``n`` victims, rings or
accounts) and draws choices that span blocks, such as which merchants, from ``ctx.shared``
(see :class:`okml.simulate.scenario.Context`); one that does not makes ``n`` in every block.
"""

from __future__ import annotations

import importlib

from okml.simulate.scenario import Registry, Scenario


def _load(name: str) -> Scenario:
    """``SCENARIO`` of the module ``okml.simulate.scenarios.<name>``, which must be named so."""
    scenario = getattr(importlib.import_module(f"{__name__}.{name}"), "SCENARIO", None)
    if not isinstance(scenario, Scenario):
        raise ValueError(f"okml.simulate.scenarios.{name} defines no SCENARIO = Scenario(...)")
    if scenario.name != name:
        raise ValueError(f"okml.simulate.scenarios.{name}: SCENARIO.name is {scenario.name!r}")
    return scenario


# generation order: a scenario sees the legitimate payments as the ones before it left them
SCENARIOS: list[Scenario] = [
    _load("account_takeover"),
    _load("fake_orders"),
    _load("compromised_merchant"),
    _load("forged_identity"),
    _load("new_pattern"),
]


def registry() -> Registry:
    """The checked tables of :data:`SCENARIOS` as it is now."""
    return Registry.of(SCENARIOS)


_REGISTRY = registry()
FRAUD_TYPES: tuple[str, ...] = _REGISTRY.fraud_types  # names, in generation order
CODES: dict[str, int] = _REGISTRY.codes  # integer code of each name; 0 is legitimate
REPORTABLE: frozenset[str] = _REGISTRY.reportable  # the ones that victims report
STAGES: tuple[str, ...] = _REGISTRY.stages  # their progress-bar steps, in order
