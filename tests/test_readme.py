"""The README's examples say what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

from search.analysis import analyze

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_the_analyze_example_shows_the_engines_real_answer():
    # The example is `echo '<request>' | ponder analyze` followed by `# <answer>`.
    match = re.search(r"echo '(\{.*?\})' \\\n\s*\| \.venv/bin/ponder analyze\n# (\{.*\})\n", README)
    assert match, "the README's analyze example is missing or changed shape"
    request, shown = json.loads(match.group(1)), json.loads(match.group(2))
    assert analyze(request) == shown  # the search is seeded: the same request, the same answer
