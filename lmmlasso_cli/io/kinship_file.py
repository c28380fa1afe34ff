"""Kinship artifacts: lmmlasso's ``.kinship.npz`` and GCTA's binary GRM, read alike.

``--kinship`` accepts ``PREFIX.kinship.npz``, ``PREFIX.grm.bin`` or the GCTA prefix
``PREFIX`` (with ``PREFIX.grm.bin`` beside it).

A job-array part (``kinship --part K/N``) is a ``PREFIX.kinship-part.npz`` (kind
"kinship-part"): the unnormalized sum Σ z zᵀ of its SNP range (upper triangle), the SNPs it
used with their means and sds, its drop counts, and in its metadata the part K, N, the
``job`` fingerprint of the data and parameters and ``fixed_bits``: the sum is int64, Σ z zᵀ ·
2^fixed_bits rounded (`kinship.to_fixed`), so parts add exactly. Parts merge only if their
jobs are equal and they are parts 1..N exactly once (`check_parts`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.errors import ArtifactError, InputError
from lmmlasso_cli.io.artifacts import load_npz, read_gcta_grm, save_npz
from lmmlasso_cli.io.samples import index_in


@dataclass(frozen=True)
class KinshipFile:
    """A kinship matrix with its sample IDs and, for npz artifacts, the SNPs behind it. A
    low-rank file (``kinship --rank``) holds K's leading eigenpairs instead of the matrix."""

    path: str
    matrix: np.ndarray | None  # (n, n) float64; None for a low-rank file
    fid: np.ndarray
    iid: np.ndarray
    snp: np.ndarray | None  # SNP IDs used (npz only)
    a1: np.ndarray | None
    means: np.ndarray | None  # per-SNP mean A1 count (npz only)
    sds: np.ndarray | None
    scale: float  # normalization divisor (1.0 for GCTA input: unknown, taken as is)
    scaling: str
    n_snps: int
    eigen: object = None  # nullmodel.KinshipEigen (n, r) of a low-rank file, else None

    @property
    def rank(self) -> int | None:
        return None if self.eigen is None else self.eigen.rank

    def submatrix(self, fid: np.ndarray, iid: np.ndarray):
        """K restricted to and ordered as the given individuals (error if any is missing): an
        (m, m) array, or for a low-rank file a `nullmodel.LowRankKinship` of the factor's rows
        (`nullmodel.decompose` gives the eigensystem of either)."""
        pos = index_in(fid, iid, self.fid, self.iid, self.path)
        if self.eigen is not None:
            from lmmlasso_cli.nullmodel import LowRankKinship

            factor = self.eigen.eigvecs[pos] * np.sqrt(self.eigen.eigvals)
            return LowRankKinship(factor)
        return self.matrix[np.ix_(pos, pos)]


def save_kinship(path: str, kin, fid, iid, snp, a1, meta: dict, low_rank=None) -> None:
    """Write a `kinship.Kinship` result and its IDs as an npz artifact; with ``low_rank`` (a
    `nullmodel.KinshipEigen` of K's leading eigenpairs) those instead of K: arrays
    ``K_eigvals`` (r,) ascending and ``K_eigvecs`` (n, r), metadata ``rank``."""
    norm = "K = Z Z^T / (n_snps * scale), mean diagonal 1"
    if low_rank is None:
        meta, matrix = {**meta, "normalization": norm}, {"K": kin.matrix}
    else:
        note = f"{norm}; stored as its {low_rank.rank} leading eigenpairs, K ~ U diag(S) U^T"
        meta = {**meta, "normalization": note, "rank": low_rank.rank}
        matrix = {"K_eigvals": low_rank.eigvals, "K_eigvecs": low_rank.eigvecs}
    save_npz(
        path,
        "kinship",
        meta,
        {
            **matrix,
            "fid": fid,
            "iid": iid,
            "snp": snp,
            "a1": a1,
            "snp_means": kin.means,
            "snp_sds": kin.sds,
            "scale": np.float64(kin.scale),
            "scaling": np.array(kin.scaling),
        },
    )


