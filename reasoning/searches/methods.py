"""Searches over reasoning steps, all run by the one search loop (``search.core.Search``) with
:class:`~reasoning.searches.expander.ReasoningExpander`; they differ only in the expander's
width schedule, the selection rule and how the tree becomes an answer:

===========  ===============================  ================  ===============================
search       widths (candidates per node)     rule              answer
===========  ===============================  ================  ===============================
best-of-N    (1,) on N roots per problem      Beam(1): a chain  the N chain ends, then a vote
beam         (N, M), drawn on first expansion Beam(N / M)       the finished leaves, a selection
DVTS         (M,) on N / M roots per problem  Beam(1) per root  the finished leaves, a selection
MCTS         (K,), drawn on creation          Puct or Gumbel    step by step: search, commit
greedy       (1,) at temperature 0            Beam(1)           the one chain
===========  ===============================  ================  ===============================

DVTS (diverse verifier tree search, HF search-and-learn) splits beam search's N samples per level
into N / M independent subtrees, each a beam of one that keeps its best of M expansions: the
subtrees cannot collapse onto one prefix, as the beams of one tree can. Beam search and DVTS
drop duplicate prefixes within a tree (``ReasoningExpander``).

Best-of-N runs N one-slot searches per problem side by side in the batch (N independent
samples), so each simulation extends every chain by one step in one batched policy call. MCTS
acts like AlphaZero: a search of ``simulations`` from the current prefix, then the chosen step
is committed and the next search starts from it (its sampled candidates and scores are reused).

Every search draws from streams seeded by (seed, problem, sample, step), so the first n samples
of a pool of N are the pool of n, and a problem gives the same result alone or in any batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reasoning.lm.base import StepPolicy
from reasoning.searches.expander import ReasoningExpander, SearchSettings
from reasoning.searches.selection import Candidate, select
from reasoning.tasks.format import extract_answer
from reasoning.verifiers.base import Verifier
from search.beam import Beam
from search.core import Search
from search.rules import SelectionRule


@dataclass(frozen=True)
class SearchOutcome:
    """What a search returned for one problem: its finished candidates, the chosen one, and what
    it cost (policy tokens generated, verifier tokens read, FLOPs = 2 x parameters per token)."""

    prompt: str
    candidates: tuple[Candidate, ...]
    chosen: int  # index into candidates; -1 when there are none
    policy_tokens: int
    verifier_tokens: int
    flops: float

    @property
    def text(self) -> str:
        """The chosen solution (steps after the prompt); "" when there is none."""
        return self.candidates[self.chosen].text if self.chosen >= 0 else ""

    @property
    def answer(self) -> str | None:
        return self.candidates[self.chosen].answer if self.chosen >= 0 else None


def search_seeds(
    seed: int, problems: Sequence[int] | np.ndarray, sample: int = 0, step: int = 0
) -> np.ndarray:
    """One seed per problem (B,) from (seed, problem, sample, step)."""
    return np.array(
        [
            int(np.random.SeedSequence([seed, int(p), sample, step]).generate_state(1)[0])
            for p in problems
        ],
        np.int64,
    )


def _candidate(expander: ReasoningExpander, node_id: int) -> Candidate:
    node = expander.node(node_id)
    prompt_length = node.prefix.index("\n") + 1 if "\n" in node.prefix else len(node.prefix)
    text = node.prefix[prompt_length:]
    answer = extract_answer(text) if node.finished else None
    return Candidate(text, answer, node.finished, node.score, node.num_tokens)


def _leaves(expander: ReasoningExpander, root: int) -> list[int]:
    """Terminal nodes below ``root`` (duplicates left out), depth first in slot order."""
    leaves, stack = [], [root]
    while stack:
        node_id = stack.pop()
        node = expander.node(node_id)
        if node.terminal and not node.duplicate:
            leaves.append(node_id)
        stack.extend(reversed(node.children))
    return leaves


def _outcome(
    expander: ReasoningExpander, problem: int, prompt: str, leaves: Sequence[int], selection: str
) -> SearchOutcome:
    candidates = tuple(_candidate(expander, leaf) for leaf in leaves)
    return SearchOutcome(
        prompt=prompt,
        candidates=candidates,
        chosen=select(selection, candidates) if candidates else -1,
        policy_tokens=expander.policy_tokens[problem],
        verifier_tokens=expander.verifier_tokens[problem],
        flops=expander.flops(problem),
    )


def sample_solutions(
    policy: StepPolicy,
    prompts: Sequence[str],
    num_samples: int,
    settings: SearchSettings,
    seed: int,
    *,
    verifier: Verifier | None = None,
    selection: str = "majority",
    problem_ids: Sequence[int] | None = None,
) -> list[SearchOutcome]:
    """Best-of-N: ``num_samples`` independent complete solutions per prompt (one-slot chains on
    the search core), chosen among by ``selection``. With ``verifier`` every step prefix is
    scored on the way (and its cost counted); without, values are 0 and scores NaN."""
    if num_samples < 1:
        raise ValueError(f"best-of-N needs num_samples >= 1, got {num_samples}")
    ids = _problem_ids(prompts, problem_ids)
    expander = ReasoningExpander(policy, verifier, (1,), settings)
    owners = np.repeat(np.arange(len(prompts)), num_samples)  # problem-major
    samples = np.tile(np.arange(num_samples), len(prompts))
    roots = expander.add_roots([prompts[p] for p in owners.tolist()], ids[owners])
    seeds = np.array(
        [search_seeds(seed, [ids[p]], s)[0] for p, s in zip(owners, samples, strict=True)],
        np.int64,
    )
    Search(expander, Beam(1), num_simulations=settings.max_steps).run(roots, seeds)
    outcomes = []
    for p, prompt in enumerate(prompts):
        leaves = [leaf for root in roots[owners == p] for leaf in _leaves(expander, root)]
        outcomes.append(_outcome(expander, int(ids[p]), prompt, leaves, selection))
    return outcomes


def greedy_solutions(
    policy: StepPolicy,
    prompts: Sequence[str],
    settings: SearchSettings,
    *,
    problem_ids: Sequence[int] | None = None,
) -> list[SearchOutcome]:
    """Greedy decoding (temperature 0): one chain per prompt, the baseline searches must beat."""
    greedy = dataclasses.replace(settings, temperature=0.0)
    return sample_solutions(policy, prompts, 1, greedy, seed=0, problem_ids=problem_ids)


def beam_search(
    policy: StepPolicy,
    verifier: Verifier,
    prompts: Sequence[str],
    num_beams: int,
    expansions: int,
    settings: SearchSettings,
    seed: int,
    *,
    selection: str = "argmax",
    subtrees: int = 1,
    problem_ids: Sequence[int] | None = None,
) -> list[SearchOutcome]:
    """Beam search over steps (Snell et al. 2024): N = ``num_beams * expansions`` first steps,
    keep the best ``num_beams`` distinct prefixes by verifier value, expand each with
    ``expansions`` samples, keep the best ``num_beams`` again, ... Candidates: every finished
    leaf (duplicates dropped).

    ``subtrees`` > 1 runs that many independent beam searches per problem side by side, each
    from its own streams (seed, problem, subtree), one outcome per problem over all their
    finished leaves: with ``num_beams`` = 1 that is DVTS (diverse verifier tree search,
    Beeching et al. 2024, HF search-and-learn), N = ``subtrees * expansions`` samples per
    level, as beam search with N / M beams."""
    if subtrees < 1 or num_beams < 1 or expansions < 1:
        raise ValueError(
            f"beam search needs subtrees, num_beams, expansions >= 1; got {subtrees}, "
            f"{num_beams}, {expansions}"
        )
    ids = _problem_ids(prompts, problem_ids)
    width = num_beams * expansions
    expander = ReasoningExpander(
        policy, verifier, (width, expansions), settings, sample_on="expand"
    )
    owners = np.repeat(np.arange(len(prompts)), subtrees)  # problem-major
    trees = np.tile(np.arange(subtrees), len(prompts))
    roots = expander.add_roots([prompts[p] for p in owners.tolist()], ids[owners])
    seeds = np.array(
        [search_seeds(seed, [ids[p]], t)[0] for p, t in zip(owners, trees, strict=True)], np.int64
    )
    # root width + (levels - 1) x kept beams x expansions: enough to finish every level
    simulations = width * settings.max_steps
    Search(expander, Beam(num_beams), num_simulations=simulations).run(roots, seeds)
    outcomes = []
    for p, prompt in enumerate(prompts):
        leaves = [leaf for root in roots[owners == p] for leaf in _leaves(expander, root)]
        # Each tree drops its own duplicates; independent subtrees (DVTS) can still finish the
        # same solution, which is one candidate too.
        texts = [expander.node(leaf).prefix for leaf in leaves]
        leaves = [leaf for i, leaf in enumerate(leaves) if texts[i] not in texts[:i]]
        outcomes.append(_outcome(expander, int(ids[p]), prompt, leaves, selection))
    return outcomes


def mcts_search(
    policy: StepPolicy,
    verifier: Verifier,
    prompts: Sequence[str],
    rule: SelectionRule,
    simulations: int,
    num_candidates: int,
    settings: SearchSettings,
    seed: int,
    *,
    problem_ids: Sequence[int] | None = None,
) -> list[SearchOutcome]:
    """MCTS over steps with the verifier as value (PUCT or Gumbel, the core's rules): from the
    current prefix, ``simulations`` simulations over ``num_candidates`` sampled next steps per
    node, then commit the rule's chosen step and search again from it, until the solution ends.
    """
    ids = _problem_ids(prompts, problem_ids)
    expander = ReasoningExpander(policy, verifier, (num_candidates,), settings)
    current = expander.add_roots(prompts, ids)
    active = np.arange(len(prompts))
    search = Search(expander, rule, num_simulations=simulations)
    for step in range(settings.max_steps):
        if not len(active):
            break
        seeds = search_seeds(seed, ids[active], 0, step)
        result = search.run(current[active], seeds)
        still_active = []
        for b, p in enumerate(active):
            child = expander.child(current[p], int(result.chosen[b]), seed=int(seeds[b]))
            current[p] = child
            if not expander.node(child).terminal:
                still_active.append(p)
        active = np.asarray(still_active, np.int64)
    return [
        _outcome(expander, int(ids[p]), prompt, [int(current[p])], "argmax")
        for p, prompt in enumerate(prompts)
    ]


def _problem_ids(prompts: Sequence[str], problem_ids: Sequence[int] | None) -> np.ndarray:
    """Problem ids (P,) int64: they seed each problem's streams and key its costs."""
    if problem_ids is None:
        return np.arange(len(prompts), dtype=np.int64)
    ids = np.asarray(problem_ids, np.int64)
    if ids.shape != (len(prompts),) or len(set(ids.tolist())) != len(ids):
        raise ValueError(f"need one distinct problem id per prompt; got {problem_ids!r}")
    return ids
