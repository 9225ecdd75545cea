"""``ponder demo``: the main jobs end to end on the CPU in a few minutes (what `make demo` runs)."""

from __future__ import annotations

import argparse

from ponder.commands import Command, add_print_config_argument, config_from_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sims", type=int, default=1000, help="simulations per move of the bots")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=3.0, help="self-play training time")
    parser.add_argument(
        "--config", default="demo", help="the training recipe: a name or a YAML file (demo)"
    )
    parser.add_argument(
        "--runs-root", default="runs", help="where the run goes, RUNS_ROOT/<the recipe's name>"
    )
    add_print_config_argument(parser)


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from experiment.stats import score_interval
    from search.analysis import analyze
    from search.play import mcts_bot, play_games, score_of
    from selfplay.actors import make_evaluator
    from selfplay.agent import load_net_bot
    from selfplay.arena import net_bot
    from selfplay.config import TrainConfig
    from selfplay.train import start_run, train

    args.overrides = [f"budget.minutes={args.minutes}", f"runs_root={args.runs_root}"]
    config = config_from_arguments(TrainConfig, args)  # first: --print-config stops here
    game = config.game.make()
    strong, weak = mcts_bot(game, args.sims), mcts_bot(game, max(args.sims // 20, 2))
    print(f"== 1. {game.display_name}: classic MCTS, {args.sims} simulations vs {weak.name} ==")
    start = time.perf_counter()
    record = play_games(game, (strong, weak), num_games=1, seed=args.seed)[0]
    state = game.initial_state()
    for move in record.moves:
        state = game.apply(state, move)
    print(game.render(state))
    moves = "".join(game.action_to_text(move) for move in record.moves)
    winner = {1.0: record.players[0], -1.0: record.players[1]}.get(record.returns[0], "nobody")
    print(f"moves {moves}: {winner} wins ({time.perf_counter() - start:.1f} s)\n")

    opening = "".join(game.action_to_text(move) for move in record.moves[:6])
    request = {"id": "demo", "game": game.name, **game.params, "moves": opening}
    request["sims"] = 4 * args.sims
    print(f"== 2. ponder analyze: {json.dumps(request)} ==")
    print(json.dumps(analyze(request)), flush=True)

    print(f"\n== 3. ponder train {args.config} budget.minutes={args.minutes} (Ray, CPU) ==")
    # Each demo replaces the previous demo's run (never a folder that is not a run).
    run_directory = start_run(config, command_line=["ponder", "demo"], overwrite=True)
    print(f"run directory: {run_directory.path}")
    print(f"TensorBoard:   tensorboard --logdir {run_directory.path.parent}", flush=True)
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
    print(f"run directory: {run_directory.path}")
    print(f"TensorBoard:   tensorboard --logdir {run_directory.path.parent}")
    return 0


COMMAND = Command(
    name="demo",
    help="show the main jobs end to end on the CPU in a few minutes",
    description=(
        "Play a game between classic MCTS bots, answer an analysis request, train a net by\n"
        "self-play through Ray from the demo recipe for --minutes, then play the trained net\n"
        "against its untrained self. The run goes to RUNS_ROOT/demo (the recipe's name),\n"
        "replacing the previous demo's run."
    ),
    add_arguments=add_arguments,
    run=run,
    order=90,
)
