"""The train x test compute fit, domain-free: strength against train and test compute, the
iso-strength frontier, the exchange rate and the compute for perfect play, each with its interval.

Input: one :class:`Row` per rated agent (a trained snapshot at a test budget) and its strength,
with the strength's bootstrap samples (B, rows). Games give Elo (experiment.ratings), reasoning
gives accuracy; nothing here knows which. Every fitted number is computed once on the strengths
and once on each bootstrap sample, and its interval is the bias-corrected percentile interval of
the samples' values (``experiment.stats.bias_corrected_interval``): the interval carries the
games' noise through the whole chain, games -> ratings -> curves -> frontier -> slope. Bias
corrected, because the changepoint fits are median-biased (a changepoint chosen among many fits
some of the noise, steepening the incline) and the resamples repeat the bias on top of it: plain
percentile intervals of the slope then miss the truth on one side (tests/test_tradeoff_fit.py,
the coverage through the real chain).

The chain, as boardlaw fits it (REFERENCES.md, "Scaling with board games"):

- strength against log10 train compute, one curve per test budget, and against log10 test
  compute, one curve per snapshot: the changepoint model ``floor`` below ``x_low``, ``ceiling``
  above ``x_high``, a straight incline between (boardlaw's ``min(0, max(incline, plateau))``;
  the ceiling is perfect play where it is known, else fitted). Its slope is strength per 10x of
  compute, and x log10(2) per doubling.
- iso-strength frontier: for each level, the test compute at which each snapshot's curve first
  reaches it (interpolated in log10 test compute), the snapshots that no other beats on both
  train and test compute; the exchange rate is the slope ``a`` of the least squares
  ``log10(test) = a log10(train) + b level + c`` over those points (10x train compute saves
  10^-a x test compute).
- perfect play (where a perfect player anchors the scale): the train compute at which a test
  budget's curve comes within ``margin`` (50 Elo) of it; +inf where it does not within the
  compute trained.

A fit with too few points returns NaN values and says so in its ``note``; nothing raises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from experiment.config import PositiveInt
from experiment.ratings import PERFECT_PLAY_ELO
from experiment.stats import bias_corrected_interval

GRID = 32  # changepoints tried per axis; each fit picks the least squares among the grid's pairs
LOG10_2 = math.log10(2.0)


@dataclass(frozen=True)
class Row:
    """One rated agent: a snapshot (``run``, ``snapshot``) of ``train_compute`` FLOPs played at
    test budget ``budget`` (simulations, samples) costing ``test_compute`` FLOPs per move or
    problem. ``label`` is its name (the agent spec)."""

    label: str
    run: str
    snapshot: str
    train_compute: float
    budget: float
    test_compute: float


@dataclass(frozen=True)
class FitConfig:
    """``perfect``: the strength of perfect play on this scale (e.g. 0 when the ratings are
    anchored at a solver), None when unknown; ``margin``: how close counts as perfect play
    (Jones: 50 Elo); ``levels``: iso-strength levels of the frontier."""

    perfect: float | None = None
    margin: float = PERFECT_PLAY_ELO
    levels: PositiveInt = 5


@dataclass(frozen=True)
class Estimate:
    """A fitted number with its 95% interval; NaN where the fit could not be made."""

    value: float
    low: float
    high: float

    def to_json(self) -> dict[str, float | str | None]:
        return {key: json_number(getattr(self, key)) for key in ("value", "low", "high")}


def json_number(value: float) -> float | str | None:
    """Standard JSON for a number: NaN is null, infinities the strings "inf" and "-inf"."""
    if math.isnan(value):
        return None
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def estimate(values: np.ndarray) -> Estimate:
    """``values`` (1 + B,): the point estimate first, then one value per bootstrap sample."""
    low, high = bias_corrected_interval(float(values[0]), values[1:])
    return Estimate(float(values[0]), low, high)


@dataclass(frozen=True)
class Curve:
    """A changepoint fit of strength against log10 compute for one group (a test budget or a
    snapshot): ``points`` used, and ``note`` when the fit could not be made."""

    group: str
    points: int
    slope_per_10x: Estimate
    slope_per_doubling: Estimate
    floor: Estimate
    ceiling: Estimate
    x_low: Estimate  # log10 compute where the incline starts
    x_high: Estimate  # and where it ends
    note: str = ""

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The point estimate's strength at log10 compute ``x``."""
        width = self.x_high.value - self.x_low.value
        return _changepoint(x, self.floor.value, self.slope_per_10x.value, self.x_low.value, width)

    def to_json(self) -> dict:
        fields = ("slope_per_10x", "slope_per_doubling", "floor", "ceiling", "x_low", "x_high")
        data: dict = {"points": self.points, **{k: getattr(self, k).to_json() for k in fields}}
        return {**data, "note": self.note} if self.note else data


