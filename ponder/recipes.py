"""The recipes, ``configs/*.yaml``: found by name (``connect4``) or by path, wherever ponder runs.

The one copy is the repository's top-level ``configs/``. A source checkout, and an editable
install (``pip install -e .``, which imports from the checkout), read it there. A wheel carries
the same files as data files (``[tool.setuptools.data-files]`` in pyproject.toml) that pip puts
in ``<prefix>/share/ponder/configs/``; they are found through the installed distribution's file
list, so that a virtual environment, a ``--user`` install and a system install all work.

Standard library only: ``ponder --help`` and ``ponder configs`` import this module.
"""

from __future__ import annotations

import difflib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from experiment import UserError

SUFFIXES = (".yaml", ".yml")
SOURCE_FOLDER = Path(__file__).resolve().parents[1] / "configs"
INSTALLED_FOLDER = PurePosixPath("share/ponder/configs")  # pyproject.toml's data-files target
DISTRIBUTION = "ponder"


@dataclass(frozen=True)
class Recipe:
    """One shipped recipe: ``name`` is its file name without ``.yaml``."""

    name: str
    path: Path

    @property
    def summary(self) -> str:
        """The recipe's first comment line (what it is for), or "" when it starts without one."""
        for line in self.path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text:
                return text.lstrip("#").strip() if text.startswith("#") else ""
        return ""


def recipes_folder() -> Path | None:
    """The folder of the shipped recipes: the source checkout's ``configs/``, else the installed
    data folder; None when neither is there."""
    if SOURCE_FOLDER.is_dir() and (SOURCE_FOLDER.parent / "pyproject.toml").is_file():
        return SOURCE_FOLDER
    return _installed_folder()


def _installed_folder() -> Path | None:
    try:
        files = importlib.metadata.distribution(DISTRIBUTION).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        # Recorded relative to site-packages, e.g. ../../../share/ponder/configs/connect4.yaml.
        if file.suffix in SUFFIXES and PurePosixPath(*file.parts[-4:-1]) == INSTALLED_FOLDER:
            folder = Path(str(file.locate())).resolve().parent
            if folder.is_dir():
                return folder
    return None


def recipes() -> list[Recipe]:
    """The shipped recipes, by name."""
    folder = recipes_folder()
    if folder is None:
        return []
    paths = [path for path in folder.iterdir() if path.suffix in SUFFIXES]
    return [Recipe(path.stem, path) for path in sorted(paths, key=lambda path: path.stem)]


def resolve(text: str) -> Path:
    """The YAML file ``text`` means: an existing file or anything written as a path
    (``my.yaml``, ``configs/x.yaml``) as it is; otherwise the shipped recipe of that name.

    Raises UserError for an unknown name (listing the recipes) and for a missing path whose
    name is a shipped recipe's (naming it)."""
    path = Path(text)
    by_name = {recipe.name: recipe for recipe in recipes()}
    if path.is_file():
        return path
    if path.suffix in SUFFIXES or len(path.parts) > 1:
        if path.stem in by_name:
            raise UserError(
                f"config file '{text}' not found; to use the shipped recipe, give its name "
                f"alone: '{path.stem}'"
            )
        return path  # load_config says it is not found, naming the path
    if text in by_name:
        return by_name[text].path
    close = difflib.get_close_matches(text, list(by_name), n=1)
    guess = f"did you mean '{close[0]}'? " if close else ""
    names = ", ".join(by_name) or "none found"
    raise UserError(
        f"unknown recipe '{text}'; {guess}recipes: {names} (`ponder configs` describes them), "
        "or give the path of a YAML file"
    )
