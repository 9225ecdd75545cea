"""``ponder configs``: the shipped recipes, with the command that runs each and what it is for."""

from __future__ import annotations

import argparse

from ponder.commands import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from experiment import UserError
    from ponder import recipes
    from ponder.commands import recipe_commands

    found = recipes.recipes()
    if not found:
        raise UserError(
            "no recipes found: neither a source checkout's configs/ nor an installed "
            f"{recipes.INSTALLED_FOLDER}/ (reinstall ponder)"
        )
    print(f"recipes in {recipes.recipes_folder()} (copy one to change it, then give its path):")
    rows = [
        ("ponder " + ("/".join(recipe_commands(recipe.path)) or "?"), recipe.name, recipe.summary)
        for recipe in found
    ]
    command_width = max(len(command) for command, _, _ in rows)
    name_width = max(len(name) for _, name, _ in rows)
    for command, name, summary in rows:
        print(f"  {command:<{command_width}} {name:<{name_width}}  {summary}")
    return 0


COMMAND = Command(
    name="configs",
    help="list the shipped recipes (run one by name: `ponder train connect4`)",
    add_arguments=add_arguments,
    run=run,
    order=5,
)
