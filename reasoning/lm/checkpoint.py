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


def read_model_config(
    directory: Path, format_name: str, version: int, what: str
) -> tuple[dict, TinyGPTConfig]:
    """The JSON record of a model saved with safetensors weights next to it, checked: both files
    present, the expected format and version, only known TinyGPTConfig keys."""
    config_path = directory / CONFIG_FILE
    if not config_path.is_file() or not (directory / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(
            f"{directory} is not a {what}: expected {CONFIG_FILE} and {WEIGHTS_FILE}"
        )
    config = json.loads(config_path.read_text())
    if config.get("format") != format_name or config.get("version") != version:
        raise ValueError(
            f"{config_path}: format {config.get('format')!r} version {config.get('version')!r}; "
            f"expected {format_name!r} version {version}"
        )
    known = {field.name for field in fields(TinyGPTConfig)}
    unknown = set(config["model"]) - known
    if unknown:
        raise ValueError(
            f"{config_path}: unknown model keys {sorted(unknown)}; known: {sorted(known)}"
        )
    return config, TinyGPTConfig(**config["model"])


def load_tiny_gpt(
    directory: str | Path, device: str | torch.device = "cpu"
) -> tuple[TinyGPT, CharTokenizer]:
    """Read a model saved by :func:`save_tiny_gpt`."""
    directory = Path(directory)
    config, model_config = read_model_config(directory, FORMAT, VERSION, "tiny GPT checkpoint")
    model = new_tiny_gpt(model_config)
    model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)))
    model = model.to(device)
    return model.eval(), CharTokenizer.from_config(config["tokenizer"])
