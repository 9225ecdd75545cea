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
