"""LD within blocks and the ML-MAGES block finder, streamed from standardized genotypes.

Z is an (n, b) block of standardized genotypes (mean 0, sd 1 with ddof 0, missing calls at the
mean, as `lmmlasso_cli.genotypes.standardize` makes them), so the Pearson correlation of SNPs i
and j is R_ij = z_iᵀz_j / n and R_jj = 1. Genotypes reach this module only through a callable
``read_block(start, stop) -> Z`` over positions of the analysed SNPs; memory is one window of
SNPs, never a chromosome-by-chromosome matrix.

Block finder (Liu, Crawford and Ramachandran's ML-MAGES, ``extract_ld_blocks.py``), per
chromosome of J SNPs, with w_ij = R_ij² (ML-MAGES sums signed r, so that negative LD cancels
positive LD) restricted to the band |i − j| ≤ ``band``:

1. anti-diagonal profile v[k] = Σ_{i+j=k, |i−j|≤band} w_ij, k = 0 … 2J − 2 (centred on SNP k/2);
2. smoothing g = v ∗ h with a normalized symmetric Hann window h of 2·``smooth_width`` + 1 taps in
   'valid' mode; g[m] is centred on anti-diagonal m + ``smooth_width``, and that offset is added
   back (ML-MAGES omits it and places every breakpoint ``smooth_width``/2 SNPs upstream). The
   width is halved while fewer than ``n_breaks`` + 2 local minima exist;
3. n_breaks = ⌊J / ``block_snps``⌋ + 1 (as ML-MAGES). Local minima of g at least ``block_snps``
   anti-diagonals (``block_snps``/2 SNPs) apart are accepted lowest first while they stay more
   than ``block_snps`` anti-diagonals from every accepted one and from both ends;
4. refinement: each breakpoint b_t moves to the argmin of the cross-block LD
   X(p) = Σ_{i<p≤j, j−i≤band} w_ij (the LD a split before SNP p cuts; ML-MAGES uses the sum over
   i < p < j, leaving out SNP p) over [b_t − (b_t − b_{t−1})//4, b_t + (b_{t+1} − b_t)//4), with
   b_0 = 0 and b_{n+1} = J the unrefined neighbours.

Blocks are [0, b_1), [b_1, b_2), … [b_n, J): a breakpoint is the first SNP of the next block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import signal

ReadBlock = Callable[[int, int], np.ndarray]  # (start, stop) -> standardized Z (n, stop − start)

DEFAULT_BLOCK_SNPS = 1000
DEFAULT_SMOOTH_WIDTH = 200  # anti-diagonals on each side of the Hann window's centre (ML-MAGES)
WINDOW_SNPS = 1024  # SNPs whose LD rows are computed together while streaming


def single_threaded():
    """Context in which BLAS/OpenMP use one thread: summation order, and so every bit of a
    result, then depends on the inputs only, not on the machine's thread count."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def block_ld(Z: np.ndarray) -> np.ndarray:
    """Signed Pearson r of the columns of a standardized block: R = ZᵀZ / n, diagonal 1."""
    Z = np.asarray(Z, dtype=np.float64)
    R = Z.T @ Z / Z.shape[0]
    np.fill_diagonal(R, 1.0)
    return R


@dataclass(frozen=True)
class BlockPartition:
    """Contiguous blocks of the analysed SNPs (positions 0 … n_snps − 1), never across a
    chromosome. Block t holds SNPs ``starts[t]`` … ``stops[t]`` − 1."""

    starts: np.ndarray  # (n_blocks,) int64
    stops: np.ndarray  # (n_blocks,) int64, exclusive
    chrom: np.ndarray  # (n_blocks,) str

    @property
    def n_blocks(self) -> int:
        return len(self.starts)

    @property
    def n_snps(self) -> int:
        return int(self.stops[-1]) if len(self.stops) else 0

    @property
    def sizes(self) -> np.ndarray:
        return self.stops - self.starts

    def block_of_snp(self) -> np.ndarray:
        """(n_snps,) block number of every SNP."""
        return np.repeat(np.arange(self.n_blocks), self.sizes)