@dataclass(frozen=True)
class Frontier:
    """The iso-strength frontier: ``points`` (level, log10 train, log10 test) of the point
    estimate, and the fit ``log10 test = exchange_slope log10 train + level_slope level + c``."""

    levels: tuple[float, ...]
    points: tuple[tuple[float, float, float], ...]
    exchange_slope: Estimate
    test_saved_per_10x_train: Estimate  # 10^-exchange_slope
    level_slope: Estimate  # log10 test compute per unit of strength at fixed train compute
    intercept: Estimate
    note: str = ""

    def to_json(self) -> dict:
        data = {
            "levels": list(self.levels),
            "points": [
                {"level": p[0], "log10_train": p[1], "log10_test": p[2]} for p in self.points
            ],
            "exchange_slope": self.exchange_slope.to_json(),
            "test_saved_per_10x_train": self.test_saved_per_10x_train.to_json(),
            "level_slope": self.level_slope.to_json(),
            "intercept": self.intercept.to_json(),
        }  # fmt: skip
        return {**data, "note": self.note} if self.note else data


@dataclass(frozen=True)
class TradeoffFit:
    """Everything :func:`fit_tradeoff` fits; ``to_json`` is ``fit.json``."""

    train_curves: tuple[Curve, ...]  # one per test budget
    test_curves: tuple[Curve, ...]  # one per snapshot
    train_slope_per_10x: Estimate  # the mean over the test budgets' curves that could be fitted
    train_slope_per_doubling: Estimate
    test_slope_per_10x: Estimate  # the mean over the curves of snapshots with train compute
    test_slope_per_doubling: Estimate
    frontier: Frontier
    perfect_train_compute: dict[str, Estimate] = field(default_factory=dict)  # budget -> FLOPs
    config: FitConfig = field(default_factory=FitConfig)
    bootstrap: int = 0

    def to_json(self) -> dict:
        data: dict = {
            "bootstrap": self.bootstrap,
            "train": {
                "slope_per_10x": self.train_slope_per_10x.to_json(),
                "slope_per_doubling": self.train_slope_per_doubling.to_json(),
                "per_budget": {c.group: c.to_json() for c in self.train_curves},
            },
            "test": {
                "slope_per_10x": self.test_slope_per_10x.to_json(),
                "slope_per_doubling": self.test_slope_per_doubling.to_json(),
                "per_snapshot": {c.group: c.to_json() for c in self.test_curves},
            },
            "frontier": self.frontier.to_json(),
        }
        if self.config.perfect is not None:
            data["perfect_play"] = {
                "strength": self.config.perfect,
                "margin": self.config.margin,
                "train_compute_per_budget": {
                    budget: value.to_json() for budget, value in self.perfect_train_compute.items()
                },
            }
        return data


