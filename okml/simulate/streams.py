"""Which random stream each step of the simulator draws from.

One run of the whole world (:func:`okml.simulate.simulate`) uses the children of
``SeedSequence(seed)``: 0 the world, 1 legitimate payments, 2-6 the scenarios with codes 1-5,
7 labels, 8 and 9 the customer and device ids. A scenario with a higher code draws from child
code + 4, after those ten, so adding one leaves every other stream as it was (the labels, drawn
over all the fraud, do change).

A sharded world (:mod:`okml.simulate.shards`) keys its streams by block of customers instead,
so that a block draws the same numbers whichever shard makes it: block ``b`` uses the same
layout under ``SeedSequence(seed, spawn_key=(SHARDED, b + 1, k))``, and what all blocks share
(the market, each scenario's world-wide choices, how its units are split over the blocks)
comes from ``spawn_key=(SHARDED, 0, k)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

WORLD, LEGIT, LABELS, CUSTOMER_IDS, DEVICE_IDS = 0, 1, 7, 8, 9
SHARDED = 0x5348  # first word of a sharded world's spawn keys; whole-world keys are one word
SPLIT = 1000  # + code: the world-wide stream that splits a scenario's units over the blocks


def scenario_stream(code: int) -> int:
    """The stream of the scenario with ``code``."""
    return code + 1 if code <= 5 else code + 4


def whole_world_seeds(seed: int, codes: Iterable[int]) -> list[np.random.SeedSequence]:
    """The streams of one run of the whole world with scenarios of ``codes``."""
    return np.random.SeedSequence(seed).spawn(max([10, *(scenario_stream(c) + 1 for c in codes)]))


def block_rng(seed: int, block: int, k: int) -> np.random.Generator:
    """Stream ``k`` of block ``block`` of a sharded world."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SHARDED, block + 1, k)))


def shared_rng(seed: int, k: int) -> np.random.Generator:
    """Stream ``k`` of what every block of a sharded world shares (the same in all of them)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SHARDED, 0, k)))
