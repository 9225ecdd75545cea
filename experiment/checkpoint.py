"""Versioned checkpoints: model weights, optimizer state and a JSON record, written atomically.

A checkpoint at learner step 123 is three files in ``runs/<name>/checkpoints/``::

    step_000123.safetensors    model weights (safetensors: tensors only, no code)
    step_000123.optimizer.pt   optimizer / scaler state: ``torch.save`` of a state dict, read
                               back with ``torch.load(weights_only=True)`` (never pickled objects)
    step_000123.json           step, weights version, games, positions, ledger, counters, and the
                               size and SHA-256 of the two files above

Each file is written to a temporary name, flushed to disk and renamed into place; the JSON is
renamed last, so it is the commit point: a crash mid-save leaves no JSON for that step and the
previous checkpoint stays the latest. A checkpoint whose files are missing, truncated or altered
fails to load with :class:`CheckpointError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from experiment import UserError
from experiment.ledger import ComputeLedger

FORMAT_VERSION = 1
CHECKPOINTS_SUBDIRECTORY = "checkpoints"
_STEM = re.compile(r"^step_(\d+)$")
_SUFFIXES = (".json", ".safetensors", ".optimizer.pt")


class CheckpointError(UserError):
    """A checkpoint that cannot be found or read; the message names the file and the problem."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint's JSON records besides its files.

    ``version`` is the learner's published weights version; ``keep`` marks a snapshot that
    :func:`prune_checkpoints` never deletes (a run's step 0 and its snapshots at every doubling
    of train FLOPs);
    ``counters`` holds any further JSON-ready values a run wants back on resume."""

    step: int
    version: int = 0
    games_played: int = 0
    positions_seen: int = 0
    ledger: ComputeLedger = field(default_factory=ComputeLedger)
    counters: dict[str, Any] = field(default_factory=dict)
    keep: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "version": self.version,
            "games_played": self.games_played,
            "positions_seen": self.positions_seen,
            "ledger": self.ledger.to_dict(),
            "counters": dict(self.counters),
            "keep": self.keep,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckpointInfo:
        return cls(
            step=int(data["step"]),
            version=int(data.get("version", 0)),
            games_played=int(data.get("games_played", 0)),
            positions_seen=int(data.get("positions_seen", 0)),
            ledger=ComputeLedger.from_dict(data.get("ledger", {})),
            counters=dict(data.get("counters", {})),
            keep=bool(data.get("keep", False)),
        )


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint. ``path`` is the stem (``.../checkpoints/step_000123``)."""

    path: Path
    info: CheckpointInfo
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None  # None when saved without one or not loaded

    @property
    def step(self) -> int:
        return self.info.step


def checkpoint_stem(directory: str | Path, step: int) -> Path:
    """``directory/step_000123``: the name every file of one checkpoint starts with."""
    if step < 0:
        raise ValueError(f"checkpoint step must be >= 0, got {step}")
    return Path(directory) / f"step_{step:06d}"


def save_checkpoint(
    directory: str | Path,
    info: CheckpointInfo,
    model_state: Mapping[str, torch.Tensor],
    optimizer_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write the checkpoint for ``info.step`` into ``directory`` (a run's checkpoints folder;
    created if missing) and return its stem. Tensors are copied to the CPU first. Saving a step
    that exists replaces it, and its old JSON is removed before anything else is touched, so a
    crash in between never pairs a JSON with files it does not describe."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = checkpoint_stem(directory, info.step)
    json_path = stem.with_name(stem.name + ".json")
    json_path.unlink(missing_ok=True)

    files: dict[str, dict[str, Any]] = {}
    # safetensors needs contiguous, unshared CPU tensors (BatchNorm buffers can alias nothing,
    # but channels_last weights are not contiguous).
    weights = {name: t.detach().to("cpu").contiguous() for name, t in model_state.items()}
    model_path = stem.with_name(stem.name + ".safetensors")
    write_atomic(model_path, safetensors.torch.save(weights))
    files["model"] = _describe(model_path)
    if optimizer_state is not None:
        optimizer_path = stem.with_name(stem.name + ".optimizer.pt")
        write_atomic(optimizer_path, _torch_bytes(_to_cpu(optimizer_state)))
        files["optimizer"] = _describe(optimizer_path)
    record = {
        "format": FORMAT_VERSION,
        **info.to_dict(),
        "saved_unix": time.time(),
        "files": files,
    }
    write_atomic(json_path, (json.dumps(record, indent=2) + "\n").encode())
    return stem


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Stems of the committed checkpoints (those with a JSON) in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob("step_*.json"):
        match = _STEM.match(path.name[: -len(".json")])
        if match:
            found.append((int(match.group(1)), path.with_name(path.name[: -len(".json")])))
    return [stem for _, stem in sorted(found)]


def latest_checkpoint(path: str | Path) -> Path:
    """The checkpoint a user means by ``path``, as a stem.

    ``path`` may be a run directory (its ``checkpoints/`` folder), a checkpoints folder (both
    mean the highest step there), one of a checkpoint's files, or its stem."""
    path = Path(path)
    if path.is_dir():
        folder = path / CHECKPOINTS_SUBDIRECTORY
        folder = folder if folder.is_dir() else path
        stems = list_checkpoints(folder)
        if not stems:
            raise CheckpointError(
                f"no checkpoint in '{folder}': expected files like step_000123.json "
                "(a run writes them as it trains)"
            )
        return stems[-1]
    stem = path
    for suffix in _SUFFIXES:
        if path.name.endswith(suffix):
            stem = path.with_name(path.name[: -len(suffix)])
    if not _STEM.match(stem.name):
        raise CheckpointError(
            f"'{path}' is neither a directory nor a checkpoint: expected a run directory, a "
            "checkpoints folder, or a file named like step_000123.json / .safetensors"
        )
    if not stem.with_name(stem.name + ".json").is_file():
        raise CheckpointError(
            f"checkpoint '{stem}' is missing its record '{stem.name}.json' (the save did not "
            f"finish, or the file was removed); committed checkpoints there: "
            f"{[s.name for s in list_checkpoints(stem.parent)] or 'none'}"
        )
    return stem


def read_info(path: str | Path) -> CheckpointInfo:
    """The JSON record of the checkpoint ``path`` means (see :func:`latest_checkpoint`)."""
    return CheckpointInfo.from_dict(_read_record(latest_checkpoint(path)))


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", load_optimizer: bool = True
) -> Checkpoint:
    """Load the checkpoint ``path`` means (see :func:`latest_checkpoint`), checking every file's
    size and SHA-256 against its record first."""
    stem = latest_checkpoint(path)
    record = _read_record(stem)
    files = record.get("files", {})
    if "model" not in files:
        raise CheckpointError(f"'{stem}.json' names no model file (its 'files' has no 'model')")
    model_path = _checked(stem.parent, files["model"])
    try:
        model_state = safetensors.torch.load_file(str(model_path), device=str(map_location))
    except Exception as error:  # safetensors raises its own error types for malformed files
        raise CheckpointError(
            f"cannot read model weights '{model_path}': {_first_line(error)}"
        ) from None
    optimizer_state = None
    if load_optimizer and "optimizer" in files:
        optimizer_path = _checked(stem.parent, files["optimizer"])
        try:
            # on the CPU: Optimizer.load_state_dict moves the moments to the parameters' device
            # but leaves Adam's step counters where they were loaded (on a GPU they would cost a
            # sync per parameter and step)
            optimizer_state = torch.load(optimizer_path, map_location="cpu", weights_only=True)
        except Exception as error:  # zip, unpickling and weights_only errors alike
            raise CheckpointError(  # torch's message spans lines: its first says what failed
                f"cannot read optimizer state '{optimizer_path}' (it is not plain tensor data "
                f"loadable with weights_only=True): {_first_line(error)}"
            ) from None
    return Checkpoint(stem, CheckpointInfo.from_dict(record), model_state, optimizer_state)


