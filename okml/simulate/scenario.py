"""What a fraud scenario is: its record (:class:`Scenario`), what its generator gets
(:class:`Context`) and the tables derived from a list of them (:class:`Registry`).

The list itself, in generation order, is :data:`okml.simulate.scenarios.SCENARIOS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from okml.config import SimulateParams
from okml.simulate.rows import Ids, Rows
from okml.simulate.streams import SPLIT, scenario_stream, shared_rng
from okml.simulate.world import World

MAX_CODE = 127  # codes are stored as int8
ACTOR_KINDS = ("unit", "merchant", "customer")


@dataclass(frozen=True)
class Scenario:
    """One kind of fraud.

    Attributes
    ----------
    name:
        The ``fraud_type`` of its rows, and the name of its module in ``okml/simulate/scenarios/``.
    code:
        Its integer code in the generator's arrays: unique, 1 to 127 (0 is legitimate). Labels
        are drawn incident by incident in code order, so changing a code changes the data.
    reportable:
        Whether its victims report it: real people do (account takeover); fake-order rings and
        forged identities have no victim who would.
    stage:
        Its step in the progress bar, such as ``"account takeover"``.
    generate:
        Draws its payments from a :class:`Context` and returns them as new rows (their ``ftype``
        is set to ``code`` afterwards); it may also turn legitimate payments into fraud with
        :meth:`Context.turn_into_fraud`. Rows of one incident (one victim, ring member or
        account) share ``incident``: victims report an incident as a whole.
    actor, actor_prefix:
        Who is behind each of its frauds, the ground truth ``actor_id`` (features never read
        it): what the rows' ``actor`` holds and how it is named. ``"unit"``: a number among
        the world's units (``ring-3`` with prefix ``ring``); ``"merchant"``: a merchant index
        (``merchant-M00218``); ``"customer"``: the episode number of the row's own customer
        (``ato-C048213-1``). The prefix defaults to ``name``; ``actor`` defaults to the
        incident, so a scenario that sets neither gets one actor per incident.
    """

    name: str
    code: int
    reportable: bool
    stage: str
    generate: Callable[[Context], Rows]
    actor: Literal["unit", "merchant", "customer"] = "unit"
    actor_prefix: str | None = None

    @property
    def actor_naming(self) -> tuple[str, str]:
        """(kind, prefix) of its ``actor_id`` values."""
        return self.actor, self.actor_prefix or self.name


@dataclass(frozen=True)
class Block:
    """One block of customers of a sharded world (:mod:`okml.simulate.shards`), as the
    scenarios see it: which block, the sizes of all of them, and the merchants' traffic."""

    index: int
    sizes: np.ndarray  # customers of each block
    seed: int  # simulate.seed
    traffic: np.ndarray  # expected legitimate payments of each merchant, all blocks together

    def units(self, n: int, code: int) -> range:
        """Which of the whole world's ``n`` units of the scenario with ``code`` this block makes.

        The units are split over the blocks at random in proportion to their customers, by a
        stream all blocks share, so that every block gets the same answer on its own.
        """
        counts = shared_rng(self.seed, SPLIT + code).multinomial(n, self.sizes / self.sizes.sum())
        lo = int(counts[: self.index].sum())
        return range(lo, lo + int(counts[self.index]))


