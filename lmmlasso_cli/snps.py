"""SNPs with their identity and training scale, as models and scores carry them."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class SnpSet:
    """SNPs with identity and training scale (arrays (n_snps,)): IDs, chromosome, position,
    alleles (A1 counted) and the mean and sd of the A1 count over the training individuals."""

    snp: np.ndarray
    chrom: np.ndarray
    bp: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    means: np.ndarray
    sds: np.ndarray

    def __len__(self) -> int:
        return len(self.snp)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_plink(cls, plink, positions, means, sds, flipped=None) -> SnpSet:
        """The SNPs at .bim ``positions``; ``flipped`` marks SNPs counted on the other allele."""
        a1, a2 = plink.a1[positions], plink.a2[positions]
        if flipped is not None:
            a1, a2 = np.where(flipped, a2, a1), np.where(flipped, a1, a2)
        return cls(
            plink.snp[positions], plink.chrom[positions], plink.bp[positions], a1, a2, means, sds
        )

    @classmethod
    def concatenate(cls, sets: list[SnpSet]) -> SnpSet:
        return cls(*(np.concatenate([getattr(s, f) for s in sets]) for f in cls.field_names()))

    def take(self, idx) -> SnpSet:
        return SnpSet(*(getattr(self, f)[idx] for f in self.field_names()))
