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


@dataclass(frozen=True)
class Prediction:
    """Parts of ŷ for new individuals, each (n_mu, n_new), on the model (transformed) scale."""

    snps: np.ndarray  # X_v w
    covariates: np.ndarray  # C_v α̂
    background: np.ndarray  # Z_v b (zeros without a kinship)

    @property
    def total(self) -> np.ndarray:
        return self.snps + self.covariates + self.background


def score_blocks(blocks: Iterable[tuple[np.ndarray, np.ndarray]], n_mu: int, n_new: int):
    """Σ over blocks of Z_block @ W_blockᵀ for (Z_block (n_new, b), W_block (n_mu, b))."""
    total = np.zeros((n_mu, n_new))
    for z, w in blocks:
        total += w @ z.T
    return total


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