@dataclass(frozen=True)
class LdProfile:
    """Banded LD summaries of one chromosome of J SNPs (w_ij = R_ij², module docstring)."""

    antidiagonal: np.ndarray  # (2J − 1,) v[k] = Σ_{i+j=k, |i−j|≤band} w_ij
    cross: np.ndarray  # (J + 1,) X(p) = Σ_{i<p≤j, j−i≤band} w_ij; X(0) = X(J) = 0
    band: int


def chromosome_runs(chrom: np.ndarray) -> list[tuple[str, int, int]]:
    """Runs ``(label, start, stop)`` of equal consecutive labels (a chromosome must be one run)."""
    chrom = np.asarray(chrom).astype(str)
    if len(chrom) == 0:
        return []
    cuts = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [len(chrom)]])
    labels = chrom[starts]
    if len(set(labels)) != len(labels):
        raise ValueError("the SNPs of a chromosome must be consecutive (sort them by chromosome)")
    return [(str(c), int(a), int(b)) for c, a, b in zip(labels, starts, stops, strict=True)]


def ld_profile(
    read_block: ReadBlock, start: int, stop: int, band: int, window: int = WINDOW_SNPS
) -> LdProfile:
    """Anti-diagonal and cross-block sums of w_ij = R_ij² over |i − j| ≤ ``band`` for the SNPs
    ``start`` … ``stop`` − 1, streaming windows of ``window`` SNPs (plus ``band`` to the right):
    memory is one (window, window + band) LD tile."""
    if band < 1:
        raise ValueError(f"`band` must be >= 1 SNP, got {band}")
    J = stop - start
    v = np.zeros(2 * J - 1) if J else np.zeros(0)
    diff = np.zeros(J + 2)
    for a in range(0, J, window):
        b = min(a + window, J)
        c = min(b + band, J)
        Z = np.asarray(read_block(start + a, start + c), dtype=np.float64)
        tile = Z[:, : b - a].T @ Z / Z.shape[0]  # rows a … b − 1, columns a … c − 1
        tile = tile * tile
        rows = np.arange(b - a)
        for d in range(min(band, c - a - 1) + 1):  # pairs (i, i + d) with i in [a, b)
            r = rows[rows + d < c - a]
            w = np.ones(len(r)) if d == 0 else tile[r, r + d]
            gi = r + a
            v[2 * gi + d] += w if d == 0 else 2.0 * w  # indices distinct
            if d:  # pair (i, i + d) is cut by every split p with i < p ≤ i + d
                diff[gi + 1] += w
                diff[gi + d + 1] -= w
    cross = np.cumsum(diff)[: J + 1]
    cross[0] = 0.0
    return LdProfile(antidiagonal=v, cross=cross, band=band)


def _hann_smooth(v: np.ndarray, width: int) -> np.ndarray:
    """Hann-smoothed profile ('valid' mode): entry m is centred on anti-diagonal m + width."""
    if width < 1:
        return v.copy()
    h = signal.windows.hann(2 * width + 1, sym=True)  # get_window's is periodic, off centre
    return np.convolve(v, h / h.sum(), mode="valid")


