"""The one search config section: each rule's constants in its own subsection, with the rule
dataclasses' defaults, built into a search by one function for every caller."""

from __future__ import annotations

import numpy as np
import pytest

from experiment.config import ConfigError, load_config
from games import make_game
from reasoning.pipeline.config import ReasonConfig
from search.config import SearchConfig, build_search
from search.expanders import GameExpander
from search.play import mcts_bot
from search.rules import Gumbel, Puct, Uct
from selfplay.config import TrainConfig


def test_recipe_subsections_set_each_rules_constants(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("search: {rule: gumbel, simulations: 32, gumbel: {max_considered: 8}}\n")
    config = load_config(TrainConfig, path, ["search.puct.dirichlet_fraction=0.25"])
    assert config.search.selection_rule == Gumbel(max_considered=8)
    assert config.search.puct == Puct(dirichlet_fraction=0.25)
    assert config.search.uct == Uct()  # untouched rules keep their own defaults


def test_flat_rule_constants_are_refused_with_the_subsection_named(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("search: {rule: gumbel, c_scale: 0.1}\n")
    with pytest.raises(ConfigError, match="search.c_scale"):
        load_config(TrainConfig, path)
    with pytest.raises(ConfigError, match="must be at least 1"):
        load_config(TrainConfig, None, ["search.simulations=0"])


def test_games_and_reasoning_share_the_rules_defaults():
    """One default per constant: the reasoning MCTS section holds the same rule objects."""
    mcts = ReasonConfig().evaluation.mcts
    assert mcts.rule("gumbel") == SearchConfig().gumbel == Gumbel()
    assert mcts.rule("puct") == SearchConfig().puct == Puct()


def test_every_bot_is_built_from_the_config_section():
    game = make_game("tic_tac_toe")
    bot = mcts_bot(game, 50)
    assert bot.config == SearchConfig(rule="uct", simulations=50)
    state = game.state_from_moves("1425")
    direct = build_search(GameExpander(game, "rollout"), bot.config).run(state[None], [7])
    np.testing.assert_array_equal(bot.choose(state[None], np.array([7])), direct.chosen)
    assert game.action_to_text(int(direct.chosen[0])) == "3"  # the win in one


def test_a_search_without_exploration_keeps_everything_else():
    search = SearchConfig(
        rule="puct", simulations=16, puct=Puct(c_init=2.0, dirichlet_fraction=0.25),
        gumbel=Gumbel(max_considered=4),
    )  # fmt: skip
    plain = search.without_exploration()
    assert plain.puct == Puct(c_init=2.0, dirichlet_fraction=0.0, temperature_moves=0)
    assert plain.gumbel == Gumbel(max_considered=4, gumbel_scale=0.0)
    assert plain.uct == Uct(temperature_moves=0)
    assert (plain.rule, plain.simulations) == ("puct", 16)
