"""Reasoning tasks: exact step and answer checkers on hand-written cases, the solvers against a
brute force, deterministic disjoint splits, solution generators, the JSONL loader."""

from __future__ import annotations

import functools
import itertools
import json
import re
from fractions import Fraction

import numpy as np
import pytest

from experiment import UserError
from reasoning.tasks import (
    ArithmeticChainTask,
    ChainProblem,
    CountdownTask,
    Game24Task,
    JsonlFormatError,
    JsonlTask,
    NumbersProblem,
    StepCheckerUnavailable,
    answers_match,
    extract_answer,
    make_task,
    parse_equation,
    split_steps,
    training_texts,
)
from reasoning.tasks.format import apply_operator, format_number
from reasoning.tasks.solutions import DRILL_LINES, arithmetic_drills
from reasoning.tasks.solver import POSITIVE_INTEGERS, RATIONALS, can_make, canonical, min_steps


def countdown_problem(numbers, target):
    return NumbersProblem(
        question=f"Use {' '.join(map(str, numbers))} to make {target}.",
        answer=str(target),
        numbers=tuple(numbers),
        target=target,
    )


def verdict_flags(task, problem, steps):
    return [(v.valid, v.reachable) for v in task.verdicts(problem, steps)]


# --- format ----------------------------------------------------------------------------------


def test_equations_parse_integers_fractions_and_negatives():
    assert parse_equation("8 / 3 = 8/3").result == Fraction(8, 3)
    equation = parse_equation("8 / 1/3 = 24")
    assert (equation.left, equation.operator, equation.right) == (8, "/", Fraction(1, 3))
    assert parse_equation("3 - -4 = 7").is_true()
    assert parse_equation("3-4=7") is None  # operators need spaces (8/3 is a number)
    assert parse_equation("Answer: 7") is None
    assert parse_equation("8 / 0 = 1").true_result() is None
    assert format_number(Fraction(-6, 4)) == "-3/2"


def test_split_steps_stops_at_the_answer_and_skips_the_question_line():
    text = "Q: Use 2 3 4 to make 24.\n2 * 3 = 6\n\n6 * 4 = 24\nAnswer: 24\n9 + 9 = 18\n"
    assert split_steps(text) == ["2 * 3 = 6", "6 * 4 = 24", "Answer: 24"]
    assert extract_answer(text) == "24"
    assert extract_answer("2 * 3 = 6\n") is None


# --- Countdown -------------------------------------------------------------------------------


def test_countdown_step_checker_on_hand_written_steps():
    task = CountdownTask()
    problem = countdown_problem((2, 3, 4), 24)
    check = lambda previous, step: task.check_step(problem, previous, step)  # noqa: E731
    assert check([], "2 * 3 = 6").ok  # then 6 * 4 = 24
    wrong = check([], "2 * 3 = 5")
    assert not wrong.valid and "is 6, not 5" in wrong.reason
    assert not check([], "5 + 1 = 6").valid  # 5 is not available
    assert not check([], "2 - 3 = -1").valid  # results must be positive
    assert not check([], "3 / 2 = 3/2").valid  # division must be exact
    assert not check([], "2 + 2 = 4").valid  # only one 2
    dead_end = check([], "3 - 2 = 1")  # leaves 1 and 4: 24 is out of reach
    assert dead_end.valid and not dead_end.reachable and "dead end" in dead_end.reason
    assert check(["2 * 3 = 6"], "6 * 4 = 24").ok
    assert check(["2 * 3 = 6", "6 * 4 = 24"], "Answer: 24").ok
    premature = check(["2 * 3 = 6"], "Answer: 24")
    assert premature.final and not premature.valid
    # a correct step after a wrong one is valid but can no longer lead to a correct solution
    assert verdict_flags(task, problem, ["2 * 3 = 8", "8 * 3 = 24"]) == [
        (False, False),
        (False, False),
    ]
    assert verdict_flags(task, problem, ["2 * 4 = 9", "9 + 3 = 12"]) == [
        (False, False),
        (True, False),
    ]


def test_countdown_answer_checker_needs_a_valid_derivation():
    task = CountdownTask()
    problem = countdown_problem((2, 3, 4), 24)
    assert task.check_answer(problem, "2 * 3 = 6\n6 * 4 = 24\nAnswer: 24\n")
    assert task.check_answer(
        problem, "Q: Use 2 3 4 to make 24.\n4 * 3 = 12\n12 * 2 = 24\nAnswer: 24"
    )
    assert not task.check_answer(problem, "Answer: 24\n")  # nothing derived
    assert not task.check_answer(problem, "2 * 3 = 6\n6 * 4 = 24\n")  # no answer line
    assert not task.check_answer(problem, "2 * 3 = 6\n6 * 3 = 24\nAnswer: 24\n")  # 3 used twice
    assert not task.check_answer(problem, "2 * 3 = 6\n6 * 4 = 24\nAnswer: 25\n")


