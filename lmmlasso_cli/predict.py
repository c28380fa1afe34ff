"""Prediction of new individuals: fixed SNP effects, covariates, and the BLUP of u.

For training individuals t and new individuals v the BLUP prediction is

    ŷ_v = X_v w + C_v α̂ + K_vt (K_tt + δI)⁻¹ (y_t − C_t α̂ − X_t w) = fixed + covariates + ĝ_v.

With the realized relationship K = Z Zᵀ / (p · scale) the background term is a SNP score,

    ĝ_v = K_vt a = Z_v b,   b = Z_tᵀ a / (p · scale),   a = (K_tt + δI)⁻¹ (y_t − C_t α̂ − X_t w),

so a model stores the per-SNP BLUP weights b and prediction needs only the new individuals'
genotypes, standardized with the training means and sds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.compact import as_genotypes


def background_weights(
    blocks: Iterable[np.ndarray], blup_residual: np.ndarray, n_snps: int, scale: float
) -> np.ndarray:
    """b = a Z_t / (p · scale) for every row a of ``blup_residual`` (n_mu, n_train).

    ``blocks`` yields the training individuals' standardized kinship SNPs (n_train, block) in
    order. Returns (n_mu, n_snps).
    """
    parts = [blup_residual @ z for z in blocks]
    weights = np.concatenate(parts, axis=1) / (n_snps * scale)
    if weights.shape[1] != n_snps:
        raise ValueError(f"blocks held {weights.shape[1]} SNPs, expected {n_snps}")
    return weights


def stored_background(X, blup_residual: np.ndarray, scale: float) -> np.ndarray:
    """`background_weights` when the kinship's SNPs are the columns of X (n_train, p; compact
    or a float64 matrix), standardized alike: b = a X / (p · scale), from X in memory."""
    X = as_genotypes(X)
    a = np.asarray(blup_residual, dtype=np.float64)
    if a.shape[0] == 1:
        return X.tdot(a[0])[None, :] / (X.n_snps * scale)
    return X.tdot_many(a.T).T / (X.n_snps * scale)


def approximate_background(X, blup_residual: np.ndarray, eig) -> tuple[np.ndarray, float | None]:
    """BLUP weights b = a X / p over the analysed SNPs X (n_train, p; compact or a float64
    matrix), for a kinship that carries no SNP list (a GCTA GRM), and how well X Xᵀ/p
    reproduces it at the last μ:
    ‖K a − X Xᵀ a / p‖ / ‖K a‖ with K = U diag(S) Uᵀ (None when K a = 0)."""
    X = as_genotypes(X)
    n_snps = X.n_snps
    a = blup_residual[-1]
    approx = X.dot(X.tdot(a)) / n_snps
    exact = eig.eigvecs @ (eig.eigvals * (eig.eigvecs.T @ a))
    weights = X.tdot_many(np.asarray(blup_residual).T).T / n_snps
    norm = np.linalg.norm(exact)
    rel_error = float(np.linalg.norm(exact - approx) / norm) if norm > 0 else None
    return weights, rel_error


@dataclass(frozen=True)
class Prediction:
    """Parts of ŷ for new individuals, each (n_mu, n_new), on the model (transformed) scale."""

    snps: np.ndarray  # X_v w
    covariates: np.ndarray  # C_v α̂
    background: np.ndarray  # Z_v b (zeros without a kinship)

    @property
    def total(self) -> np.ndarray:
        return self.snps + self.covariates + self.background


def predict_model(
    fixed_coefs: np.ndarray,
    fixed_genotypes,
    covariate_coefs: np.ndarray,
    covariates: np.ndarray,
    background_weights: np.ndarray | None = None,
    background_blocks: Iterable[np.ndarray] = (),
) -> Prediction:
    """ŷ = X_v w + C_v α̂ + Z_v b for every μ (rows of the coefficient arrays).

    ``fixed_genotypes`` (n_new, n_fixed) and the ``background_blocks`` (n_new, block), which
    cover the background SNPs in order, are standardized with the training means and sds.
    """
    n_mu, n_new = covariate_coefs.shape[0], covariates.shape[0]
    snps = np.zeros((n_mu, n_new))
    if fixed_coefs.shape[1]:
        snps = as_genotypes(fixed_genotypes).dot(np.asarray(fixed_coefs).T).T
    background = np.zeros_like(snps)
    if background_weights is not None:
        col = 0
        for z in background_blocks:  # one block in memory at a time
            background += background_weights[:, col : col + z.shape[1]] @ z.T
            col += z.shape[1]
        if col != background_weights.shape[1]:
            raise ValueError(f"blocks held {col} SNPs, expected {background_weights.shape[1]}")
    return Prediction(snps=snps, covariates=covariate_coefs @ covariates.T, background=background)


@dataclass(frozen=True)
class Accuracy:
    """Agreement of predictions with observed phenotypes (same scale)."""

    explained_variance: float  # 1 − Var(y − ŷ)/Var(y)
    r2: float  # 1 − Σ(y − ŷ)² / Σ(y − ȳ)²
    pearson_r: float
    n: int


def accuracy(y: np.ndarray, pred: np.ndarray) -> Accuracy:
    resid = y - pred
    ev = 1.0 - resid.var() / y.var()
    r2 = 1.0 - np.sum(resid**2) / np.sum((y - y.mean()) ** 2)
    r = float(np.corrcoef(y, pred)[0, 1]) if pred.std() > 0 else float("nan")
    return Accuracy(float(ev), float(r2), r, len(y))
