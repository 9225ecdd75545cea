"""The registry of ``ponder`` subcommands, and the argument helpers they share.

A command lives in its own module in this package and defines ``COMMAND``; modules here are
found by listing the package, so adding a command edits no other file::

    # ponder/commands/play.py
    import argparse

    from ponder.commands import Command, add_config_arguments


    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--bot", choices=("mcts", "net"), default="mcts")
        add_config_arguments(parser, config_file=False)  # `game.board_size=7` style overrides


    def run(args: argparse.Namespace) -> int:
        from search.play import play_in_terminal  # heavy imports here, not at module top

        ...
        return 0


    COMMAND = Command(
        name="play",
        help="play against an agent in the terminal",
        add_arguments=add_arguments,
        run=run,
    )

Rules: every module here whose name does not start with ``_`` defines ``COMMAND``; module tops
import only the standard library and ``ponder.commands`` (``ponder --help`` imports them all and
must not pay for torch, Ray or numba); a user's mistake is raised as
``experiment.UserError`` (``ConfigError`` is one), which the command line prints as one line
with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from experiment.config import ConfigError, load_config

T = TypeVar("T")


@dataclass(frozen=True)
class Command:
    """One ``ponder <name>`` subcommand.

    ``run`` returns the exit status (0 on success). ``order`` sorts ``ponder --help`` (smaller
    first, ties by name); ``description`` is the longer text of ``ponder <name> --help``.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None
    order: int = 100


class Registry:
    """Commands found in ``packages`` (imported on first use) plus those added with :meth:`add`."""

    def __init__(self, packages: Sequence[str] = ()):
        self.packages = tuple(packages)
        self._added: list[Command] = []
        self._discovered: list[Command] | None = None

    def add(self, command: Command) -> Command:
        if not isinstance(command, Command):
            raise TypeError(f"expected a ponder.commands.Command, got {command!r}")
        self._added.append(command)
        self.commands()  # fail now on a duplicate name, not at the next `ponder --help`
        return command

    def commands(self) -> list[Command]:
        """All commands, sorted for ``ponder --help``; duplicate names are an error."""
        if self._discovered is None:
            self._discovered = [c for package in self.packages for c in discover(package)]
        everything = self._discovered + self._added
        names = [command.name for command in everything]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"more than one ponder command is named {', '.join(duplicates)}")
        return sorted(everything, key=lambda command: (command.order, command.name))


def discover(package: str) -> list[Command]:
    """The ``COMMAND`` of every module in ``package`` whose name does not start with ``_``."""
    found = []
    for module_info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module_info.name.startswith("_"):
            continue
        module_name = f"{package}.{module_info.name}"
        command = getattr(importlib.import_module(module_name), "COMMAND", None)
        if not isinstance(command, Command):
            raise TypeError(
                f"command module {module_name} must define COMMAND = ponder.commands.Command(...)"
                f", found {command!r}; helper modules' names start with '_'"
            )
        found.append(command)
    return found


REGISTRY = Registry(packages=(__name__,))


def add_config_arguments(parser: argparse.ArgumentParser, *, config_file: bool = True) -> None:
    """Add the positional YAML recipe (unless ``config_file`` is False) and ``key=value``
    overrides; options may come before, between or after them."""
    if config_file:
        parser.add_argument("config", metavar="CONFIG.yaml", help="YAML recipe, e.g. configs/...")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="dotted config overrides, e.g. learner.lr=1e-3 game.board_size=7",
    )


def config_from_arguments(schema: type[T], args: argparse.Namespace) -> T:
    """``schema`` loaded from ``args.config`` (when present) and ``args.overrides``."""
    config_path = getattr(args, "config", None)
    if config_path is not None and "=" in config_path and not Path(config_path).exists():
        raise ConfigError(f"expected a YAML config file before the overrides, got {config_path!r}")
    return load_config(schema, config_path, args.overrides)
