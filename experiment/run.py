"""A run directory, ``runs/<name>/``: what a run was (resolved config, code version, environment)
and the folders its workflows write into, each made by the first writer that needs it (a
reasoning run has no replay, so it gets no ``replay/``)::

    runs/<name>/
      config.yaml     the resolved config (load_config reads it back to an equal object)
      meta.json       git commit + dirty flag, package versions, host, start time, command line
      tensorboard/    event files
      checkpoints/    versioned checkpoints and their compute ledgers (self-play training)
      replay/         replay buffer shards (self-play training)
      arena/          match records (self-play training)
"""

from __future__ import annotations

import datetime
import difflib
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from experiment import UserError
from experiment.config import load_config, save_config

T = TypeVar("T")

CONFIG_FILE = "config.yaml"
META_FILE = "meta.json"
VERSIONED_PACKAGES = ("torch", "numpy", "ray")
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the tree holding experiment/, ponder/, ...


class RunDirectoryError(UserError):
    """A run directory that cannot be created or opened as asked."""


@dataclass(frozen=True)
class CodeVersion:
    """The git state of a source tree: ``commit`` is "unknown" outside a git checkout."""

    commit: str
    dirty: bool | None  # uncommitted changes (untracked files included); None when unknown

    def describe(self) -> str:
        if self.commit == "unknown":
            return "commit unknown"
        return f"commit {self.commit[:10]}" + (", with uncommitted changes" if self.dirty else "")


def code_version(source_root: str | Path = SOURCE_ROOT) -> CodeVersion:
    """The commit checked out at ``source_root`` and whether the tree differs from it."""
    root = Path(source_root)

    def git(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(root), *arguments], capture_output=True, text=True, timeout=10
        )

    try:
        commit = git("rev-parse", "--verify", "HEAD")
        # A tree installed into an ignored folder of some other checkout (a .venv inside a
        # repository) must not report that repository's commit as its own.
        ignored = git("check-ignore", "-q", ".")
        if commit.returncode != 0 or ignored.returncode == 0:
            return CodeVersion("unknown", None)
        status = git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):  # no git installed, or it hung
        return CodeVersion("unknown", None)
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return CodeVersion(commit.stdout.strip(), dirty)


def environment(command_line: Sequence[str] | None = None) -> dict[str, Any]:
    """What meta.json records about the code and the machine a run started on."""
    version = code_version()
    packages: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)  # no import: torch takes seconds
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "git_commit": version.commit,
        "git_dirty": version.dirty,
        "source_root": str(SOURCE_ROOT),
        "python": platform.python_version(),
        "packages": packages,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command_line": list(sys.argv if command_line is None else command_line),
    }


@dataclass(frozen=True)
class RunDirectory:
    """One run's folder; create a new one with :meth:`create`, reopen one with :meth:`open`."""

    path: Path

    @classmethod
    def create(
        cls,
        root: str | Path,
        name: str | None,
        config: Any,
        *,
        overwrite: bool = False,
        command_line: Sequence[str] | None = None,
    ) -> RunDirectory:
        """Make ``root/name`` (``name`` None: a timestamp such as 20250101-120000) holding the
        resolved ``config`` and meta.json. An existing run is replaced only with ``overwrite``,
        and a folder that is not a run is never deleted."""
        root = Path(root)
        if name is None:
            name = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            path = root / name
            suffix = 2
            while path.exists():  # two runs started within one second
                path, suffix = root / f"{name}-{suffix}", suffix + 1
        else:
            _check_name(name)
            path = root / name
            if path.exists():
                _clear_for_overwrite(path, overwrite)
        path.mkdir(parents=True, exist_ok=True)
        save_config(config, path / CONFIG_FILE)
        meta = environment(command_line)
        meta["config_schema"] = f"{type(config).__module__}.{type(config).__qualname__}"
        _write_json(path / META_FILE, meta)
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunDirectory:
        """An existing run directory, or RunDirectoryError saying why ``path`` is not one."""
        path = Path(path)
        if not path.exists():
            message = f"no run directory at '{path}'"
            parent = path.parent if str(path.parent) else Path(".")
            siblings = [p.name for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
            close = difflib.get_close_matches(path.name, siblings, n=1)
            if close:
                message += f"; did you mean '{parent / close[0]}'?"
            raise RunDirectoryError(message)
        missing = [name for name in (CONFIG_FILE, META_FILE) if not (path / name).is_file()]
        if missing:
            raise RunDirectoryError(
                f"'{path}' is not a run directory: it has no {' or '.join(missing)} "
                "(run directories are made by `ponder train`)"
            )
        return cls(path)

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def meta_path(self) -> Path:
        return self.path / META_FILE

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def replay(self) -> Path:
        return self.path / "replay"

    @property
    def arena(self) -> Path:
        return self.path / "arena"

    @property
    def name(self) -> str:
        return self.path.name

    def load_config(self, schema: type[T], overrides: Sequence[str] = ()) -> T:
        """The run's resolved config as ``schema``, with optional dotted overrides on top."""
        return load_config(schema, self.config_path, overrides)

    def read_meta(self) -> dict[str, Any]:
        try:
            return json.loads(self.meta_path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise RunDirectoryError(f"cannot read '{self.meta_path}': {error}") from None

    def record_resume(self, command_line: Sequence[str] | None = None) -> None:
        """Append this session's code version, host and command line to meta.json "resumes",
        so a run resumed on other code says so."""
        meta = self.read_meta()
        session = environment(command_line)
        meta.setdefault("resumes", []).append(
            {key: session[key] for key in ("git_commit", "git_dirty", "hostname", "started_at")}
            | {"command_line": session["command_line"]}
        )
        _write_json(self.meta_path, meta)


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise RunDirectoryError(
            f"invalid run name {name!r}: use one folder name such as 'c4-small' (no '/')"
        )


def _clear_for_overwrite(path: Path, overwrite: bool) -> None:
    is_run = (path / META_FILE).is_file()
    if not overwrite:
        what = "a run directory" if is_run else "a folder"
        raise RunDirectoryError(
            f"'{path}' already exists ({what}); continue it with `ponder resume {path}`, "
            "start another with a new name (name=...), or replace it with --overwrite"
        )
    if path.is_dir() and not is_run and any(path.iterdir()):
        raise RunDirectoryError(
            f"refusing to overwrite '{path}': it is not a run directory (no {META_FILE}) "
            "and it is not empty"
        )
    if path.is_dir():
        shutil.rmtree(path)
    else:
        raise RunDirectoryError(f"'{path}' exists and is a file, not a run directory")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    # Write then rename, so a crash never leaves a half-written meta.json.
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    temporary.replace(path)
