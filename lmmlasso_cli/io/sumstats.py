"""Summary statistics for ``shrink``: our ``gwas.tsv`` or a generic table, matched to a .bim.

Accepted inputs (tab- or whitespace-separated, ``##`` comment lines skipped, gzip by suffix):

- ``lmmlasso gwas`` output: ``#CHROM POS ID REF ALT A1 OBS_CT BETA SE T_STAT P``; A2 is the
  one of REF/ALT that is not A1, N is OBS_CT;
- a generic table with ``CHR``, ``SNP`` (or ``ID``), ``A1``, ``BETA``, ``SE`` and optionally
  ``A2`` and ``N`` (column names case-insensitive).

Matching (`match_sumstats`) is by SNP ID and allele: a variant is kept where its A1 (and A2,
if given) equals the .bim's A1/A2, kept with BETA negated where its A1 is the .bim's A2 (and
A2, if given, the .bim's A1), and dropped otherwise. Every drop is counted by reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.artifacts import _n_comment_lines
from lmmlasso_cli.io.plink import PlinkSet

GWAS_REQUIRED = ["#CHROM", "ID", "REF", "ALT", "A1", "OBS_CT", "BETA", "SE"]
GENERIC_REQUIRED = ["CHR", "A1", "BETA", "SE"]


@dataclass(frozen=True)
class SumStats:
    """Per-variant marginal effects as read (arrays (n_variants,)), BETA per copy of A1."""

    path: str
    chrom: np.ndarray  # str
    snp: np.ndarray  # str
    a1: np.ndarray  # str
    a2: np.ndarray | None  # str, or None when the file has no A2
    beta: np.ndarray  # float64
    se: np.ndarray  # float64
    n: np.ndarray | None  # float64 sample sizes, or None

    @property
    def n_variants(self) -> int:
        return len(self.snp)


def read_sumstats(path: str) -> SumStats:
    """Read our gwas.tsv or a generic summary-statistics table (module docstring)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: summary-statistics file not found")
    try:
        frame = pd.read_csv(
            path, sep=r"\s+", skiprows=_n_comment_lines(path), dtype=str, keep_default_na=False
        )
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: not a readable table ({exc}); fix the file") from None
    cols = {c.upper(): c for c in frame.columns}
    if "#CHROM" in cols:
        absent = [c for c in GWAS_REQUIRED if c not in cols]
        if absent:
            raise InputError(
                f"{path}: looks like `lmmlasso gwas` output but lacks {', '.join(absent)}; "
                "re-run `lmmlasso gwas` or give a generic table (CHR SNP A1 BETA SE)"
            )
        get = lambda name: frame[cols[name]].to_numpy(dtype=str)  # noqa: E731
        a1, ref, alt = get("A1"), get("REF"), get("ALT")
        chrom, snp, a2 = get("#CHROM"), get("ID"), np.where(a1 == alt, ref, alt)
        n_text = get("OBS_CT")
    else:
        id_col = "SNP" if "SNP" in cols else "ID" if "ID" in cols else None
        absent = [c for c in GENERIC_REQUIRED if c not in cols] + ([] if id_col else ["SNP"])
        if absent:
            raise InputError(
                f"{path}: lacks the column(s) {', '.join(absent)}; summary statistics need "
                "CHR, SNP (or ID), A1, BETA and SE (optional A2, N)"
            )
        get = lambda name: frame[cols[name]].to_numpy(dtype=str)  # noqa: E731
        chrom, snp, a1 = get("CHR"), get(id_col), get("A1")
        a2 = get("A2") if "A2" in cols else None
        n_text = get("N") if "N" in cols else None
    beta = _numbers(frame[cols["BETA"]], path, "BETA")
    se = _numbers(frame[cols["SE"]], path, "SE")
    n = _numbers(pd.Series(n_text), path, "N") if n_text is not None else None
    bad = np.flatnonzero(np.isfinite(se) & (se <= 0))
    if len(bad):
        j = int(bad[0])
        raise InputError(
            f"{path}: SE must be positive, but row {j + 1} ({snp[j]}) has SE {se[j]:g} "
            f"({len(bad)} such rows); fix them or write NA for an untested variant"
        )
    upper = np.char.upper
    return SumStats(
        path=path,
        chrom=chrom,
        snp=snp,
        a1=upper(a1),
        a2=upper(a2) if a2 is not None else None,
        beta=beta,
        se=se,
        n=n,
    )


