"""A fitted LMM-Lasso model as arrays: what `fit` and `cv` write and `predict` needs.

For each μ of a path: the fixed SNP effects w (standardized scale) over the union of SNPs
selected at any μ, the covariate effects α̂, and the per-SNP BLUP weights b of the background
(`predict`), each SNP with its ID, alleles and training mean and sd. The same model as a plink2
score: on the standardized scale a SNP of set s contributes (g − m_s)/s_s · c_s, so per copy of
A1 its weight is c_s/s_s and −m_s c_s/s_s goes into the constant offset with the intercept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.lmmlasso import LmmLassoFit
from lmmlasso_cli.snps import SnpSet


@dataclass(frozen=True)
class Background:
    """The BLUP of the random effect as SNP weights: ĝ_v = Z_v b (see `predict`)."""

    snps: SnpSet  # the kinship's SNPs, with the kinship's means and sds
    weights: np.ndarray  # (n_mu, n_snps) b
    source: str  # where the SNPs come from (the kinship file, or the analysed SNPs)
    rel_error: float | None = None  # ‖K a − Z b‖/‖K a‖ when b only approximates K (a GCTA GRM)


@dataclass(frozen=True)
class FittedModel:
    """Arrays indexed by μ first; ``score_*`` is the model as a per-allele plink2 score."""

    mus: np.ndarray  # (n_mu,)
    fixed: SnpSet  # SNPs with a nonzero effect at some μ
    fixed_coefs: np.ndarray  # (n_mu, n_fixed) standardized scale
    covariate_names: list[str]
    covariate_coefs: np.ndarray  # (n_mu, n_cov)
    background: Background | None
    score_snps: SnpSet  # the union of fixed and background SNPs
    score_weights: np.ndarray  # (n_mu, n_score) per copy of A1
    score_offsets: np.ndarray  # (n_mu,) PRED = Σ weights·counts + offset (intercept included)


def per_allele_scores(
    fixed: SnpSet, fixed_coefs, background: Background | None, covariate_constant
) -> tuple[SnpSet, np.ndarray, np.ndarray]:
    """Per-allele weights over the union of SNPs and the constant offset, per μ.

    A SNP in both sets (fixed effect and kinship) gets the sum of both, each with its own mean
    and sd (the fit's over the training individuals, the kinship's over its individuals).
    Returns (SnpSet of the union, weights (n_mu, n_union), offsets (n_mu,)).
    """
    sets = [(fixed, fixed_coefs)]
    if background is not None:
        sets.append((background.snps, background.weights))
    union = SnpSet.concatenate([s for s, _ in sets])
    _, first = np.unique(union.snp, return_index=True)
    union = union.take(np.sort(first))
    position = {snp: i for i, snp in enumerate(union.snp)}
    per_allele = np.zeros((fixed_coefs.shape[0], len(union)))
    offsets = np.array(covariate_constant, dtype=np.float64)
    for snps, coefs in sets:
        cols = np.array([position[x] for x in snps.snp], dtype=np.int64)
        weights = coefs / snps.sds
        np.add.at(per_allele, (slice(None), cols), weights)
        offsets = offsets - weights @ snps.means
    return union, per_allele, offsets


def assemble_model(
    fit: LmmLassoFit,
    analysed: SnpSet,
    covariate_names: list[str],
    background: Background | None,
) -> FittedModel:
    """The model of ``fit`` (whose columns are the ``analysed`` SNPs), restricted to the SNPs
    selected at some μ, with its plink2 score form (the intercept goes into the offset)."""
    coefs = fit.path.coefs.toarray()
    union = np.flatnonzero(np.any(coefs != 0, axis=0))
    fixed = analysed.take(union)
    fixed_coefs = coefs[:, union]
    if "intercept" in covariate_names:
        constant = fit.covariate_coefs[:, covariate_names.index("intercept")]
    else:
        constant = np.zeros(fit.n_mu)
    snps, weights, offsets = per_allele_scores(fixed, fixed_coefs, background, constant)
    return FittedModel(
        mus=fit.path.mus,
        fixed=fixed,
        fixed_coefs=fixed_coefs,
        covariate_names=list(covariate_names),
        covariate_coefs=fit.covariate_coefs,
        background=background,
        score_snps=snps,
        score_weights=weights,
        score_offsets=offsets,
    )
