"""The command-line framework: the registry, help, dispatch and how errors reach the user."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import ponder
from experiment import UserError
from experiment.config import ConfigError, load_config
from experiment.run import RunDirectory
from ponder.cli import build_parser, main
from ponder.commands import (
    REGISTRY,
    Command,
    Registry,
    add_config_arguments,
    config_from_arguments,
)
from ponder.commands._bots import PlayConfig
from selfplay.config import TrainConfig

REPOSITORY = Path(__file__).resolve().parents[1]
REGISTRY_COMMANDS = {command.name: command for command in REGISTRY.commands()}


@dataclass(frozen=True)
class GreetSection:
    times: int = 1


@dataclass(frozen=True)
class GreetConfig:
    greeting: str = "hello"
    greet: GreetSection = field(default_factory=GreetSection)


def greet_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="world", help="who to greet")
    add_config_arguments(parser, example="greet.times=2")


def greet(args: argparse.Namespace) -> int:
    config = config_from_arguments(GreetConfig, args)
    for _ in range(config.greet.times):
        print(f"{config.greeting}, {args.name}")
    return 0


def registry_with(*commands: Command) -> Registry:
    registry = Registry()
    for command in commands:
        registry.add(command)
    return registry


GREET = Command("greet", "print a greeting from a YAML recipe", greet_arguments, greet)


@pytest.fixture
def greet_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "greet.yaml"
    path.write_text("greeting: hi\ngreet:\n  times: 2\n")
    return path


def test_help_lists_registered_commands_in_order(capsys):
    fail = Command("fail", "always fails", lambda parser: None, lambda args: 1, order=5)
    registry = registry_with(GREET, fail)
    assert main(["--help"], registry) == 0
    out = capsys.readouterr().out
    assert "usage: ponder" in out
    assert "print a greeting from a YAML recipe" in out and "always fails" in out
    assert out.index("fail") < out.index("greet")  # order=5 comes before the default 100


def test_command_help_shows_its_arguments(capsys):
    assert main(["greet", "--help"], registry_with(GREET)) == 0
    out = capsys.readouterr().out
    assert "usage: ponder greet" in out and "--name" in out and "key=value" in out


def test_command_runs_with_file_options_and_intermixed_overrides(capsys, greet_yaml):
    arguments = ["greet", str(greet_yaml), "greeting=hey", "--name", "Ada", "greet.times=3"]
    assert main(arguments, registry_with(GREET)) == 0
    assert capsys.readouterr().out == "hey, Ada\n" * 3


def test_bad_override_is_one_line_on_stderr_with_exit_2(capsys, greet_yaml):
    assert main(["greet", str(greet_yaml), "greet.tims=3"], registry_with(GREET)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "ponder: error: command line override `greet.tims=3`: unknown key 'greet.tims'; "
        "did you mean 'greet.times'?\n"
    )


def test_override_given_where_the_config_file_belongs(capsys):
    assert main(["greet", "greet.times=3"], registry_with(GREET)) == 2
    assert "expected a recipe before the overrides" in capsys.readouterr().err


def test_user_errors_from_a_command_print_one_line(capsys):
    def refuse(args: argparse.Namespace) -> int:
        raise UserError("no checkpoint in 'runs/x'; train one first")

    assert main(["refuse"], registry_with(Command("refuse", "h", lambda p: None, refuse))) == 2
    assert capsys.readouterr().err == "ponder: error: no checkpoint in 'runs/x'; train one first\n"


def test_unexpected_exceptions_keep_their_traceback():
    def crash(args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        main(["crash"], registry_with(Command("crash", "h", lambda p: None, crash)))


def test_exit_status_comes_from_the_command():
    assert main(["fail"], registry_with(Command("fail", "h", lambda p: None, lambda a: 3))) == 3


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "the following arguments are required: <command>"),
        (["nonsense"], "invalid choice: 'nonsense'"),
        (["greet", "greet.yaml", "--bogus"], "unrecognized arguments: --bogus"),
        (["--bogus"], "ponder: error: "),
    ],
)
def test_usage_errors_exit_2(capsys, arguments, message):
    assert main(arguments, registry_with(GREET)) == 2
    assert message in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"], registry_with(GREET)) == 0
    assert capsys.readouterr().out.startswith(f"ponder {ponder.__version__} (commit ")


def test_duplicate_command_names_are_refused():
    registry = registry_with(GREET)
    with pytest.raises(ValueError, match="more than one ponder command is named greet"):
        registry.add(Command("greet", "again", lambda p: None, lambda a: 0))


def test_commands_are_discovered_from_their_modules(tmp_path, monkeypatch):
    package = tmp_path / "extra_commands"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_shared.py").write_text("HELPER = 1\n")  # helpers start with '_'
    (package / "hello.py").write_text(
        "from ponder.commands import Command\n"
        "COMMAND = Command('hello', 'say hello', lambda parser: None, lambda args: 7)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry(packages=["extra_commands"])
    assert [command.name for command in registry.commands()] == ["hello"]
    assert main(["hello"], registry) == 7

    (package / "broken.py").write_text("X = 1\n")
    with pytest.raises(TypeError, match="extra_commands.broken must define COMMAND"):
        Registry(packages=["extra_commands"]).commands()


def test_shipped_commands_register_and_help_stays_light():
    # `ponder --help` imports every command module; none may pull in torch or Ray at import.
    script = (
        "import sys\n"
        "from ponder.cli import main\n"
        "status = main(['--help'])\n"
        "heavy = sorted(m for m in ('torch', 'ray', 'numba') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage: ponder" in result.stdout
    assert "HEAVY []" in result.stdout
    for command in REGISTRY.commands():
        assert command.name in result.stdout


def test_python_dash_m_ponder(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ponder", "--help"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: ponder")


def test_config_error_type_is_what_the_cli_treats_as_a_user_error():
    assert issubclass(ConfigError, UserError)


def test_print_config_prints_the_resolved_config_and_runs_nothing(capsys, greet_yaml):
    arguments = ["greet", str(greet_yaml), "greet.times=5", "--print-config"]
    assert main(arguments, registry_with(GREET)) == 0
    printed = capsys.readouterr().out
    assert "hello" not in printed and "hi, world" not in printed  # the command did not run
    assert yaml.safe_load(printed) == {"greeting": "hi", "greet": {"times": 5}}


def test_train_print_config_exits_before_making_a_run_directory(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # outside the repository: the recipe is found by name
    arguments = ["train", "tictactoe-smoke", "learner.lr=0.01", "--name", "x", "--print-config"]
    assert main([*arguments, f"runs_root={tmp_path / 'runs'}"]) == 0
    printed = capsys.readouterr().out
    saved = tmp_path / "printed.yaml"
    saved.write_text(printed)
    config = load_config(TrainConfig, saved)
    assert (config.name, config.learner.lr, config.game.name) == ("x", 0.01, "tic_tac_toe")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["printed.yaml"]


def test_demo_runs_into_its_recipes_name(capsys, tmp_path):
    assert main(["demo", "--print-config", "--runs-root", str(tmp_path), "--minutes", "1"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert (config["name"], config["runs_root"], config["budget"]["minutes"]) == (
        "demo",
        str(tmp_path),
        1.0,
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "recipe", "right"), [("train", "countdown", "reason"), ("reason", "hex5", "train")]
)
def test_a_recipe_given_to_the_wrong_command_names_the_right_one(capsys, command, recipe, right):
    assert main([command, recipe]) == 2
    assert capsys.readouterr().err == (
        f"ponder: error: {recipe} is a recipe for `ponder {right}`, not for `ponder {command}`: "
        f"run `ponder {right} {recipe}`\n"
    )


def test_train_on_an_existing_run_says_how_to_resume_rename_or_overwrite(capsys, tmp_path):
    RunDirectory.create(tmp_path, "taken", load_config(TrainConfig))
    assert main(["train", "tictactoe-smoke", f"runs_root={tmp_path}", "--name", "taken"]) == 2
    error = capsys.readouterr().err
    assert f"`ponder resume {tmp_path / 'taken'}`" in error
    assert "name=" in error and "--overwrite" in error


def _override_example(command_parser: argparse.ArgumentParser) -> list[str]:
    (action,) = [action for action in command_parser._actions if action.dest == "overrides"]
    assert action.help is not None
    return action.help.split("e.g. ", 1)[1].split()


def test_each_commands_override_example_applies_to_that_command():
    _, command_parsers = build_parser(REGISTRY)
    schemas = {c.name: c.schema() for c in REGISTRY.commands() if c.recipe_schema}
    schemas["play"] = PlayConfig
    for name, schema in schemas.items():
        load_config(schema, None, _override_example(command_parsers[name]))  # no ConfigError


def test_serve_lm_help_names_the_policy_key_that_exists(capsys):
    assert main(["serve-lm", "--help"]) == 0
    help_text = capsys.readouterr().out
    override = "policy.spec=http://127.0.0.1:PORT/v1"
    assert override in help_text and "--policy" not in help_text
    schema = REGISTRY_COMMANDS["reason"].schema()
    assert schema is not None
    config = load_config(schema, None, [override.replace("PORT", "8000")])
    assert config.policy.spec == "http://127.0.0.1:8000/v1"


def test_play_header_names_the_game_for_people(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("quit\n"))
    assert main(["play", "--game", "hex", "game.board_size=5", "--sims", "2"]) == 0
    assert capsys.readouterr().out.startswith("Hex 5x5: you move first;")


def test_analyze_with_a_missing_input_file_fails_in_one_line(tmp_path, capsys):
    assert main(["analyze", "--input", str(tmp_path / "missing.jsonl")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("ponder: error: cannot read --input") and len(error.splitlines()) == 1