def brute_force_step_results(numbers, rules):
    """Every pool one legal step (any ordered pair, any operator) can lead to."""
    for i, j in itertools.permutations(range(len(numbers)), 2):
        rest = [numbers[k] for k in range(len(numbers)) if k not in (i, j)]
        for operator in "+-*/":
            result = apply_operator(numbers[i], operator, numbers[j])
            if result is None:
                continue
            if rules == POSITIVE_INTEGERS and (result <= 0 or result.denominator != 1):
                continue
            yield tuple(sorted([*rest, result]))


@functools.cache
def brute_force_values(numbers, rules):
    """Every value some sequence of steps from the pool produces (Countdown's reachable set)."""
    values = set(numbers)
    for pool in brute_force_step_results(numbers, rules):
        values |= brute_force_values(pool, rules)
    return values


@functools.cache
def brute_force_all(numbers, rules):
    """Values of expressions using every number exactly once (Game of 24's reachable set)."""
    if len(numbers) == 1:
        return set(numbers)
    values = set()
    for pool in brute_force_step_results(numbers, rules):
        values |= brute_force_all(pool, rules)
    return values


def test_solvers_agree_with_brute_force_on_random_pools():
    rng = np.random.default_rng(7)
    for _ in range(12):
        numbers = tuple(sorted(int(x) for x in rng.integers(1, 9, 4)))
        reachable = brute_force_values(tuple(Fraction(x) for x in numbers), POSITIVE_INTEGERS)
        for target in range(1, 80):
            expected = target in reachable
            assert (min_steps(numbers, target, POSITIVE_INTEGERS) is not None) == expected
    for _ in range(5):
        numbers = canonical(Fraction(int(x)) for x in rng.integers(1, 14, 4))
        everything = brute_force_all(numbers, RATIONALS)
        for target in [*range(-5, 30), Fraction(1, 2), Fraction(7, 3)]:
            assert can_make(numbers, target, RATIONALS) == (target in everything)


def test_game24_has_the_known_number_of_solvable_instances():
    # 1362 of the 1820 multisets of four numbers from 1..13 can make 24
    solvable = sum(
        can_make(tuple(Fraction(x) for x in numbers), 24, RATIONALS)
        for numbers in itertools.combinations_with_replacement(range(1, 14), 4)
    )
    assert solvable == 1362


# --- Game of 24 ------------------------------------------------------------------------------


def test_game24_step_checker_on_hand_written_steps():
    task = Game24Task()
    problem = NumbersProblem(question="", answer="24", numbers=(1, 5, 5, 5), target=24)
    solution = ["1 / 5 = 1/5", "5 - 1/5 = 24/5", "24/5 * 5 = 24", "Answer: 24"]  # 5 * (5 - 1/5)
    assert all(v.ok for v in task.verdicts(problem, solution))
    assert task.check_answer(problem, "\n".join(solution))
    dead_end = task.check_step(problem, [], "5 + 5 = 10")  # the only solution needs 1/5
    assert dead_end.valid and not dead_end.reachable
    assert not task.check_step(problem, [], "5 / 0 = 0").valid
    # all four numbers must be used: 24 with a 1 left over is not an answer yet
    problem = NumbersProblem(question="", answer="24", numbers=(1, 2, 3, 4), target=24)
    steps = ["2 * 3 = 6", "6 * 4 = 24"]
    assert task.check_step(problem, steps[:1], steps[1]).ok  # 24 * 1 still makes 24
    assert not task.check_step(problem, steps, "Answer: 24").valid
    assert task.check_answer(problem, "\n".join([*steps, "24 * 1 = 24", "Answer: 24"]))
    negative = NumbersProblem(question="", answer="24", numbers=(3, 8, 9, 12), target=24)
    assert task.check_step(negative, [], "8 - 12 = -4").valid  # negative intermediates allowed


# --- arithmetic chains -----------------------------------------------------------------------