@dataclass
class Context:
    """What a scenario's generator draws in: the parameters, the world, the legitimate payments
    so far, the ids of new accounts and devices, and its own random stream.

    A sharded world runs every scenario once per block of customers (:attr:`block`), and
    :attr:`world` and :attr:`legit` are that block's. A scenario makes the world's number of
    victims, rings, merchants or accounts by asking :meth:`units` for its share of them, and
    draws the choices that span blocks (such as which merchants) from :attr:`shared`; one
    that does neither makes its full count in every block.
    """

    params: SimulateParams
    world: World
    legit: Rows  # after the scenarios before this one turned some into fraud
    ids: Ids  # hands out new accounts and devices, after those made so far
    rng: np.random.Generator  # this scenario's own stream: its draws move no one else's
    code: int
    block: Block | None = None  # None: the whole world in one run
    # the scenario's stream for what all blocks share: the same numbers in every block; rng
    # itself when the whole world is one run (so that the draws stay as they were)
    shared: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        b = self.block
        self.shared = self.rng if b is None else shared_rng(b.seed, scenario_stream(self.code))

    def units(self, n: int) -> range:
        """The units (victims, rings, merchants, accounts) of the whole world's ``n`` that this
        run makes: all of them, or a block's share (numbered as in the whole world)."""
        return range(n) if self.block is None else self.block.units(n, self.code)

    def merchant_traffic(self) -> np.ndarray:
        """Legitimate payments of each merchant: counted in :attr:`legit` when the whole world
        is one run, expected over all blocks in a sharded world (which no block sees)."""
        if self.block is None:
            return np.bincount(self.legit.merch, minlength=len(self.world.m_cat)).astype(np.float64)
        return self.block.traffic

    def turn_into_fraud(
        self, pos: np.ndarray, amount: np.ndarray, incident: np.ndarray, actor: np.ndarray | None = None
    ) -> None:
        """Make the legitimate payments at positions ``pos`` of :attr:`legit` fraud of this
        scenario, with new amounts, incidents and actors (default: the incidents)."""
        ftype, amounts, incidents, actors = (
            self.legit.ftype.copy(),
            self.legit.amount.copy(),
            self.legit.incident.copy(),
            self.legit.actor.copy(),
        )
        ftype[pos], amounts[pos], incidents[pos] = self.code, amount, incident
        actors[pos] = incident if actor is None else actor
        self.legit = replace(self.legit, ftype=ftype, amount=amounts, incident=incidents, actor=actors)


@dataclass(frozen=True)
class Registry:
    """Tables derived from scenarios in generation order; :meth:`of` checks them."""

    scenarios: tuple[Scenario, ...]

    @classmethod
    def of(cls, scenarios: Iterable[Scenario]) -> Registry:
        """The registry of ``scenarios``; ``ValueError`` when names or codes clash."""
        reg = cls(tuple(scenarios))
        for s in reg.scenarios:
            if not isinstance(s, Scenario):
                raise ValueError(f"not a Scenario: {s!r}")
            if not 1 <= s.code <= MAX_CODE:
                raise ValueError(f"scenario {s.name!r}: code {s.code} is not within 1..{MAX_CODE}")
            if s.actor not in ACTOR_KINDS:
                raise ValueError(
                    f"scenario {s.name!r}: actor {s.actor!r} is not one of {', '.join(ACTOR_KINDS)}"
                )
        for what, values in (
            ("name", [s.name for s in reg.scenarios]),
            ("code", [str(s.code) for s in reg.scenarios]),
        ):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"scenarios share a {what}: {', '.join(twice)}")
        return reg

    @property
    def fraud_types(self) -> tuple[str, ...]:
        """Scenario names in generation order."""
        return tuple(s.name for s in self.scenarios)

    @property
    def codes(self) -> dict[str, int]:
        """Code of each scenario name."""
        return {s.name: s.code for s in self.scenarios}

    @property
    def reportable(self) -> frozenset[str]:
        """Names of the scenarios whose victims report them."""
        return frozenset(s.name for s in self.scenarios if s.reportable)

    @property
    def stages(self) -> tuple[str, ...]:
        """Progress-bar steps of the scenarios in generation order."""
        return tuple(s.stage for s in self.scenarios)

    @property
    def names_by_code(self) -> list[str]:
        """``fraud_type`` of each code ("" for 0, legitimate, and for unused codes)."""
        names = [""] * (max(self.codes.values(), default=0) + 1)
        for s in self.scenarios:
            names[s.code] = s.name
        return names

    @property
    def actors_by_code(self) -> list[tuple[str, str] | None]:
        """(kind, prefix) of the ``actor_id`` of each code (``None`` for 0 and unused codes)."""
        out: list[tuple[str, str] | None] = [None] * (max(self.codes.values(), default=0) + 1)
        for s in self.scenarios:
            out[s.code] = s.actor_naming
        return out

    @property
    def reportable_by_code(self) -> np.ndarray:
        """``reportable`` of each code, False for 0 (legitimate) and unused codes."""
        flags = np.zeros(max(self.codes.values(), default=0) + 1, dtype=bool)
        for s in self.scenarios:
            flags[s.code] = s.reportable
        return flags


def how_many(rate_per_1000: float, n_customers: int) -> int:
    """Victims for a rate per 1000 customers; at least one when the rate is not zero, so that
    small simulations still show every kind of fraud."""
    x = rate_per_1000 * n_customers / 1000.0
    return max(1, int(round(x))) if x > 0 else 0
