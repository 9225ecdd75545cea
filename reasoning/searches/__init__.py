"""Searches over reasoning steps on the one search core (``search.core.Search``).

- :mod:`reasoning.searches.expander`: :class:`ReasoningExpander`, the core's Expander over steps;
- :mod:`reasoning.searches.methods`: best-of-N, greedy, beam search, DVTS and MCTS (PUCT, Gumbel);
- :mod:`reasoning.searches.selection`: majority vote, weighted vote, verifier argmax (one
  implementation, vectorised over subsets), the best-of-N selections by name, and best-of-n
  over random subsets of a pool;
- :mod:`reasoning.searches.metrics`: pass@k (intervals are in ``experiment.stats``).

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
from reasoning.searches.metrics import pass_at_k
from reasoning.searches.selection import (
    BEST_OF_N,
    RULES,
    BestOfN,
    Candidate,
    TrialResult,
    best_of_n_selection,
    best_score,
    choose,
    majority_vote,
    select,
    subset_trials,
    weighted_vote,
)

__all__ = [
    "BEST_OF_N",
    "RULES",
    "BestOfN",
    "Candidate",
    "NodeView",
    "ReasoningExpander",
    "SearchOutcome",
    "SearchSettings",
    "TrialResult",
    "beam_search",
    "best_of_n_selection",
    "best_score",
    "choose",
    "greedy_solutions",
    "majority_vote",
    "mcts_search",
    "pass_at_k",
    "sample_solutions",
    "search_seeds",
    "select",
    "subset_trials",
    "weighted_vote",
]
