"""Kinship artifacts: lmmlasso's ``.kinship.npz`` and GCTA's binary GRM, read alike.

``--kinship`` accepts ``PREFIX.kinship.npz``, ``PREFIX.grm.bin`` or the GCTA prefix
``PREFIX`` (with ``PREFIX.grm.bin`` beside it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.artifacts import load_npz, read_gcta_grm, save_npz
from lmmlasso_cli.io.samples import index_in


@dataclass(frozen=True)
class KinshipFile:
    """A kinship matrix with its sample IDs and, for npz artifacts, the SNPs behind it."""

    path: str
    matrix: np.ndarray  # (n, n) float64
    fid: np.ndarray
    iid: np.ndarray
    snp: np.ndarray | None  # SNP IDs used (npz only)
    a1: np.ndarray | None
    means: np.ndarray | None  # per-SNP mean A1 count (npz only)
    sds: np.ndarray | None
    scale: float  # normalization divisor (1.0 for GCTA input: unknown, taken as is)
    scaling: str
    n_snps: int

    def submatrix(self, fid: np.ndarray, iid: np.ndarray) -> np.ndarray:
        """K restricted to and ordered as the given individuals (error if any is missing)."""
        pos = index_in(fid, iid, self.fid, self.iid, self.path)
        return self.matrix[np.ix_(pos, pos)]


def save_kinship(path: str, kin, fid, iid, snp, a1, meta: dict) -> None:
    """Write a `kinship.Kinship` result and its IDs as an npz artifact."""
    save_npz(
        path,
        "kinship",
        {**meta, "normalization": "K = Z Z^T / (n_snps * scale), mean diagonal 1"},
        {
            "K": kin.matrix,
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
        art = load_npz(path, "kinship", ("K", "fid", "iid", "snp", "snp_means", "snp_sds"))
        matrix = art["K"]
        n = len(art["iid"])
        if matrix.shape != (n, n):
            raise InputError(f"{path}: K is not square with one row per individual; re-create it")
        return KinshipFile(
            path=path,
            matrix=matrix.astype(np.float64),
            fid=art["fid"].astype(str),
            iid=art["iid"].astype(str),
            snp=art["snp"].astype(str),
            a1=art["a1"].astype(str) if "a1" in art.arrays else None,
            means=art["snp_means"],
            sds=art["snp_sds"],
            scale=float(art["scale"]),
            scaling=str(art["scaling"]),
            n_snps=len(art["snp"]),
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