def prune_checkpoints(directory: str | Path, keep_last: int) -> list[Path]:
    """Delete the regular checkpoints (those not marked ``keep``) older than the newest
    ``keep_last`` of them; return the stems removed. Snapshots marked ``keep`` are neither
    counted nor deleted, and the newest checkpoint (the one a resume reads) always stays. The
    JSON goes first, so an interrupted prune leaves no half checkpoint that looks committed."""
    if keep_last < 1:
        raise ValueError(
            f"keep_last must be >= 1 (the latest is needed to resume), got {keep_last}"
        )
    regular = [stem for stem in list_checkpoints(directory) if not read_info(stem).keep]
    removed = []
    for stem in regular[:-keep_last]:
        for suffix in _SUFFIXES:
            stem.with_name(stem.name + suffix).unlink(missing_ok=True)
        removed.append(stem)
    return removed


def _read_record(stem: Path) -> dict[str, Any]:
    json_path = stem.with_name(stem.name + ".json")
    try:
        record = json.loads(json_path.read_text())
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint record '{json_path}': {error}") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(
            f"checkpoint record '{json_path}' is not valid JSON ({error}); the file is corrupt"
        ) from None
    if not isinstance(record, dict) or "step" not in record:
        raise CheckpointError(f"checkpoint record '{json_path}' has no 'step'; it is not ours")
    if record.get("format", FORMAT_VERSION) > FORMAT_VERSION:
        raise CheckpointError(
            f"'{json_path}' has checkpoint format {record['format']}, newer than this code "
            f"reads ({FORMAT_VERSION}); update ponder"
        )
    return record


def _checked(directory: Path, description: Mapping[str, Any]) -> Path:
    """The file a record describes, after checking it exists with the recorded size and hash."""
    if not isinstance(description, Mapping) or not {"name", "bytes", "sha256"} <= set(description):
        raise CheckpointError(
            f"a checkpoint record in '{directory}' describes a file without its name, bytes "
            f"and sha256: {description!r}; the record is corrupt"
        )
    path = directory / str(description["name"])
    if not path.is_file():
        raise CheckpointError(f"checkpoint file '{path}' is missing")
    size = path.stat().st_size
    if size != description["bytes"]:
        problem = "truncated" if size < description["bytes"] else "longer than recorded"
        raise CheckpointError(
            f"checkpoint file '{path}' is {problem}: {size} bytes, its record says "
            f"{description['bytes']}"
        )
    if _sha256(path) != description["sha256"]:
        raise CheckpointError(
            f"checkpoint file '{path}' is corrupt: its SHA-256 differs from the recorded one"
        )
    return path


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _describe(path: Path) -> dict[str, Any]:
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _torch_bytes(state: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _to_cpu(state: Any) -> Any:
    """A copy of a nested state dict with every tensor on the CPU (loadable without a GPU)."""
    if torch.is_tensor(state):
        return state.detach().to("cpu")
    if isinstance(state, Mapping):
        return {key: _to_cpu(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_to_cpu(value) for value in state)
    return state


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers (and a restart after a crash) see either the
    old file or the whole new one: a temporary file in the same folder, flushed to disk, then
    renamed over ``path``."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
