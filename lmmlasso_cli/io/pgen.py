"""PLINK 2 sets (.pgen/.pvar/.psam), read with pgenlib (the PLINK authors' reader) into the same
`PlinkSet` and genotype blocks as a PLINK 1 set.

- ``.psam``: a header ``#FID IID ...`` or ``#IID ...`` (FID is then ``0``, as plink2 writes
  it to a .fam), optional PAT MAT SEX, then phenotype columns (read like .fam column 6, 7, ...);
  without a header line it is read as a .fam.
- ``.pvar``: ``##`` header lines, then ``#CHROM POS ID REF ALT ...`` (columns found by name;
  CM if present), or without a ``#CHROM`` line the 6 columns of a .bim. A1, the counted allele,
  is ALT, and A2 is REF, as ``plink2 --make-bed`` writes them. Multi-allelic variants are an
  error (split them with ``plink2 --max-alleles 2`` or ``bcftools norm -m-``).
- Genotypes are ALT dosages from pgenlib; a dosage that is not a whole number (imputed data)
  is rounded to the nearest hard call and the reader counts them, for the log.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from lmmlasso_cli.errors import InputError

PSAM_MISSING = {"NA", "-9", "", "nan", "NaN", "."}
PVAR_REQUIRED = ("#CHROM", "POS", "ID", "REF", "ALT")


def _header_and_rows(path: str) -> tuple[list[str] | None, list[list[str]]]:
    header, rows = None, []
    with open(path) as handle:
        for line in handle:
            if not line.strip() or line.startswith("##"):
                continue
            fields = line.rstrip("\n").split("\t") if "\t" in line else line.split()
            if header is None and not rows and fields[0].startswith("#"):
                header = fields
            else:
                rows.append(fields)
    return header, rows


def read_psam(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fid, iid, phenotypes (n, n_pheno) float with NaN) of a .psam."""
    header, rows = _header_and_rows(path)
    if not rows:
        raise InputError(f"{path}: the .psam file lists no individual; it needs one per line")
    if header is None:  # .fam-style
        header = ["#FID", "IID", "PAT", "MAT", "SEX"] + [
            f"PHENO{j}" for j in range(1, len(rows[0]) - 4)
        ]
    names = [h.lstrip("#").upper() for h in header]
    widths = {len(r) for r in rows}
    if widths != {len(names)}:
        raise InputError(
            f"{path}: every .psam line needs the {len(names)} fields of its header, found "
            f"{sorted(widths)}; fix the file"
        )
    table = np.array(rows, dtype=object)
    if "IID" not in names:
        raise InputError(f"{path}: the .psam header needs an IID column (#FID IID or #IID)")
    iid = table[:, names.index("IID")].astype(str)
    fid = table[:, names.index("FID")].astype(str) if "FID" in names else np.full(len(iid), "0")
    fixed = {"FID", "IID", "PAT", "MAT", "SEX", "SID"}
    pheno_cols = [j for j, n in enumerate(names) if n not in fixed]
    pheno = np.full((len(rows), len(pheno_cols)), np.nan)
    for k, j in enumerate(pheno_cols):
        for i, value in enumerate(table[:, j]):
            if value not in PSAM_MISSING:
                try:
                    pheno[i, k] = float(value)
                except ValueError:
                    pheno[i, k] = np.nan
    keys = pd.Series(list(zip(fid, iid, strict=True)))
    dup = keys[keys.duplicated()]
    if len(dup):
        f, i = dup.iloc[0]
        raise InputError(
            f"{path}: duplicate individual (FID {f}, IID {i}); every (FID, IID) must be unique"
        )
    return fid, iid, pheno


def read_pvar(path: str) -> pd.DataFrame:
    """Columns chrom, snp, cm, bp, a1 (ALT), a2 (REF) as strings, one row per variant."""
    header, rows = _header_and_rows(path)
    if not rows:
        raise InputError(f"{path}: the .pvar file lists no variant; it needs one per line")
    if header is None:  # .bim-style: CHR ID CM POS ALT REF
        if {len(r) for r in rows} != {6}:
            raise InputError(f"{path}: without a #CHROM header every line needs the 6 .bim fields")
        frame = pd.DataFrame(rows, columns=["chrom", "snp", "cm", "bp", "a1", "a2"])
    else:
        names = [h.upper() for h in header]
        absent = [c for c in PVAR_REQUIRED if c not in names]
        if absent:
            raise InputError(
                f"{path}: the .pvar header lacks {', '.join(absent)}; it needs "
                "#CHROM POS ID REF ALT"
            )
        if {len(r) for r in rows} != {len(names)}:
            raise InputError(f"{path}: every .pvar line needs the {len(names)} header fields")
        col = {n: j for j, n in enumerate(names)}
        table = np.array(rows, dtype=object)
        frame = pd.DataFrame(
            {
                "chrom": table[:, col["#CHROM"]],
                "snp": table[:, col["ID"]],
                "cm": table[:, col["CM"]] if "CM" in col else "0",
                "bp": table[:, col["POS"]],
                "a1": table[:, col["ALT"]],
                "a2": table[:, col["REF"]],
            }
        )
    multi = frame["a1"].str.contains(",")
    if multi.any():
        raise InputError(
            f"{path}: {int(multi.sum())} multi-allelic variants (e.g. {frame.snp[multi].iloc[0]}); "
            f"split them, e.g. with plink2 --max-alleles 2 --make-pgen"
        )
    return frame.astype(str)


class PgenGenotypes:
    """ALT counts of a .pgen for a fixed, ordered subset of individuals (as `GenotypeReader`)."""

    def __init__(self, path: str, n_samples: int, n_variants: int, sample_index: np.ndarray):
        import pgenlib

        self.path = path
        self.sample_index = np.asarray(sample_index, dtype=np.intp)
        subset = np.unique(self.sample_index)
        self._order = np.searchsorted(subset, self.sample_index)
        self.n_rounded = 0  # non-integer dosages rounded to hard calls so far
        try:
            self._reader = pgenlib.PgenReader(
                os.fsencode(path),
                raw_sample_ct=n_samples,
                variant_ct=n_variants,
                sample_subset=subset.astype(np.uint32),
            )
        except RuntimeError as exc:
            raise InputError(
                f"{path}: not a .pgen matching its .psam ({n_samples} individuals) and .pvar "
                f"({n_variants} variants) ({exc}); regenerate it with plink2 --make-pgen"
            ) from None
        self._n_subset = len(subset)

    def read(self, snp_index: np.ndarray) -> np.ndarray:
        """(n_samples, len(snp_index)) float32 Fortran array of 0/1/2, NaN for missing."""
        idx = np.asarray(snp_index, dtype=np.uint32)
        out = np.empty((len(idx), self._n_subset), dtype=np.float64)
        if len(idx):
            try:
                self._reader.read_dosages_list(idx, out)
            except RuntimeError as exc:
                raise InputError(f"{self.path}: could not read genotypes ({exc})") from None
        missing = out == -9.0
        fractional = ~missing & (out != np.round(out))
        self.n_rounded += int(fractional.sum())
        counts = np.round(out)
        counts[missing] = np.nan
        return np.asfortranarray(counts.T[self._order].astype(np.float32))

    def close(self) -> None:
        self._reader.close()