def load_kinship(path: str) -> KinshipFile:
    """Read ``--kinship`` in either format."""
    if path.endswith(".npz"):
        art = load_npz(path, "kinship", ("fid", "iid", "snp", "snp_means", "snp_sds"))
        n = len(art["iid"])
        matrix, eigen = None, None
        if "K" in art.arrays:
            matrix = art["K"].astype(np.float64)
            if matrix.shape != (n, n):
                raise InputError(
                    f"{path}: K is not square with one row per individual; re-create it"
                )
        elif "K_eigvecs" in art.arrays and "K_eigvals" in art.arrays:
            from lmmlasso_cli.nullmodel import KinshipEigen

            vals, vecs = art["K_eigvals"], art["K_eigvecs"]
            if vecs.ndim != 2 or vecs.shape != (n, len(vals)) or len(vals) >= n:
                raise InputError(
                    f"{path}: its low-rank K_eigvecs is not (n, rank) with rank < n = {n}; "
                    f"re-create it with `lmmlasso kinship --rank`"
                )
            eigen = KinshipEigen(vals.astype(np.float64), vecs.astype(np.float64), 0)
        else:
            raise InputError(
                f"{path}: holds neither K nor K_eigvals/K_eigvecs; re-create it with "
                f"`lmmlasso kinship`"
            )
        return KinshipFile(
            path=path,
            matrix=matrix,
            fid=art["fid"].astype(str),
            iid=art["iid"].astype(str),
            snp=art["snp"].astype(str),
            a1=art["a1"].astype(str) if "a1" in art.arrays else None,
            means=art["snp_means"],
            sds=art["snp_sds"],
            scale=float(art["scale"]),
            scaling=str(art["scaling"]),
            n_snps=len(art["snp"]),
            eigen=eigen,
        )
    prefix = path[: -len(".grm.bin")] if path.endswith(".grm.bin") else path
    if not os.path.exists(prefix + ".grm.bin"):
        raise InputError(
            f"{path}: not a kinship file; give PREFIX.kinship.npz, PREFIX.grm.bin or a GCTA prefix"
        )
    matrix, fid, iid = read_gcta_grm(prefix)
    n_snps = 0
    n_path = prefix + ".grm.N.bin"
    if os.path.exists(n_path):
        counts = np.fromfile(n_path, dtype="<f4", count=1)
        n_snps = int(counts[0]) if len(counts) else 0
    return KinshipFile(
        path=prefix + ".grm.bin",
        matrix=matrix,
        fid=fid,
        iid=iid,
        snp=None,
        a1=None,
        means=None,
        sds=None,
        scale=1.0,
        scaling="unknown",
        n_snps=n_snps,
    )


PART_KIND = "kinship-part"
PART_ARRAYS = ("upper", "fid", "iid", "snp_index", "snp", "a1", "snp_means", "snp_sds", "counts")


@dataclass(frozen=True)
class KinshipPartFile:
    """A loaded ``.kinship-part.npz``: part ``k`` of ``n`` of the job ``job``."""

    path: str
    k: int
    n: int
    job: str
    meta: dict
    part: object  # kinship.KinshipPart
    fid: np.ndarray
    iid: np.ndarray
    snp: np.ndarray  # IDs of the SNPs used by this part
    a1: np.ndarray


def save_kinship_part(path: str, part, k: int, n: int, job: str, fid, iid, snp, a1, meta) -> None:
    counts = [part.n_all_missing, part.n_monomorphic, part.n_low_maf]
    save_npz(
        path,
        PART_KIND,
        {**meta, "part": [k, n], "job": job, "fixed_bits": part.fixed_bits},
        {
            "upper": part.upper,
            "fid": fid,
            "iid": iid,
            "snp_index": part.snp_index,
            "snp": snp,
            "a1": a1,
            "snp_means": part.means,
            "snp_sds": part.sds,
            "counts": np.array(counts, dtype=np.int64),
        },
    )


def load_kinship_part(path: str) -> KinshipPartFile:
    from lmmlasso_cli.kinship import KinshipPart

    art = load_npz(path, PART_KIND, PART_ARRAYS)
    k, n = art.meta.get("part", (0, 0))
    counts = art["counts"]
    bits = art.meta.get("fixed_bits")
    if bits is None or art["upper"].dtype != np.int64:
        raise ArtifactError(
            f"{path}: a part without fixed-point sums (written by an older lmmlasso); run "
            f"`lmmlasso kinship --part {k}/{n}` again"
        )
    part = KinshipPart(
        upper=np.asfortranarray(art["upper"]),
        snp_index=art["snp_index"],
        means=art["snp_means"],
        sds=art["snp_sds"],
        n_all_missing=int(counts[0]),
        n_monomorphic=int(counts[1]),
        n_low_maf=int(counts[2]),
        fixed_bits=int(bits),
    )
    return KinshipPartFile(
        path,
        int(k),
        int(n),
        str(art.meta.get("job")),
        art.meta,
        part,
        art["fid"].astype(str),
        art["iid"].astype(str),
        art["snp"].astype(str),
        art["a1"].astype(str),
    )


def check_parts(parts: list[KinshipPartFile]) -> list[KinshipPartFile]:
    """The parts in order 1..N, after checking they are all of one job, each exactly once."""
    first = parts[0]
    for part in parts[1:]:
        if part.job != first.job or part.n != first.n:
            params = first.meta.get("params", {})
            other = part.meta.get("params", {})
            differ = sorted(k for k in set(params) | set(other) if params.get(k) != other.get(k))
            why = f"parameters {', '.join(differ)} differ" if differ else "the data differ"
            raise ArtifactError(
                f"{part.path}: cannot be merged with {first.path} (part {part.k}/{part.n} vs "
                f"{first.k}/{first.n}; {why}); run every part with the same --bfile, filters, "
                f"--maf, --scaling, --block-size and N"
            )
    owner: dict[int, str] = {}
    for part in parts:
        if part.k in owner:
            raise ArtifactError(f"{part.path}: part {part.k}/{part.n} is also {owner[part.k]}")
        owner[part.k] = part.path
    missing = sorted(set(range(1, first.n + 1)) - set(owner))
    if missing:
        raise ArtifactError(
            f"parts {', '.join(map(str, missing))} of {first.n} are missing; run "
            f"`lmmlasso kinship --part K/{first.n}` for them and merge all {first.n}"
        )
    return sorted(parts, key=lambda p: p.k)
