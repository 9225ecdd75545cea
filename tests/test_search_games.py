"""The search core on real games: tactics, strength against a random player, batch independence."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from games import make_game
from search.analysis import serve
from search.core import Search
from search.expanders import GameExpander
from search.interactive import play_against
from search.play import RandomBot, mcts_bot, play_games, score_of
from search.rules import Gumbel, Puct, Uct

TIC_TAC_TOE = make_game("tic_tac_toe")

# (moves so far, the only good move): immediate wins and forced blocks, cells "1".."9".
TACTICS = [
    ("1425", "3"),  # X completes the top row (O threatens 4-5-6 too)
    ("1243", "7"),  # X completes the left column
    ("152", "3"),  # O must block the top row
    ("153", "2"),  # O must block the top row in the middle
    ("513", "7"),  # O must block the anti-diagonal
    ("5193", "2"),  # X must block the top row: X holds 5 and 9, O holds 1 and 3
]


@pytest.mark.parametrize("moves, expected", TACTICS)
def test_mcts_finds_wins_and_blocks(moves, expected):
    state = TIC_TAC_TOE.state_from_moves(moves)
    bot = mcts_bot(TIC_TAC_TOE, num_simulations=2000)
    chosen = bot.choose(state[None], np.array([7]))[0]
    assert TIC_TAC_TOE.action_to_text(int(chosen)) == expected


def test_mcts_never_loses_to_random():
    bot = mcts_bot(TIC_TAC_TOE, num_simulations=2000)
    records = play_games(TIC_TAC_TOE, (bot, RandomBot(TIC_TAC_TOE)), num_games=200, seed=11)
    wins, draws, losses = score_of(records, bot.name)
    assert losses == 0, (wins, draws, losses)
    assert wins > 150  # random play blunders often; classic MCTS punishes it
    # Colours are balanced: the bot moved first in exactly half the games.
    assert sum(record.players[0] == bot.name for record in records) == 100


@pytest.mark.parametrize(
    "rule", [Uct(), Puct(dirichlet_fraction=0.25), Gumbel(max_considered=4)], ids=lambda r: r.name
)
def test_batch_of_64_equals_each_search_alone(rule):
    """Rollouts and noise draw from per-search streams: batching changes nothing."""
    game = make_game("connect_four")
    rng = np.random.default_rng(0)
    roots = []
    while len(roots) < 64:
        state = game.initial_state()
        for _ in range(rng.integers(0, 10)):
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        if not game.is_terminal(state):
            roots.append(state)
    roots = np.stack(roots)
    seeds = np.arange(64) * 7 + 3
    batched = Search(GameExpander(game), rule, 50).run(roots, seeds)
    visits, values = batched.visit_counts.copy(), batched.root_values.copy()
    for index in (0, 31, 63):
        alone = Search(GameExpander(game), rule, 50).run(
            roots[index : index + 1], seeds[index : index + 1]
        )
        np.testing.assert_array_equal(alone.visit_counts[0], visits[index])
        assert alone.root_values[0] == values[index]


def _random_roots(game, count: int, max_plies: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    roots = []
    while len(roots) < count:
        state = game.initial_state()
        for _ in range(rng.integers(0, max_plies)):
            if game.is_terminal(state):
                break
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        if not game.is_terminal(state):
            roots.append(state)
    return np.stack(roots)


@pytest.mark.parametrize(
    "rule",
    [
        Uct(),
        Uct(solve=False),
        Uct(root_lookahead=2, node_lookahead=2),
        Puct(dirichlet_fraction=0.25),
        Gumbel(max_considered=4),
    ],
    ids=["uct", "uct-nosolve", "uct-lookahead2", "puct", "gumbel"],
)
@pytest.mark.parametrize("game_name, leaf_value", [
    ("connect_four", "rollout"), ("hex", "rollout"), ("tic_tac_toe", "zero"),
])  # fmt: skip
def test_compiled_loop_equals_the_python_loop(rule, game_name, leaf_value):
    """A compiled expander runs the whole simulation loop as one compiled call: every result
    array must equal the Python loop's bit for bit, late positions (terminal and solved leaves
    reached again) included."""
    game = make_game(game_name, board_size=4) if game_name == "hex" else make_game(game_name)
    roots = _random_roots(game, 24, 30, seed=5)
    seeds = np.arange(len(roots)) * 11 + 1
    results = [
        Search(GameExpander(game, leaf_value), rule, 120, compiled_loop=compiled).run(roots, seeds)
        for compiled in (True, False)
    ]
    for field in ("chosen", "policy", "visit_counts", "q_values", "root_values", "valid",
                  "solved", "proven_values", "evaluations"):  # fmt: skip
        np.testing.assert_array_equal(
            getattr(results[0], field), getattr(results[1], field), err_msg=field
        )
    # The late positions do reach proven values, and terminal leaves visited again.
    assert results[0].solved.any() == rule.solve
    assert (results[0].evaluations < 121).any()


def test_search_is_deterministic_given_seeds():
    game = make_game("hex", board_size=5)
    roots = np.stack([game.initial_state()] * 4)
    first = Search(GameExpander(game), Uct(), 200).run(roots, [1, 2, 3, 4])
    visits = first.visit_counts.copy()
    second = Search(GameExpander(game), Uct(), 200).run(roots, [1, 2, 3, 4])
    np.testing.assert_array_equal(second.visit_counts, visits)
    assert not np.array_equal(visits[0], visits[1])  # different seeds, different searches


def test_zero_value_expander_sees_terminal_values():
    """Uniform prior + zero value: only terminal nodes inform, which still finds a mate in one."""
    state = TIC_TAC_TOE.state_from_moves("1425")
    result = Search(GameExpander(TIC_TAC_TOE, "zero"), Puct(), 300).run(state[None], [0])
    assert TIC_TAC_TOE.action_to_text(int(result.chosen[0])) == "3"
    assert result.root_values[0] > 0.5


def test_illegal_search_root_is_refused():
    state = TIC_TAC_TOE.state_from_moves("14253")  # X has won
    with pytest.raises(ValueError, match="terminal"):
        Search(GameExpander(TIC_TAC_TOE), Uct(), 10).run(state[None], [0])


def test_analysis_engine_answers_and_survives_bad_lines():
    lines = io.StringIO(
        "\n".join(
            [
                json.dumps({"id": "q1", "game": "connect_four", "moves": "4453", "sims": 400}),
                "{not json",
                json.dumps({"id": "q2", "game": "connect_four", "moves": "4449", "sims": 10}),
                json.dumps({"id": "q3", "game": "chess"}),
                json.dumps(
                    {"id": "q4", "game": "hex", "board_size": 5, "moves": "c3", "sims": 200}
                ),
                json.dumps({"id": "q5", "game": "tic_tac_toe", "moves": "1425", "sims": 2000}),
            ]
        )
    )
    out = io.StringIO()
    errors = serve(lines, out)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert errors == 3 and len(answers) == 6
    first = answers[0]
    assert first["id"] == "q1" and first["visits"] == 400
    assert first["best_move"] in {str(column) for column in range(1, 8)}
    assert abs(sum(first["policy"].values()) - 1) < 1e-3 and -1 <= first["value"] <= 1
    assert answers[1]["id"] is None and "JSON" in answers[1]["error"]
    assert answers[2]["id"] == "q2" and "9" in answers[2]["error"]
    assert answers[3]["id"] == "q3" and "chess" in answers[3]["error"]
    assert answers[4]["id"] == "q4" and "c3" not in answers[4]["policy"]
    assert answers[5]["best_move"] == "3" and answers[5]["value"] > 0.5


def test_analysis_answers_bad_bytes_booleans_finished_games_and_huge_fields_in_one_line():
    good = json.dumps({"id": "ok", "game": "tic_tac_toe", "moves": "1", "sims": 50}).encode()
    lines = [
        good + b"\n",
        b"\xff\xfe not UTF-8\n",
        json.dumps({"id": "b", "game": "tic_tac_toe", "sims": True}).encode(),
        json.dumps({"id": "over", "game": "tic_tac_toe", "moves": "1425369"}).encode(),
        json.dumps({"id": "huge", "game": "connect_four", "moves": "8" * 1_000_000}).encode(),
        good,
    ]
    out = io.StringIO()
    assert serve(lines, out) == 4
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [a["id"] for a in answers] == ["ok", None, "b", "over", "huge", "ok"]
    assert "line 2 is not UTF-8" in answers[1]["error"]
    assert "field 'sims' must be an integer" in answers[2]["error"]
    assert "move 6 (action 5) is illegal: the game is over" in answers[3]["error"]
    assert len(answers[4]["error"]) < 1000 and "1000002 characters" in answers[4]["error"]
    assert answers[5] == answers[0]


def test_person_against_bot_refuses_bad_moves():
    # The person plays X; "0", "banana" and an occupied cell are refused, then the game goes on.
    moves = io.StringIO("0\nbanana\n1\n1\n2\n3\n4\n5\n6\n7\n8\n9\n")
    out = io.StringIO()
    returns = play_against(TIC_TAC_TOE, mcts_bot(TIC_TAC_TOE, 500), 0, moves, out)
    text = out.getvalue()
    assert text.count("refused") >= 3
    assert returns is not None and returns[0] <= 0  # the bot never loses
    assert "bot plays" in text


def test_analysis_of_the_initial_position():
    out = io.StringIO()
    request = {"id": "start", "game": "connect_four", "moves": "", "sims": 2000}
    assert serve(io.StringIO(json.dumps(request)), out) == 0
    answer = json.loads(out.getvalue())
    # Connect Four is a first-player win with the first disc in the centre column.
    assert answer["best_move"] == "4" and answer["value"] > 0