def fit_tradeoff(
    rows: Sequence[Row], strength: np.ndarray, samples: np.ndarray, config: FitConfig = FitConfig()
) -> TradeoffFit:
    """Fit the chain of the module docstring to ``strength`` (R,) of ``rows`` and its bootstrap
    ``samples`` (B, R)."""
    values = np.concatenate(
        [
            np.asarray(strength, np.float64)[None],
            np.asarray(samples, np.float64).reshape(len(samples), len(rows)),
        ]
    )  # (S, R): the estimate, then the samples
    with np.errstate(divide="ignore"):
        train = np.log10(np.array([r.train_compute for r in rows], np.float64).reshape(-1))
        test = np.log10(np.array([r.test_compute for r in rows], np.float64).reshape(-1))
    ceiling = config.perfect
    train_curves, train_slopes, perfect = [], [], {}
    for budget in sorted({r.budget for r in rows}):
        members = np.array([r.budget == budget for r in rows])
        name = f"{budget:g}"
        curve, params = _fit_curve(name, train[members], values[:, members], ceiling)
        train_curves.append(curve)
        train_slopes.append(params[:, 1])
        if ceiling is not None:
            perfect[name] = _perfect_compute(params, ceiling - config.margin, train[members])
    snapshots = sorted(
        {(r.run, r.snapshot) for r in rows}, key=lambda k: (k[0], _train_of(rows, k))
    )
    test_curves, test_params, ranges = [], [], []
    for run, snapshot in snapshots:
        members = np.array([(r.run, r.snapshot) == (run, snapshot) for r in rows])
        curve, params = _fit_curve(f"{run}/{snapshot}", test[members], values[:, members], ceiling)
        test_curves.append(curve)
        test_params.append(params)
        finite = test[members][np.isfinite(test[members])]
        ranges.append((finite.min(), finite.max()) if len(finite) else (np.nan, np.nan))
    snapshot_train = np.array([_train_of(rows, key) for key in snapshots], np.float64)
    frontier = fit_frontier(
        snapshot_train, np.stack(test_params, 1) if test_params else np.zeros((len(values), 0, 4)),
        np.array(ranges).reshape(-1, 2), values[0], config.levels,
    )  # fmt: skip
    # Step 0 (no train compute) is left out of the test summary as it is of every log axis.
    trained = [p[:, 1] for p, t in zip(test_params, snapshot_train, strict=True) if t > 0]
    train_mean, test_mean = _mean_of_fitted(train_slopes), _mean_of_fitted(trained)
    return TradeoffFit(
        train_curves=tuple(train_curves),
        test_curves=tuple(test_curves),
        train_slope_per_10x=estimate(train_mean),
        train_slope_per_doubling=estimate(train_mean * LOG10_2),
        test_slope_per_10x=estimate(test_mean),
        test_slope_per_doubling=estimate(test_mean * LOG10_2),
        frontier=frontier,
        perfect_train_compute={name: estimate(v) for name, v in perfect.items()},
        config=config,
        bootstrap=len(values) - 1,
    )


def _mean_of_fitted(slopes: list[np.ndarray]) -> np.ndarray:
    """(S,) the mean of the slopes (each (S,)) whose point estimate exists; NaN with none."""
    fitted = [slope for slope in slopes if np.isfinite(slope[0])]
    return np.mean(fitted, axis=0) if fitted else np.full(len(slopes[0]) if slopes else 1, np.nan)


def _train_of(rows: Sequence[Row], key: tuple[str, str]) -> float:
    return next(r.train_compute for r in rows if (r.run, r.snapshot) == key)


# --- the changepoint curve ----------------------------------------------------------------------


def _changepoint(
    x: np.ndarray, floor: float, slope: float, x_low: float, width: float
) -> np.ndarray:
    """``floor`` up to ``x_low``, then ``slope`` per unit of x for ``width`` (inf: no ceiling
    within reach), then flat; x = -inf (no compute) is on the floor."""
    return floor + slope * np.clip(np.asarray(x, np.float64) - x_low, 0.0, width)


