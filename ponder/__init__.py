"""ponder's command line: parse arguments, load a config, run one workflow (`ponder --help`)."""

import importlib.metadata
import tomllib
from pathlib import Path


def _version() -> str:
    try:
        return importlib.metadata.version("ponder")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


__version__ = _version()
