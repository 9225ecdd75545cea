"""The typed config loader: YAML + dotted overrides into frozen dataclasses, with errors that say
where (file:line or the override), which key, and what would be right."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from experiment import UserError
from experiment.config import (
    ConfigError,
    config_to_dict,
    config_to_yaml,
    load_config,
    save_config,
)


@dataclass(frozen=True)
class GameSection:
    name: Literal["tic_tac_toe", "connect_four", "hex"] = "connect_four"
    board_size: int = 11

    def __post_init__(self) -> None:
        if not 3 <= self.board_size <= 11:
            raise ValueError(f"board_size must be in 3..11, got {self.board_size}")


@dataclass(frozen=True)
class SearchSection:
    rule: Literal["uct", "puct", "gumbel"] = "puct"
    simulations: int = 200


@dataclass(frozen=True)
class LearnerSection:
    lr: float = 0.01
    batch_size: int = 256
    use_amp: bool = False
    channels: tuple[int, ...] = (32, 32)


@dataclass(frozen=True)
class SelfPlaySection:
    temperature_moves: int | None = 10
    opening: str | None = None
    workers: int = 2


@dataclass(frozen=True)
class ExampleConfig:
    name: str = "example"
    seed: int = 0
    output: Path = Path("runs")
    game: GameSection = field(default_factory=GameSection)
    search: SearchSection = field(default_factory=SearchSection)
    learner: LearnerSection = field(default_factory=LearnerSection)
    selfplay: SelfPlaySection = field(default_factory=SelfPlaySection)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NeedsName:
    required_name: str
    size: int = 1


EXAMPLE_YAML = """\
name: c4-small
game:
  name: connect_four
  board_size: 7
learner:
  lr: 1e-3            # PyYAML reads this as the string '1e-3'
  use_amp: true
  channels: [64, 64, 64]
selfplay:
  temperature_moves: null
extras:
  note: hello
  depth: 3