def _fit_curve(
    group: str, x: np.ndarray, values: np.ndarray, ceiling: float | None
) -> tuple[Curve, np.ndarray]:
    """The changepoint fit of ``values`` (S, n) against ``x`` (n,) (log10 compute; -inf for none,
    which the model puts on the floor): the curve and its parameters (S, 4) per sample, floor,
    slope (per unit of x), x_low, width. Points whose estimate is not finite are left out; a
    sample with a non-finite value among the rest gets NaN."""
    keep = np.isfinite(values[0]) & ~np.isnan(x)
    x, values = x[keep], values[:, keep]
    positive = np.unique(x[np.isfinite(x)])
    params = np.full((len(values), 4), np.nan)
    if len(positive) < 3:
        note = f"too few points: {len(positive)} compute values with a finite strength, needs 3"
        return _curve(group, len(x), params, note), params
    params = _grid_fit(x, values, positive, ceiling)
    note = "" if np.isfinite(params[0, 1]) else "no changepoint fit: the points fix no incline"
    return _curve(group, len(x), params, note), params


def _curve(group: str, points: int, params: np.ndarray, note: str) -> Curve:
    floor, slope, x_low, width = params.T
    with np.errstate(invalid="ignore"):
        top = np.where(np.isinf(width), np.inf, floor + slope * width)
    return Curve(
        group, points, estimate(slope), estimate(slope * LOG10_2), estimate(floor),
        estimate(top), estimate(x_low), estimate(x_low + width), note=note,
    )  # fmt: skip


def _grid_fit(
    x: np.ndarray, values: np.ndarray, positive: np.ndarray, ceiling: float | None
) -> np.ndarray:
    """Least squares over a grid of changepoints, each sample's best: a floor, an incline from
    ``x_low`` and either a ceiling reached at ``x_high`` within the points (two changepoints) or
    no ceiling within them (one). For fixed changepoints the model is linear in its levels, so
    every sample's sums of squares for every grid point are array products. Every incline spans
    at least two distinct points. Returns (S, 4): floor, slope, x_low, width (inf: no ceiling
    reached)."""
    span = positive[-1] - positive[0]
    lows = np.linspace(positive[0] - span, positive[-2], 4 * GRID)
    # One changepoint: y = f + s max(0, x - x_low).
    hinge = np.clip(x[None] - lows[:, None], 0.0, None)  # (G1, n)
    hinge = np.where(np.isneginf(x)[None], 0.0, hinge)
    one = _least_squares(values, np.ones_like(hinge), hinge, None)
    one_params = np.stack([one[0], one[1], np.broadcast_to(lows, one[0].shape),
                           np.full(one[0].shape, np.inf)], -1)  # fmt: skip
    # Two: y = f (1 - h) + c h, h = clip((x - x_low) / (x_high - x_low), 0, 1).
    grid = np.linspace(positive[0] - span, positive[-1], 2 * GRID)
    low, high = (axis.ravel() for axis in np.meshgrid(grid, grid, indexing="ij"))
    spanned = ((positive[:, None] >= low) & (positive[:, None] <= high)).sum(0)
    chosen = (low < high) & (spanned >= 2)
    low, high = low[chosen], high[chosen]
    share = np.clip((x[None] - low[:, None]) / (high - low)[:, None], 0.0, 1.0)  # (G2, n)
    share = np.where(np.isneginf(x)[None], 0.0, share)
    two = _least_squares(values, 1.0 - share, share, ceiling)
    width = np.broadcast_to(high - low, two[0].shape)
    two_params = np.stack([two[0], (two[1] - two[0]) / width, np.broadcast_to(low, width.shape),
                           width], -1)  # fmt: skip
    error = np.concatenate([one[2], two[2]], 1)  # (S, G1 + G2)
    params = np.concatenate([one_params, two_params], 1)  # (S, G1 + G2, 4)
    best = error.argmin(axis=1)
    result = params[np.arange(len(values)), best]
    bad = ~np.isfinite(values).all(axis=1) | ~np.isfinite(error[np.arange(len(values)), best])
    result[bad] = np.nan
    return result


