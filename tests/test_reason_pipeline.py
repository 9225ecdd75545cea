"""``ponder reason`` end to end on the smoke recipe: every phase, every search, the outputs a
user reads (results.csv, the figure, coverage, verifier errors, the ledger, TensorBoard), and
resuming a finished run; label generation on Ray actors."""

from __future__ import annotations

import csv
import json
import math
import re
import time
from pathlib import Path

import pytest

from ponder.cli import main

SMOKE = Path(__file__).resolve().parents[1] / "configs" / "countdown-smoke.yaml"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    start = time.perf_counter()
    status = main(["reason", str(SMOKE), f"run.root={root}", "progress=false"])
    seconds = time.perf_counter() - start
    assert status == 0
    return root / "countdown-smoke", seconds


def test_smoke_run_writes_every_output(smoke_run):
    run, seconds = smoke_run
    assert seconds < 300
    rows = read_rows(run / "results.csv")
    methods = {row["method"] for row in rows}
    # no majority vote on Countdown: every finished solution names the target
    # both PRMs (Monte-Carlo labels, exact checker labels), with every aggregation
    selections = ["random_finished", "orm_weighted", "orm_argmax", "oracle"] + [
        f"{prm}_{rule}_{aggregation}"
        for prm in ("prm", "prm_checker")
        for rule in ("weighted", "argmax")
        for aggregation in ("last", "min", "product")
    ]
    searches = ("beam/prm", "beam/oracle", "dvts/prm", "dvts/oracle", "mcts_puct/prm")
    searches += ("mcts_gumbel/prm", "mcts_gumbel/oracle")
    assert methods == {"greedy", *searches} | {f"best_of_n/{s}" for s in selections}
    assert json.loads((run / "policy" / "phase.json").read_text())["drills"] == 0
    for row in rows:
        candidates, distinct = float(row["candidates"]), float(row["distinct_candidates"])
        if row["method"].startswith(("beam/", "dvts/", "greedy", "mcts")):
            assert distinct == candidates  # duplicates dropped (one candidate: greedy, MCTS)
        elif row["method"] != "best_of_n/oracle":
            assert 0 < distinct <= candidates <= int(row["budget"])
        accuracy, low, high = (float(row[k]) for k in ("accuracy", "interval_low", "interval_high"))
        assert 0 <= low <= accuracy <= high <= 1
        assert float(row["test_flops"]) > 0 and int(row["problems"]) == 6
        # a method can only be right when a correct candidate was among those it produced
        assert float(row["coverage"]) >= accuracy - 1e-9
    best_of = {
        (row["method"], int(row["budget"])): float(row["test_flops"])
        for row in rows
        if row["method"].startswith("best_of_n/")
    }
    # best-of-N costs grow with N: N samples of about the same length
    for method in ("best_of_n/random_finished", "best_of_n/prm_argmax_last"):
        assert best_of[(method, 1)] < best_of[(method, 4)] < best_of[(method, 8)]
        assert best_of[(method, 8)] / best_of[(method, 1)] == pytest.approx(8, rel=0.5)
    # the verifier's reading is part of the cost: majority vote pays for the policy only
    assert best_of[("best_of_n/prm_argmax_min", 4)] > best_of[("best_of_n/random_finished", 4)]
    differences = read_rows(run / "differences.csv")
    pairs = {(r["method"], int(r["budget"]), r["baseline"]) for r in differences}
    assert ("beam/prm", 8, "greedy") in pairs
    assert ("best_of_n/prm_checker_argmax_min", 4, "best_of_n/orm_argmax") in pairs
    assert ("best_of_n/orm_weighted", 4, "best_of_n/random_finished") in pairs
    for r in differences:
        low, difference, high = (
            float(r[k]) for k in ("interval_low", "difference", "interval_high")
        )
        assert -1 <= low <= difference <= high <= 1
    matched = read_rows(run / "matched_compute.csv")
    assert {int(r["samples_worth"]) for r in matched} == {1, 2, 4, 8}
    assert all(float(r["test_flops"]) <= float(r["flops"]) * (1 + 1e-6) for r in matched)
    coverage = read_rows(run / "coverage.csv")
    values = [float(r["accuracy"]) for r in sorted(coverage, key=lambda r: int(r["budget"]))]
    assert [int(r["budget"]) for r in coverage] == [1, 2, 4, 8]
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:], strict=False))  # pass@k rises
    errors = {r["method"] for r in read_rows(run / "verifier_errors.csv")}
    assert errors >= {"best_of_n/random_finished", "best_of_n/prm_argmax_product", "beam/prm"}
    # only methods that choose among candidates can pick wrongly; the oracle never does
    assert not {m for m in errors if m.startswith(("greedy", "mcts")) or m.endswith("oracle")}
    figure = run / "accuracy_vs_compute.png"
    assert figure.stat().st_size > 20_000 and figure.read_bytes()[:4] == b"\x89PNG"
    ledger = json.loads((run / "ledger.json").read_text())
    assert ledger["sft_flops"] > 0 and ledger["label_flops"] > 0 and ledger["test_flops"] > 0
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert (run / "policy" / "model.safetensors").exists()
    assert (run / "verifiers" / "prm" / "model.safetensors").exists()
    measured = json.loads((run / "verifiers.json").read_text())
    assert set(measured["verifiers"]) == {"prm", "prm_checker", "orm"}
    for verifier in measured["verifiers"].values():
        assert 0 <= verifier["step_auc"] <= 1 or math.isnan(verifier["step_auc"])
        low, high = verifier["step_auc_interval"]
        assert (low <= verifier["step_auc"] <= high) or math.isnan(verifier["step_auc"])
        assert set(verifier["top1_interval"]) == {"last", "min", "product"}
        assert set(verifier["top1"]) == {"last", "min", "product"}


