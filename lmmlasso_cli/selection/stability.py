"""Stability selection (Meinshausen & Bühlmann 2010), the whole LMM-Lasso training per subsample.

Replicate i of a run of n_reps draws m = ceil(fraction·n) individuals without replacement with
the generator of ``SeedSequence(seed).spawn(n_reps)[i]`` (`folds.replicate_generators`), and
refits on them everything the paper refits (`folds.fit_training`): the phenotype transform, the
null model on K_mm (an O(m³) eigendecomposition), and the Lasso, either at a fixed μ (absolute,
not per sample) or at the μ selecting a fixed number K of SNPs. A replicate depends only on
(data, seed, i, parameters), never on the other replicates, the order they run in or the number
of workers, so shards of replicates combine into exactly the result of one run.

The selection frequency of SNP j is FREQ_j = #{replicates with w_j ≠ 0} / #replicates.

Error control (Meinshausen & Bühlmann 2010, Theorem 1): for a threshold π ∈ (0.5, 1] the
expected number V of falsely selected SNPs among {j : FREQ_j ≥ π} satisfies

    E[V] ≤ q² / ((2π − 1) · p),

with q the expected number of SNPs selected on one subsample (estimated by the mean over the
replicates; it is K in the fixed-K mode) and p the number of SNPs. The theorem assumes
subsamples of size n/2, noise SNPs selected exchangeably, and a selection procedure no worse
than random guessing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.selection.folds import (
    TrainingData,
    fit_training,
    replicate_generators,
    subsample_indices,
)
from lmmlasso_cli.settings import TrainingSettings

MODES = ("mu", "n_active")


@dataclass(frozen=True)
class SelectionMode:
    """How each subsample's Lasso is tuned: kind "mu" (fixed absolute μ) or "n_active"."""

    kind: str
    value: float

    def __post_init__(self):
        if self.kind not in MODES:
            raise InputError(f"unknown selection mode {self.kind!r}; use one of {MODES}")
        if not self.value > 0:
            raise InputError(f"`{self.kind}` must be positive, got {self.value}")

    def fit_kwargs(self) -> dict:
        if self.kind == "mu":
            return {"mu": float(self.value)}
        return {"n_active": int(self.value)}


@dataclass(frozen=True)
class StabilityPlan:
    """Everything that defines a run, besides the data: the replicates' seeds and the fits."""

    seed: int
    n_reps: int
    fraction: float
    mode: SelectionMode
    settings: TrainingSettings


@dataclass(frozen=True)
class ReplicateResult:
    """One subsample's fit. selected: sorted indices of the SNPs with w_j ≠ 0."""

    rep: int
    selected: np.ndarray
    mu: float  # the μ used (found by the search in the fixed-K mode)
    n_active: int
    log_delta: float  # of the null model refitted on the subsample
    converged: bool  # duality gap certified
    messages: tuple[str, ...]


@dataclass(frozen=True)
class StabilityRuns:
    """The replicates of a run or a shard, in increasing replicate order (n_run of them)."""

    n_snps: int
    reps: np.ndarray  # (n_run,) int64
    selected: np.ndarray  # (n_run, n_snps) bool
    mu: np.ndarray  # (n_run,)
    n_active: np.ndarray  # (n_run,) int64
    log_delta: np.ndarray  # (n_run,)
    converged: np.ndarray  # (n_run,) bool
    messages: tuple[str, ...] = ()

    @property
    def n_run(self) -> int:
        return len(self.reps)


@dataclass(frozen=True)
class StabilitySummary:
    """Selection frequencies and the Meinshausen–Bühlmann bound at one threshold."""

    frequencies: np.ndarray  # (n_snps,)
    order: np.ndarray  # (n_snps,) SNP indices by decreasing frequency (ties: SNP order)
    mean_selected: float  # q, the mean number of SNPs selected per replicate
    threshold: float  # π
    bound: float  # q² / ((2π − 1) p)
    stable: np.ndarray  # SNP indices with frequency ≥ π, by decreasing frequency


def check_reps(reps: range, n_reps: int) -> None:
    if n_reps < 1:
        raise InputError(f"`n_reps` must be at least 1, got {n_reps}")
    if not (0 <= reps.start < reps.stop <= n_reps):
        raise InputError(
            f"`reps` {reps.start}:{reps.stop} must be a non-empty range A:B with "
            f"0 <= A < B <= `n_reps` {n_reps}"
        )


def replicate_subsamples(
    n_samples: int, plan: StabilityPlan, reps: range
) -> list[tuple[int, np.ndarray]]:
    """(i, sorted subsample indices) for the replicates i in ``reps``."""
    check_reps(reps, plan.n_reps)
    rngs = replicate_generators(plan.seed, plan.n_reps, reps)
    return [
        (i, subsample_indices(n_samples, plan.fraction, rng))
        for i, rng in zip(reps, rngs, strict=True)
    ]