"""


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_defaults_come_from_the_dataclasses():
    assert load_config(ExampleConfig) == ExampleConfig()


def test_yaml_builds_nested_sections_with_coercion(tmp_path):
    config = load_config(ExampleConfig, write(tmp_path, EXAMPLE_YAML))
    assert config.name == "c4-small"
    assert config.game == GameSection("connect_four", 7)
    assert config.learner.lr == pytest.approx(1e-3) and isinstance(config.learner.lr, float)
    assert config.learner.use_amp is True
    assert config.learner.channels == (64, 64, 64)
    assert config.selfplay.temperature_moves is None
    assert config.selfplay.workers == 2  # untouched keys keep their defaults
    assert config.extras == {"note": "hello", "depth": 3}
    assert config.search == SearchSection()


def test_empty_file_and_empty_section_mean_defaults(tmp_path):
    assert load_config(ExampleConfig, write(tmp_path, "# nothing yet\n")) == ExampleConfig()
    assert load_config(ExampleConfig, write(tmp_path, "learner:\n")) == ExampleConfig()


@pytest.mark.parametrize(
    ("override", "read", "expected"),
    [
        ("learner.lr=1e-3", lambda c: c.learner.lr, 0.001),
        ("learner.lr=2", lambda c: c.learner.lr, 2.0),
        ("game.board_size=7", lambda c: c.game.board_size, 7),
        ("learner.batch_size=1e3", lambda c: c.learner.batch_size, 1000),
        ("search.rule=gumbel", lambda c: c.search.rule, "gumbel"),
        ("learner.use_amp=true", lambda c: c.learner.use_amp, True),
        ("learner.use_amp=False", lambda c: c.learner.use_amp, False),
        ("selfplay.temperature_moves=null", lambda c: c.selfplay.temperature_moves, None),
        ("selfplay.temperature_moves=30", lambda c: c.selfplay.temperature_moves, 30),
        ("selfplay.opening=null", lambda c: c.selfplay.opening, None),
        ("selfplay.opening=4453", lambda c: c.selfplay.opening, "4453"),
        ("name=007", lambda c: c.name, "007"),  # text keys take the text verbatim
        ("name=true", lambda c: c.name, "true"),
        ("learner.channels=[16, 16]", lambda c: c.learner.channels, (16, 16)),
        ("learner.channels=8,8,8", lambda c: c.learner.channels, (8, 8, 8)),
        ("output=/tmp/elsewhere", lambda c: c.output, Path("/tmp/elsewhere")),
        ("extras.depth=3", lambda c: c.extras, {"depth": 3}),
        ("learner={lr: 0.5}", lambda c: c.learner, LearnerSection(lr=0.5)),
    ],
)
def test_override_of_each_type(override, read, expected):
    value = read(load_config(ExampleConfig, overrides=[override]))
    assert value == expected
    assert type(value) is type(expected)


def test_overrides_apply_after_the_file_in_order(tmp_path):
    path = write(tmp_path, EXAMPLE_YAML)
    config = load_config(ExampleConfig, path, ["learner.lr=0.2", "learner.lr=0.3", "seed=5"])
    assert config.learner.lr == 0.3 and config.seed == 5
    assert config.learner.channels == (64, 64, 64)  # the file's other keys survive


def test_unknown_key_in_file_names_file_line_and_nearest_key(tmp_path):
    text = EXAMPLE_YAML.replace("  use_amp: true", "  lrr: 0.1")
    path = write(tmp_path, text, "c4.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(ExampleConfig, path)
    line = line_of(text, "lrr:")
    assert str(caught.value) == (
        f"{path}:{line}: unknown key 'learner.lrr'; did you mean 'learner.lr'?"
    )


def test_unknown_key_in_override_names_the_override_and_nearest_key():
    with pytest.raises(ConfigError) as caught:
        load_config(ExampleConfig, overrides=["learner.lrr=3"])
    assert str(caught.value) == (
        "command line override `learner.lrr=3`: unknown key 'learner.lrr'; "
        "did you mean 'learner.lr'?"
    )


def test_key_in_the_wrong_section_suggests_where_it_lives(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'lr'; did you mean 'learner.lr'"):
        load_config(ExampleConfig, overrides=["lr=1e-3"])
    path = write(tmp_path, "game:\n  rule: gumbel\n")
    suggestion = r":2: unknown key 'game.rule'; did you mean 'search.rule'"
    with pytest.raises(ConfigError, match=suggestion):
        load_config(ExampleConfig, path)


def test_unknown_key_without_a_close_match_lists_the_valid_keys():
    with pytest.raises(ConfigError, match=r"valid keys under 'search': rule, simulations"):
        load_config(ExampleConfig, overrides=["search.zzzzzz=1"])


def test_wrong_type_in_file_names_line_key_and_expected_type(tmp_path):
    text = EXAMPLE_YAML.replace("lr: 1e-3", "lr: fast")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(ExampleConfig, path)
    line = line_of(text, "lr: fast")
    assert str(caught.value) == f"{path}:{line}: 'learner.lr' expects a float, got 'fast'"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("game.board_size=seven", "'game.board_size' expects an int, got 'seven'"),
        ("game.board_size=7.5", "'game.board_size' expects an int, got 7.5"),
        ("learner.use_amp=maybe", "'learner.use_amp' expects a bool (true or false), got 'maybe'"),
        ("learner.lr=true", "'learner.lr' expects a float, got true"),
        ("selfplay.temperature_moves=abc", "expects an int or null, got 'abc'"),
        ("learner.channels=[1, x]", "'learner.channels[1]' expects an int, got 'x'"),
        ("learner.channels=64", "'learner.channels' expects a list of ints, got 64"),
        ("learner=3", "'learner' expects a mapping of LearnerSection keys, got 3"),
        ("learner.lr.x=1", "'learner.lr' is a float, so it has no key 'x'"),
    ],
)
def test_wrong_type_in_override(override, message):
    with pytest.raises(ConfigError) as caught:
        load_config(ExampleConfig, overrides=[override])
    assert str(caught.value).startswith(f"command line override `{override}`: ")
    assert message in str(caught.value)


def test_text_key_given_a_number_in_yaml_says_to_quote_it(tmp_path):
    with pytest.raises(ConfigError, match=r"'name' expects a str, got 7 \(quote it"):
        load_config(ExampleConfig, write(tmp_path, "name: 7\n"))


def test_literal_lists_allowed_values_and_nearest():
    with pytest.raises(ConfigError) as caught:
        load_config(ExampleConfig, overrides=["search.rule=gumbl"])
    assert str(caught.value) == (
        "command line override `search.rule=gumbl`: 'search.rule' expects one of 'uct', "
        "'puct', 'gumbel'; got 'gumbl'; did you mean 'gumbel'?"
    )


@pytest.mark.parametrize("override", ["learner.lr", "=3", "learner..lr=3", "--seed"])
def test_malformed_override_says_the_expected_form(override):
    with pytest.raises(ConfigError, match=r"malformed override .*expected dotted\.key=value"):
        load_config(ExampleConfig, overrides=[override])


def test_schema_validation_error_is_reported_with_its_source(tmp_path):
    path = write(tmp_path, "game:\n  board_size: 15\n")
    with pytest.raises(ConfigError, match=rf"^{path}:1: invalid 'game': board_size must be in"):
        load_config(ExampleConfig, path)


def test_missing_required_key(tmp_path):
    with pytest.raises(ConfigError, match="missing required key 'required_name'"):
        load_config(NeedsName, write(tmp_path, "size: 2\n"))
    assert load_config(NeedsName, overrides=["required_name=x"]) == NeedsName("x")


def test_file_problems_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file '.*nope.yaml' not found"):
        load_config(ExampleConfig, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: invalid YAML"):
        load_config(ExampleConfig, write(tmp_path, "seed: 1\nname: a: b\n", "bad.yaml"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(ExampleConfig, write(tmp_path, "- 1\n- 2\n"))
    text = "seed: 1\ngame:\n  board_size: 5\ngame:\n  board_size: 7\n"
    with pytest.raises(ConfigError, match=r":4: duplicate key 'game' \(first set at line 2\)"):
        load_config(ExampleConfig, write(tmp_path, text))


def test_config_error_is_a_user_error_and_a_value_error():
    assert issubclass(ConfigError, UserError) and issubclass(ConfigError, ValueError)


def test_save_then_load_round_trips(tmp_path):
    config = ExampleConfig(
        name="1e-3",  # text that looks like a number stays text
        seed=7,
        output=Path("somewhere/else"),
        game=GameSection("hex", 5),
        search=SearchSection("gumbel", 16),
        learner=LearnerSection(lr=3e-4, batch_size=64, use_amp=True, channels=(16, 32)),
        selfplay=SelfPlaySection(temperature_moves=None, opening="true", workers=3),
        extras={"nested": {"a": [1, 2]}, "flag": False},
    )
    path = tmp_path / "saved.yaml"
    save_config(config, path)
    assert load_config(ExampleConfig, path) == config
    assert path.read_text() == config_to_yaml(config)  # what --print-config shows
    assert "channels: [16, 32]" in path.read_text()


def test_config_to_dict_is_plain_data():
    data = config_to_dict(ExampleConfig())
    learner = {"lr": 0.01, "batch_size": 256, "use_amp": False, "channels": [32, 32]}
    assert data["learner"] == learner
    assert data["output"] == "runs"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("search.simulations=-5", "'search.simulations' must be at least 1; got -5"),
        ("game.board_size=99", "'game.board_size' must be in 3..11; got 99"),
        ("game.board_size=1", "'game.board_size' must be in 3..11; got 1"),
        ("ray.num_workers=0", "'ray.num_workers' must be at least 1; got 0"),
        ("budget.minutes=-1", "'budget.minutes' must be at least 0; got -1.0"),
        ("arena.mcts_simulations=[50, 0]", "'arena.mcts_simulations[1]' must be at least 1"),
    ],
)
def test_values_out_of_range_are_refused_when_the_config_loads(override, message):
    from selfplay.config import TrainConfig

    with pytest.raises(ConfigError) as error:
        load_config(TrainConfig, None, [override])
    assert message in str(error.value) and override in str(error.value)


def test_a_range_error_in_a_file_names_its_line(tmp_path):
    from selfplay.config import TrainConfig

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("game: {name: hex}\nreplay:\n  capacity: 0\n")
    with pytest.raises(ConfigError, match=r"recipe.yaml:3: 'replay.capacity' must be at least 1"):
        load_config(TrainConfig, recipe)
