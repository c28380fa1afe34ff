"""Compact genotypes: one byte per call, standardized on the fly.

A `CompactGenotypes` holds the analysed SNPs as codes (uint8, Fortran order: 0, 1, 2 = A1
count, 3 = missing) with each SNP's mean and sd. The standardized matrix it stands for is

    Z[i, j] = (G[i, j] − mean_j) / sd_j  for an observed call,  0 for a missing one

(mean imputation), exactly the float64 values `genotypes.standardize` gives: every SNP's four
possible values are computed once, in float64, into a lookup table (``lut``), and every
operation reads them from there. Z itself (8 bytes per call) is never formed: `tdot` computes
Zᵀu in one pass over the bytes, `columns` expands the SNPs asked for, `dot` and `tdot_many`
expand fixed blocks of ``block_snps`` SNPs at a time (summed in block order).

``rows`` selects and orders the individuals: `take_rows` gives the genotypes of a subset
(a fold, a subsample) without copying the codes and keeps the standardization of the whole
set (as cross-validation needs: standardization involves no phenotype).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

MISSING = 3
# SNPs expanded at once by `dot`/`tdot_many` (n × block float64): 64 MB at n = 2048.
DEFAULT_BLOCK_SNPS = 4096
# `take_rows` copies a subset's codes up to this size (bytes), else selects through rows.
SUBSET_COPY_BYTES = 256e6
# Zᵀu over a subset of at least this share of the stored rows reads every row, with u padded by
# zeros: contiguous reads vectorize, and are 1.9× faster than reading half the rows through
# ``rows`` (10,000 × 20,000 codes on this machine's one core).
PADDED_MIN_SHARE = 0.25


def standardized_lut(means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    """(n_snps, 4) float64: (c − mean)/sd for the codes c = 0, 1, 2, and 0 for missing."""
    means = np.asarray(means, dtype=np.float64)
    sds = np.asarray(sds, dtype=np.float64)
    lut = np.zeros((len(means), 4))
    for c in range(3):
        values = np.full(len(means), float(c))
        values -= means  # the operations of genotypes.standardize, in its order
        values /= sds
        lut[:, c] = values
    return lut


@dataclass(frozen=True)
class CompactGenotypes:
    """Standardized genotypes Z (n_samples × n_snps) stored as codes (module docstring).

    codes: (n_rows, n_snps) uint8 Fortran. means, sds: (n_snps,) float64 over the individuals
    the standardization was computed on. lut: (n_snps, 4) from `standardized_lut`. rows:
    (n_samples,) intp, the rows of ``codes`` this matrix has, in order.
    """

    codes: np.ndarray
    means: np.ndarray
    sds: np.ndarray
    lut: np.ndarray
    rows: np.ndarray
    block_snps: int = DEFAULT_BLOCK_SNPS

    @classmethod
    def from_codes(cls, codes, means, sds, rows=None, block_snps: int = DEFAULT_BLOCK_SNPS):
        codes = np.asarray(codes)
        if codes.dtype != np.uint8 or codes.ndim != 2 or not codes.flags.f_contiguous:
            raise ValueError("codes must be a 2-D Fortran-ordered uint8 array")
        if rows is None:
            rows = np.arange(codes.shape[0], dtype=np.intp)
        rows = np.ascontiguousarray(rows, dtype=np.intp)
        means = np.ascontiguousarray(means, dtype=np.float64)
        sds = np.ascontiguousarray(sds, dtype=np.float64)
        if means.shape != (codes.shape[1],) or sds.shape != means.shape:
            raise ValueError(f"means and sds must have shape ({codes.shape[1]},)")
        return cls(codes, means, sds, standardized_lut(means, sds), rows, int(block_snps))

    @property
    def n_samples(self) -> int:
        return self.rows.size

    @property
    def n_snps(self) -> int:
        return self.codes.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_samples, self.n_snps)

    @property
    def all_rows(self) -> bool:
        """True when ``rows`` is every row of ``codes`` in order (the kernels skip the gather)."""
        n_rows = self.codes.shape[0]
        return self.rows.size == n_rows and bool(
            n_rows == 0 or (self.rows[0] == 0 and np.all(np.diff(self.rows) == 1))
        )

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes + self.lut.nbytes + self.rows.nbytes

    def take_rows(self, rows: np.ndarray) -> CompactGenotypes:
        """The individuals ``rows`` (positions in this matrix) with the same standardization.
        Their codes are copied into a new store when that takes at most `SUBSET_COPY_BYTES`
        (the kernels then read contiguous columns, several times faster than through
        ``rows``); larger subsets keep the codes and select through ``rows``."""
        from lmmlasso_cli.compact_kernels import gather_rows

        rows = np.ascontiguousarray(self.rows[np.asarray(rows)])
        if rows.size * self.n_snps > SUBSET_COPY_BYTES:
            return replace(self, rows=rows)
        codes = np.empty((rows.size, self.n_snps), dtype=np.uint8, order="F")
        gather_rows(self.codes, rows, codes)
        return replace(self, codes=codes, rows=np.arange(rows.size, dtype=np.intp))

    def columns(self, idx, dtype=np.float64) -> np.ndarray:
        """Z[:, idx] as a new (n_samples, len(idx)) Fortran array of ``dtype``."""
        from lmmlasso_cli.compact_kernels import expand

        idx = np.ascontiguousarray(idx, dtype=np.intp)
        out = np.empty((self.n_samples, idx.size), dtype=dtype, order="F")
        lut = self.lut if dtype == np.float64 else self.lut.astype(dtype)
        if idx.size == 1:  # an (n, 1) array is C- and F-contiguous: numba would compile anew
            out[:, 0] = lut[idx[0], self.codes[self.rows, idx[0]]]
        elif idx.size:
            expand(self.codes, self.rows, idx, lut, out)
        return out

    def tdot(self, u: np.ndarray) -> np.ndarray:
        """Zᵀu, (n_snps,) float64, for u (n_samples,): one pass over the codes."""
        from lmmlasso_cli.compact_kernels import tdot_all, tdot_rows

        u = np.ascontiguousarray(u, dtype=np.float64)
        if u.shape != (self.n_samples,):
            raise ValueError(f"u must have shape ({self.n_samples},), got {u.shape}")
        out = np.empty(self.n_snps)
        if self.all_rows:
            tdot_all(self.codes, self.lut, u, out)
        elif self.rows.size >= PADDED_MIN_SHARE * self.codes.shape[0]:
            padded = np.zeros(self.codes.shape[0])
            np.add.at(padded, self.rows, u)  # a row listed twice counts twice
            tdot_all(self.codes, self.lut, padded, out)
        else:
            tdot_rows(self.codes, self.rows, self.lut, u, out)
        return out

    def _blocks(self):
        for start in range(0, self.n_snps, self.block_snps):
            cols = np.arange(start, min(start + self.block_snps, self.n_snps))
            yield cols, self.columns(cols)

    def tdot_many(self, U: np.ndarray) -> np.ndarray:
        """ZᵀU, (n_snps, k), for U (n_samples, k), by expanded blocks of SNPs."""
        U = np.asarray(U, dtype=np.float64)
        out = np.empty((self.n_snps, U.shape[1]))
        for cols, block in self._blocks():
            out[cols] = block.T @ U
        return out

    def dot(self, v: np.ndarray) -> np.ndarray:
        """Z v for v (n_snps,) or (n_snps, k): only SNPs with a nonzero row of v are expanded,
        by blocks, summed in block order."""
        v = np.asarray(v, dtype=np.float64)
        flat = v.ndim == 1
        V = v.reshape(self.n_snps, -1)
        used = np.flatnonzero(np.any(V != 0, axis=1))
        out = np.zeros((self.n_samples, V.shape[1]))
        for start in range(0, used.size, self.block_snps):
            cols = used[start : start + self.block_snps]
            out += self.columns(cols) @ V[cols]
        return out[:, 0] if flat else out

    def duplicate_columns(self) -> np.ndarray:
        """(n_snps,) bool: True where a SNP's codes over ``rows`` and its standardized values
        (``lut`` row) equal an earlier SNP's, so its column of Z is the same. Hashes group
        candidates; equality is checked exactly."""
        from lmmlasso_cli.compact_kernels import column_hashes

        hashes = np.empty(self.n_snps, dtype=np.uint64)
        column_hashes(self.codes, self.rows, hashes)
        dup = np.zeros(self.n_snps, dtype=bool)
        order = np.argsort(hashes, kind="stable")  # equal hashes stay in column order
        sorted_hashes = hashes[order]
        starts = np.flatnonzero(np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]])
        sizes = np.diff(np.r_[starts, len(order)])
        multi = sizes > 1
        if not multi.any():
            return dup
        from lmmlasso_cli.compact_kernels import columns_equal

        groups = zip(starts[multi], sizes[multi], strict=True)
        members = np.concatenate([order[a : a + k] for a, k in groups])
        firsts = np.repeat(order[starts[multi]], sizes[multi])

        equal = np.empty(members.size, dtype=bool)
        columns_equal(self.codes, self.rows, members, firsts, equal)
        equal &= np.all(self.lut[members] == self.lut[firsts], axis=1)  # same standardization
        dup[members[equal & (members != firsts)]] = True
        # a member unequal to its group's first is a hash collision: check it the slow way
        for j in members[~equal]:
            column = self.codes[self.rows, j]
            group = members[firsts == firsts[members == j][0]]
            earlier = group[(group < j) & ~dup[group]]
            dup[j] = any(
                np.array_equal(column, self.codes[self.rows, i])
                and np.array_equal(self.lut[j], self.lut[i])
                for i in earlier
            )
        return dup


def standardize_codes(codes: np.ndarray, means, sds, dtype=np.float64) -> np.ndarray:
    """The standardized float block (n, k) of a block of codes (n, k), Fortran order: what
    `CompactGenotypes.columns` gives for every SNP of it."""
    store = CompactGenotypes.from_codes(np.asfortranarray(codes), means, sds)
    return store.columns(np.arange(store.n_snps), dtype)


def code_counts(codes: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """(n_snps, 4) int64: per SNP, how many of ``rows`` (default all) carry code 0, 1, 2, 3."""
    from lmmlasso_cli.compact_kernels import code_counts as kernel
    from lmmlasso_cli.compact_kernels import code_counts_all

    out = np.empty((codes.shape[1], 4), dtype=np.int64)
    if rows is None:
        code_counts_all(codes, out)
    else:
        kernel(codes, np.ascontiguousarray(rows, dtype=np.intp), out)
    return out


def as_genotypes(X):
    """``X`` if it is `CompactGenotypes`, else a `DenseGenotypes` over the float64 matrix."""
    if isinstance(X, (CompactGenotypes, DenseGenotypes)):
        return X
    return DenseGenotypes(np.asarray(X, dtype=np.float64))


@dataclass(frozen=True)
class DenseGenotypes:
    """A standardized float64 matrix with the operations of `CompactGenotypes` (for callers
    that already hold small matrices, and tests)."""

    matrix: np.ndarray

    @property
    def n_samples(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_snps(self) -> int:
        return self.matrix.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def take_rows(self, rows) -> DenseGenotypes:
        return DenseGenotypes(np.asfortranarray(np.take(self.matrix.T, rows, axis=1).T))

    def columns(self, idx, dtype=np.float64) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.intp)
        return np.asfortranarray(self.matrix.T[idx].T, dtype=dtype)

    def tdot(self, u):
        return self.matrix.T @ np.asarray(u, dtype=np.float64)

    def tdot_many(self, U):
        return self.matrix.T @ np.asarray(U, dtype=np.float64)

    def dot(self, v):
        return self.matrix @ np.asarray(v, dtype=np.float64)

    def duplicate_columns(self) -> np.ndarray:
        from lmmlasso_cli.lmmlasso import duplicate_columns

        return duplicate_columns(self.matrix)