def test_chain_checkers_on_hand_written_steps():
    task = ArithmeticChainTask()
    problem = ChainProblem(
        question="Start with 7. Add 5, multiply by 3, subtract 4.",
        answer="32",
        start=7,
        operations=(("+", 5), ("*", 3), ("-", 4)),
    )
    good = ["7 + 5 = 12", "12 * 3 = 36", "36 - 4 = 32", "Answer: 32"]
    assert all(v.ok for v in task.verdicts(problem, good))
    assert task.check_answer(problem, "\n".join(good))
    assert not task.check_step(problem, [], "7 * 3 = 21").valid  # operations apply in order
    assert not task.check_step(problem, ["7 + 5 = 12"], "12 * 4 = 48").valid  # wrong operand
    wrong = ["7 + 5 = 13", "13 * 3 = 39", "39 - 4 = 35", "Answer: 35"]
    assert verdict_flags(task, problem, wrong) == [
        (False, False),
        (True, False),
        (True, False),
        (False, False),
    ]
    assert not task.check_answer(problem, "\n".join(wrong))
    assert not task.check_step(problem, good[:2], "Answer: 36").valid  # an operation left


# --- generators and splits -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, knobs",
    [
        ("countdown", {"num_numbers": 4}),
        ("arithmetic_chain", {"num_operations": 3, "wording": "mixed"}),
        ("game24", {}),
    ],
)
def test_splits_are_deterministic_disjoint_and_solved_by_their_references(name, knobs):
    task = make_task(name, seed=3, train_size=150, test_size=40, **knobs)
    again = make_task(name, seed=3, train_size=150, test_size=40, **knobs)
    assert task.train == again.train and task.test == again.test
    train_keys = {p.key for p in task.train}
    test_keys = {p.key for p in task.test}
    assert len(train_keys) == 150 and len(test_keys) == 40
    assert not train_keys & test_keys
    other_seed = make_task(name, seed=4, train_size=150, test_size=40, **knobs)
    assert [p.key for p in other_seed.test] != [p.key for p in task.test]
    bigger = make_task(name, seed=3, train_size=300, test_size=40, **knobs)
    assert bigger.test == task.test  # the test split does not depend on the train size
    for problem in task.test:
        assert task.check_answer(problem, task.solution_text(task.reference_solution(problem)))


def test_countdown_difficulty_knobs_are_respected():
    task = make_task(
        "countdown", num_numbers=5, number_range=(1, 12), target_range=(50, 200), min_steps=3,
        train_size=20, test_size=10, seed=1,
    )  # fmt: skip
    for problem in task.train + task.test:
        assert len(problem.numbers) == 5 and all(1 <= x <= 12 for x in problem.numbers)
        assert 50 <= problem.target <= 200
        assert min_steps(problem.numbers, problem.target, POSITIVE_INTEGERS) >= 3
        assert len(problem.steps) >= 3


@pytest.mark.parametrize("name", ["countdown", "arithmetic_chain", "game24"])
def test_imperfect_solutions_have_mistakes_at_about_the_error_rate(name):
    task = make_task(name, train_size=120, test_size=10, seed=0)
    rng = np.random.default_rng(0)
    exact = [task.sample_solution(p, rng, error_rate=0.0) for p in task.train]
    assert all(
        task.check_answer(p, task.solution_text(s)) for p, s in zip(task.train, exact, strict=True)
    )
    noisy = [task.sample_solution(p, rng, error_rate=0.3) for p in task.train]
    verdicts = [task.verdicts(p, s) for p, s in zip(task.train, noisy, strict=True)]
    correct = np.mean(
        [
            task.check_answer(p, task.solution_text(s))
            for p, s in zip(task.train, noisy, strict=True)
        ]
    )
    assert 0.1 < correct < 0.9
    flat = [v for solution in verdicts for v in solution if not v.final]
    assert any(not v.valid for v in flat)  # wrong results
    assert any(v.valid and not v.reachable for v in flat)  # dead ends
    for solution in noisy:
        assert task.is_final(solution[-1]) and not any(task.is_final(s) for s in solution[:-1])


def test_training_texts_use_the_prompt_format():
    task = make_task("countdown", train_size=5, test_size=2)
    texts = training_texts(task, task.train, np.random.default_rng(0), samples_per_problem=2)
    assert len(texts) == 10
    for text, problem in zip(texts[::2], task.train, strict=True):
        lines = text.split("\n")
        assert lines[0] == f"Q: {problem.question}" and lines[-2].startswith("Answer: ")
        assert text.endswith("\n")


def test_make_task_names_the_nearest_task_and_knob():
    with pytest.raises(ValueError, match="did you mean 'countdown'"):
        make_task("countdwn")
    with pytest.raises(ValueError, match="did you mean 'num_numbers'"):
        make_task("countdown", num_number=5)
    with pytest.raises(ValueError, match="number_range"):
        make_task("countdown", number_range=(10, 1))


