"""``ponder play``: a person against a bot in the terminal."""

from __future__ import annotations

import argparse

from ponder.commands import Command, add_config_arguments, config_from_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--game", help="tic_tac_toe, connect_four or hex (game.name)")
    parser.add_argument("--bot", choices=("mcts", "net"), help="classic MCTS or a trained net")
    parser.add_argument("--sims", type=int, help="simulations per bot move (default 2000)")
    parser.add_argument("--checkpoint", help="run directory or checkpoint file (implies --bot net)")
    parser.add_argument("--human", choices=("first", "second"), help="your colour (default first)")
    parser.add_argument("--seed", type=int, help="seed of the bot's search")
    add_config_arguments(parser, example="game.board_size=7 seed=3", config_file=False)


def run(args: argparse.Namespace) -> int:
    import sys

    from ponder.commands._bots import PlayConfig, make_bot
    from search.interactive import play_against

    options = {
        "game.name": args.game, "bot": args.bot, "simulations": args.sims,
        "checkpoint": args.checkpoint, "human": args.human, "seed": args.seed,
    }  # fmt: skip
    args.overrides = [f"{k}={v}" for k, v in options.items() if v is not None] + args.overrides
    config = config_from_arguments(PlayConfig, args)
    if config.checkpoint is None and config.bot == "net":
        from experiment import UserError

        raise UserError("--bot net needs --checkpoint (a run directory or checkpoint file)")
    game = config.game.make()
    bot = make_bot(game, config.simulations, config.checkpoint)
    human = 0 if config.human == "first" else 1
    print(
        f"{game.display_name}: you move {config.human}; "
        f"the bot searches {config.simulations} simulations"
    )
    play_against(game, bot, human, sys.stdin, sys.stdout, seed=config.seed)
    return 0


COMMAND = Command(
    name="play",
    help="play against a bot in the terminal",
    description="Play a game against classic MCTS or a trained net; the board is drawn after "
    "every move and an illegal move is refused.",
    add_arguments=add_arguments,
    run=run,
    order=50,
)
