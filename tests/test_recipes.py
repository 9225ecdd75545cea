"""The shipped recipes: found by name from any directory, in a checkout and in a wheel install."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from experiment import UserError
from experiment.config import load_config
from ponder import recipes
from ponder.cli import main
from ponder.commands import REGISTRY, recipe_commands

REPOSITORY = Path(__file__).resolve().parents[1]
SHIPPED = sorted(path.stem for path in (REPOSITORY / "configs").glob("*.yaml"))


def test_every_file_in_configs_is_a_recipe_found_by_name(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # outside the repository: names still work
    assert [recipe.name for recipe in recipes.recipes()] == SHIPPED
    for name in SHIPPED:
        assert recipes.resolve(name) == REPOSITORY / "configs" / f"{name}.yaml"


def test_each_recipe_loads_as_the_config_of_the_one_command_it_is_for():
    schemas = {c.name: c.schema() for c in REGISTRY.commands() if c.recipe_schema}
    for recipe in recipes.recipes():
        commands = recipe_commands(recipe.path)
        assert len(commands) == 1, (recipe.name, commands)
        load_config(schemas[commands[0]], recipe.path)  # raises on any bad key or value
        assert recipe.summary, f"{recipe.name} should start with a comment saying what it is for"


def test_a_path_is_used_as_given(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "connect4").write_text("seed: 1\n")  # an existing file wins over a name
    assert recipes.resolve("connect4") == Path("connect4")
    assert recipes.resolve("mine.yaml") == Path("mine.yaml")  # load_config reports it missing
    assert recipes.resolve("sub/dir/x") == Path("sub/dir/x")


def test_unknown_names_and_missing_copies_say_what_to_write(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        UserError, match="unknown recipe 'conect4'; did you mean 'connect4'"
    ) as error:
        recipes.resolve("conect4")
    assert all(name in str(error.value) for name in SHIPPED)
    with pytest.raises(UserError, match="give its name alone: 'connect4'"):
        recipes.resolve("configs/connect4.yaml")  # the README's old habit, outside the checkout


def test_the_cli_refuses_an_unknown_recipe_in_one_line(capsys):
    assert main(["train", "nonsense"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("ponder: error: unknown recipe 'nonsense'")
    assert "connect4" in error


def test_ponder_configs_lists_each_recipe_with_its_command_and_summary(capsys):
    assert main(["configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert str(REPOSITORY / "configs") in lines[0]
    listed = {line.split()[2]: line for line in lines[1:]}
    assert sorted(listed) == SHIPPED
    assert listed["connect4"].split()[:2] == ["ponder", "train"]
    assert listed["countdown"].split()[:2] == ["ponder", "reason"]
    demo = recipes.Recipe("demo", REPOSITORY / "configs" / "demo.yaml")
    assert listed["demo"].endswith(demo.summary)


def test_the_wheels_data_files_are_where_an_installed_ponder_looks():
    data_files = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert data_files["data-files"] == {str(recipes.INSTALLED_FOLDER): ["configs/*.yaml"]}


def test_an_installed_ponder_finds_the_recipes_in_its_data_folder(monkeypatch, tmp_path):
    # The layout pip gives a wheel: site-packages and <prefix>/share/ponder/configs, with the
    # data files recorded relative to site-packages in the distribution's RECORD.
    site_packages = tmp_path / "lib" / "python3.11" / "site-packages"
    data = tmp_path / "share" / "ponder" / "configs"
    data.mkdir(parents=True)
    (data / "solo.yaml").write_text("# a recipe\nseed: 1\n")
    dist_info = site_packages / "ponder-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: ponder\nVersion: 0.1.0\n")
    (dist_info / "RECORD").write_text("../../../share/ponder/configs/solo.yaml,,\n")
    monkeypatch.syspath_prepend(str(site_packages))
    monkeypatch.setattr(recipes, "SOURCE_FOLDER", site_packages / "configs")  # no checkout
    assert recipes.recipes_folder() == data
    assert recipes.resolve("solo") == data / "solo.yaml"
    assert recipes.recipes()[0].summary == "a recipe"


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="needs setuptools")
def test_a_built_wheel_carries_every_recipe_as_data(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPOSITORY / name, source / name)
    shutil.copytree(REPOSITORY / "configs", source / "configs")
    (source / "ponder").mkdir()  # the packages do not matter here, only the data files
    (source / "ponder" / "__init__.py").write_text("")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*command, "--quiet", "-w", str(tmp_path / "wheels"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "wheels").glob("ponder-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = sorted(
        Path(name).stem for name in names if f".data/data/{recipes.INSTALLED_FOLDER}/" in name
    )
    assert data == SHIPPED
