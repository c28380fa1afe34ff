"""Realized relationship matrix, accumulated over SNP blocks.

With Z the (n_samples, p) matrix of standardized SNPs (see `genotypes`), the kinship is

    K = Z Zᵀ / (p · scale),    scale = mean(diag(Z Zᵀ / p)),

so that mean(diag(K)) = 1 and trace(K) = n_samples. With the empirical scaling scale is 1 up to
rounding (every column of Z has sum of squares n); with the HWE scaling it is not. Peak memory is
one n×n float64 accumulator plus one n×block_size block: the n×p matrix is never formed.
With ``precision="float32"`` each block is standardized to float32 and multiplied in float32
(1.25× faster on HS1940, bench/README.md); the blocks' products are summed in float64.
Per-chromosome parts can be kept (``chrom``) so that leave-one-chromosome-out kinships
follow by subtraction. The sum Z Zᵀ splits over SNP ranges (`KinshipPart`, `add_parts`): work
units of a cluster and the parts of a job array each hold the sum of their range.

Exact reduction: a unit's float64 sum is rounded once to 64-bit fixed point (`to_fixed`, a
multiple of 2^-bits with bits from `fixed_point_bits`), and units add as integers. Integer
addition is associative, so every grouping of the same units (serial, a process pool, a Dask
tree, the parts of a job array merged in any order) gives the same bits. The rounding adds at
most 2^-(bits+1) per unit and entry, about 1e-14 of the diagonal (module `fixed_point_bits`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas

from lmmlasso_cli.compact import code_counts, standardize_codes
from lmmlasso_cli.genotypes import filter_snps, snp_stats, standardize, stats_from_tally

PRECISIONS = ("float32", "float64")  # of the block products; the sum is always float64
FIXED_POINT_HEADROOM = 61  # bits of an int64 used by a fixed-point sum (2 spare against overflow)


def fixed_point_bits(n_samples: int, n_snps: int) -> int:
    """Fractional bits of the fixed-point sums of a kinship over at most ``n_snps`` SNPs.

    Every entry of Σ z zᵀ is at most Σ_j max_i z_ij² in size (Cauchy–Schwarz), and one SNP's
    z² is at most 4·n_samples. HWE scaling, counting the minor allele (z² does not change with
    the coding): a ≥ 1 copies among m calls, f = a/(2m) ≤ ½, so 2f(1 − f) ≥ f. A call g = 0
    gives z² ≤ (2f)²/f = 4f ≤ 2; g ≥ 1 (so g ≤ a, g ≤ 2) gives z² ≤ g²/f ≤ 2a/f = 4m. The
    empirical scaling gives z² ≤ m − 1 (Samuelson's inequality). So |entry| <
    4·n_samples·n_snps ≤ 2^(61 − bits). At 10,000 × 500,000 this leaves 26 bits: 1.5e-8
    absolute, 3e-14 of the diagonal."""
    bound = 4 * max(int(n_samples), 1) * max(int(n_snps), 1)
    return FIXED_POINT_HEADROOM - int(np.ceil(np.log2(bound)))


@dataclass(frozen=True)
class Kinship:
    """K = Z Zᵀ / (n_snps · scale); IDs of samples and SNPs are attached by the caller."""

    matrix: np.ndarray  # (n_samples, n_samples) float64, mean diagonal 1
    snp_index: np.ndarray  # (n_snps,) the ``positions`` (as yielded by the blocks) of SNPs used
    means: np.ndarray  # (n_snps,) mean A1 count per SNP used
    sds: np.ndarray  # (n_snps,) scale per SNP used
    scale: float  # mean diagonal of Z Zᵀ / n_snps, divided out
    scaling: str  # "empirical" or "hwe"
    n_all_missing: int
    n_monomorphic: int
    n_low_maf: int
    chrom_parts: dict | None = None  # chrom -> (unnormalized Z_c Z_cᵀ, n_snps_c), if asked

    @property
    def n_snps(self) -> int:
        return len(self.snp_index)


FLOAT32_PANEL = 512  # rows of one float32 product panel: a fixed grid, whatever the threads


def _accumulate(acc: np.ndarray, z: np.ndarray, blas_threads: int | None = None) -> np.ndarray:
    """acc += z zᵀ on the upper triangle, in place. float64: BLAS dsyrk, whose bits OpenBLAS
    keeps for any thread count, so it may use ``blas_threads``. float32: the upper triangle in
    fixed panels of `FLOAT32_PANEL` rows, acc[i:j, i:] += z[i:j] z[i:]ᵀ, each one
    single-threaded sgemm, the panels spread over ``blas_threads`` threads. OpenBLAS's own
    threaded ssyrk changes its last bits with the thread count on some CPUs (AMD EPYC,
    OpenBLAS 0.3.31), the panels do not (tests/test_kinship.py checks both). The float32
    product is added to the float64 accumulator: rounding stays within one block, the sum
    over blocks is float64."""
    from threadpoolctl import threadpool_limits

    if z.dtype == np.float32:
        return _accumulate_float32(acc, z, blas_threads or 1)
    with threadpool_limits(limits=blas_threads):
        return blas.dsyrk(1.0, z, beta=1.0, c=acc, trans=0, lower=0, overwrite_c=1)


def _accumulate_float32(acc: np.ndarray, z: np.ndarray, threads: int) -> np.ndarray:
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    n = z.shape[0]

    def panel(start: int) -> None:
        stop = min(start + FLOAT32_PANEL, n)
        prod = z[start:stop] @ z[start:].T  # numpy's sgemm, without the GIL
        prod[:, : stop - start] = np.triu(prod[:, : stop - start])
        acc[start:stop, start:] += prod

    starts = range(0, n, FLOAT32_PANEL)
    with threadpool_limits(limits=1):
        if threads <= 1:
            for start in starts:
                panel(start)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(panel, starts))
    return acc


def _standardized_block(block: np.ndarray, scaling: str):
    """(stats, filter, standardize(keep, dtype)) of a block of codes (uint8, `compact`) or of
    0/1/2/NaN counts (float)."""
    if block.dtype == np.uint8:
        stats = stats_from_tally(code_counts(block), scaling)
    else:
        stats = snp_stats(block, scaling)

    def standardized(keep, dtype):
        if block.dtype == np.uint8:
            return standardize_codes(block[:, keep], stats.means[keep], stats.sds[keep], dtype)
        z = standardize(block[:, keep], stats.means[keep], stats.sds[keep])
        return z if dtype == np.float64 else np.asfortranarray(z, dtype=dtype)

    return stats, standardized


def _symmetrize(upper: np.ndarray) -> np.ndarray:
    full = np.triu(upper)
    full += np.triu(upper, 1).T
    return full


@dataclass(frozen=True)
class KinshipPart:
    """The unnormalized sums of one range of SNP blocks: what a work unit or a job-array part
    returns, and what `add_parts` adds. ``upper`` holds Σ z zᵀ on its upper triangle only."""

    upper: np.ndarray  # (n_samples, n_samples) Fortran order, upper triangle valid
    snp_index: np.ndarray  # (k,) positions of the SNPs used, in order
    means: np.ndarray  # (k,)
    sds: np.ndarray  # (k,)
    n_all_missing: int
    n_monomorphic: int
    n_low_maf: int
    chrom_parts: dict | None = None  # chrom -> (upper Σ z zᵀ over its SNPs, n_snps), if asked
    fixed_bits: int | None = None  # if set, ``upper`` is int64: Σ z zᵀ · 2^fixed_bits, rounded

    @property
    def n_snps(self) -> int:
        return len(self.snp_index)


def to_fixed(part: KinshipPart, bits: int) -> KinshipPart:
    """``part`` with its float64 sums rounded to int64 multiples of 2^-bits (module docstring),
    so that parts add exactly. Raises if an entry would not fit (it cannot, for ``bits`` from
    `fixed_point_bits` over at least this part's SNPs)."""
    import dataclasses

    if part.fixed_bits is not None:
        raise ValueError("the part is already in fixed point")

    from lmmlasso_cli.kinship_kernels import round_upper_to_fixed

    def fixed(upper):  # the upper triangle only (the lower is not used); one numba pass
        out = np.zeros(upper.shape, dtype=np.int64, order="F")
        if not round_upper_to_fixed(upper, float(np.ldexp(1.0, bits)), out):
            raise ValueError(f"kinship sums too large for {bits} fixed-point bits")
        return out

    chrom_parts = None
    if part.chrom_parts is not None:
        chrom_parts = {c: (fixed(u), n) for c, (u, n) in part.chrom_parts.items()}
    return dataclasses.replace(
        part, upper=fixed(part.upper), chrom_parts=chrom_parts, fixed_bits=bits
    )


def _to_float(upper: np.ndarray, bits: int | None) -> np.ndarray:
    return upper if bits is None else np.ldexp(upper.astype(np.float64), -bits)


def kinship_part(
    blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    n_samples: int,
    maf_min: float = 0.0,
    scaling: str = "empirical",
    chrom: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
    blas_threads: int | None = None,
    precision: str = "float64",
) -> KinshipPart:
    """Accumulate Σ z zᵀ over ``(positions, counts)`` blocks, in block order (see
    `compute_kinship` for the blocks and the filters; ``blas_threads`` for the products;
    ``precision`` "float32" multiplies each block in float32, summed in float64)."""
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    dtype = np.dtype(precision)
    acc = np.zeros((n_samples, n_samples), order="F")
    parts: dict = {}
    kept, means, sds = [], [], []
    n_missing = n_mono = n_maf = 0
    for positions, counts in blocks:
        stats, standardized = _standardized_block(counts, scaling)
        flt = filter_snps(stats, maf_min)
        n_missing += flt.n_all_missing
        n_mono += flt.n_monomorphic
        n_maf += flt.n_low_maf
        if flt.keep.any():
            z = standardized(flt.keep, dtype)
            if chrom is None:
                acc = _accumulate(acc, z, blas_threads)
            else:
                block_chrom = np.asarray(chrom)[positions[flt.keep]]
                for c in np.unique(block_chrom):
                    zc = np.asfortranarray(z[:, block_chrom == c])
                    part, count = parts.get(c, (None, 0))
                    if part is None:
                        part = np.zeros((n_samples, n_samples), order="F")
                    parts[c] = (_accumulate(part, zc, blas_threads), count + zc.shape[1])
            kept.append(positions[flt.keep])
            means.append(stats.means[flt.keep])
            sds.append(stats.sds[flt.keep])
        if progress is not None:
            progress(len(positions))

    def cat(arrays, dtype):
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)

    return KinshipPart(
        upper=acc,
        snp_index=cat(kept, np.int64),
        means=cat(means, np.float64),
        sds=cat(sds, np.float64),
        n_all_missing=n_missing,
        n_monomorphic=n_mono,
        n_low_maf=n_maf,
        chrom_parts=None if chrom is None else parts,
    )


def add_parts(a: KinshipPart, b: KinshipPart) -> KinshipPart:
    """The part of the SNPs of ``a`` followed by those of ``b`` (sums a + b, in that order;
    exact for fixed-point parts, which must share their bits)."""
    if a.fixed_bits != b.fixed_bits:
        raise ValueError(f"cannot add parts of {a.fixed_bits} and {b.fixed_bits} fixed-point bits")
    chrom_parts = None
    if a.chrom_parts is not None or b.chrom_parts is not None:
        chrom_parts = dict(a.chrom_parts or {})
        for c, (upper, count) in (b.chrom_parts or {}).items():
            if c in chrom_parts:
                chrom_parts[c] = (chrom_parts[c][0] + upper, chrom_parts[c][1] + count)
            else:
                chrom_parts[c] = (upper, count)
    return KinshipPart(
        upper=np.asfortranarray(a.upper + b.upper),
        snp_index=np.concatenate([a.snp_index, b.snp_index]),
        means=np.concatenate([a.means, b.means]),
        sds=np.concatenate([a.sds, b.sds]),
        n_all_missing=a.n_all_missing + b.n_all_missing,
        n_monomorphic=a.n_monomorphic + b.n_monomorphic,
        n_low_maf=a.n_low_maf + b.n_low_maf,
        chrom_parts=chrom_parts,
        fixed_bits=a.fixed_bits,
    )


def finish_kinship(part: KinshipPart, scaling: str = "empirical") -> Kinship:
    """Symmetrize and normalize a `KinshipPart` over all SNPs into the `Kinship`."""
    n_snps = part.n_snps
    if n_snps == 0:
        raise ValueError("no usable SNP: all were missing, monomorphic or below the MAF cut-off")
    chrom_parts = None
    bits = part.fixed_bits
    if part.chrom_parts is not None:
        chrom_parts = {
            c: (_to_float(_symmetrize(p), bits), n) for c, (p, n) in part.chrom_parts.items()
        }
        total = np.zeros(part.upper.shape)
        for upper, _ in chrom_parts.values():
            total += upper
    else:
        total = _to_float(_symmetrize(part.upper), bits)
    total /= n_snps
    scale = float(np.mean(np.diag(total)))
    total /= scale
    return Kinship(
        matrix=total,
        snp_index=part.snp_index,
        means=part.means,
        sds=part.sds,
        scale=scale,
        scaling=scaling,
        n_all_missing=part.n_all_missing,
        n_monomorphic=part.n_monomorphic,
        n_low_maf=part.n_low_maf,
        chrom_parts=chrom_parts,
    )


def compute_kinship(
    blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    n_samples: int,
    maf_min: float = 0.0,
    scaling: str = "empirical",
    chrom: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
    blas_threads: int | None = None,
    precision: str = "float64",
) -> Kinship:
    """Accumulate the kinship over ``(positions, counts)`` blocks.

    ``positions`` label the block's SNPs (e.g. their rows in the .bim) and are returned for the
    SNPs used; ``counts`` is (n_samples, block) with NaN for missing, or uint8 codes
    (`compact`: 3 = missing). SNPs with no calls,
    monomorphic SNPs and SNPs below ``maf_min`` are skipped and counted. When ``chrom`` is given
    (indexed by the same positions), per-chromosome parts are kept too. One pass, one
    accumulator; `kinship_part` + `add_parts` split the same sum into work units.
    """
    part = kinship_part(
        blocks, n_samples, maf_min, scaling, chrom, progress, blas_threads, precision
    )
    return finish_kinship(part, scaling)


def leave_one_chromosome_out(kin: Kinship | dict, chrom: str) -> np.ndarray:
    """Kinship from every chromosome but ``chrom``, with the same normalization rule.

    K_-c = (Σ_{d≠c} Z_d Z_dᵀ) / (p_-c · scale_-c), scale_-c its own mean diagonal. ``kin`` is a
    `Kinship` with per-chromosome parts, or its ``chrom_parts`` (chrom -> (Z_d Z_dᵀ, p_d)); the
    parts are added in the dict's order.
    """
    parts = kin if isinstance(kin, dict) else kin.chrom_parts
    if parts is None:
        raise ValueError("kinship was computed without per-chromosome parts")
    total = None
    n_snps = 0
    for c, (part, n) in parts.items():
        if c != chrom:
            if total is None:
                total = np.array(part, dtype=np.float64)  # a copy (the part may be read-only)
            else:
                total += part
            n_snps += n
    if n_snps == 0:
        raise ValueError(f"no SNP outside chromosome {chrom}: LOCO needs at least two chromosomes")
    total /= n_snps
    total /= np.mean(np.diag(total))
    return total
