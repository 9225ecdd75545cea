"""The one config section of a search, and the one function that builds a search from it.

``search: {rule: gumbel, simulations: 32, gumbel: {max_considered: 8}}``: the rule by name,
the budget, and each rule's constants in its own subsection (the rule dataclasses of
:mod:`search.rules`, which hold the only defaults). Self-play, the arena, ``play``,
``analyze``, ``match`` and the reasoning searches all build their search with
:func:`build_search`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from experiment.config import PositiveInt
from search.core import Expander, Search
from search.rules import Gumbel, Puct, SelectionRule, Uct


@dataclass(frozen=True)
class SearchConfig:
    """Which rule, how many simulations per move, and every rule's constants."""

    rule: Literal["uct", "puct", "gumbel"] = "puct"
    simulations: PositiveInt = 200
    uct: Uct = field(default_factory=Uct)
    puct: Puct = field(default_factory=Puct)
    gumbel: Gumbel = field(default_factory=Gumbel)

    def __post_init__(self) -> None:
        if self.simulations < 1:
            raise ValueError(f"search.simulations must be at least 1, got {self.simulations}")

    @property
    def selection_rule(self) -> SelectionRule:
        """The configured rule with its constants."""
        rule: SelectionRule = getattr(self, self.rule)
        return rule

    def with_simulations(self, simulations: int) -> SearchConfig:
        return dataclasses.replace(self, simulations=simulations)

    def without_exploration(self) -> SearchConfig:
        """The same search tuned for strength: no root noise, no temperature moves, no Gumbel
        draw (KataGo's fast searches under playout cap randomisation)."""
        return dataclasses.replace(
            self,
            uct=dataclasses.replace(self.uct, temperature_moves=0),
            puct=dataclasses.replace(self.puct, dirichlet_fraction=0.0, temperature_moves=0),
            gumbel=dataclasses.replace(self.gumbel, gumbel_scale=0.0),
        )


def build_search(expander: Expander, config: SearchConfig) -> Search:
    """The search ``config`` describes over ``expander``'s domain."""
    return Search(expander, config.selection_rule, config.simulations)
