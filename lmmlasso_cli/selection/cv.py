"""K-fold cross-validation of LMM-Lasso over individuals, scored by the BLUP prediction.

For fold f with held-out individuals v and training individuals t (all the others), every μ of
one grid shared by all folds, and the model refitted on t only (`folds.fit_training`: the
transform, the null model on K_tt, the Lasso path):

    ŷ_v(μ) = X_v w + C_v α̂ + K_vt a,   a = (K_tt + δI)⁻¹ (y_t − C_t α̂ − X_t w),

with w, α̂, δ and the transform fitted on t. The held-out phenotype y_v is put on the fold's
model scale by the transform fitted on t. Per fold and μ:

    explained variance   1 − Var(y_v − ŷ_v) / Var(y_v)
    MSE                  mean((y_v − ŷ_v)²)
    SNP part             Var(X_v w) / Var(y_v)
    background part      Var(K_vt a) / Var(y_v)       (Rakitsch et al. 2013, Fig. 4)

(variances over the held-out individuals, ddof 0). `cv_summary` gives their mean over folds and
the standard error sd/√k (sd with ddof 1). `choose_mu` picks the μ of largest mean explained
variance ("best") or the largest μ whose mean is within one standard error of it ("1se").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.compact import as_genotypes
from lmmlasso_cli.errors import InputError
from lmmlasso_cli.lmmlasso import fit_lmm_lasso
from lmmlasso_cli.nullmodel import KinshipEigen
from lmmlasso_cli.predict import accuracy
from lmmlasso_cli.selection.folds import TrainingData, fit_training, predict_snps, take_rows
from lmmlasso_cli.settings import LassoSettings, MuGrid, TrainingSettings

RULES = ("best", "1se")


@dataclass(frozen=True)
class FoldResult:
    """Held-out predictions of one fold, split into their parts (arrays (n_mu, n_v) unless
    said otherwise), on the fold's model scale."""

    fold: int
    held_out: np.ndarray  # (n_v,) indices of the held-out individuals
    y: np.ndarray  # (n_v,) held-out phenotype, transformed as the training fold
    snps: np.ndarray  # X_v w
    covariates: np.ndarray  # C_v α̂
    background: np.ndarray  # K_vt a
    n_active: np.ndarray  # (n_mu,)
    converged: np.ndarray  # (n_mu,) duality gap certified
    log_delta: float  # of the null model fitted on the training individuals
    messages: tuple[str, ...]

    @property
    def prediction(self) -> np.ndarray:
        """ŷ_v: (n_mu, n_v)."""
        return self.snps + self.covariates + self.background


@dataclass(frozen=True)
class CvResult:
    """Per-fold scores along the μ grid: arrays (n_folds, n_mu) unless said otherwise."""

    mus: np.ndarray  # (n_mu,) decreasing
    folds: tuple[FoldResult, ...]
    explained_variance: np.ndarray
    mse: np.ndarray
    snp_variance: np.ndarray
    background_variance: np.ndarray
    n_active: np.ndarray
    converged: np.ndarray
    log_delta: np.ndarray  # (n_folds,)


@dataclass(frozen=True)
class CvSummary:
    """Mean and standard error over folds of each score: arrays (n_mu,)."""

    mus: np.ndarray
    mean_n_active: np.ndarray
    ev_mean: np.ndarray
    ev_se: np.ndarray
    mse_mean: np.ndarray
    mse_se: np.ndarray
    snp_mean: np.ndarray
    snp_se: np.ndarray
    background_mean: np.ndarray
    background_se: np.ndarray
    n_converged: np.ndarray  # folds whose fit at this μ is certified


def shared_mu_grid(
    X: np.ndarray,
    y: np.ndarray,
    covariates: np.ndarray,
    eig: KinshipEigen,
    log_delta: float,
    grid: MuGrid = MuGrid(),
    l1_ratio: float = LassoSettings.l1_ratio,
) -> np.ndarray:
    """The μ grid of every fold: ``grid.values(μ_max)`` with μ_max of ALL individuals (their
    null model and rotated design), or ``grid.mu_list`` when given."""
    if grid.mu_list:
        return grid.values(float("nan"))
    lasso = LassoSettings(l1_ratio=l1_ratio)
    top = fit_lmm_lasso(X, y, covariates, eig, log_delta, grid=MuGrid(n_mu=1), lasso=lasso).mu_max
    return grid.values(top)


