"""Align individuals on (FID, IID) across the .fam, phenotype, covariate and kinship files.

The analysis order is always the .fam order, as in PLINK. Every individual dropped is counted
with its reason, so the log can say how many were dropped, from which file and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lmmlasso_cli.errors import SampleMismatchError


@dataclass(frozen=True)
class SampleSource:
    """One file that restricts the individuals: those absent, or with ``complete`` False, drop."""

    label: str  # e.g. "toy.pheno" or "--keep keep.txt"
    fid: np.ndarray
    iid: np.ndarray
    complete: np.ndarray | None = None  # (n_rows,) bool; None means every row is usable
    why_incomplete: str = "missing values"


@dataclass(frozen=True)
class SampleAlignment:
    """Individuals kept, as indices into the .fam, with the reasons for every drop."""

    fam_index: np.ndarray  # (n_kept,) int, increasing (the .fam order)
    fid: np.ndarray
    iid: np.ndarray
    source_rows: dict = field(default_factory=dict)  # label -> (n_kept,) row index in that source
    dropped: list = field(default_factory=list)  # [(count, reason)]

    @property
    def n_samples(self) -> int:
        return len(self.fam_index)

    def describe_drops(self) -> str:
        parts = [f"{count} {reason}" for count, reason in self.dropped if count]
        return "; ".join(parts) if parts else "none"


def _keys(fid: np.ndarray, iid: np.ndarray) -> list[tuple[str, str]]:
    return list(zip(fid.tolist(), iid.tolist(), strict=True))


def align_samples(
    fam_fid: np.ndarray,
    fam_iid: np.ndarray,
    sources: list[SampleSource] = (),
    keep: SampleSource | None = None,
    remove: SampleSource | None = None,
    fam_label: str = ".fam",
) -> SampleAlignment:
    """Intersect the .fam with every source; raise if nothing or no overlap is left."""
    fam_keys = _keys(fam_fid, fam_iid)
    mask = np.ones(len(fam_keys), dtype=bool)
    dropped: list = []
    if keep is not None:
        wanted = set(_keys(keep.fid, keep.iid))
        hit = np.array([k in wanted for k in fam_keys], dtype=bool)
        dropped.append((int((mask & ~hit).sum()), f"not listed in {keep.label}"))
        mask &= hit
    if remove is not None:
        unwanted = set(_keys(remove.fid, remove.iid))
        hit = np.array([k in unwanted for k in fam_keys], dtype=bool)
        dropped.append((int((mask & hit).sum()), f"listed in {remove.label}"))
        mask &= ~hit
    source_rows = {}
    for source in sources:
        lookup = {k: r for r, k in enumerate(_keys(source.fid, source.iid))}
        rows = np.array([lookup.get(k, -1) for k in fam_keys], dtype=np.int64)
        present = rows >= 0
        if not present.any():
            raise SampleMismatchError(
                f"{source.label}: none of its {len(lookup)} (FID, IID) pairs matches {fam_label} "
                f"(e.g. {source.fid[0]} {source.iid[0]} vs {fam_fid[0]} {fam_iid[0]}); "
                f"check that both files use the same FID and IID"
            )
        dropped.append((int((mask & ~present).sum()), f"absent from {source.label}"))
        mask &= present
        if source.complete is not None:
            usable = np.zeros(len(fam_keys), dtype=bool)
            usable[present] = source.complete[rows[present]]
            dropped.append(
                (int((mask & ~usable).sum()), f"{source.why_incomplete} in {source.label}")
            )
            mask &= usable
        source_rows[source.label] = rows
    fam_index = np.flatnonzero(mask)
    if len(fam_index) == 0:
        reasons = "; ".join(f"{c} {r}" for c, r in dropped if c)
        raise SampleMismatchError(
            f"no individual is left after aligning {fam_label} with the other inputs ({reasons}); "
            f"check the FID/IID columns and the missing values"
        )
    return SampleAlignment(
        fam_index=fam_index,
        fid=np.asarray(fam_fid)[fam_index],
        iid=np.asarray(fam_iid)[fam_index],
        source_rows={k: v[fam_index] for k, v in source_rows.items()},
        dropped=dropped,
    )


def index_in(
    fid: np.ndarray, iid: np.ndarray, ref_fid: np.ndarray, ref_iid: np.ndarray, ref_label: str
) -> np.ndarray:
    """Positions of (fid, iid) within the reference IDs; raise if any individual is not covered."""
    lookup = {k: r for r, k in enumerate(_keys(ref_fid, ref_iid))}
    pos = np.array([lookup.get(k, -1) for k in _keys(fid, iid)], dtype=np.int64)
    missing = np.flatnonzero(pos < 0)
    if len(missing):
        m = missing[0]
        raise SampleMismatchError(
            f"{ref_label}: {len(missing)} of the {len(pos)} analysed individuals are not in it "
            f"(e.g. FID {fid[m]} IID {iid[m]}); rebuild it with `lmmlasso kinship` on a .fam "
            f"that includes them, or restrict the analysis with --keep"
        )
    return pos