def run_replicate(
    data: TrainingData,
    indices: np.ndarray,
    mode: SelectionMode,
    settings: TrainingSettings,
    rep: int = 0,
) -> ReplicateResult:
    """Refit transform, null model and Lasso on the individuals ``indices``; report the SNPs
    with nonzero effects."""
    fit = fit_training(data, indices, settings, **mode.fit_kwargs())
    path = fit.lmm.path
    return ReplicateResult(
        rep=rep,
        selected=np.flatnonzero(path.coefs[0].toarray().ravel()).astype(np.int64),
        mu=float(path.mus[0]),
        n_active=int(path.n_active[0]),
        log_delta=float(fit.null.log_delta),
        converged=bool(path.converged[0]),
        messages=tuple(f"replicate {rep}: {m}" for m in fit.messages),
    )


def _replicate_task(data, mode, settings, item) -> ReplicateResult:
    rep, indices = item
    return run_replicate(data, indices, mode, settings, rep)


def run_stability(
    data: TrainingData,
    plan: StabilityPlan,
    reps: range | None = None,
    map_fn: Callable = map,
    progress: Callable[[int], object] | None = None,
) -> StabilityRuns:
    """Run replicates ``reps`` (default all) of ``plan``.

    ``map_fn(fn, items)`` runs the independent replicates (the builtin map, or a process pool's
    map) and must return results in order; ``progress(i)`` is called as replicate i is done.
    """
    reps = range(plan.n_reps) if reps is None else reps
    n_samples, n_snps = data.X.shape
    items = replicate_subsamples(n_samples, plan, reps)
    task = functools.partial(_replicate_task, data, plan.mode, plan.settings)
    results = []
    for result in map_fn(task, items):
        results.append(result)
        if progress is not None:
            progress(result.rep)
    selected = np.zeros((len(results), n_snps), dtype=bool)
    for r, result in enumerate(results):
        selected[r, result.selected] = True
    return StabilityRuns(
        n_snps=n_snps,
        reps=np.array([r.rep for r in results], dtype=np.int64),
        selected=selected,
        mu=np.array([r.mu for r in results]),
        n_active=np.array([r.n_active for r in results], dtype=np.int64),
        log_delta=np.array([r.log_delta for r in results]),
        converged=np.array([r.converged for r in results], dtype=bool),
        messages=tuple(m for r in results for m in r.messages),
    )


def combine_runs(parts: Sequence[StabilityRuns]) -> StabilityRuns:
    """Shards of one run (disjoint replicates, same SNPs) as one run, in replicate order."""
    if not parts:
        raise InputError("nothing to combine: give at least one shard")
    n_snps = {p.n_snps for p in parts}
    if len(n_snps) != 1:
        raise InputError(f"the shards hold different numbers of SNPs: {sorted(n_snps)}")
    reps = np.concatenate([p.reps for p in parts])
    if len(np.unique(reps)) != len(reps):
        raise InputError("the shards overlap: a replicate appears in more than one")
    order = np.argsort(reps, kind="stable")

    def stack(name):
        return np.concatenate([getattr(p, name) for p in parts])[order]

    return StabilityRuns(
        n_snps=n_snps.pop(),
        reps=reps[order],
        selected=stack("selected"),
        mu=stack("mu"),
        n_active=stack("n_active"),
        log_delta=stack("log_delta"),
        converged=stack("converged"),
        messages=tuple(m for p in parts for m in p.messages),
    )


def false_selection_bound(mean_selected: float, n_snps: int, threshold: float) -> float:
    """Meinshausen–Bühlmann: E[V] ≤ q² / ((2π − 1) p) for threshold π ∈ (0.5, 1]."""
    if not 0.5 < threshold <= 1.0:
        raise InputError(f"`threshold` must be in (0.5, 1] for the bound, got {threshold}")
    if n_snps < 1:
        raise InputError("the bound needs at least one SNP")
    return mean_selected**2 / ((2.0 * threshold - 1.0) * n_snps)


def summarize_stability(runs: StabilityRuns, threshold: float) -> StabilitySummary:
    """Frequencies (counts over replicates, divided once), their order and the bound."""
    if runs.n_run == 0:
        raise InputError("no replicate to summarize")
    counts = runs.selected.sum(axis=0)
    frequencies = counts / runs.n_run
    order = np.argsort(-counts, kind="stable")
    mean_selected = float(runs.selected.sum()) / runs.n_run
    bound = false_selection_bound(mean_selected, runs.n_snps, threshold)
    stable = order[frequencies[order] >= threshold]
    return StabilitySummary(frequencies, order, mean_selected, threshold, bound, stable)
