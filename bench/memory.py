"""Memory: bytes per stored position in the replay buffer (in RAM and in its shards on disk) and
the peak resident memory of a self-play worker process.

Games come from the Connect Four recipe's worker (configs/connect4.yaml, fewer games in
lockstep with --quick). RAM: the buffer's arrays per position of capacity, and the resident
memory a full window of the recipe's ``replay.capacity`` adds to a process. Disk: the shard
files' bytes over the positions they hold. The peer is the position as the net reads it (float32
planes, float32 policy and value): the figure is that size over the bytes in RAM.
Peak RSS: a fresh process that builds the recipe's worker and plays, ``ru_maxrss``.

    python -m bench.memory [--quick]
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
from pathlib import Path

import numpy as np

from bench.common import parse_arguments, report


def _rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def worker_peak_rss(moves: int, overrides: tuple[str, ...]) -> int:
    """Peak resident bytes of this process after building the recipe's worker and playing
    ``moves`` moves of every game (run it in a fresh process)."""
    from bench.selfplay_vs_forward import recipe_worker

    worker = recipe_worker(overrides)[-1]
    worker.play(moves)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _peak_in_child(arguments: tuple[int, tuple[str, ...]]) -> int:
    return worker_peak_rss(*arguments)


def replay_bytes(moves: int, overrides: tuple[str, ...]) -> dict:
    """Bytes per position of the replay buffer in RAM and on disk, from recipe games."""
    from bench.selfplay_vs_forward import recipe_worker
    from selfplay.replay import ReplayBuffer, list_shards, read_shard

    config, game, _, _, worker = recipe_worker(overrides)
    records: list = []
    while len(records) < 2 * len(worker.games) and moves > 0:
        records.extend(worker.play(1)[0])
        moves -= 1
    shape, actions = game.observation_shape, game.num_actions
    with tempfile.TemporaryDirectory() as directory:
        buffer = ReplayBuffer(
            config.replay.capacity, shape, actions, directory=directory, games_per_shard=16
        )
        buffer.add_games(records)
        positions = sum(record.length for record in records)
        shards = list_shards(directory)
        closed = sum(record.length for shard in shards for record in read_shard(shard))
        disk = sum(Path(shard).stat().st_size for shard in shards)
        arrays = (buffer.observations, buffer.policies, buffer.values, buffer.policy_mask)
        ram = sum(array.nbytes for array in arrays) / buffer.capacity
    before = _rss_bytes()
    window = ReplayBuffer(config.replay.capacity, shape, actions)
    for record in records * (config.replay.capacity // max(1, positions) + 1):
        window.add_game(record)
    resident = (_rss_bytes() - before) / config.replay.capacity
    float32 = 4 * (int(np.prod(shape)) + actions + 1)
    return {
        "ram_bytes_per_position": round(ram, 1),
        "ram_resident_bytes_per_position": round(resident, 1),
        "disk_bytes_per_position": round(disk / max(1, closed), 1),
        "float32_bytes_per_position": float32,
        "capacity": config.replay.capacity,
        "games": len(records),
        "positions_on_disk": closed,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_arguments(__doc__, argv)
    overrides = ("selfplay.games_per_worker=16",) if args.quick else ()
    moves = 60 if args.quick else 120
    result = replay_bytes(moves, overrides)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        peak = pool.map(_peak_in_child, [(8 if args.quick else 32, ())])[0]
    result["worker_peak_rss_mb"] = round(peak / 2**20, 1)
    result["ratio"] = round(
        result["float32_bytes_per_position"] / result["ram_bytes_per_position"], 2
    )
    line = (
        f"replay {result['ram_bytes_per_position']:.0f} B/position in RAM "
        f"({result['ram_resident_bytes_per_position']:.0f} resident), "
        f"{result['disk_bytes_per_position']:.0f} on disk; worker peak RSS "
        f"{result['worker_peak_rss_mb']:.0f} MB; float32 over RAM ratio={result['ratio']:.2f}"
    )
    return report("memory", result, line)


if __name__ == "__main__":
    main()
