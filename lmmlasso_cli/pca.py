"""Principal components of the standardized genotypes, streamed over SNP blocks.

With Z (n × p) the standardized SNPs (mean 0, sd 1, missing at the mean; see `genotypes`) and
K = Z Zᵀ / p the realized relationship matrix (mean diagonal 1), the principal components are
the top eigenvectors u_k of K (equivalently the left singular vectors of Z) and λ_k their
eigenvalues. `randomized_pcs` finds them without forming Z or K (Halko, Martinsson and Tropp
2011, algorithm 4.4, subspace iteration): with l = k + oversampling columns and Ω (p × l)
standard normal,

    Y = Z Ω,   then q times: Q = qr(Y), Y = Z (Zᵀ Q),   Q = qr(Y),
    C = Qᵀ Z Zᵀ Q / p = W diag(μ) Wᵀ,   u = Q W,   λ = μ,

every product one pass over the SNP blocks (memory n × l plus one block). `kinship_pcs` takes
them from an eigendecomposition of K when one exists. Signs follow one rule (the largest
|entry| of each eigenvector is positive) so that runs and methods agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

DEFAULT_OVERSAMPLING = 20
DEFAULT_POWER_ITERATIONS = 6


@dataclass(frozen=True)
class PrincipalComponents:
    """The top eigenvectors of K (columns, unit length) and their eigenvalues, largest first."""

    vectors: np.ndarray  # (n_samples, n_pcs)
    values: np.ndarray  # (n_pcs,)
    method: str  # "kinship" or "randomized"
    n_snps: int  # SNPs behind K (0 when unknown)


def _fix_signs(vectors: np.ndarray) -> np.ndarray:
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    return vectors * np.where(signs == 0, 1.0, signs)


def kinship_pcs(eigvals: np.ndarray, eigvecs: np.ndarray, n_pcs: int, n_snps: int = 0):
    """Top ``n_pcs`` of an eigendecomposition (eigenvalues ascending, as LAPACK gives them)."""
    if not 1 <= n_pcs <= len(eigvals):
        raise ValueError(f"`n_pcs` must be between 1 and {len(eigvals)}, got {n_pcs}")
    order = np.argsort(eigvals)[::-1][:n_pcs]
    vectors = _fix_signs(np.asarray(eigvecs[:, order], dtype=np.float64))
    return PrincipalComponents(vectors, np.asarray(eigvals[order], float), "kinship", n_snps)


def randomized_pcs(
    blocks: Callable[[], Iterable[np.ndarray]],
    n_samples: int,
    n_snps: int,
    n_pcs: int,
    rng: np.random.Generator,
    oversampling: int = DEFAULT_OVERSAMPLING,
    power_iterations: int = DEFAULT_POWER_ITERATIONS,
    progress: Callable[[int], None] | None = None,
) -> PrincipalComponents:
    """PCs by randomized subspace iteration (module docstring). ``blocks()`` starts a new pass
    over the standardized SNP blocks (n_samples, b), always in the same order, covering
    ``n_snps`` SNPs; Ω is drawn from ``rng`` one block at a time. ``progress(k)`` after each
    pass."""
    if not 1 <= n_pcs < min(n_samples, n_snps):
        raise ValueError(f"`n_pcs` must be between 1 and {min(n_samples, n_snps) - 1}, got {n_pcs}")
    width = min(n_pcs + oversampling, n_samples, n_snps)
    Y = np.zeros((n_samples, width))
    seen = 0
    for z in blocks():
        omega = rng.standard_normal((z.shape[1], width))
        Y += z @ omega
        seen += z.shape[1]
    if seen != n_snps:
        raise ValueError(f"the blocks held {seen} SNPs, expected {n_snps}")
    if progress is not None:
        progress(1)
    for _ in range(power_iterations):
        Q, _ = np.linalg.qr(Y)
        Y = np.zeros_like(Q)
        for z in blocks():
            Y += z @ (z.T @ Q)
        if progress is not None:
            progress(1)
    Q, _ = np.linalg.qr(Y)
    C = np.zeros((width, width))
    for z in blocks():
        B = Q.T @ z
        C += B @ B.T
    if progress is not None:
        progress(1)
    mu, W = np.linalg.eigh(C / n_snps)
    order = np.argsort(mu)[::-1][:n_pcs]
    vectors = _fix_signs(Q @ W[:, order])
    return PrincipalComponents(vectors, mu[order], "randomized", n_snps)
