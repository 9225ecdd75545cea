"""Where every random stream of a run gets its seed: one derivation from the run's ``seed:``.

A run draws from several independent streams, one per role (the initial net, each self-play
worker, replay sampling, each arena round; a reasoning run's training data, verifier batches,
checked solutions, result intervals and best-of-N subsets). Each stream's seed comes from
``SeedSequence([run_seed, role key, len(indices), *indices])``, so streams of different roles
or indices never share state, the same run seed always gives the same streams, and adding a
role or an index never moves the others (a role's key is fixed below and never renumbered).
The learner draws nothing of its own: its batches are the replay stream's samples.
"""

from __future__ import annotations

import numpy as np

# Role -> the fixed integer that names it in the seed's entropy. Append new roles; never renumber.
ROLES = {
    "network": 1,  # the initial weights (checkpoint step 0): a torch.Generator seeded from it
    "worker": 2,  # indices (worker index, session): a resumed run plays new games
    "replay": 3,  # indices (session,): the replay actor's sampling of training batches
    "arena": 4,  # indices (learner step,): the openings and searches of one arena round
    # ponder reason's streams
    "policy_data": 5,  # the tiny GPT's generated training solutions
    "verifier_training": 6,  # the verifiers' batches and held-out splits
    "checker_solutions": 7,  # solutions labelled by the exact step checker
    "result_bootstrap": 8,  # the problems resampled for the results' intervals
    "subsets": 9,  # indices (best-of-N size,): the subsets of the evaluation pool
    "verifier_measure": 10,  # the policy's solutions the verifiers are measured on
    "expert_iteration": 11,  # indices (round,): that round's searches and fine-tuning batches
    "paired_bootstrap": 12,  # the problems resampled for paired differences' intervals
    "tree_search": 13,  # indices (seed number,): the evaluation's tree searches after the first
    "policy_drills": 14,  # the fresh problems whose arithmetic steps make the policy's drills
    "verifier_measure_bootstrap": 15,  # the problems resampled for the measurement's intervals
}


def stream_seed(run_seed: int, role: str, *indices: int) -> int:
    """The seed, in [0, 2**63), of the stream ``role`` (a key of :data:`ROLES`) with
    ``indices`` (non-negative ints) in the run seeded ``run_seed`` (non-negative)."""
    if role not in ROLES:
        raise ValueError(f"unknown random stream {role!r}; the roles are {', '.join(ROLES)}")
    # The count of indices goes in too: SeedSequence ignores trailing zeros, which would make
    # (role,) and (role, 0) one stream.
    entropy = [int(run_seed), ROLES[role], len(indices), *(int(index) for index in indices)]
    if any(value < 0 for value in entropy):
        raise ValueError(
            f"seed {run_seed} and stream indices {indices} must be non-negative integers"
        )
    state = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))  # 63 bits: fits torch's and Ray's signed int64 seeds