def _least_squares(
    values: np.ndarray, first: np.ndarray, second: np.ndarray, second_fixed: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``values`` (S, n) ~ p first + q second for each of G designs ``first``, ``second`` (G, n):
    (p, q, sum of squares), each (S, G); q held at ``second_fixed`` when given. Computed from
    sufficient statistics, never an (S, G, n) array; a singular design has an infinite sum."""
    y = np.where(np.isfinite(values), values, 0.0)
    a, b, d = (first**2).sum(1), (first * second).sum(1), (second**2).sum(1)  # (G,)
    u, v, squares = y @ first.T, y @ second.T, (y**2).sum(1)[:, None]  # (S, G)
    with np.errstate(invalid="ignore", divide="ignore"):
        if second_fixed is not None:
            a = np.where(a > 1e-12, a, np.nan)
            p = (u - second_fixed * b) / a
            q = np.full_like(p, second_fixed)
            error = (
                squares
                - 2 * second_fixed * v
                + second_fixed**2 * d
                - (u - second_fixed * b) ** 2 / a
            )
        else:
            determinant = a * d - b * b
            determinant = np.where(
                np.abs(determinant) > 1e-9 * np.maximum(a * d, 1e-300), determinant, np.nan
            )
            p, q = (d * u - b * v) / determinant, (a * v - b * u) / determinant
            error = squares - (d * u**2 - 2 * b * u * v + a * v**2) / determinant
    return p, q, np.where(np.isnan(error), np.inf, error)


def _perfect_compute(params: np.ndarray, target: float, x: np.ndarray) -> np.ndarray:
    """Train compute (FLOPs, S) where each sample's curve reaches ``target``: +inf where it does
    not within the compute trained (the largest finite ``x``), NaN where there is no curve."""
    floor, slope, x_low, width = params.T
    with np.errstate(invalid="ignore", divide="ignore"):
        where = np.where(floor >= target, -np.inf, x_low + (target - floor) / slope)
        reached = (where <= x_low + width) & (where <= np.max(x[np.isfinite(x)], initial=-np.inf))
        reached &= (floor >= target) | (slope > 0)
    result = np.where(reached, 10.0**where, np.inf)
    return np.where(np.isnan(floor), np.nan, result)


# --- the iso-strength frontier ------------------------------------------------------------------


def fit_frontier(
    train: np.ndarray, curves: np.ndarray, ranges: np.ndarray, strength: np.ndarray, levels: int
) -> Frontier:
    """The frontier and exchange rate of the module docstring. ``train`` (P,) the snapshots'
    train compute (FLOPs), ``curves`` (S, P, 4) their fitted test-compute curves per sample
    (:func:`_fit_curve`), ``ranges`` (P, 2) the log10 test compute each played, ``strength`` (R,)
    the estimate's strengths. The levels: ``levels`` evenly spaced between the 25th and 75th
    percentiles of the finite strengths, kept where the estimate has two frontier points (every
    sample uses the same levels). A snapshot reaches a level where its fitted curve does within
    the budgets it played: crossings read off the fitted curves, not the noisy points, so that
    noise near the ends of the budget range does not select which snapshots count."""
    nothing = estimate(np.full(len(curves), np.nan))
    finite = strength[np.isfinite(strength)]
    usable = train > 0
    if usable.sum() < 2 or len(np.unique(train[usable])) < 2 or len(finite) < 3:
        note = "too few points: needs snapshots of at least two train computes with fitted curves"
        return Frontier((), (), nothing, nothing, nothing, nothing, note)
    log_train = np.log10(train[usable])
    curves, ranges = curves[:, usable], ranges[usable]
    quartile_low, quartile_high = np.percentile(finite, [25, 75])
    candidates = np.linspace(quartile_low, quartile_high, levels)
    crossings = _undominated(_crossings(curves, ranges, candidates), log_train)  # (S, L, P)
    kept = np.isfinite(crossings[0]).sum(1) >= 2  # levels with two frontier points
    candidates, crossings = candidates[kept], crossings[:, kept]
    if not len(candidates):
        note = "no strength level is reached by two snapshots within their budgets"
        return Frontier((), (), nothing, nothing, nothing, nothing, note)
    coefficients = _frontier_regression(crossings, log_train, candidates)  # (S, 3)
    points = tuple(
        (float(candidates[l]), float(log_train[p]), float(crossings[0, l, p]))
        for l in range(len(candidates)) for p in range(len(log_train))
        if np.isfinite(crossings[0, l, p])
    )  # fmt: skip
    slope = coefficients[:, 0]
    note = "" if np.isfinite(slope[0]) else "the frontier points do not fix a slope"
    return Frontier(
        tuple(float(level) for level in candidates), points, estimate(slope),
        estimate(10.0 ** -slope), estimate(coefficients[:, 1]), estimate(coefficients[:, 2]), note,
    )  # fmt: skip


def _crossings(curves: np.ndarray, ranges: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(S, L, P) log10 test compute at which each sample's fitted curve of each snapshot reaches
    each level; NaN where it is not reached on a rising stretch within the snapshot's ``ranges``."""
    floor, slope, x_low, width = (curves[..., k][:, None] for k in range(4))  # (S, 1, P)
    level = levels[None, :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        where = x_low + (level - floor) / slope
        reached = (slope > 0) & (level > floor) & (where <= x_low + width)
    inside = (where >= ranges[:, 0]) & (where <= ranges[:, 1])
    return np.where(reached & inside, where, np.nan)


def _undominated(crossings: np.ndarray, log_train: np.ndarray) -> np.ndarray:
    """NaN out the points another snapshot beats at the same level: no more train compute and
    less test compute (or the same test compute with less train compute)."""
    test = np.where(np.isnan(crossings), np.inf, crossings)  # (S, L, P)
    less_train = log_train[:, None] <= log_train[None, :]  # (P other, P)
    strictly = log_train[:, None] < log_train[None, :]
    other, this = test[..., :, None], test[..., None, :]  # (S, L, P, 1), (S, L, 1, P)
    beaten = ((less_train & (other < this)) | (strictly & (other <= this))) & np.isfinite(other)
    return np.where(beaten.any(axis=2), np.nan, crossings)


def _frontier_regression(
    crossings: np.ndarray, log_train: np.ndarray, levels: np.ndarray
) -> np.ndarray:
    """(S, 3) least squares ``log10 test = a log10 train + b level + c`` per sample over its
    frontier points; NaN where a sample's points do not fix the slope (fewer than three, or
    one train compute). With one level, b is 0."""
    count, size = crossings.shape[1:]
    design = np.stack(
        [np.broadcast_to(log_train, (count, size)), np.broadcast_to(levels[:, None], (count, size)),
         np.ones((count, size))], -1,
    ).reshape(-1, 3)  # fmt: skip
    if count == 1:
        design = design[:, [0, 2]]
    target = crossings.reshape(len(crossings), -1)
    weight = np.isfinite(target).astype(np.float64)
    target = np.where(weight > 0, target, 0.0)
    normal = np.einsum("sn,ni,nj->sij", weight, design, design)
    right = np.einsum("sn,ni,sn->si", weight, design, target)
    trains = [np.unique(log_train[np.isfinite(c).any(0)]).size for c in crossings]
    ok = (weight.sum(1) >= design.shape[1] + 1) & (np.array(trains) >= 2)
    ok &= np.abs(np.linalg.det(np.where(ok[:, None, None], normal, np.eye(design.shape[1])))) > 1e-9
    solution = np.full((len(target), design.shape[1]), np.nan)
    if ok.any():
        solution[ok] = np.linalg.solve(normal[ok], right[ok][..., None])[..., 0]
    if count == 1:
        solution = np.stack([solution[:, 0], np.zeros(len(solution)), solution[:, 1]], 1)
    return solution
