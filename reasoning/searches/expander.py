"""The reasoning side of the search core: a :class:`search.core.Expander` over reasoning steps.

A node is a text prefix (prompt + steps so far); its slots are K candidate next steps sampled
from the policy LM for all nodes of a call in ONE batched ``sample_steps`` call; its prior is
the policy's own distribution restricted to the sampled candidates (``exp(log p)`` normalised
over the distinct ones, repeats made invalid); its value is the verifier's score of the prefix,
for all new nodes in ONE batched call, aggregated along the path (``last``, ``min``,
``product``) and mapped from [0, 1] to [-1, 1]. A node is terminal when its step ends the
solution (an answer line, end of text), was cut by the token limit, or reaches ``max_steps``.
One agent acts throughout, so every discount is +1.

Duplicates are dropped: a child whose prefix equals that of a node already at its depth of its
tree (the same step text sampled twice under one parent, or two beams that reached the same
prefix) becomes a
*duplicate* node: terminal, valued -1, never scored by the verifier and never a candidate, so
that a beam keeps distinct prefixes only and a selection chooses among distinct solutions. (Its
sampled tokens were spent and stay counted.) Separate roots are separate trees: best-of-N's N
chains of one problem may repeat each other, as independent samples do.

Node states are int ids into a table this expander keeps (prefix, sampled candidates, children
made so far, cached evaluation): a node reached again (a later search re-rooted at a child, as
MCTS does step by step) costs no new samples or verifier calls.

``sample_on="create"`` samples a node's candidates when it is created (MCTS needs the priors
then); ``"expand"`` samples them when the node is first expanded and gives created nodes
uniform priors over their slots, for rules that never read priors (beam, best-of-N), so that
pruned nodes cost nothing. How many candidates a node gets depends on its depth: ``widths[d]``
(the last entry for deeper nodes), e.g. (N, M) for beam search, (1,) for a best-of-N chain.

Compute: the policy pays for the tokens it generates and the verifier for the tokens it reads
that its cached parent prefix did not contain (the step's tokens by the verifier's own
``count_tokens``, plus the prompt once per problem), as a server with prefix caching would;
both are counted per problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reasoning.lm.base import StepPolicy, StepSample
from reasoning.verifiers.base import Verifier, aggregate
from search.core import Evaluation, Streams


@dataclass(frozen=True)
class SearchSettings:
    """How steps are sampled and scored in every reasoning search."""

    max_steps: int = 8  # a solution is cut after this many steps
    max_step_tokens: int = 32
    temperature: float = 1.0
    aggregation: str = "last"  # path value from its step scores: last, min, product
    max_batch_rows: int = 1024  # prefixes per sample_steps call (bounds the KV cache's memory)


class _Node:
    __slots__ = (
        "prefix", "problem", "root", "depth", "tokens", "scores", "step", "terminal",
        "duplicate", "candidates", "children", "evaluation",
    )  # fmt: skip

    def __init__(
        self, prefix: str, problem: int, root: int, depth: int, tokens: int,
        scores: tuple[float, ...], step: StepSample | None, terminal: bool,
        duplicate: bool = False,
    ):  # fmt: skip
        self.prefix, self.problem, self.root, self.depth = prefix, problem, root, depth
        self.tokens, self.scores, self.step, self.terminal = tokens, scores, step, terminal
        self.duplicate = duplicate
        self.candidates: list[StepSample] | None = None
        self.children: dict[int, int] = {}
        self.evaluation: tuple[np.ndarray, np.ndarray, float] | None = None  # priors, valid, value


@dataclass(frozen=True)
class NodeView:
    """What a search result needs to know about a node."""

    prefix: str
    problem: int
    depth: int
    terminal: bool
    duplicate: bool  # its prefix was already in its tree: not a candidate (see module docstring)
    finished: bool  # the last step ended the solution (answer line or end of text)
    num_tokens: int  # policy tokens of the steps on the path from the root
    step_scores: tuple[float, ...]  # verifier score after each step; empty without a verifier
    score: float  # the path's aggregated verifier score in [0, 1]; NaN without a verifier
    children: tuple[int, ...]  # ids of the children made so far, by slot order


class ReasoningExpander:
    """Expander over reasoning steps; see the module docstring. ``verifier`` None gives every
    node value 0 (for searches that select without a verifier, such as majority vote)."""

    def __init__(
        self,
        policy: StepPolicy,
        verifier: Verifier | None,
        widths: Sequence[int],
        settings: SearchSettings = SearchSettings(),
        *,
        sample_on: Literal["create", "expand"] = "create",
    ):
        if not widths or min(widths) < 1:
            raise ValueError(f"widths must be positive candidate counts per depth, got {widths}")
        if sample_on not in ("create", "expand"):
            raise ValueError(f"sample_on must be 'create' or 'expand', got {sample_on!r}")
        self.policy, self.verifier, self.settings = policy, verifier, settings
        self.widths = tuple(int(width) for width in widths)
        self.num_slots = max(self.widths)
        self.sample_on = sample_on
        self._nodes: list[_Node] = []
        self._root_scores: dict[str, float] = {}
        # (root, depth, prefix) of every node made; the depth too, so that an empty step (end of
        # text at once) is not taken for a copy of its parent
        self._prefixes: set[tuple[int, int, str]] = set()
        self.policy_tokens: dict[int, int] = defaultdict(int)  # per problem
        self.verifier_tokens: dict[int, int] = defaultdict(int)

    # --- the table ---------------------------------------------------------------------------
    def add_roots(self, prompts: Sequence[str], problems: Sequence[int] | np.ndarray) -> np.ndarray:
        """New root nodes (ids (R,) int64) for ``prompts``; ``problems`` key their costs."""
        ids = []
        for prompt, problem in zip(prompts, problems, strict=True):
            root = len(self._nodes)
            ids.append(root)
            self._nodes.append(_Node(prompt, int(problem), root, 0, 0, (), None, False))
            self._prefixes.add((root, 0, prompt))
        return np.asarray(ids, np.int64)

    def node(self, node_id: int) -> NodeView:
        node = self._nodes[int(node_id)]
        finished = node.step is not None and node.step.finished
        children = tuple(node.children[slot] for slot in sorted(node.children))
        score = float("nan") if self.verifier is None else self._score_of(node)
        return NodeView(
            node.prefix, node.problem, node.depth, node.terminal, node.duplicate, finished,
            node.tokens, node.scores, score, children,
        )  # fmt: skip

    def child(self, node_id: int, slot: int, seed: int) -> int:
        """The id of ``node_id``'s child in ``slot``, made now (drawing from ``seed``) if no
        search made it yet."""
        node = self._nodes[int(node_id)]
        if int(slot) not in node.children:
            self.expand(
                np.array([node_id]), np.array([slot]), np.zeros(1, np.int64), Streams([seed])
            )
        return node.children[int(slot)]

    def width(self, depth: int) -> int:
        return self.widths[min(depth, len(self.widths) - 1)]

    def flops(self, problem: int) -> float:
        """Test FLOPs spent on ``problem`` so far: 2 x parameters per token for each model."""
        verifier_rate = self.verifier.flops_per_token if self.verifier is not None else 0.0
        return (
            self.policy.flops_per_token * self.policy_tokens[problem]
            + verifier_rate * self.verifier_tokens[problem]
        )

    def allocate_states(self, batch_size: int, num_nodes: int) -> np.ndarray:
        return np.full((batch_size, num_nodes), -1, np.int64)

    # --- the Expander protocol -----------------------------------------------------------------
    def evaluate(self, states: np.ndarray, searches: np.ndarray, streams: Streams) -> Evaluation:
        ids = [int(i) for i in states]
        self._score(ids)
        self._fill(ids, searches, streams)
        return self._evaluation(ids)

    def expand(
        self, states: np.ndarray, slots: np.ndarray, searches: np.ndarray, streams: Streams
    ) -> tuple[np.ndarray, Evaluation]:
        parents = [int(i) for i in states]
        lazy = [i for i, p in enumerate(parents) if self._nodes[p].candidates is None]
        if lazy:  # sample_on="expand": the parent's candidates are drawn on its first expansion
            self._sample([parents[i] for i in lazy], [int(searches[i]) for i in lazy], streams)
        children, new = [], []
        for parent_id, slot in zip(parents, slots, strict=True):
            parent = self._nodes[parent_id]
            if int(slot) not in parent.children:
                assert parent.candidates is not None  # sampled before any expansion
                step = parent.candidates[int(slot)]
                depth, prefix = parent.depth + 1, parent.prefix + step.text
                duplicate = (parent.root, depth, prefix) in self._prefixes
                self._prefixes.add((parent.root, depth, prefix))
                terminal = (
                    duplicate
                    or step.finished
                    or step.stop_reason == "length"
                    or depth >= self.settings.max_steps
                )
                parent.children[int(slot)] = len(self._nodes)
                new.append(len(self._nodes))
                self._nodes.append(
                    _Node(
                        prefix, parent.problem, parent.root, depth,
                        parent.tokens + step.num_tokens, parent.scores, step, terminal, duplicate,
                    )
                )  # fmt: skip
            children.append(parent.children[int(slot)])
        self._score(new)
        self._fill(children, searches, streams)
        return np.asarray(children, np.int64), self._evaluation(children)

    # --- sampling and scoring ------------------------------------------------------------------
    def _score(self, ids: Sequence[int]) -> None:
        """Verifier scores of new nodes in one batched call (roots: once per prompt)."""
        if self.verifier is None:
            return
        roots = [
            i
            for i in ids
            if self._nodes[i].depth == 0 and self._nodes[i].prefix not in self._root_scores
        ]
        prompts = list(dict.fromkeys(self._nodes[i].prefix for i in roots))
        steps = [
            i
            for i in ids
            if self._nodes[i].depth > 0
            and not self._nodes[i].duplicate
            and len(self._nodes[i].scores) < self._nodes[i].depth
        ]
        texts = prompts + [self._nodes[i].prefix for i in steps]
        if not texts:
            return
        scores = self.verifier.score_prefixes(texts)
        for prompt, score in zip(prompts, scores[: len(prompts)], strict=True):
            self._root_scores[prompt] = float(score)
        charged = set()
        for i in roots:
            node = self._nodes[i]
            if node.problem not in charged:  # the prompt is read once per problem
                charged.add(node.problem)
                self.verifier_tokens[node.problem] += self.verifier.count_tokens(node.prefix)
        for i, score in zip(steps, scores[len(prompts) :], strict=True):
            node = self._nodes[i]
            node.scores = node.scores + (float(score),)
            text = node.step.text if node.step is not None else ""
            self.verifier_tokens[node.problem] += max(self.verifier.count_tokens(text), 1)

    def _fill(self, ids: Sequence[int], searches: np.ndarray, streams: Streams) -> None:
        """Make sure every node has its evaluation (sampling its candidates first when
        ``sample_on="create"``)."""
        todo = [
            (i, int(s))
            for i, s in zip(ids, searches, strict=True)
            if self._nodes[i].evaluation is None
        ]
        todo = list({i: s for i, s in todo}.items())  # a node may appear twice in a call
        if self.sample_on == "create":
            sample = [
                (i, s)
                for i, s in todo
                if not self._nodes[i].terminal and self._nodes[i].candidates is None
            ]
            if sample:
                self._sample([i for i, _ in sample], [s for _, s in sample], streams)
        for i, _ in todo:
            self._nodes[i].evaluation = self._node_evaluation(self._nodes[i])

    def _sample(self, ids: Sequence[int], searches: Sequence[int], streams: Streams) -> None:
        """Candidates of nodes ``ids``: one sample_steps call per width (and per
        ``max_batch_rows``), each prefix drawing from its own search's stream."""
        by_width: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for i, s in zip(ids, searches, strict=True):
            by_width[self.width(self._nodes[i].depth)].append((i, s))
        limit = max(1, self.settings.max_batch_rows)
        for width, members in by_width.items():
            rows_per_call = max(1, limit // width)
            for start in range(0, len(members), rows_per_call):
                batch = members[start : start + rows_per_call]
                samples = self.policy.sample_steps(
                    [self._nodes[i].prefix for i, _ in batch],
                    num_samples=width,
                    max_tokens=self.settings.max_step_tokens,
                    temperature=self.settings.temperature,
                    rng=[streams.generators[s] for _, s in batch],
                )
                for (i, _), candidates in zip(batch, samples, strict=True):
                    node = self._nodes[i]
                    node.candidates = list(candidates)
                    self.policy_tokens[node.problem] += sum(c.num_tokens for c in candidates)

    def _node_evaluation(self, node: _Node) -> tuple[np.ndarray, np.ndarray, float]:
        priors = np.zeros(self.num_slots, np.float32)
        valid = np.zeros(self.num_slots, np.bool_)
        if node.terminal:
            pass
        elif node.candidates is None:  # drawn on first expansion: every slot, uniform prior
            width = self.width(node.depth)
            valid[:width] = True
            priors[:width] = 1.0 / width
        else:  # the distinct candidates, prior exp(log p) normalised over them
            logprobs = np.full(self.num_slots, -np.inf)
            seen: set[str] = set()
            for slot, candidate in enumerate(node.candidates):
                if candidate.text not in seen:
                    seen.add(candidate.text)
                    valid[slot] = True
                    logprobs[slot] = candidate.logprob
            weights = np.exp(logprobs[valid] - logprobs[valid].max())
            priors[valid] = weights / weights.sum()
        return priors, valid, 2.0 * self._score_of(node) - 1.0

    def _score_of(self, node: _Node) -> float:
        """The node's verifier score in [0, 1]: its path's step scores aggregated (the prompt's
        score at a root); 0.5 without a verifier, so that every value is 0; 0 for a duplicate."""
        if node.duplicate:
            return 0.0
        if self.verifier is None:
            return 0.5
        if not node.scores:
            return self._root_scores[node.prefix]
        return aggregate(self.settings.aggregation, node.scores)

    def _evaluation(self, ids: Sequence[int]) -> Evaluation:
        evaluations = [self._nodes[i].evaluation for i in ids]
        assert all(e is not None for e in evaluations)  # _fill ran first
        filled = [e for e in evaluations if e is not None]
        priors = (
            np.stack([e[0] for e in filled]) if ids else np.zeros((0, self.num_slots), np.float32)
        )
        valid = np.stack([e[1] for e in filled]) if ids else np.zeros((0, self.num_slots), np.bool_)
        return Evaluation(
            priors=priors,
            valid=valid,
            values=np.asarray([e[2] for e in filled], np.float32),
            terminal=np.asarray([self._nodes[i].terminal for i in ids], np.bool_),
            discounts=np.ones(len(ids), np.float32),  # one agent: no sign flip
            # Only a finished solution scored by an exact checker is a proven value: a learned
            # verifier's score is an estimate, and a step cut by a length limit is unfinished.
            exact=np.asarray([self._exact(self._nodes[i]) for i in ids], np.bool_),
        )

    def _exact(self, node: _Node) -> bool:
        finished = node.step is not None and node.step.finished
        return bool(finished and getattr(self.verifier, "exact", False))
