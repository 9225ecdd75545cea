"""``ponder demo``: the main jobs end to end on the CPU in a few minutes (what `make demo` runs)."""

from __future__ import annotations

import argparse

from ponder.commands import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sims", type=int, default=1000, help="simulations per move of the bots")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=3.0, help="self-play training time")
    parser.add_argument("--config", default="configs/demo.yaml", help="the training recipe")
    parser.add_argument("--runs-root", default="runs", help="where the demo run goes")


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from experiment.stats import score_interval
    from games import make_game
    from search.analysis import analyze
    from search.play import mcts_bot, play_games, score_of
    from selfplay.actors import make_evaluator
    from selfplay.agent import load_net_bot
    from selfplay.arena import net_bot
    from selfplay.config import TrainConfig
    from selfplay.train import start_run, train

    game = make_game("connect_four")
    strong, weak = mcts_bot(game, args.sims), mcts_bot(game, max(args.sims // 20, 2))
    print(f"== 1. Connect Four: classic MCTS with {args.sims} simulations vs {weak.name} ==")
    start = time.perf_counter()
    record = play_games(game, (strong, weak), num_games=1, seed=args.seed)[0]
    state = game.initial_state()
    for move in record.moves:
        state = game.apply(state, move)
    print(game.render(state))
    moves = "".join(game.action_to_text(move) for move in record.moves)
    winner = {1.0: record.players[0], -1.0: record.players[1]}.get(record.returns[0], "nobody")
    print(f"moves {moves}: {winner} wins ({time.perf_counter() - start:.1f} s)\n")

    request = {"id": "demo", "game": "connect_four", "moves": moves[:6], "sims": 4 * args.sims}
    print(f"== 2. ponder analyze: {json.dumps(request)} ==")
    print(json.dumps(analyze(request)), flush=True)

    from experiment.config import load_config

    print(f"\n== 3. ponder train {args.config} budget.minutes={args.minutes} (Ray, CPU) ==")
    overrides = [f"budget.minutes={args.minutes}", f"runs_root={args.runs_root}", "name=null"]
    config = load_config(TrainConfig, args.config, overrides)
    run_directory = start_run(config, command_line=["ponder", "demo"])
    print(f"TensorBoard: tensorboard --logdir {run_directory.path.parent}", flush=True)
    progress = train(config, run_directory)

    print(f"\n== 4. arena: the trained net (step {progress.step}) vs its untrained self ==")
    simulations = config.search.simulations
    trained = load_net_bot(game, str(run_directory.path), simulations)
    untrained = net_bot(game, make_evaluator(config).evaluate, simulations, "untrained")
    records = play_games(game, (trained, untrained), 40, seed=args.seed, opening_moves=2)
    wins, draws, losses = score_of(records, trained.name)
    score, low, high = score_interval(wins, draws, losses)
    print(
        f"trained vs untrained, {simulations} simulations each, {len(records)} games (colours "
        f"balanced): {wins} wins, {draws} draws, {losses} losses; score {score:.0%} "
        f"(95% interval {low:.0%}-{high:.0%})"
    )
    print(f"TensorBoard: tensorboard --logdir {run_directory.path.parent}")
    return 0


COMMAND = Command(
    name="demo",
    help="show the main jobs end to end on the CPU in a few minutes",
    add_arguments=add_arguments,
    run=run,
    order=90,
)
