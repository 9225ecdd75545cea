"""What every run shares: typed config (YAML + dotted overrides), the run directory, checkpoints,
the TensorBoard writer and the compute ledger. A leaf package: it imports no other ponder package.
"""


class UserError(Exception):
    """A mistake in what the user supplied (a config key, a value, a path, a run name).

    The command line prints the message alone, ``ponder: error: <message>``, and exits with
    status 2; anything else that escapes a command is a bug and keeps its traceback. Messages
    name what was wrong, where, and what would be right.
    """


class RunFailure(Exception):
    """A run that stopped because a part it needs failed (a learner or replay process died).

    The command line prints ``ponder: error: <message>`` and exits with status 1; the message
    names the cause and what was saved."""
