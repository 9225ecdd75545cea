"""Exact solvers for "combine numbers with + - * / to make a target" (Countdown, Game of 24).

A solution is a sequence of steps, each combining two available numbers into one; any such
sequence is a binary expression tree over a sub-multiset of the numbers, and any tree can be
written as steps. So "the target can still be reached from this pool" is "some sub-multiset
(Countdown) / the whole pool (Game of 24) has an expression tree with that value", which is what
these functions decide, memoised over sorted tuples (multisets).

Two rule sets:
- ``POSITIVE_INTEGERS`` (Countdown): every intermediate result must be a positive integer, so
  ``a - b`` needs ``a > b`` and ``a / b`` needs ``b`` to divide ``a``. Numbers are ``int``.
- ``RATIONALS`` (Game of 24): any rational result (negative, fractional) except a division by
  zero. Numbers are :class:`fractions.Fraction`.

The search is target-directed: split the multiset into a small side A (at most 3 numbers, whose
reachable values are enumerated and cached) and a large side B, and for each value ``a`` of A ask
which ``b`` would combine with it into the target; recurse on ``can_make(B, b)``. Hence at most
7 numbers.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from functools import lru_cache

import numpy as np

from reasoning.tasks.format import Equation, Number

POSITIVE_INTEGERS = "positive_integers"
RATIONALS = "rationals"
MAX_NUMBERS = 7  # the small side of a split has at most 3 numbers; its values are enumerated

Multiset = tuple  # sorted tuple of numbers


def canonical(numbers) -> Multiset:
    """The memo key of a multiset: its numbers sorted."""
    return tuple(sorted(numbers))


def _equation(left: Number, operator: str, right: Number, result: Number) -> Equation:
    return Equation(Fraction(left), operator, Fraction(right), Fraction(result))


def legal_equations(a: Number, b: Number, rules: str) -> list[Equation]:
    """Every legal step combining ``a`` and ``b`` (either order), commutative ones larger-first."""
    high, low = (a, b) if a >= b else (b, a)
    equations = [_equation(high, "+", low, high + low), _equation(high, "*", low, high * low)]
    if rules == POSITIVE_INTEGERS:
        if high > low:
            equations.append(_equation(high, "-", low, high - low))
        if high % low == 0:
            equations.append(_equation(high, "/", low, high // low))
        return equations
    equations.append(_equation(high, "-", low, high - low))
    if high != low:
        equations.append(_equation(low, "-", high, low - high))
    if low != 0:
        equations.append(_equation(high, "/", low, Fraction(high) / low))
    if high != 0 and high != low:
        equations.append(_equation(low, "/", high, Fraction(low) / high))
    return equations


def step_is_legal(left: Number, operator: str, right: Number, rules: str) -> bool:
    """Whether ``left operator right`` may be written as a step under the rules."""
    if operator == "/" and right == 0:
        return False
    if rules == RATIONALS:
        return True
    if operator == "-":
        return left > right
    if operator == "/":
        return left % right == 0
    return True


def _results(a: Number, b: Number, rules: str) -> list[Number]:
    """The values of :func:`legal_equations` without building the equations (the hot loop)."""
    high, low = (a, b) if a >= b else (b, a)
    results = [high + low, high * low]
    if rules == POSITIVE_INTEGERS:
        if high > low:
            results.append(high - low)
        if high % low == 0:
            results.append(high // low)
        return results
    results += [high - low, low - high]
    if low != 0:
        results.append(Fraction(high) / low)
    if high != 0:
        results.append(Fraction(low) / high)
    return results


@lru_cache(maxsize=1 << 16)
def _partners(a: Number, target: Number, rules: str) -> tuple[tuple[Number, Equation], ...]:
    """Every ``(b, step)`` such that a legal step on ``a`` and ``b`` gives ``target``."""
    if rules == POSITIVE_INTEGERS:
        candidates = [target - a, a - target, target + a, target * a]
        if target % a == 0:
            candidates.append(target // a)
        if a % target == 0:
            candidates.append(a // target)
        candidates = [b for b in candidates if b > 0]
    else:
        candidates = [target - a, a - target, target + a]
        if a != 0:
            candidates += [Fraction(target) / a, Fraction(target) * a]
            if target != 0:
                candidates.append(Fraction(a) / target)
    partners, seen = [], set()
    for b in candidates:
        for equation in legal_equations(a, b, rules):
            if equation.result == target and (b, equation) not in seen:
                seen.add((b, equation))
                partners.append((b, equation))
    return tuple(partners)


@lru_cache(maxsize=4096)
def _splits(numbers: Multiset) -> tuple[tuple[Multiset, Multiset], ...]:
    """Distinct ways to split a multiset into (small side, large side), small side non-empty."""
    size = len(numbers)
    splits = set()
    for small_size in range(1, size // 2 + 1):
        for indices in itertools.combinations(range(size), small_size):
            small = tuple(numbers[i] for i in indices)
            large = tuple(numbers[i] for i in range(size) if i not in indices)
            splits.add((small, large))
    return tuple(sorted(splits))


@lru_cache(maxsize=1 << 16)
def values_using_all(numbers: Multiset, rules: str) -> frozenset:
    """Every value an expression using each number of the multiset exactly once can take.

    Meant for small multisets (the size of the set grows fast: about 60 values for 3 numbers).
    """
    if len(numbers) == 1:
        return frozenset(numbers)
    values = set()
    for small, large in _splits(numbers):
        for a in values_using_all(small, rules):
            for b in values_using_all(large, rules):
                values.update(_results(a, b, rules))
    return frozenset(values)


@lru_cache(maxsize=1 << 18)
def can_make(numbers: Multiset, target: Number, rules: str) -> bool:
    """Whether an expression using each number of the sorted multiset once equals ``target``."""
    if len(numbers) > MAX_NUMBERS:
        raise ValueError(f"at most {MAX_NUMBERS} numbers are supported, got {len(numbers)}")
    if len(numbers) <= 3:
        return target in values_using_all(numbers, rules)
    for small, large in _splits(numbers):
        for a in values_using_all(small, rules):
            if rules == RATIONALS and a == 0 and target == 0:
                return True  # 0 * (anything the large side makes) = 0
            if any(can_make(large, b, rules) for b, _ in _partners(a, target, rules)):
                return True
    return False


def sub_multisets(numbers: Multiset, size: int) -> list[Multiset]:
    """Distinct sub-multisets of a given size (sorted input gives sorted outputs)."""
    return sorted(set(itertools.combinations(numbers, size)))


@lru_cache(maxsize=1 << 18)
def min_steps(numbers: Multiset, target: Number, rules: str) -> int | None:
    """Fewest steps to make ``target`` from some sub-multiset of the pool; None if impossible.

    A tree over ``k`` numbers takes ``k - 1`` steps, so this is the size of the smallest
    sub-multiset that can make the target, minus one (0 when the target is in the pool).
    """
    for size in range(1, len(numbers) + 1):
        if any(can_make(subset, target, rules) for subset in sub_multisets(numbers, size)):
            return size - 1
    return None


def _shuffled(items, rng: np.random.Generator) -> list:
    items = list(items)
    return [items[i] for i in rng.permutation(len(items))]


def derive(
    numbers: Multiset, target: Number, rules: str, rng: np.random.Generator
) -> list[Equation]:
    """A random expression tree over all of ``numbers`` with value ``target``, as steps.

    Steps come in post-order, so every step combines numbers available at that point. Raises
    ValueError when no tree exists.
    """
    numbers = canonical(numbers)
    if len(numbers) == 1:
        if numbers[0] != target:
            raise ValueError(f"cannot make {target} from {numbers}")
        return []
    for small, large in _shuffled(_splits(numbers), rng):
        for a in _shuffled(sorted(values_using_all(small, rules)), rng):
            if rules == RATIONALS and a == 0 and target == 0:
                steps, b = _fold_with_addition(large)
                return derive(small, a, rules, rng) + steps + [_equation(b, "*", a, 0)]
            for b, equation in _shuffled(_partners(a, target, rules), rng):
                if can_make(canonical(large), b, rules):
                    small_steps = derive(small, a, rules, rng)
                    return small_steps + derive(large, b, rules, rng) + [equation]
    raise ValueError(f"cannot make {target} from {numbers} under rules {rules!r}")


def _fold_with_addition(numbers: Multiset) -> tuple[list[Equation], Number]:
    """Any tree over ``numbers`` (a running sum) and its value."""
    total, steps = numbers[0], []
    for number in numbers[1:]:
        high, low = max(total, number), min(total, number)
        steps.append(_equation(high, "+", low, high + low))
        total = high + low
    return steps, total
