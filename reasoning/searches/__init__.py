"""Searches over reasoning steps on the one search core (``search.core.Search``).

- :mod:`reasoning.searches.expander`: :class:`ReasoningExpander`, the core's Expander over steps;
- :mod:`reasoning.searches.methods`: best-of-N, greedy, beam search and MCTS (PUCT, Gumbel);
- :mod:`reasoning.searches.selection`: majority vote, weighted vote, verifier argmax, and
  best-of-n over random subsets of a pool;
- :mod:`reasoning.searches.metrics`: pass@k, Wilson and bootstrap intervals.

No torch here: the policy and the verifier come in through their interfaces.
"""

from reasoning.searches.expander import NodeView, ReasoningExpander, SearchSettings
from reasoning.searches.methods import (
    SearchOutcome,
    beam_search,
    greedy_solutions,
    mcts_search,
    sample_solutions,
    search_seeds,
)
from reasoning.searches.metrics import bootstrap_interval, pass_at_k, wilson_interval
from reasoning.searches.selection import (
    SELECTIONS,
    Candidate,
    TrialResult,
    best_score,
    majority_vote,
    select,
    subset_trials,
    weighted_vote,
)

__all__ = [
    "SELECTIONS",
    "Candidate",
    "NodeView",
    "ReasoningExpander",
    "SearchOutcome",
    "SearchSettings",
    "TrialResult",
    "beam_search",
    "best_score",
    "bootstrap_interval",
    "greedy_solutions",
    "majority_vote",
    "mcts_search",
    "pass_at_k",
    "sample_solutions",
    "search_seeds",
    "select",
    "subset_trials",
    "weighted_vote",
    "wilson_interval",
]
