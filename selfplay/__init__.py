"""Self-play training: policy-value networks, batched evaluators, the replay buffer, the learner,
self-play workers and the arena. Plain classes, wrapped with ``ray.remote`` only where a run
launches them (so GPU measurements use them in one process without Ray).

Import submodules directly (``from selfplay.learner import Learner``): this package imports
nothing itself, so that torch-free parts load without torch.
"""
