"""Per-SNP statistics and standardization of genotype blocks.

G is an (n_samples, n_snps) block of A1 counts with NaN for missing calls. Missing calls are
mean-imputed per SNP; Z = (G_imputed - mean) / sd has, per SNP, mean 0 and sd 1 (ddof 0) exactly
when ``scaling='empirical'``. With ``scaling='hwe'`` the sd is sqrt(2f(1-f)), f = mean/2, the
Hardy-Weinberg expectation that PLINK's --make-rel and GCTA use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SD_EPS = 1e-8  # an sd below this marks a SNP as monomorphic
SCALINGS = ("empirical", "hwe")


@dataclass(frozen=True)
class SnpStats:
    """Per-SNP summaries of one block over the analysed individuals (all arrays (n_snps,))."""

    means: np.ndarray  # mean A1 count over observed calls (= 2 * A1 frequency)
    sds: np.ndarray  # scale used for standardization (see module docstring)
    n_obs: np.ndarray  # number of non-missing calls
    maf: np.ndarray  # minor allele frequency over observed calls


def snp_stats(counts: np.ndarray, scaling: str = "empirical") -> SnpStats:
    """Means, scales, call counts and MAF of a block (columns are SNPs) of 0/1/2/NaN counts."""
    counts = np.asarray(counts)
    tally = np.stack(
        [(counts == c).sum(axis=0) for c in (0.0, 1.0, 2.0)] + [np.isnan(counts).sum(axis=0)],
        axis=1,
    )
    if tally.sum() != counts.size:
        raise ValueError("genotype counts must be 0, 1, 2 or NaN")
    return stats_from_tally(tally, scaling)


def stats_from_tally(tally: np.ndarray, scaling: str = "empirical") -> SnpStats:
    """`SnpStats` from per-SNP code tallies (n_snps, 4): how many calls are 0, 1, 2, missing.

    mean = (n1 + 2 n2)/n_obs (exact: integer sums); empirical sd² = Σ_c n_c (c − mean)² / n
    over all n individuals (the missing ones, imputed at the mean, add 0)."""
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    tally = np.asarray(tally, dtype=np.int64)
    n0, n1, n2 = (tally[:, c].astype(np.float64) for c in range(3))
    n_obs = tally[:, :3].sum(axis=1)
    n_all = tally.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(n_obs > 0, (n1 + 2.0 * n2) / np.maximum(n_obs, 1), np.nan)
        ss = n0 * means**2 + n1 * (1.0 - means) ** 2 + n2 * (2.0 - means) ** 2
        if scaling == "empirical":
            sds = np.sqrt(ss / np.maximum(n_all, 1))
        else:
            f = means / 2.0
            sds = np.sqrt(2.0 * f * (1.0 - f))
            sds[ss == 0] = 0.0
    f = means / 2.0
    maf = np.minimum(f, 1.0 - f)
    return SnpStats(means=means, sds=sds, n_obs=n_obs, maf=maf)


@dataclass(frozen=True)
class SnpFilter:
    """Which SNPs of a block are usable, and why the others are not."""

    keep: np.ndarray  # (n_snps,) bool
    n_all_missing: int
    n_monomorphic: int
    n_low_maf: int


def filter_snps(stats: SnpStats, maf_min: float = 0.0) -> SnpFilter:
    """Drop SNPs with no calls, monomorphic SNPs and, if asked, SNPs with MAF < ``maf_min``."""
    all_missing = stats.n_obs == 0
    monomorphic = ~all_missing & ~(stats.sds > SD_EPS)
    low_maf = ~all_missing & ~monomorphic & (stats.maf < maf_min)
    return SnpFilter(
        keep=~(all_missing | monomorphic | low_maf),
        n_all_missing=int(all_missing.sum()),
        n_monomorphic=int(monomorphic.sum()),
        n_low_maf=int(low_maf.sum()),
    )


def standardize(counts: np.ndarray, means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    """Return (G - mean)/sd as float64 Fortran array, with missing calls set to 0 (mean)."""
    z = np.array(counts, dtype=np.float64, order="F")
    z -= means
    z /= sds
    z[np.isnan(z)] = 0.0
    return z