def test_tensorboard_scalars_are_under_reason(smoke_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = smoke_run
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert "reason/best_of_n/random_finished/accuracy" in tags and "reason/policy/loss" in tags
    assert "compute/test_flops" in tags and "reason/verifiers/prm_checker/step_auc" in tags
    assert all(tag.startswith(("reason/", "compute/")) for tag in tags)
    steps = [event.step for event in events.Scalars("reason/best_of_n/oracle/accuracy")]
    assert steps == [1, 2, 4, 8]  # the budget is the step
    # one chart of the task's accuracy against test FLOPs: the FLOPs are the step
    rows = read_rows(run / "results.csv")
    flops = sorted(round(float(r["test_flops"])) for r in rows if r["method"] == "best_of_n/oracle")
    chart = events.Scalars("reason/countdown/accuracy_vs_flops/best_of_n/oracle")
    assert [event.step for event in chart] == pytest.approx(flops, rel=1e-5)  # CSV: 6 digits
    assert {"reason/accuracy_vs_compute", "reason/coverage"} <= set(events.Tags()["images"])
    layout = events.Tensors("custom_scalars__config__")
    assert (
        layout and b"reason/countdown/accuracy_vs_flops/.*" in layout[0].tensor_proto.string_val[0]
    )


def test_rerun_resumes_from_the_run_directory(smoke_run, capsys):
    run, first_seconds = smoke_run
    before = (run / "results.csv").read_text()
    start = time.perf_counter()
    assert main(["reason", str(SMOKE), f"run.root={run.parent}", "progress=false"]) == 0
    output = capsys.readouterr().out
    for phase in ("policy", "labels", "verifiers"):
        assert f"{phase}: reusing" in output
    # every method x budget was reused: nothing computed, the pool not sampled again
    assert not re.search(r"evaluation: (pool|\S+ @)", output)
    assert (run / "results.csv").read_text() == before
    assert time.perf_counter() - start < first_seconds
    # a changed evaluation setting re-runs only what depends on it ...
    assert (
        main(
            [
                "reason",
                str(SMOKE),
                f"run.root={run.parent}",
                "progress=false",
                "evaluation.mcts.simulations=[3]",
                "verifier.measure.samples=3",
            ]
        )
        == 0
    )
    output = capsys.readouterr().out
    assert "mcts_puct/prm @ 3 simulations" in output and "beam/prm @" not in output
    # ... the verifiers' measurement is redone, their training is not
    assert "verifiers: reusing" in output and "prm on 4 held-out problems" in output
    assert json.loads((run / "verifiers.json").read_text())["samples_per_problem"] == 3


def test_policy_drills_join_the_training_texts(tmp_path):
    """policy.drills: 0.5 trains the policy on half as many arithmetic drills as solutions, and
    the phase's record says how many. (This policy's DVTS subtrees finish the same solution
    twice on some problems: each is one candidate.)"""
    arguments = ["reason", str(SMOKE), f"run.root={tmp_path}", "progress=false"]
    assert main([*arguments, "policy.drills=0.5"]) == 0
    run = tmp_path / "countdown-smoke"
    policy = json.loads((run / "policy" / "phase.json").read_text())
    assert policy["drills"] == round(0.5 * policy["texts"]) > 0
    for row in read_rows(run / "results.csv"):
        if row["method"].startswith("dvts/"):
            assert float(row["distinct_candidates"]) == float(row["candidates"])


def test_expert_iteration_rounds_are_checkpoints_with_their_train_flops(tmp_path, capsys):
    """Two rounds after a small run (a policy trained long enough to solve a few problems,
    every tree search run with three seeds):
    each round fine-tunes the policy on oracle-verified beam-search solutions of its own train
    problems (and relabels and retrains the verifiers), is saved with a ledger whose train
    FLOPs include the search that made the data, and gets greedy and search rows in
    results.csv; a rerun reuses the rounds."""
    arguments = [
        "reason", str(SMOKE), f"run.root={tmp_path}", "progress=false",
        "policy.training.steps=400", "policy.training.model.embedding_dim=48",
        "evaluation.best_of_n=[1,2]", "evaluation.pool_size=2", "evaluation.beam.budgets=[4]",
        "evaluation.mcts.simulations=[2]", "evaluation.dvts=false",
        "expert_iteration.rounds=2", "expert_iteration.problems=40",
        "expert_iteration.budget=8", "expert_iteration.training.steps=20",
        "expert_iteration.relabel=true", "evaluation.tree_seeds=3",
    ]  # fmt: skip
    assert main(arguments) == 0
    run = tmp_path / "countdown-smoke"
    # every tree search ran with three seeds, averaged per problem
    saved = json.loads((run / "evaluation" / "beam__oracle@4.json").read_text())
    assert saved["seeds"] == 3 and set(saved["correct"]) <= {0.0, 1 / 3, 2 / 3, 1.0}
    ledgers = [
        json.loads((run / "expert_iteration" / f"round-{r}" / "ledger.json").read_text())
        for r in (1, 2)
    ]
    base = json.loads((run / "ledger.json").read_text())
    assert 0 < ledgers[0]["data_search_flops"] < ledgers[1]["data_search_flops"]
    assert base["sft_flops"] < ledgers[0]["sft_flops"] < ledgers[1]["sft_flops"]
    assert base["label_flops"] < ledgers[0]["label_flops"] < ledgers[1]["label_flops"]
    for r in (1, 2):
        folder = run / "expert_iteration" / f"round-{r}"
        assert (folder / "policy" / "model.safetensors").exists()
        assert (folder / "verifiers" / "prm_checker" / "model.safetensors").exists()
    rows = read_rows(run / "results.csv")
    by_round: dict[int, set[str]] = {}
    for row in rows:
        by_round.setdefault(int(row["round"]), set()).add(row["method"])
    assert by_round[1] == by_round[2] == {"greedy", "beam/oracle"}
    assert {int(r["seeds"]) for r in rows if r["method"].startswith("mcts")} == {3}
    train_flops = {int(row["round"]): float(row["train_flops"]) for row in rows}
    assert 0 < train_flops[0] < train_flops[1] < train_flops[2]
    capsys.readouterr()
    assert main(arguments) == 0
    output = capsys.readouterr().out
    assert "expert iteration round 2: reusing" in output
    assert "fine-tuning" not in output
    # a third round later keeps the first two
    assert main([*arguments, "expert_iteration.rounds=3"]) == 0
    output = capsys.readouterr().out
    assert "round 2: reusing" in output and "round 3: reusing" not in output
    assert (run / "expert_iteration" / "round-3" / "policy" / "model.safetensors").exists()


def test_a_test_file_on_a_finished_run_reuses_its_trained_phases(smoke_run, capsys, tmp_path):
    """Problems a user brings, evaluated with the run's policy and verifiers: numbers above the
    recipe's range cannot be among its generated train problems, so nothing trained changes."""
    run, _ = smoke_run
    problems = [([11, 12, 13], 23), ([12, 14, 20], 34), ([11, 13, 17], 41)]
    path = tmp_path / "mine.jsonl"
    path.write_text(
        "".join(json.dumps({"numbers": n, "target": t, "source": "me"}) + "\n" for n, t in problems)
    )
    arguments = ["reason", str(SMOKE), f"run.root={run.parent}", "progress=false"]
    assert main([*arguments, f"task.test_file={path}"]) == 0
    output = capsys.readouterr().out
    for phase in ("policy", "labels", "verifiers"):
        assert f"{phase}: reusing" in output
    rows = read_rows(run / "results.csv")
    assert rows and all(int(row["problems"]) == 3 for row in rows)
    pool = [
        json.loads(line) for line in (run / "evaluation" / "pool.jsonl").read_text().splitlines()
    ]
    assert {row["problem"] for row in pool} == {0, 1, 2}
    assert main([*arguments, "task.name=game24", f"task.test_file={path}"]) == 2
    assert "task.test_file is a Countdown problem file" in capsys.readouterr().err


def test_a_changed_phase_config_moves_the_old_outputs_aside(tmp_path):
    from reasoning.pipeline.phases import begin, finish

    messages = []
    folder = tmp_path / "labels"
    assert begin(folder, "a", "labels", messages.append) is None
    (folder / "chunk-00000.jsonl").write_text("{}\n")
    assert begin(folder, "a", "labels", messages.append) is None  # started: chunks kept
    assert (folder / "chunk-00000.jsonl").exists()
    finish(folder, "a", {"flops": 1.0})
    assert begin(folder, "a", "labels", messages.append)["flops"] == 1.0  # finished: reused
    assert begin(folder, "b", "labels", messages.append) is None  # another config: afresh
    assert not (folder / "chunk-00000.jsonl").exists()
    assert (tmp_path / "labels.stale-a" / "chunk-00000.jsonl").exists()
    assert "the config changed" in messages[-1]


def test_reuse_only_refuses_a_phase_it_would_make_again(tmp_path):
    """A measurement on an existing run (reuse_only) reuses its finished phases and refuses,
    before moving or starting anything, one that another config or older code made."""
    from experiment import UserError
    from reasoning.pipeline.phases import begin, finish

    folder = tmp_path / "verifiers"
    with pytest.raises(UserError, match="verifiers: .* is not finished under this config"):
        begin(folder, "a", "verifiers", print, reuse_only=True)
    assert not folder.exists()
    begin(folder, "a", "verifiers", print)
    finish(folder, "a", {"flops": 2.0})
    assert begin(folder, "a", "verifiers", print, reuse_only=True)["flops"] == 2.0
    with pytest.raises(UserError, match="fingerprint b, found a"):
        begin(folder, "b", "verifiers", print, reuse_only=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["verifiers"]  # nothing moved


def test_config_mistakes_name_the_key(tmp_path, capsys):
    assert main(["reason", str(SMOKE), f"run.root={tmp_path}", "evaluation.beem.budgets=[4]"]) == 2
    assert "did you mean 'evaluation.beam'" in capsys.readouterr().err
    assert main(["reason", str(SMOKE), f"run.root={tmp_path}", "evaluation.beam.budgets=[5]"]) == 2
    assert "multiples of beam.expansions" in capsys.readouterr().err
    assert main(["reason", str(SMOKE), f"run.root={tmp_path}", "evaluation.selections=[vote]"]) == 2
    assert "unknown ['vote']" in capsys.readouterr().err
    off = ["verifier.checker_prm=false", "evaluation.tree_verifier=prm_checker"]
    assert main(["reason", str(SMOKE), f"run.root={tmp_path}", *off]) == 2
    assert "evaluation.tree_verifier is prm_checker, but verifier.checker_prm is off" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "countdown-smoke").exists()


def test_task_mistakes_are_one_line_before_the_run_directory_exists(tmp_path, capsys):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "1+1", "answer": "2"}\n{not json\n')
    cases = [
        (["task.name=nosuch"], "unknown task 'nosuch'"),
        (
            ["task.name=jsonl", f"task.knobs={{path: {tmp_path / 'missing.jsonl'}}}"],
            "does not exist",
        ),
        (["task.name=jsonl", f"task.knobs={{path: {broken}}}"], "broken.jsonl:2: not valid JSON"),
        ([f"task.test_file={tmp_path / 'missing.jsonl'}"], "does not exist"),
    ]
    for overrides, message in cases:
        assert main(["reason", str(SMOKE), f"run.root={tmp_path}", *overrides]) == 2
        error = capsys.readouterr().err.strip()
        assert message in error and len(error.splitlines()) == 1, error
    assert not (tmp_path / "countdown-smoke").exists()


@pytest.mark.ray
def test_labels_on_ray_actors_match_the_in_process_path(tmp_path):
    import torch

    from reasoning.labels import LabelConfig, generate_labels
    from reasoning.lm import CharTokenizer, TinyGPTConfig, build_tiny_gpt, save_tiny_gpt

    model = build_tiny_gpt(
        TinyGPTConfig(block_size=128, num_layers=1, num_heads=2, embedding_dim=32),
        torch.Generator().manual_seed(0),
    )
    save_tiny_gpt(tmp_path / "policy", model, CharTokenizer())
    knobs = {"num_numbers": 3, "target_range": [10, 60], "train_size": 20, "test_size": 4}
    config = LabelConfig(
        solutions_per_problem=2,
        completions=2,
        max_steps=3,
        max_step_tokens=8,
        chunk_size=2,
        workers=2,
    )
    spec = f"tiny:{tmp_path / 'policy'}"
    on_ray = generate_labels(spec, "countdown", knobs, range(4), config, tmp_path / "ray")
    local = generate_labels(
        spec,
        "countdown",
        knobs,
        range(4),
        LabelConfig(**{**config.__dict__, "use_ray": False}),
        tmp_path / "local",
    )
    assert len(on_ray) == len(local) == 8
    assert [r.steps for r in on_ray] == [r.steps for r in local]
    assert [r.soft for r in on_ray] == [r.soft for r in local]
