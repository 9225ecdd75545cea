"""The registry of ``ponder`` subcommands, and the argument helpers they share.

A command lives in its own module in this package and defines ``COMMAND``; modules here are
found by listing the package, so adding a command edits no other file::

    # ponder/commands/play.py
    import argparse

    from ponder.commands import Command, add_config_arguments


    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--bot", choices=("mcts", "net"), default="mcts")
        add_config_arguments(parser, example="game.board_size=7", config_file=False)


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

A command that builds a config does it with :func:`config_from_arguments`, which also answers
``--print-config`` (added by :func:`add_config_arguments`): it prints the resolved config and
raises :class:`ConfigPrinted`, which the command line turns into exit status 0, so the command
stops before it makes any directory or process. A command that builds its config another way
(``ponder resume`` reads it from the run) calls :func:`print_config_if_asked` itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from experiment.config import ConfigError, config_to_yaml, load_config
from ponder import recipes

T = TypeVar("T")


@dataclass(frozen=True)
class Command:
    """One ``ponder <name>`` subcommand.

    ``run`` returns the exit status (0 on success). ``order`` sorts ``ponder --help`` (smaller
    first, ties by name); ``description`` is the longer text of ``ponder <name> --help``.
    ``recipe_schema`` ("module:Class", imported only when needed) is the config of a command
    that runs YAML recipes: ``ponder configs`` and a recipe given to the wrong command use it to
    name the command a recipe is for.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None
    order: int = 100
    recipe_schema: str | None = None

    def schema(self) -> type | None:
        """The ``recipe_schema`` class, imported now; None for a command without recipes."""
        if self.recipe_schema is None:
            return None
        module, _, name = self.recipe_schema.partition(":")
        return getattr(importlib.import_module(module), name)


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


class ConfigPrinted(Exception):
    """``--print-config`` printed the resolved config; the command line exits with status 0."""


def add_player_arguments(parser: argparse.ArgumentParser, count: int | str) -> None:
    """The arguments of commands that pit players against each other or against positions
    (``match``, ``tactics``): ``count`` player specs (an argparse ``nargs``), the game, the nets'
    default budget and ``--search`` changes of every player's rule constants."""
    parser.add_argument(
        "player", nargs=count, metavar="PLAYER",
        help="random, mcts:N, solver, RUN[@N[:RULE]]; after them, the game's key=value "
        "parameters (board_size=5 for hex)",
    )  # fmt: skip
    parser.add_argument(
        "game_parameters", nargs="*", default=[], metavar="key=value", help=argparse.SUPPRESS
    )
    parser.add_argument("--game", help="the game (default: the checkpoint's own)")
    parser.add_argument("--sims", type=int, default=200, help="net simulations (default 200)")
    parser.add_argument(
        "--search", nargs="*", default=[], metavar="KEY=VALUE",
        help="the rules' constants of every player, e.g. puct.c_init=2.5 uct.solve=false",
    )  # fmt: skip


def add_config_arguments(
    parser: argparse.ArgumentParser, *, example: str, config_file: bool = True
) -> None:
    """Add the positional recipe (unless ``config_file`` is False), ``key=value`` overrides
    (``example``: overrides that apply to this command, shown in its help) and
    ``--print-config``; options may come before, between or after them."""
    if config_file:
        parser.add_argument(
            "config",
            metavar="RECIPE",
            help="a shipped recipe's name (`ponder configs` lists them) or a YAML file's path",
        )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help=f"dotted config overrides, e.g. {example}"
    )
    add_print_config_argument(parser)


def add_print_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config (recipe and overrides) as YAML and exit",
    )


def config_from_arguments(schema: type[T], args: argparse.Namespace) -> T:
    """``schema`` loaded from the recipe ``args.config`` (when present, a name or a path) and
    ``args.overrides``; with ``--print-config``, printed (see :func:`print_config_if_asked`)."""
    config_path = None
    if getattr(args, "config", None) is not None:
        if "=" in args.config and not Path(args.config).exists():
            raise ConfigError(f"expected a recipe before the overrides, got {args.config!r}")
        config_path = recipes.resolve(args.config)
    try:
        config = load_config(schema, config_path, args.overrides)
    except ConfigError:
        if config_path is not None:
            _refuse_a_recipe_of_another_command(schema, config_path, args)
        raise
    print_config_if_asked(config, args)
    return config


def print_config_if_asked(config: Any, args: argparse.Namespace) -> None:
    """With ``--print-config``: print ``config`` as YAML and raise :class:`ConfigPrinted`."""
    if getattr(args, "print_config", False):
        print(config_to_yaml(config), end="", flush=True)
        raise ConfigPrinted


def recipe_commands(path: Path, registry: Registry = REGISTRY) -> list[str]:
    """The commands whose recipe schema has every top-level key of the YAML file ``path``."""
    keys = _top_level_keys(path)
    if keys is None:
        return []
    found = []
    for command in registry.commands():
        schema = command.schema()
        if schema is not None and _has_sections(schema, keys):
            found.append(command.name)
    return found


def _has_sections(schema: type, keys: set[str]) -> bool:
    return keys <= {schema_field.name for schema_field in dataclasses.fields(schema)}


def _top_level_keys(path: Path) -> set[str] | None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return {str(key) for key in data} if isinstance(data, dict) else None


def _refuse_a_recipe_of_another_command(schema: type, path: Path, args: argparse.Namespace) -> None:
    # `ponder train countdown` would otherwise only say "unknown key 'run'".
    keys = _top_level_keys(path)
    if keys is None or _has_sections(schema, keys):
        return  # the file's sections are this command's: the error is in a value
    others = [name for name in recipe_commands(path) if name != getattr(args, "command", None)]
    if others:
        raise ConfigError(
            f"{args.config} is a recipe for `ponder {others[0]}`, not for "
            f"`ponder {getattr(args, 'command', '?')}`: run `ponder {others[0]} {args.config}`"
        ) from None
