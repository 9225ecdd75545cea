"""The ``ponder reason`` recipe: a frozen dataclass tree loaded from YAML with dotted overrides
(``ponder reason configs/countdown.yaml evaluation.problems=50``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from experiment.config import Fraction, NonNegativeFloat, NonNegativeInt, PositiveInt
from reasoning.labels import LabelConfig
from reasoning.lm.model import TinyGPTConfig
from reasoning.lm.train import TrainingConfig
from reasoning.searches.expander import SearchSettings
from reasoning.searches.selection import BEST_OF_N
from reasoning.verifiers.base import AGGREGATIONS
from reasoning.verifiers.training import VerifierTrainingConfig
from search.rules import Gumbel, Puct, SelectionRule


@dataclass(frozen=True)
class RunSection:
    root: str = "runs"
    name: str = "countdown"


@dataclass(frozen=True)
class TaskSection:
    """A task by name (``reasoning.tasks.TASKS``) and its knobs (see ``task_knobs``).

    ``test_file`` / ``train_file``: Countdown problem files (JSON lines ``{"numbers": [..],
    "target": T}``, ``reasoning.tasks.countdown.load_countdown_file``) replacing the generated
    split. On an existing run a new test file re-runs only the evaluation, unless its problems
    overlap the generated train problems (which then change, and every phase is redone)."""

    name: str = "countdown"
    knobs: dict[str, Any] = field(default_factory=dict)
    test_file: str | None = None
    train_file: str | None = None

    def __post_init__(self) -> None:
        files = [name for name in ("test_file", "train_file") if getattr(self, name) is not None]
        if files and self.name != "countdown":
            raise ValueError(
                f"task.{files[0]} is a Countdown problem file, but task.name is {self.name!r}; "
                f"use the jsonl task (task.knobs.path) for other problems"
            )

    @property
    def all_knobs(self) -> dict[str, Any]:
        """The knobs the task is made with: ``knobs`` and the problem files (absolute paths,
        so that a worker in another directory reads the same files)."""
        files = {
            name: str(Path(path).resolve())
            for name, path in (("test_file", self.test_file), ("train_file", self.train_file))
            if path is not None
        }
        return {**self.knobs, **files}


@dataclass(frozen=True)
class PolicySection:
    """Train the tiny GPT on sampled solutions, or use ``spec`` (``tiny:DIR``, ``hf:DIR``,
    ``http://...``) as it is. ``error_rate``: mistakes per step in the training solutions.

    ``problems``: train on the first N train problems only (None: all); step labels are then
    made on the train problems after them, which the policy has not seen, like the test
    problems (a tiny policy memorises its training problems, and a verifier trained on its
    rollouts there would learn a distribution the search never meets)."""

    spec: str | None = None
    problems: int | None = None
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(
            model=TinyGPTConfig(block_size=128, num_layers=3, num_heads=4, embedding_dim=96)
        )
    )
    samples_per_problem: int = 2
    error_rate: float = 0.1
    # Arithmetic drill texts per solution text (reasoning.tasks.solutions.arithmetic_drills):
    # 0 none; 1.0 as many drills as solutions, each 8 arithmetic steps of fresh problems.
    drills: NonNegativeFloat = 0.0


@dataclass(frozen=True)
class MeasureSection:
    """The verifiers measured on held-out problems (``reasoning.verifiers.measure``, written to
    ``verifiers.json``): ``problems`` train problems after the label problems (0: none),
    ``samples`` policy solutions each. Not part of the verifiers' training: changing it re-runs
    only the measurement."""

    problems: NonNegativeInt = 0
    samples: PositiveInt = 16


@dataclass(frozen=True)
class VerifierSection:
    training: VerifierTrainingConfig = field(default_factory=VerifierTrainingConfig)
    orm_rollouts: bool = True  # the ORM also learns from the label completions (same rollouts)
    # the PRM too: each completion's own steps labelled by its outcome (one-sample MC labels)
    prm_rollouts: bool = False
    # generated solutions per train problem labelled by the exact step checker (as PRM800K's
    # human labels), added to both verifiers' Monte-Carlo examples; 0: Monte-Carlo labels only.
    # Every train problem, the policy's too: they cost no policy call, and the more distinct
    # problems a verifier sees, the less it can score by memorising them. On Countdown they
    # made large-N selection worse, since the generator's mistakes are not the policy's: see
    # docs/results/countdown.md.
    checker_solutions: int = 0
    checker_error_rate: float = 0.3  # mistakes per step in those solutions
    # a second PRM, prm_checker, on the exact step checker's labels of the policy's own label
    # solutions and rollouts (a step is right when valid and the goal still reachable); only
    # on tasks with a step checker
    checker_prm: bool = True
    measure: MeasureSection = field(default_factory=lambda: MeasureSection())


@dataclass(frozen=True)
class BeamSection:
    budgets: tuple[int, ...] = (4, 8, 16, 32, 64)  # N samples per level (num_beams = N / M)
    expansions: int = 4  # M
    selection: Literal["argmax", "weighted", "majority"] = "argmax"  # also DVTS's


@dataclass(frozen=True)
class MctsSection:
    """MCTS over steps: each rule in ``rules`` at each budget, with the rules' constants in
    their own subsections (defaults in :mod:`search.rules`); ``oracle_rules`` are run again
    with the exact checker as value when ``evaluation.oracle_searches`` is on."""

    rules: tuple[Literal["puct", "gumbel"], ...] = ("puct", "gumbel")
    oracle_rules: tuple[Literal["puct", "gumbel"], ...] = ("gumbel",)
    simulations: tuple[int, ...] = (2, 4, 8, 16, 32)  # per committed step
    candidates: int = 8  # K sampled next steps per node
    puct: Puct = field(default_factory=Puct)
    gumbel: Gumbel = field(default_factory=Gumbel)

    def rule(self, name: str) -> SelectionRule:
        rule: SelectionRule = getattr(self, name)
        return rule


@dataclass(frozen=True)
class EvaluationSection:
    problems: int | None = 100  # the first test problems; None: the whole test split
    search: SearchSettings = field(default_factory=lambda: SearchSettings(temperature=0.8))
    pool_size: int = 64  # samples per problem that best-of-n subsets are drawn from
    best_of_n: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    selections: tuple[str, ...] = tuple(BEST_OF_N)  # names in reasoning.searches.BEST_OF_N
    subset_trials: int = 400  # Lightman et al. 2023
    # the value of beam search, DVTS and MCTS
    tree_verifier: Literal["prm", "prm_checker", "orm"] = "prm"
    oracle_searches: bool = True  # also beam / MCTS (mcts.oracle_rules) valued by the checker
    dvts: bool = True  # also DVTS at the beam budgets: N / M independent subtrees of one beam
    beam: BeamSection = field(default_factory=BeamSection)
    mcts: MctsSection = field(default_factory=MctsSection)
    bootstrap: int = 1000  # resamples of problems for the intervals
    seed: int = 0
    # beam, DVTS and MCTS run with this many seeds, per-problem results averaged over them
    tree_seeds: int = 1


@dataclass(frozen=True)
class ExpertIterationSection:
    """Search train problems, keep verified solutions, fine-tune the policy on them, R times
    (``reasoning.pipeline.expert_iteration``)."""

    rounds: NonNegativeInt = 0  # 0: no expert iteration
    problems: PositiveInt = 200  # train problems searched per round
    # the search that makes the data, and (beam, DVTS) is evaluated per round beside greedy
    search: Literal["best_of_n", "beam", "dvts"] = "beam"
    budget: PositiveInt = 16  # samples (per level for beam and DVTS; in all for best-of-N)
    verifier: Literal["oracle", "prm", "prm_checker", "orm"] = "oracle"  # whose verdict keeps one
    min_score: Fraction = 0.5  # a learned verifier's aggregated score to keep a solution
    keep_per_problem: PositiveInt = 4  # distinct verified solutions kept per problem
    relabel: bool = False  # new step labels from the new policy, and the verifiers retrained
    # the fine-tuning; it continues the policy's weights, so training.model is not read
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(steps=300, learning_rate=5e-4, warmup_steps=20)
    )


@dataclass(frozen=True)
class ReasonConfig:
    run: RunSection = field(default_factory=RunSection)
    task: TaskSection = field(default_factory=TaskSection)
    policy: PolicySection = field(default_factory=PolicySection)
    labels: LabelConfig = field(default_factory=LabelConfig)
    verifier: VerifierSection = field(default_factory=VerifierSection)
    evaluation: EvaluationSection = field(default_factory=EvaluationSection)
    expert_iteration: ExpertIterationSection = field(default_factory=ExpertIterationSection)
    seed: int = 0
    threads: int = 1  # torch threads of this process (one is fastest on a shared small machine)
    progress: bool = True  # progress bars

    def __post_init__(self) -> None:
        unknown = sorted(set(self.evaluation.selections) - set(BEST_OF_N))
        if unknown:
            raise ValueError(
                f"evaluation.selections: unknown {unknown}; choose from {list(BEST_OF_N)}"
            )
        aggregation = self.evaluation.search.aggregation
        if aggregation not in AGGREGATIONS:
            raise ValueError(
                f"evaluation.search.aggregation: unknown {aggregation!r}; choose from "
                f"{sorted(AGGREGATIONS)}"
            )
        too_big = [n for n in self.evaluation.best_of_n if not 1 <= n <= self.evaluation.pool_size]
        if too_big:
            raise ValueError(
                f"evaluation.best_of_n sizes {too_big} must be in [1, pool_size = "
                f"{self.evaluation.pool_size}]"
            )
        uses_checker_prm = [
            key
            for key, name in (
                ("evaluation.tree_verifier", self.evaluation.tree_verifier),
                ("expert_iteration.verifier", self.expert_iteration.verifier),
            )
            if name == "prm_checker"
        ]
        if uses_checker_prm and not self.verifier.checker_prm:
            raise ValueError(
                f"{uses_checker_prm[0]} is prm_checker, but verifier.checker_prm is off; turn it "
                f"on or choose prm, orm or oracle"
            )
        if self.evaluation.tree_seeds < 1:
            raise ValueError(
                f"evaluation.tree_seeds must be >= 1, got {self.evaluation.tree_seeds}"
            )
        beam = self.evaluation.beam
        uneven = [n for n in beam.budgets if n < beam.expansions or n % beam.expansions]
        if uneven:
            raise ValueError(
                f"evaluation.beam.budgets {uneven} must be multiples of beam.expansions "
                f"({beam.expansions}), so that N / M beams are kept"
            )