def _numbers(column: pd.Series, path: str, name: str) -> np.ndarray:
    values = pd.to_numeric(column.replace({"NA": np.nan, "nan": np.nan, "": np.nan}), "coerce")
    bad = values.isna() & ~column.isin(["NA", "nan", ""])
    if bad.any():
        raise InputError(
            f"{path}: column {name} has a non-numeric value {column[bad].iloc[0]!r} "
            f"(row {int(np.flatnonzero(bad.to_numpy())[0]) + 1}); use NA for missing values"
        )
    return values.to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class MatchedSumStats:
    """Variants found in the .bim, in .bim order, with BETA per copy of the .bim's A1."""

    snp_index: np.ndarray  # (n_matched,) positions in the .bim, increasing
    beta: np.ndarray  # (n_matched,) per copy of the .bim's A1 (sign flipped where needed)
    se: np.ndarray
    n: np.ndarray | None
    n_input: int
    n_flipped: int  # kept with the sign flipped (A1 is the .bim's A2)
    n_not_in_bim: int  # ID absent from the .bim
    n_allele_mismatch: int  # alleles match neither orientation
    n_chrom_mismatch: int  # ID found on another chromosome
    n_duplicate: int  # rows of IDs that occur more than once (all copies dropped)
    n_missing_value: int  # BETA or SE missing, not finite, or SE <= 0

    @property
    def n_matched(self) -> int:
        return len(self.snp_index)

    def summary(self) -> str:
        return (
            f"{self.n_matched} of {self.n_input} variants matched ({self.n_flipped} with the "
            f"sign flipped); dropped: {self.n_not_in_bim} not in the .bim, "
            f"{self.n_allele_mismatch} allele mismatch, {self.n_chrom_mismatch} other "
            f"chromosome, {self.n_duplicate} duplicate IDs, {self.n_missing_value} missing values"
        )


def match_sumstats(stats: SumStats, plink: PlinkSet, candidates: np.ndarray | None = None):
    """Match ``stats`` to the .bim by ID and allele (module docstring) among the .bim positions
    ``candidates`` (default all). Raises InputError when nothing matches."""
    allowed = np.zeros(plink.n_snps, dtype=bool)
    allowed[np.arange(plink.n_snps) if candidates is None else candidates] = True
    ids = pd.Series(stats.snp)
    dup = ids.duplicated(keep=False).to_numpy()
    lookup = {s: i for i, s in enumerate(plink.snp) if allowed[i]}
    pos = np.array([lookup.get(s, -1) for s in stats.snp], dtype=np.int64)
    found = (pos >= 0) & ~dup
    p = np.where(found, pos, 0)
    bim_a1, bim_a2 = np.char.upper(plink.a1[p]), np.char.upper(plink.a2[p])
    same = stats.a1 == bim_a1
    swap = stats.a1 == bim_a2
    if stats.a2 is not None:
        same &= stats.a2 == bim_a2
        swap &= stats.a2 == bim_a1
    chrom_ok = np.char.replace(np.char.lower(stats.chrom), "chr", "") == np.char.replace(
        np.char.lower(plink.chrom[p]), "chr", ""
    )
    allele_ok = same | swap
    value_ok = np.isfinite(stats.beta) & np.isfinite(stats.se) & (stats.se > 0)
    keep = found & chrom_ok & allele_ok & value_ok
    order = np.argsort(pos[keep], kind="stable")
    rows = np.flatnonzero(keep)[order]
    sign = np.where(swap[rows] & ~same[rows], -1.0, 1.0)
    matched = MatchedSumStats(
        snp_index=pos[rows],
        beta=stats.beta[rows] * sign,
        se=stats.se[rows],
        n=stats.n[rows] if stats.n is not None else None,
        n_input=stats.n_variants,
        n_flipped=int((sign < 0).sum()),
        n_not_in_bim=int(((pos < 0) & ~dup).sum()),
        n_allele_mismatch=int((found & chrom_ok & ~allele_ok).sum()),
        n_chrom_mismatch=int((found & ~chrom_ok).sum()),
        n_duplicate=int(dup.sum()),
        n_missing_value=int((found & chrom_ok & allele_ok & ~value_ok).sum()),
    )
    if matched.n_matched == 0:
        raise InputError(
            f"{stats.path}: no variant matches {plink.prefix}.bim by ID and alleles "
            f"({matched.summary()}); check that both use the same IDs and build"
        )
    return matched
