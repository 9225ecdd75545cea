"""Counter-based PRNG for compiled code: one splitmix64 stream per search.

A stream is one ``uint64`` counter in ``rng_state[index]``; drawing advances it in place, so a
search's random choices depend only on its own stream (never on which other searches share the
batch). splitmix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators")
passes BigCrush and costs a few nanoseconds, which matters in rollouts that draw once per move.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_SHIFT_30 = np.uint64(30)
_SHIFT_27 = np.uint64(27)
_SHIFT_31 = np.uint64(31)
_SHIFT_32 = np.uint64(32)
_SHIFT_11 = np.uint64(11)
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def mix(counter: np.uint64) -> np.uint64:
    """splitmix64's output function of an (already advanced) counter value."""
    z = (counter ^ (counter >> _SHIFT_30)) * _MIX_1
    z = (z ^ (z >> _SHIFT_27)) * _MIX_2
    return z ^ (z >> _SHIFT_31)


@njit(cache=True, inline="always")
def bounded(random_bits: np.uint64, n: int) -> int:
    """Map 64 random bits to [0, n) by multiply-shift on the high 32 bits (Lemire 2019).

    The bias is below n / 2**32, far under anything a rollout can measure; n must be < 2**32.
    """
    return int(((random_bits >> _SHIFT_32) * np.uint64(n)) >> _SHIFT_32)


@njit(cache=True)
def next_u64(rng_state: np.ndarray, index: int) -> np.uint64:
    """Advance stream ``index`` of ``rng_state`` (uint64 (B,)) and return 64 random bits."""
    counter = rng_state[index] + GOLDEN_GAMMA
    rng_state[index] = counter
    return mix(counter)


@njit(cache=True)
def uniform_int(rng_state: np.ndarray, index: int, n: int) -> int:
    """A uniform integer in [0, n) from stream ``index`` (advances it once)."""
    return bounded(next_u64(rng_state, index), n)


@njit(cache=True)
def uniform_float(rng_state: np.ndarray, index: int) -> float:
    """A uniform float in [0, 1) with 53 random bits from stream ``index`` (advances it once)."""
    return float(next_u64(rng_state, index) >> _SHIFT_11) * _TWO_POW_MINUS_53


def seed_states(seeds: Sequence[int]) -> np.ndarray:
    """One stream per seed, uint64 (B,): stream b is derived from ``SeedSequence(seeds[b])`` only,
    so a search gives the same result alone or in any batch."""
    return np.array(
        [np.random.SeedSequence(int(seed)).generate_state(1, np.uint64)[0] for seed in seeds],
        dtype=np.uint64,
    )
