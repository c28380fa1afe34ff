"""Semi-empirical phenotypes on real genotypes: planted SNP effects, a background through K, noise.

For one replicate, with Z the (n, k) standardized genotypes of its k causal SNPs (mean 0, sd 1,
missing calls at the mean) and K = U diag(S) Uᵀ the kinship of the same individuals:

    g = Z b,          b_j ~ N(0, 1)  (``normal``)  or  ±1 with random sign  (``equal``)
    u = U diag(√S) z, z ~ N(0, I_n), so that u ~ N(0, K)
    e ~ N(0, I_n)

Each part is centred; u is replaced by its residual on g, and e by its residual on g and u
(least squares in the sample), so the three parts are uncorrelated in the sample. They are then
scaled to

    var(g) = h2_snps,   var(u) = h2_background,   var(e) = 1 − h2_snps − h2_background

(variances with ddof 0), so y = g + u + e has mean 0, variance 1, and each share of the variance
is exact in the sample. b is rescaled with g: the returned effects satisfy g = Z b exactly, per
sd of each SNP; per copy of the counted allele they are b / sd. Randomness comes from the
generator passed in: replicate r uses ``np.random.SeedSequence(seed).spawn(n_pheno)[r]``, first
to draw its causal SNPs (`draw_causal`) and then its effects, z and e, in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.nullmodel import KinshipEigen

EFFECT_DISTRIBUTIONS = ("normal", "equal")


@dataclass(frozen=True)
class SimulatedPhenotype:
    """One replicate: y = planted + background + noise (all (n_samples,))."""

    values: np.ndarray  # (n,) mean 0, variance 1
    beta_std: np.ndarray  # (k,) effects per sd of each causal SNP, scaled
    planted: np.ndarray  # (n,) g = Z b
    background: np.ndarray  # (n,) u
    noise: np.ndarray  # (n,) e


def replicate_generators(seed: int, n_pheno: int) -> list[np.random.Generator]:
    """One independent generator per replicate, from ``SeedSequence(seed).spawn(n_pheno)``."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_pheno)]


def draw_causal(n_candidates: int, n_causal: int, rng: np.random.Generator) -> np.ndarray:
    """``n_causal`` distinct candidate indices, sorted."""
    if n_causal > n_candidates:
        raise ValueError(f"cannot draw {n_causal} causal SNPs from {n_candidates} candidates")
    return np.sort(rng.choice(n_candidates, size=n_causal, replace=False))


def _residual(v: np.ndarray, basis: list[np.ndarray]) -> np.ndarray:
    """v minus its least-squares fit on the (centred) columns in ``basis``."""
    cols = [b for b in basis if np.any(b != 0)]
    if not cols:
        return v
    B = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(B, v, rcond=None)
    return v - B @ coef


def _scaled(v: np.ndarray, share: float, what: str) -> tuple[np.ndarray, float]:
    """v · f with var(v · f) = share (ddof 0); returns (scaled v, f)."""
    if share == 0.0:
        return np.zeros_like(v), 0.0
    var = float(np.mean(v**2))
    if not var > 0.0:
        raise ValueError(
            f"the {what} part has zero variance in the sample and cannot carry {share}"
        )
    f = np.sqrt(share / var)
    return v * f, f


def simulate_phenotype(
    Z: np.ndarray,
    eig: KinshipEigen | None,
    h2_snps: float,
    h2_background: float,
    rng: np.random.Generator,
    effect_dist: str = "normal",
) -> SimulatedPhenotype:
    """Simulate one phenotype from the causal SNPs ``Z`` (n, k) (see the module docstring)."""
    if effect_dist not in EFFECT_DISTRIBUTIONS:
        raise ValueError(f"effect_dist must be one of {EFFECT_DISTRIBUTIONS}")
    if min(h2_snps, h2_background) < 0 or h2_snps + h2_background > 1:
        raise ValueError("h2_snps and h2_background must be >= 0 with a sum <= 1")
    if h2_background > 0 and eig is None:
        raise ValueError("a background share needs the kinship's eigendecomposition")
    n, k = Z.shape
    if h2_snps > 0 and k == 0:
        raise ValueError("h2_snps > 0 needs at least one causal SNP")
    if effect_dist == "normal":
        b = rng.standard_normal(k)
    else:
        b = rng.choice([-1.0, 1.0], size=k)
    z = rng.standard_normal(eig.rank) if eig is not None else np.zeros(n)
    e = rng.standard_normal(n)
    g = Z @ b
    g -= g.mean()
    g, f = _scaled(g, h2_snps, "planted")
    if eig is not None:
        u = eig.eigvecs @ (np.sqrt(eig.eigvals) * z)
        u = _residual(u - u.mean(), [g])
    else:
        u = np.zeros(n)
    u, _ = _scaled(u, h2_background, "background")
    e = _residual(e - e.mean(), [g, u])
    e, _ = _scaled(e, 1.0 - h2_snps - h2_background, "noise")
    return SimulatedPhenotype(g + u + e, b * f, g, u, e)