# --- JSONL -----------------------------------------------------------------------------------


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_jsonl_task_splits_dedupes_and_checks_final_answers(tmp_path):
    records = [
        {"question": f"What is {i} + {i}?", "answer": 2 * i, "steps": [f"{i} + {i} = {2 * i}"]}
        for i in range(20)
    ]
    records.append({"question": "what is 0 +  0?", "answer": "0"})  # duplicate of question 0
    path = write_lines(tmp_path / "train.jsonl", [json.dumps(r) for r in records])
    task = JsonlTask(path=path, test_fraction=0.25, seed=0)
    assert len(task.train) == 15 and len(task.test) == 5
    assert not {p.key for p in task.train} & {p.key for p in task.test}
    assert JsonlTask(path=path, test_fraction=0.25, seed=0).test == task.test
    assert not task.has_step_checker
    problem = task.train[0]
    with pytest.raises(StepCheckerUnavailable, match="has_step_checker"):
        task.check_step(problem, [], "1 + 1 = 2")
    assert task.check_answer(problem, task.solution_text(task.reference_solution(problem)))
    assert not task.check_answer(problem, "Answer: -1\n")
    test_path = write_lines(tmp_path / "test.jsonl", [json.dumps(records[3])])
    split_by_file = JsonlTask(path=path, test_path=test_path)
    assert len(split_by_file.test) == 1 and len(split_by_file.train) == 19


def test_answer_normalisation():
    assert answers_match("1,000", 1000)
    assert answers_match("0.5", "1/2")
    assert answers_match("$\\boxed{\\frac{3}{4}}$", "0.75")
    assert answers_match("  Paris. ", "paris")
    assert answers_match("1000.0", "1000")
    assert not answers_match("12", "21")


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"question": "q", "answer": 1', r"bad\.jsonl:2: not valid JSON"),
        ('{"answer": "1"}', r"bad\.jsonl:2: missing field 'question'"),
        ('{"question": "q"}', r"bad\.jsonl:2: missing field 'answer'"),
        (
            '{"question": "q", "answer": [1]}',
            r"bad\.jsonl:2: field 'answer' must be a string or a number, got list",
        ),
        (
            '{"question": 3, "answer": "1"}',
            r"bad\.jsonl:2: field 'question' must be a non-empty string",
        ),
        (
            '{"question": "q", "answer": "1", "steps": "a"}',
            r"bad\.jsonl:2: field 'steps' must be a list",
        ),
        (
            '{"question": "q", "answer": "1", "steps": ["a", 2]}',
            r"bad\.jsonl:2: field 'steps\[1\]' must be a string",
        ),
        ('["q", "1"]', r"bad\.jsonl:2: a line must be a JSON object, got list"),
    ],
)
def test_jsonl_errors_name_file_line_and_field(tmp_path, line, expected):
    good = json.dumps({"question": "What is 6 * 7?", "answer": "#### 42"})
    path = write_lines(tmp_path / "bad.jsonl", [good, line])
    with pytest.raises(JsonlFormatError, match=expected):
        JsonlTask(path=path)


def test_jsonl_reads_gsm8k_style_answers(tmp_path):
    path = write_lines(
        tmp_path / "gsm.jsonl",
        [json.dumps({"question": "What is 6 * 7?", "answer": "6 * 7 = 42\n#### 42"})],
    )
    (problem,) = JsonlTask(path=path, test_fraction=0.0).train
    assert problem.answer == "42" and problem.steps is None


# --- Countdown problem files -------------------------------------------------------------------