def fit_fold(
    data: TrainingData,
    fold: int,
    held_out: np.ndarray,
    mus: np.ndarray,
    settings: TrainingSettings,
) -> FoldResult:
    """Train on everyone but ``held_out`` along ``mus`` and predict ``held_out`` by the BLUP."""
    held_out = np.asarray(held_out)
    train = np.setdiff1d(np.arange(len(data.y_raw)), held_out)
    fit = fit_training(data, train, settings, mus=mus)
    lmm = fit.lmm
    C_v = take_rows(data.covariates, held_out)
    K_vt = np.asarray(data.K[np.ix_(held_out, train)], dtype=np.float64)
    return FoldResult(
        fold=fold,
        held_out=held_out,
        y=fit.transform.apply(data.y_raw[held_out]),
        snps=predict_snps(as_genotypes(data.X).take_rows(held_out), lmm.path.coefs),
        covariates=lmm.covariate_coefs @ C_v.T,
        background=lmm.blup_residual @ K_vt.T,
        n_active=lmm.path.n_active.copy(),
        converged=lmm.path.converged.copy(),
        log_delta=fit.null.log_delta,
        messages=tuple(f"fold {fold}: {m}" for m in fit.messages),
    )


def _fold_task(data, mus, settings, item) -> FoldResult:
    fold, held_out = item
    return fit_fold(data, fold, held_out, mus, settings)


def _check_folds(folds: Sequence[np.ndarray], n_samples: int) -> None:
    seen = np.zeros(n_samples, dtype=int)
    for f, held_out in enumerate(folds):
        held_out = np.asarray(held_out)
        if held_out.size < 2 or held_out.min() < 0 or held_out.max() >= n_samples:
            raise InputError(
                f"fold {f} must hold at least 2 individuals with indices in [0, {n_samples})"
            )
        seen[held_out] += 1
    if np.any(seen > 1):
        raise InputError("the folds overlap: an individual is held out twice")


def cross_validate(
    data: TrainingData,
    folds: Sequence[np.ndarray],
    mus: np.ndarray,
    settings: TrainingSettings,
    map_fn: Callable = map,
    progress: Callable[[int], object] | None = None,
) -> CvResult:
    """Fit every fold along ``mus`` (non-increasing) and score its held-out individuals.

    ``folds`` are the held-out index sets (see `kfold_indices`). ``map_fn(fn, items)`` runs the
    independent folds (the builtin map, or a process pool's map) and must return results in
    order. ``progress(fold)`` is called as each fold is done.
    """
    n_samples = len(data.y_raw)
    _check_folds(folds, n_samples)
    mus = np.asarray(mus, dtype=np.float64)
    task = functools.partial(_fold_task, data, mus, settings)
    results = []
    for result in map_fn(task, list(enumerate(folds))):
        results.append(result)
        if progress is not None:
            progress(result.fold)
    shape = (len(results), len(mus))
    ev, mse, snp, bg = (np.empty(shape) for _ in range(4))
    for f, res in enumerate(results):
        var_y = res.y.var()
        if var_y == 0:
            raise InputError(
                f"the phenotype is constant over the {len(res.y)} held-out individuals of fold "
                f"{res.fold}; use fewer `n_folds`"
            )
        pred = res.prediction
        for k in range(len(mus)):
            ev[f, k] = accuracy(res.y, pred[k]).explained_variance
            mse[f, k] = np.mean((res.y - pred[k]) ** 2)
        snp[f] = res.snps.var(axis=1) / var_y
        bg[f] = res.background.var(axis=1) / var_y
    return CvResult(
        mus=mus,
        folds=tuple(results),
        explained_variance=ev,
        mse=mse,
        snp_variance=snp,
        background_variance=bg,
        n_active=np.array([r.n_active for r in results]),
        converged=np.array([r.converged for r in results]),
        log_delta=np.array([r.log_delta for r in results]),
    )


def _mean_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_folds = values.shape[0]
    return values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(n_folds)


def cv_summary(result: CvResult) -> CvSummary:
    """Mean over folds and standard error sd(ddof 1)/√k of every score, per μ."""
    ev = _mean_se(result.explained_variance)
    mse = _mean_se(result.mse)
    snp = _mean_se(result.snp_variance)
    bg = _mean_se(result.background_variance)
    return CvSummary(
        mus=result.mus,
        mean_n_active=result.n_active.mean(axis=0),
        ev_mean=ev[0],
        ev_se=ev[1],
        mse_mean=mse[0],
        mse_se=mse[1],
        snp_mean=snp[0],
        snp_se=snp[1],
        background_mean=bg[0],
        background_se=bg[1],
        n_converged=result.converged.sum(axis=0),
    )


def choose_mu(summary: CvSummary, rule: str = "best") -> int:
    """Index of the chosen μ: the largest mean held-out explained variance ("best", the largest
    μ among ties), or the largest μ whose mean is ≥ best mean − its standard error ("1se")."""
    if rule not in RULES:
        raise InputError(f"unknown `rule` {rule!r}; choose one of {', '.join(RULES)}")
    best = int(np.argmax(summary.ev_mean))
    if rule == "best":
        return best
    threshold = summary.ev_mean[best] - summary.ev_se[best]
    return int(np.flatnonzero(summary.ev_mean >= threshold)[0])
