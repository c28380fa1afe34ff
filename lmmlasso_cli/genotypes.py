"""Per-SNP statistics and standardization of genotype blocks.

G is an (n_samples, n_snps) block of A1 counts with NaN for missing calls. Missing calls are
mean-imputed per SNP; Z = (G_imputed - mean) / sd has, per SNP, mean 0 and sd 1 (ddof 0) exactly
when ``scaling='empirical'``. With ``scaling='hwe'`` the sd is sqrt(2f(1-f)), f = mean/2, the
Hardy-Weinberg expectation that PLINK's --make-rel and GCTA use.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

SD_EPS = 1e-8  # an sd below this marks a SNP as monomorphic
STATS_SLICE_BYTES = 1 << 21  # `snp_stats` works on slices of columns of this size
SCALINGS = ("empirical", "hwe")


@dataclass(frozen=True)
class SnpStats:
    """Per-SNP summaries of one block over the analysed individuals (all arrays (n_snps,))."""

    means: np.ndarray  # mean A1 count over observed calls (= 2 * A1 frequency)
    sds: np.ndarray  # scale used for standardization (see module docstring)
    n_obs: np.ndarray  # number of non-missing calls
    maf: np.ndarray  # minor allele frequency over observed calls


def snp_stats(counts: np.ndarray, scaling: str = "empirical") -> SnpStats:
    """Means, scales, call counts and MAF of a block (columns are SNPs).

    A Fortran-ordered block is summarized in slices of STATS_SLICE_BYTES (as float64): every
    column gets the same sums, but the temporaries stay in cache instead of costing fresh
    pages (1410 × 2048 SNPs: 70–180 ms whole, 15 ms in slices)."""
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    counts = np.asarray(counts)
    width = max(1, STATS_SLICE_BYTES // (8 * max(1, counts.shape[0])))
    if counts.ndim == 2 and counts.shape[1] > width and counts.flags.f_contiguous:
        parts = [
            snp_stats(counts[:, j : j + width], scaling) for j in range(0, counts.shape[1], width)
        ]
        return SnpStats(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(SnpStats))
        )
    counts = np.asarray(counts, dtype=np.float64)
    observed = ~np.isnan(counts)
    n_obs = observed.sum(axis=0)
    sums = np.where(observed, counts, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(n_obs > 0, sums / np.maximum(n_obs, 1), np.nan)
        centred = np.where(observed, counts - means, 0.0)
        if scaling == "empirical":
            sds = np.sqrt((centred**2).sum(axis=0) / counts.shape[0])
        else:
            f = means / 2.0
            sds = np.sqrt(2.0 * f * (1.0 - f))
            sds[np.sqrt((centred**2).sum(axis=0)) == 0] = 0.0
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
