"""The one batched search core: tree, selection rules, search loop, game expander, bots."""