def initial_breakpoints(
    v: np.ndarray, n_breaks: int, block_snps: int, smooth_width: int
) -> np.ndarray:
    """Steps 2–3 of the module docstring: breakpoints (SNP positions) from the profile ``v``."""
    min_gap = block_snps  # anti-diagonal units, i.e. block_snps / 2 SNPs
    if n_breaks < 1 or len(v) < 3:
        return np.zeros(0, dtype=np.int64)
    width = min(smooth_width, (len(v) - 1) // 2)
    while True:
        g = _hann_smooth(v, width)
        minima, _ = signal.find_peaks(-g, distance=max(min_gap, 1))
        if len(minima) >= n_breaks + 2 or width < 1:
            break
        width //= 2
    centres = minima + max(width, 0)  # anti-diagonal index of each minimum (offset fixed)
    values = g[minima]
    accepted: list[int] = []
    for k in np.argsort(values, kind="stable"):
        m = int(centres[k])
        if not (min_gap < m < len(v) - min_gap):
            continue
        if all(abs(m - a) > min_gap for a in accepted):
            accepted.append(m)
        if len(accepted) == n_breaks:
            break
    return np.sort((np.array(accepted, dtype=np.int64) + 1) // 2)


def refine_breakpoints(cross: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Step 4: move each breakpoint to the least cross-block LD within a quarter of the distance
    to its (unrefined) neighbours; ties go to the leftmost position."""
    J = len(cross) - 1
    out = np.array(breaks, dtype=np.int64)
    for t, b in enumerate(breaks):
        prev = breaks[t - 1] if t > 0 else 0
        nxt = breaks[t + 1] if t + 1 < len(breaks) else J
        lo = max(b - (b - prev) // 4, 1)
        hi = min(b + (nxt - b) // 4, J)
        if hi > lo:
            out[t] = lo + int(np.argmin(cross[lo:hi]))
    return np.unique(out[(out > 0) & (out < J)])


def find_ld_blocks(
    read_block: ReadBlock,
    chrom: np.ndarray,
    block_snps: int = DEFAULT_BLOCK_SNPS,
    band: int | None = None,
    smooth_width: int = DEFAULT_SMOOTH_WIDTH,
    window: int = WINDOW_SNPS,
) -> BlockPartition:
    """LD blocks of the analysed SNPs by the ML-MAGES method (module docstring), one
    chromosome at a time. ``chrom`` (n_snps,) labels each SNP (each chromosome consecutive);
    ``band`` (default ``block_snps``) bounds |i − j| of the LD pairs summed."""
    if block_snps < 2:
        raise ValueError(f"`block_snps` must be >= 2, got {block_snps}")
    band = block_snps if band is None else band
    starts, stops, labels = [], [], []
    for label, a, b in chromosome_runs(chrom):
        J = b - a
        profile = ld_profile(read_block, a, b, band, window)
        n_breaks = J // block_snps + 1
        breaks = initial_breakpoints(profile.antidiagonal, n_breaks, block_snps, smooth_width)
        breaks = refine_breakpoints(profile.cross, breaks)
        edges = np.concatenate([[0], breaks, [J]]) + a
        starts.extend(edges[:-1])
        stops.extend(edges[1:])
        labels.extend([label] * (len(edges) - 1))
    return BlockPartition(
        starts=np.array(starts, dtype=np.int64),
        stops=np.array(stops, dtype=np.int64),
        chrom=np.array(labels, dtype=str),
    )


def partition_from_intervals(
    chrom: np.ndarray,
    bp: np.ndarray,
    interval_chrom: np.ndarray,
    interval_start: np.ndarray,
    interval_end: np.ndarray,
) -> tuple[BlockPartition, int]:
    """Blocks from user intervals: SNP j joins interval t when its chromosome matches and
    ``interval_start[t] ≤ bp[j] ≤ interval_end[t]`` (inclusive, 1-based bp; callers convert
    BED's half-open 0-based intervals). SNPs must be sorted by position within a chromosome.
    A run of consecutive SNPs in no interval becomes a block of its own.

    Returns (partition, number of SNPs in no interval)."""
    chrom = np.asarray(chrom).astype(str)
    bp = np.asarray(bp, dtype=np.int64)
    interval_chrom = np.asarray(interval_chrom).astype(str)
    label = np.full(len(bp), -1, dtype=np.int64)
    for t in range(len(interval_chrom)):
        hit = (chrom == interval_chrom[t]) & (bp >= interval_start[t]) & (bp <= interval_end[t])
        label[hit & (label < 0)] = t
    n_uncovered = int((label < 0).sum())
    starts, stops, labels = [], [], []
    for c, a, b in chromosome_runs(chrom):
        if np.any(np.diff(bp[a:b]) < 0):
            raise ValueError(f"SNPs of chromosome {c} must be sorted by position")
        lab = label[a:b]
        cuts = np.flatnonzero(lab[1:] != lab[:-1]) + 1
        edges = np.concatenate([[0], cuts, [b - a]]) + a
        starts.extend(edges[:-1])
        stops.extend(edges[1:])
        labels.extend([c] * (len(edges) - 1))
    part = BlockPartition(
        np.array(starts, dtype=np.int64), np.array(stops, dtype=np.int64), np.array(labels, str)
    )
    return part, n_uncovered