def test_countdown_files_replace_a_split_and_keep_the_exact_checkers(tmp_path):
    generated = make_task("countdown", num_numbers=3, train_size=200, test_size=20, seed=2)
    overlap = generated.train[5]  # a generated train problem, now in the user's test file
    lines = [
        json.dumps({"numbers": [25, 4, 7], "target": 53, "id": "a"}),  # other fields ignored
        "",
        json.dumps({"numbers": [7, 25, 4], "target": 53}),  # the same problem again: dropped
        json.dumps({"numbers": list(overlap.numbers), "target": overlap.target}),
        json.dumps({"numbers": [2, 3], "target": 97}),  # unsolvable: kept as a test problem
    ]
    path = write_lines(tmp_path / "test.jsonl", lines)
    task = make_task(
        "countdown", num_numbers=3, train_size=200, test_size=20, seed=2, test_file=str(path)
    )
    assert [(p.numbers, p.target) for p in task.test] == [
        ((4, 7, 25), 53), (overlap.numbers, overlap.target), ((2, 3), 97),
    ]  # fmt: skip
    assert task.test[0].question == "Use 4 7 25 to make 53."
    assert task.check_answer(task.test[0], "25 + 4 = 29\n29 + 7 = 36\nAnswer: 53\n") is False
    assert task.check_answer(task.test[0], "7 * 4 = 28\n28 + 25 = 53\nAnswer: 53\n")
    assert not task.check_step(task.test[0], [], "7 * 4 = 29").ok
    # the generated train split skips the file's problems; before the overlap it is unchanged
    assert overlap.key not in {p.key for p in task.train} and len(task.train) == 200
    assert task.train[:5] == generated.train[:5]
    # a train file: solvable problems with reference solutions
    train_path = write_lines(tmp_path / "train.jsonl", [lines[0]])
    with_train = make_task("countdown", num_numbers=3, train_file=str(train_path), test_size=5)
    (problem,) = with_train.train
    assert with_train.check_answer(
        problem, with_train.solution_text(with_train.reference_solution(problem))
    )
    assert problem.key not in {p.key for p in with_train.test}
    # both files: a problem in the test file is never trained on
    both_train = write_lines(
        tmp_path / "both.jsonl", [lines[0], json.dumps({"numbers": [3, 5, 9], "target": 24})]
    )
    both = make_task("countdown", num_numbers=3, train_file=str(both_train), test_file=str(path))
    assert [(p.numbers, p.target) for p in both.train] == [((3, 5, 9), 24)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[1, 2]", "test.jsonl:2: a line must be a JSON object"),
        ('{"numbers": [1, 2]}', "test.jsonl:2: missing field 'target'"),
        ('{"target": 5}', "test.jsonl:2: missing field 'numbers'"),
        ('{"numbers": [1, 2.5], "target": 5}', "test.jsonl:2: field 'numbers' must be a list"),
        ('{"numbers": [0, 3], "target": 5}', "test.jsonl:2: field 'numbers' must be a list"),
        ('{"numbers": [7], "target": 5}', "test.jsonl:2: field 'numbers' must be a list"),
        ('{"numbers": [1, 2], "target": "5"}', "test.jsonl:2: field 'target' must be a positive"),
        ('{"numbers": [1, 2], "target": true}', "test.jsonl:2: field 'target' must be a positive"),
        ("{nope", "test.jsonl:2: not valid JSON"),
    ],
)
def test_countdown_file_errors_name_the_line_and_field(tmp_path, line, expected):
    path = write_lines(tmp_path / "test.jsonl", ['{"numbers": [3, 4], "target": 12}', line])
    with pytest.raises(ValueError, match=re.escape(expected)):
        make_task("countdown", test_file=str(path))


def test_a_train_file_problem_needs_a_solution(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", ['{"numbers": [2, 3], "target": 97}'])
    with pytest.raises(ValueError, match="train.jsonl:1: target 97 cannot be made from"):
        make_task("countdown", train_file=str(path))


def test_arithmetic_drills_are_true_steps_of_fresh_problems(tmp_path):
    """Each drill is a question line, then DRILL_LINES true arithmetic steps of problems drawn
    afresh (none of the excluded ones), reproducible from the stream; a task without arithmetic
    steps is refused in one line."""
    task = CountdownTask(num_numbers=4, number_range=(1, 50), seed=0, train_size=50, test_size=10)
    own = {problem.key for problem in (*task.train, *task.test)}
    drills = arithmetic_drills(task, 20, np.random.default_rng(3), own)
    assert drills == arithmetic_drills(task, 20, np.random.default_rng(3), own)
    assert len(drills) == 20 and len(set(drills)) == 20
    for drill in drills:
        question, *steps = drill.splitlines()
        assert question == "Q: Arithmetic." and len(steps) == DRILL_LINES
        assert all(parse_equation(step).is_true() for step in steps)
    game24 = arithmetic_drills(
        Game24Task(seed=0, train_size=20, test_size=5), 3, np.random.default_rng(0)
    )
    assert all(len(drill.splitlines()) == DRILL_LINES + 1 for drill in game24)
    path = tmp_path / "problems.jsonl"
    path.write_text('{"question": "Tom has 3 apples.", "answer": "3"}\n')
    with pytest.raises(UserError, match="policy.drills"):
        arithmetic_drills(JsonlTask(path=str(path)), 1, np.random.default_rng(0))
