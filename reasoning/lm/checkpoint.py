"""Save and load a tiny GPT: weights in ``model.safetensors``, architecture and tokenizer in
``config.json``. No pickle anywhere, so loading a checkpoint cannot run code."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from reasoning.lm.model import TinyGPT, TinyGPTConfig, new_tiny_gpt
from reasoning.lm.tokenizer import CharTokenizer

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "ponder.tiny_gpt"
VERSION = 1


def save_tiny_gpt(directory: str | Path, model: TinyGPT, tokenizer: CharTokenizer) -> Path:
    """Write ``directory/model.safetensors`` and ``directory/config.json``; return the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = {
        name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()
    }
    save_file(weights, str(directory / WEIGHTS_FILE), metadata={"format": FORMAT})
    config = {
        "format": FORMAT,
        "version": VERSION,
        "model": asdict(model.config),
        "tokenizer": tokenizer.to_config(),
    }
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return directory


def load_tiny_gpt(
    directory: str | Path, device: str | torch.device = "cpu"
) -> tuple[TinyGPT, CharTokenizer]:
    """Read a model saved by :func:`save_tiny_gpt`."""
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    if not config_path.is_file() or not (directory / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(
            f"{directory} is not a tiny GPT checkpoint: expected {CONFIG_FILE} and {WEIGHTS_FILE}"
        )
    config = json.loads(config_path.read_text())
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise ValueError(
            f"{config_path}: format {config.get('format')!r} version {config.get('version')!r}; "
            f"expected {FORMAT!r} version {VERSION}"
        )
    known = {field.name for field in fields(TinyGPTConfig)}
    unknown = set(config["model"]) - known
    if unknown:
        raise ValueError(
            f"{config_path}: unknown model keys {sorted(unknown)}; known: {sorted(known)}"
        )
    model = new_tiny_gpt(TinyGPTConfig(**config["model"]))
    model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)))
    model = model.to(device)
    return model.eval(), CharTokenizer.from_config(config["tokenizer"])
