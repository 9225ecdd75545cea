"""The one Ray start-up of every workflow (self-play training, label generation).

Locally it starts a small runtime for this machine; the workers it starts inherit this
process's environment and working directory, so they import the same ponder code. With an
address it joins that cluster and, unless told not to, ships ponder's own packages in the
runtime environment (``py_modules``), because the cluster's machines may not have them.
Ray is imported only when called: the rest of ``experiment`` never needs it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

LOCAL_START_TRIES = 3  # a loaded machine can miss Ray's fixed 30 s wait for its own raylet

# ponder's top-level packages (pyproject.toml's [tool.setuptools.packages.find]), by name, so
# that shipping them imports none.
PACKAGES = ("games", "search", "experiment", "selfplay", "reasoning", "tradeoff", "ponder")


def package_directories() -> list[str]:
    """The source directory of every ponder package that can be found, in PACKAGES order."""
    directories = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            directories.append(str(Path(next(iter(spec.submodule_search_locations))).resolve()))
    return directories


def start_ray(
    num_cpus: int,
    object_store_bytes: int,
    *,
    address: str | None = None,
    ship_code: bool = True,
) -> bool:
    """Make Ray ready for this process's actors; True when this call started a local runtime
    (then the caller shuts it down, and only then). A runtime already initialised in this
    process, or a cluster joined at ``address``, is never the caller's to shut down.

    Local start: ``num_cpus`` CPUs and an object store of ``object_store_bytes``, no dashboard,
    worker output not forwarded to this terminal (the actors report through their results).
    A local start that times out (Ray waits a fixed 30 s for its raylet, which a machine busy
    with other work can miss) ends the processes it left and tries again, up to
    ``LOCAL_START_TRIES`` times; then one line says so (:class:`experiment.UserError`)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return False
    if address:
        runtime_env = {"py_modules": package_directories()} if ship_code else {}
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        return False
    for attempt in range(1, LOCAL_START_TRIES + 1):
        try:
            ray.init(
                num_cpus=num_cpus,
                object_store_memory=object_store_bytes,
                include_dashboard=False,
                log_to_driver=False,
            )
            break
        except Exception as error:  # Ray raises a bare Exception for a start that timed out
            if "timed out during startup" not in str(error):
                raise
            _end_started_ray_processes()
            if attempt == LOCAL_START_TRIES:
                from experiment import UserError

                raise UserError(
                    f"Ray did not start on this machine in {LOCAL_START_TRIES} tries ({error}); "
                    f"is it overloaded? Nothing done so far is lost: run the command again"
                ) from None
    _start_watchdog()
    return True


def _ray_children() -> list[psutil.Process]:
    """The Ray processes this process started (its children running Ray)."""
    import psutil

    return [
        child for child in psutil.Process().children()
        if any("ray" in part for part in _command_line(child))
    ]  # fmt: skip


def _end_started_ray_processes() -> None:
    """End the Ray processes a failed start of this process left (only those, by their ids) and
    their descendants (Ray's agents are the raylet's children), as the watchdog does."""
    from experiment.watchdog import kill_all

    kill_all(_ray_children())


def _start_watchdog() -> None:
    """Start :mod:`experiment.watchdog` over the Ray processes this process just started, so
    that none outlives a driver killed without a chance to shut Ray down."""
    import subprocess
    import sys

    import psutil

    driver, started = psutil.Process(), _ray_children()
    if not started:
        return
    subprocess.Popen(
        [sys.executable, "-m", "experiment.watchdog",
         *(f"{p.pid}:{p.create_time()}" for p in [driver, *started])],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, cwd=str(Path(__file__).resolve().parent.parent),
    )  # fmt: skip


def _command_line(process: psutil.Process) -> list[str]:
    import psutil

    try:
        return process.cmdline()
    except psutil.Error:
        return []
