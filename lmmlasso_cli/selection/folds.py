"""Splits of individuals and the whole LMM-Lasso training on one split.

Model selection in LMM-Lasso (Rakitsch et al. 2013) resamples INDIVIDUALS, never rows of the
rotated data: a rotated row U_iᵀy mixes every individual, so splitting rotated rows would let the
held-out individuals leak into training. On each training set t everything that sees the
phenotype is refitted (`fit_training`):

1. the phenotype transform, fitted on the raw training values y_t and applied to y_t (and,
   by the caller, to held-out values);
2. the null model on K_tt = U_t diag(S_t) U_tᵀ (an O(n_t³) eigendecomposition), with the
   training covariates C_t;
3. the Lasso on the rotated training data, at one μ, at the μ selecting K SNPs, or on a path.

Standardized genotypes X (mean 0, sd 1 per SNP over all analysed individuals) and the kinship K
are taken as given: they involve no phenotype.

Randomness is explicit: `kfold_indices` and `subsample_indices` take a ``np.random.Generator``;
`replicate_generators` gives replicate i the generator of ``SeedSequence(seed).spawn(n)[i]``,
which depends only on (seed, i), so any slice of the replicates reproduces a full run.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.compact import as_genotypes
from lmmlasso_cli.errors import ConvergenceWarning, InputError
from lmmlasso_cli.lmmlasso import LmmLassoFit, LmmStep, fit_lmm_lasso
from lmmlasso_cli.nullmodel import NullModel, fit_null_model, restricted_eigen
from lmmlasso_cli.settings import TrainingSettings
from lmmlasso_cli.transforms import PhenoTransform, fit_transform


def kfold_indices(n_samples: int, n_folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Split 0..n_samples−1 at random into ``n_folds`` held-out sets of sizes differing by at
    most 1. Returns one sorted index array per fold; together they partition the individuals."""
    if int(n_folds) != n_folds or n_folds < 2:
        raise InputError(f"`n_folds` must be an integer of at least 2, got {n_folds}")
    if n_samples < 2 * n_folds:
        raise InputError(
            f"{n_samples} individuals cannot make {n_folds} folds of at least 2 held-out "
            f"individuals each; lower `n_folds`"
        )
    order = rng.permutation(n_samples)
    return [np.sort(part) for part in np.array_split(order, int(n_folds))]


def subsample_size(n_samples: int, fraction: float) -> int:
    """ceil(fraction · n_samples), the size of one subsample."""
    if not 0.0 < fraction <= 1.0:
        raise InputError(f"`fraction` must be in (0, 1], got {fraction}")
    return math.ceil(fraction * n_samples)


def subsample_indices(n_samples: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """ceil(fraction · n_samples) distinct individuals drawn without replacement, sorted."""
    size = subsample_size(n_samples, fraction)
    return np.sort(rng.choice(n_samples, size=size, replace=False))


def replicate_generators(seed: int, n_reps: int, reps: range) -> list[np.random.Generator]:
    """Generators of replicates ``reps`` (a slice of 0..n_reps−1): replicate i draws from
    ``SeedSequence(seed).spawn(n_reps)[i]``, whatever slice it is run in."""
    children = np.random.SeedSequence(seed).spawn(n_reps)
    return [np.random.default_rng(children[i]) for i in reps]


@dataclass(frozen=True)
class TrainingData:
    """What a split is cut from (n = all analysed individuals, p = SNPs, c = covariates).

    X: (n, p) standardized SNPs, `compact.CompactGenotypes` (or a float64 matrix).
    y_raw: (n,) phenotype on its original scale.
    covariates: (n, c) fixed effects, the intercept among them. K: the (n, n) kinship or a
    `nullmodel.LowRankKinship` (its (n, r) factor).
    """

    X: np.ndarray
    y_raw: np.ndarray
    covariates: np.ndarray
    K: object  # np.ndarray (n, n) or LowRankKinship


@dataclass(frozen=True)
class TrainingFit:
    """LMM-Lasso trained on the individuals ``train`` only.

    y: (n_t,) the training phenotype on the model scale; lmm arrays are indexed by μ first.
    messages: the warnings raised while fitting (null-model boundary, non-convergence).
    """

    train: np.ndarray
    transform: PhenoTransform
    y: np.ndarray
    null: NullModel
    lmm: LmmLassoFit
    messages: tuple[str, ...]


def take_rows(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """X[rows] of a 2-D array as a new Fortran-ordered float64 ndarray (also from a
    memory-mapped X): one gather along the contiguous axis of a Fortran X."""
    return np.asarray(np.take(X.T, rows, axis=1).T, dtype=np.float64)


def training_phenotype(data: TrainingData, train: np.ndarray) -> np.ndarray:
    """The raw phenotype of the individuals ``train`` (float64), which must not be constant."""
    y_raw = np.asarray(data.y_raw[np.asarray(train)], dtype=np.float64)
    if np.ptp(y_raw) == 0:
        raise InputError(
            f"the phenotype is constant over a training set of {len(y_raw)} individuals; "
            f"use fewer `n_folds` or a larger `fraction`"
        )
    return y_raw


def fit_training(
    data: TrainingData,
    train: np.ndarray,
    settings: TrainingSettings,
    *,
    mu: float | None = None,
    mus: np.ndarray | None = None,
    n_active: int | None = None,
    transform: PhenoTransform | None = None,
    progress: Callable[[int], object] | None = None,
    stop: Callable[[int, LmmStep], bool] | None = None,
) -> TrainingFit:
    """Transform, null model and Lasso refitted on ``train`` (see the module docstring).

    One of ``mu`` (one absolute μ), ``n_active`` (the μ selecting that many SNPs) or ``mus``
    (a non-increasing path) selects the Lasso fit, as in `fit_lmm_lasso`, which also takes
    ``progress`` and ``stop``. ``transform``: the phenotype transform already fitted on the
    raw training values (fitted here when None).
    """
    train = np.asarray(train)
    y_raw = training_phenotype(data, train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if transform is None:
            transform = fit_transform(y_raw, settings.transform)
        y = transform.apply(y_raw)
        C = take_rows(data.covariates, train)
        eig = restricted_eigen(data.K, train)  # in place in its own copy of K_train
        null = fit_null_model(y, eig, C, settings.null)
        lmm = fit_lmm_lasso(
            as_genotypes(data.X).take_rows(train),
            y,
            C,
            eig,
            null.log_delta,
            mu=mu,
            mus=mus,
            n_active=n_active,
            lasso=settings.lasso,
            progress=progress,
            stop=stop,
        )
    messages = tuple(dict.fromkeys(str(w.message) for w in caught))
    return TrainingFit(train, transform, y, null, lmm, messages)
