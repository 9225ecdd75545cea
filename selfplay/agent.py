"""A trained net as a bot: for ``ponder play --checkpoint`` and ``ponder analyze``."""

from __future__ import annotations

from pathlib import Path

from experiment import UserError
from experiment.checkpoint import latest_checkpoint, load_checkpoint
from experiment.run import RunDirectory
from games.base import Game
from search.config import SearchConfig
from search.play import SearchBot
from selfplay.arena import net_bot
from selfplay.config import TrainConfig
from selfplay.inference import Evaluator
from selfplay.network import build_network


def checkpoint_config(checkpoint: str) -> TrainConfig:
    """The training config of the run that wrote ``checkpoint`` (a run directory or a
    checkpoint file inside one)."""
    run_path = latest_checkpoint(checkpoint).parent.parent
    try:
        return RunDirectory.open(run_path).load_config(TrainConfig)
    except UserError as error:
        raise UserError(
            f"checkpoint '{checkpoint}' is not inside a training run: {error}"
        ) from None


def load_net_bot(
    game: Game, checkpoint: str, simulations: int, search: SearchConfig | None = None
) -> SearchBot:
    """The net of ``checkpoint`` (a run directory, meaning its latest checkpoint, or a checkpoint
    file) behind ``search`` (default: PUCT without root noise), built as the run's config says."""
    stem = latest_checkpoint(checkpoint)
    config = checkpoint_config(checkpoint)
    trained = config.game.make()
    if trained != game:
        raise UserError(
            f"checkpoint '{checkpoint}' was trained on {trained.display_name}, "
            f"not on {game.display_name}"
        )
    network = build_network(config.network, game.observation_shape, game.num_actions)
    evaluator = Evaluator(network, "cpu", num_threads=1)
    loaded = load_checkpoint(stem, load_optimizer=False)
    evaluator.load_weights(loaded.model_state, loaded.info.version)
    name = f"net_{Path(stem).name}"
    flops = evaluator.flops_per_evaluation
    bot = net_bot(game, evaluator.evaluate, simulations, name, search, flops)
    bot.checkpoint = Path(stem).name  # which net a run's "latest" meant, kept in match records
    return bot
