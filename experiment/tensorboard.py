"""A thin scalar writer over TensorBoard's ``SummaryWriter``, with the tag prefixes of DESIGN.md.

Tags are grouped by prefix so TensorBoard shows one section per concern: ``loss/``,
``selfplay/``, ``learner/``, ``arena/``, ``compute/``, ``system/``, ``tradeoff/`` (sweeps) and,
for reasoning runs, ``reason/``. A tag outside these is a typo more often than a new section, so
it is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from torch.utils.tensorboard import SummaryWriter

TAG_PREFIXES = (
    "loss/", "selfplay/", "learner/", "arena/", "compute/", "system/", "tradeoff/", "reason/",
)  # fmt: skip


class ScalarWriter:
    """Writes scalars to TensorBoard event files in ``log_dir`` (a run's ``tensorboard/``)."""

    def __init__(self, log_dir: str | Path, flush_seconds: float = 10.0):
        self.log_dir = Path(log_dir)
        self._writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=int(flush_seconds))

    def scalars(
        self, values: Mapping[str, float], step: int, walltime: float | None = None
    ) -> None:
        """Record every ``tag -> value`` at ``step`` (learner steps for training curves).

        Non-finite values are written as they are (TensorBoard shows NaN), so a diverging loss
        is visible rather than hidden."""
        for tag in values:
            check_tag(tag)
        for tag, value in values.items():
            self._writer.add_scalar(tag, float(value), global_step=step, walltime=walltime)

    def image(self, tag: str, path: str | Path, step: int = 0) -> None:
        """A PNG file (a plot, so that TensorBoard shows a run's or a report's figures)."""
        import matplotlib.image

        check_tag(tag)
        pixels = matplotlib.image.imread(str(path))  # (H, W, 3 or 4) floats in [0, 1]
        rgb = (pixels[..., :3] * 255).round().astype("uint8")
        self._writer.add_image(tag, rgb, global_step=step, dataformats="HWC")

    def text(self, tag: str, text: str, step: int = 0) -> None:
        """Text (a resolved config, shown as preformatted Markdown)."""
        check_tag(tag)
        block = "\n".join("    " + line for line in text.splitlines())
        self._writer.add_text(tag, block, global_step=step)

    def custom_scalars(self, layout: Mapping[str, Mapping[str, Sequence[str]]]) -> None:
        """A custom-scalars layout: ``{category: {chart title: [tag regexes]}}``, each chart
        one multiline plot of the scalars whose tags match (TensorBoard's Custom Scalars tab)."""
        self._writer.add_custom_scalars(
            {
                category: {title: ["Multiline", list(tags)] for title, tags in charts.items()}
                for category, charts in layout.items()
            }
        )

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> ScalarWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def check_tag(tag: str) -> None:
    """Raise ValueError unless ``tag`` is ``<known prefix><name>``, e.g. ``loss/policy``."""
    if not isinstance(tag, str) or not tag.startswith(TAG_PREFIXES) or tag.endswith("/"):
        raise ValueError(
            f"TensorBoard tag {tag!r} must start with one of {', '.join(TAG_PREFIXES)} and "
            "name a scalar after it, e.g. 'loss/policy' (DESIGN.md, Interface contracts)"
        )
