"""experiment.cluster.start_ray, the one Ray start-up (with a stand-in for Ray: no runtime is
started here; the labels-on-Ray test in test_reason_pipeline.py starts a real one)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import experiment
from experiment.cluster import PACKAGES, package_directories, start_ray

SOURCE = Path(experiment.__file__).resolve().parents[1]  # where this process imports ponder from


@pytest.fixture
def fake_ray(monkeypatch):
    calls: list[dict] = []
    state = {"initialized": False}

    def init(**options):
        calls.append(options)
        state["initialized"] = True

    module = types.SimpleNamespace(init=init, is_initialized=lambda: state["initialized"])
    monkeypatch.setitem(sys.modules, "ray", module)
    return calls, state


def test_a_local_start_is_small_quiet_and_owned_by_the_caller(fake_ray):
    calls, state = fake_ray
    assert start_ray(2, 500_000_000) is True
    assert calls == [
        {
            "num_cpus": 2,
            "object_store_memory": 500_000_000,
            "include_dashboard": False,
            "log_to_driver": False,
        }
    ]
    assert start_ray(2, 500_000_000) is False  # already running: not this call's to stop
    assert len(calls) == 1


def test_joining_a_cluster_ships_every_ponder_package(fake_ray):
    calls, _ = fake_ray
    assert start_ray(2, 1, address="ray://head:10001") is False  # the cluster is not ours
    (options,) = calls
    assert options["address"] == "ray://head:10001" and options["log_to_driver"] is False
    shipped = options["runtime_env"]["py_modules"]
    assert [Path(path).name for path in shipped] == list(PACKAGES)
    assert all(Path(path).parent == SOURCE for path in shipped)  # the code this process runs


def test_shipping_can_be_turned_off(fake_ray):
    calls, _ = fake_ray
    start_ray(2, 1, address="auto", ship_code=False)
    assert calls[0]["runtime_env"] == {}
    assert len(package_directories()) == len(PACKAGES)


def test_a_local_start_that_times_out_is_tried_again_then_named(fake_ray, monkeypatch):
    """Ray waits a fixed 30 s for its raylet; on a loaded machine a start can miss it. The start
    is tried again, and after the last try one line names the problem instead of a traceback."""
    import experiment.cluster as cluster

    calls, state = fake_ray
    failures = {"left": 2}
    ray = sys.modules["ray"]

    def init(**options):
        calls.append(options)
        if failures["left"]:
            failures["left"] -= 1
            raise Exception("The current node timed out during startup. This could happen ...")
        state["initialized"] = True

    monkeypatch.setattr(ray, "init", init)
    ended = []
    monkeypatch.setattr(cluster, "_end_started_ray_processes", lambda: ended.append(True))
    assert start_ray(2, 1) is True and len(calls) == 3 and len(ended) == 2

    state["initialized"], failures["left"] = False, cluster.LOCAL_START_TRIES
    with pytest.raises(experiment.UserError, match="did not start on this machine in 3 tries"):
        start_ray(2, 1)
    assert len(ended) == 2 + cluster.LOCAL_START_TRIES

    def broken(**options):
        raise RuntimeError("something else")

    monkeypatch.setattr(ray, "init", broken)
    with pytest.raises(RuntimeError, match="something else"):  # not a timeout: not retried
        start_ray(2, 1)


def test_a_failed_start_ends_only_this_process_s_ray_children(monkeypatch):
    import subprocess

    import experiment.cluster as cluster

    ray_like = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "raylet"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        found = {child.pid: child for child in cluster._ray_children()}
        assert ray_like.pid in found and other.pid not in found
        # end only this test's stand-in, not a Ray runtime an earlier test may have left running
        monkeypatch.setattr(cluster, "_ray_children", lambda: [found[ray_like.pid]])
        cluster._end_started_ray_processes()
        assert ray_like.wait(timeout=10) is not None
        assert other.poll() is None  # not Ray's: left alone
    finally:
        other.kill()
        ray_like.kill()
