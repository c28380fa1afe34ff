"""PLINK 1 binary sets (.bed/.bim/.fam): validation, metadata and genotype blocks.

The counted allele is decided here, once: genotypes are counts of A1, the allele in column 5 of
the .bim, as PLINK does (bed-reader's ``count_A1=True``). Missing calls come back as NaN; the
core decides how to impute them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lmmlasso_cli.errors import InputError

BED_MAGIC = bytes([0x6C, 0x1B, 0x01])
FAM_MISSING = {"NA", "-9", "", "nan", "NaN"}


@dataclass(frozen=True)
class PlinkSet:
    """Metadata of one PLINK 1 set; genotypes are read on demand by `GenotypeReader`.

    ``fam_phenotypes`` holds .fam columns 6, 7, ... as float (NaN for missing), so that GEMMA-style
    .fam files with extra phenotype columns can be selected with ``--mpheno``.
    """

    prefix: str
    fid: np.ndarray  # (n_samples,) str
    iid: np.ndarray  # (n_samples,) str
    fam_phenotypes: np.ndarray  # (n_samples, n_fam_pheno) float64
    chrom: np.ndarray  # (n_snps,) str
    snp: np.ndarray  # (n_snps,) str
    cm: np.ndarray  # (n_snps,) float64
    bp: np.ndarray  # (n_snps,) int64
    a1: np.ndarray  # (n_snps,) str, the counted allele
    a2: np.ndarray  # (n_snps,) str
    genotype_format: str = "bed"  # "bed" (PLINK 1) or "pgen" (PLINK 2, see `io.pgen`)

    @property
    def n_samples(self) -> int:
        return len(self.iid)

    @property
    def n_snps(self) -> int:
        return len(self.snp)

    @property
    def bed_path(self) -> str:
        """The genotype file: PREFIX.bed, or PREFIX.pgen for a PLINK 2 set."""
        return self.prefix + (".pgen" if self.genotype_format == "pgen" else ".bed")

    @property
    def bim_path(self) -> str:
        return self.prefix + (".pvar" if self.genotype_format == "pgen" else ".bim")

    @property
    def fam_path(self) -> str:
        return self.prefix + (".psam" if self.genotype_format == "pgen" else ".fam")


def _split_lines(path: str) -> list[list[str]]:
    with open(path) as handle:
        return [line.split() for line in handle if line.strip()]


def _read_fam(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = _split_lines(path)
    if not rows:
        raise InputError(f"{path}: the .fam file is empty; it needs one line per individual")
    widths = {len(r) for r in rows}
    if min(widths) < 6 or len(widths) != 1:
        raise InputError(
            f"{path}: every .fam line needs the same number (>= 6) of fields "
            f"(FID IID father mother sex phenotype ...), found {sorted(widths)}; fix the file"
        )
    table = np.array(rows, dtype=object)
    fid, iid = table[:, 0].astype(str), table[:, 1].astype(str)
    pheno = np.full((len(rows), table.shape[1] - 5), np.nan)
    for j in range(pheno.shape[1]):
        for i, value in enumerate(table[:, 5 + j]):
            if value not in FAM_MISSING:
                try:
                    pheno[i, j] = float(value)
                except ValueError:
                    pheno[i, j] = np.nan  # non-numeric .fam phenotypes are rejected when selected
    keys = pd.Series(list(zip(fid, iid, strict=True)))
    dup = keys[keys.duplicated()]
    if len(dup):
        first = dup.iloc[0]
        raise InputError(
            f"{path}: duplicate individual (FID {first[0]}, IID {first[1]}) "
            f"({len(dup)} duplicate rows); every (FID, IID) must be unique: rename or remove them"
        )
    return fid, iid, pheno


def _read_bim(path: str) -> pd.DataFrame:
    try:
        bim = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            dtype=str,
            names=["chrom", "snp", "cm", "bp", "a1", "a2"],
            keep_default_na=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the .bim file is empty; it needs one line per SNP") from None
    if len(bim) == 0:
        raise InputError(f"{path}: the .bim file is empty; it needs one line per SNP")
    if bim.isna().any().any() or (bim == "").any().any():
        raise InputError(f"{path}: every .bim line needs 6 fields (CHR SNP CM BP A1 A2); fix it")
    return bim


def _check_unique_snps(path: str, ids: pd.Series) -> None:
    """SNPs are matched by ID everywhere downstream (models, scores, summary statistics)."""
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(
            f"{path}: duplicate SNP ID {dup.iloc[0]} ({len(dup)} duplicate rows); SNPs are "
            f"matched by ID, so make them unique, e.g. with plink2 --set-all-var-ids "
            f"'@:#:$r:$a' --make-bed, or remove the duplicates"
        )


def _check_bed(path: str, n_samples: int, n_snps: int, fam: str, bim: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"{path}: file not found; --bfile PREFIX needs PREFIX.bed/.bim/.fam")
    size = os.path.getsize(path)
    if size == 0:
        raise InputError(f"{path}: the .bed file is empty (0 bytes); re-copy or regenerate it")
    with open(path, "rb") as handle:
        magic = handle.read(3)
    if magic != BED_MAGIC:
        raise InputError(
            f"{path}: not a SNP-major PLINK 1 .bed (first bytes {magic.hex()}, expected 6c1b01); "
            f"convert it with `plink --bfile PREFIX --make-bed --out NEW`"
        )
    expected = 3 + ((n_samples + 3) // 4) * n_snps
    if size != expected:
        what = "truncated" if size < expected else "longer than expected"
        raise InputError(
            f"{path}: .bed is {what} ({size} bytes, but {n_samples} individuals in {fam} and "
            f"{n_snps} SNPs in {bim} need {expected}); the .bed/.bim/.fam do not belong together "
            f"or the copy is incomplete: re-copy or regenerate them"
        )


def _require_set(paths, hint: str) -> None:
    """Every file of a PLINK set exists and is a file; else one line with ``hint``."""
    for path in paths:
        if not os.path.exists(path):
            raise InputError(f"{path}: file not found; {hint}")
        if os.path.isdir(path):
            raise InputError(f"{path}: is a directory; {hint}")


def read_plink(prefix: str, genotype_format: str = "bed") -> PlinkSet:
    """Read and validate the .fam/.bim of ``prefix`` and check the .bed's magic bytes and size;
    with ``genotype_format="pgen"``, the .psam/.pvar/.pgen of a PLINK 2 set."""
    if genotype_format == "pgen":
        return _read_pfile(prefix)
    fam, bim, bed = (prefix + ext for ext in (".fam", ".bim", ".bed"))
    _require_set((fam, bim, bed), "--bfile PREFIX needs PREFIX.bed/.bim/.fam")
    fid, iid, fam_pheno = _read_fam(fam)
    bim_table = _read_bim(bim)
    _check_unique_snps(bim, bim_table["snp"])
    _check_bed(bed, len(iid), len(bim_table), fam, bim)
    try:
        bp = bim_table["bp"].astype(np.int64).to_numpy()
        cm = bim_table["cm"].astype(np.float64).to_numpy()
    except ValueError:
        raise InputError(f"{bim}: column 3 (cM) and 4 (bp) must be numbers; fix the file") from None
    return PlinkSet(
        prefix=prefix,
        fid=fid,
        iid=iid,
        fam_phenotypes=fam_pheno,
        chrom=bim_table["chrom"].to_numpy(dtype=str),
        snp=bim_table["snp"].to_numpy(dtype=str),
        cm=cm,
        bp=bp,
        a1=bim_table["a1"].to_numpy(dtype=str),
        a2=bim_table["a2"].to_numpy(dtype=str),
    )


def _read_pfile(prefix: str) -> PlinkSet:
    from lmmlasso_cli.io.pgen import read_psam, read_pvar

    psam, pvar, pgen = (prefix + ext for ext in (".psam", ".pvar", ".pgen"))
    _require_set((psam, pvar, pgen), "--pfile PREFIX needs PREFIX.pgen/.pvar/.psam")
    fid, iid, pheno = read_psam(psam)
    table = read_pvar(pvar)
    _check_unique_snps(pvar, table["snp"])
    try:
        bp = table["bp"].astype(np.int64).to_numpy()
        cm = table["cm"].astype(np.float64).to_numpy()
    except ValueError:
        raise InputError(f"{pvar}: POS (and CM) must be numbers; fix the file") from None
    return PlinkSet(
        prefix=prefix,
        fid=fid,
        iid=iid,
        fam_phenotypes=pheno,
        chrom=table["chrom"].to_numpy(dtype=str),
        snp=table["snp"].to_numpy(dtype=str),
        cm=cm,
        bp=bp,
        a1=table["a1"].to_numpy(dtype=str),
        a2=table["a2"].to_numpy(dtype=str),
        genotype_format="pgen",
    )


class GenotypeReader:
    """Reads blocks of A1 counts for a fixed, ordered subset of individuals.

    ``read(snp_index)`` returns a float32 (n_samples, len(snp_index)) Fortran array of 0/1/2 and
    NaN for missing calls; float32 holds those values exactly.
    """

    def __init__(self, plink: PlinkSet, sample_index: np.ndarray, num_threads: int | None = None):
        from bed_reader import open_bed

        self.plink = plink
        self.sample_index = np.asarray(sample_index, dtype=np.intp)
        self._all_samples = len(self.sample_index) == plink.n_samples and np.array_equal(
            self.sample_index, np.arange(plink.n_samples)
        )
        self._pgen = None
        if plink.genotype_format == "pgen":
            from lmmlasso_cli.io.pgen import PgenGenotypes

            self._pgen = PgenGenotypes(
                plink.bed_path, plink.n_samples, plink.n_snps, self.sample_index
            )
            return
        self._bed = open_bed(
            plink.bed_path,
            iid_count=plink.n_samples,
            sid_count=plink.n_snps,
            count_A1=True,
            num_threads=num_threads,
            skip_format_check=True,
        )

    @property
    def n_samples(self) -> int:
        return len(self.sample_index)

    @property
    def n_rounded_dosages(self) -> int:
        """Non-integer dosages of a .pgen rounded to hard calls so far (0 for a .bed)."""
        return self._pgen.n_rounded if self._pgen is not None else 0

    def read(self, snp_index: np.ndarray) -> np.ndarray:
        if self._pgen is not None:
            return self._pgen.read(snp_index)
        rows = slice(None) if self._all_samples else self.sample_index
        try:
            return self._bed.read(index=np.s_[rows, np.asarray(snp_index)], dtype="float32")
        except Exception as exc:  # bed-reader raises plain exceptions on I/O problems
            raise InputError(f"{self.plink.bed_path}: could not read genotypes ({exc})") from exc

    def read_codes(self, snp_index: np.ndarray, flipped: np.ndarray | None = None) -> np.ndarray:
        """(n_samples, len(snp_index)) uint8 Fortran array of A1 counts 0/1/2 and 3 for a
        missing call (`compact.MISSING`); ``flipped`` SNPs count the other allele (2 − count)."""
        if self._pgen is not None:
            counts = self._pgen.read(snp_index)
            codes = np.where(np.isnan(counts), 3, counts).astype(np.uint8, order="F")
        else:
            rows = slice(None) if self._all_samples else self.sample_index
            try:
                raw = self._bed.read(
                    index=np.s_[rows, np.asarray(snp_index)], dtype="int8", order="F"
                )
            except Exception as exc:  # bed-reader raises plain exceptions on I/O problems
                raise InputError(
                    f"{self.plink.bed_path}: could not read genotypes ({exc})"
                ) from exc
            codes = raw.view(np.uint8)
            # bed-reader's int8 missing value is -127, 129 as a byte: the minimum with 3 makes
            # it 3 and leaves 0, 1, 2, in one pass without a mask
            np.minimum(codes, np.uint8(3), out=codes)
        if flipped is not None and np.any(flipped):
            sub = codes[:, flipped]
            codes[:, flipped] = np.where(sub == 3, 3, 2 - sub)
        return codes

    def blocks(self, snp_index: np.ndarray, block_size: int, codes: bool = False):
        """Yield ``(positions, counts)`` blocks over ``snp_index`` in order; with ``codes``,
        the counts are `read_codes`'s uint8 codes."""
        snp_index = np.asarray(snp_index)
        read = self.read_codes if codes else self.read
        for start in range(0, len(snp_index), block_size):
            part = snp_index[start : start + block_size]
            yield part, read(part)

    def close(self) -> None:
        if self._pgen is not None:
            self._pgen.close()
        else:
            self._bed.__exit__(None, None, None)

    def __enter__(self) -> GenotypeReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def match_snps(
    plink: PlinkSet, snp: np.ndarray, a1: np.ndarray, a2: np.ndarray | None, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Find model SNPs in ``plink`` by ID; return (positions, flipped).

    ``flipped[j]`` is True where the .bim counts the other allele (A1/A2 swapped), so the
    caller must use 2 − count. A SNP that is absent, or whose alleles do not match, is an error.
    """
    lookup = {s: i for i, s in enumerate(plink.snp)}
    pos = np.array([lookup.get(s, -1) for s in snp], dtype=np.int64)
    absent = np.flatnonzero(pos < 0)
    if len(absent):
        raise InputError(
            f"{plink.bim_path}: {len(absent)} of the {len(snp)} SNPs of {what} are missing "
            f"(e.g. {snp[absent[0]]}); genotype them or impute them first"
        )
    same = plink.a1[pos] == a1
    flipped = ~same & (plink.a2[pos] == a1)
    if a2 is not None:
        bad = ~((same & (plink.a2[pos] == a2)) | (flipped & (plink.a1[pos] == a2)))
    else:
        bad = ~(same | flipped)
    if bad.any():
        j = np.flatnonzero(bad)[0]
        raise InputError(
            f"{plink.bim_path}: {int(bad.sum())} SNPs have alleles that match neither "
            f"orientation of {what} (e.g. {snp[j]}: {plink.a1[pos[j]]}/{plink.a2[pos[j]]} vs "
            f"A1 {a1[j]}); check the strand and the build"
        )
    return pos, flipped


def read_id_list(path: str, columns: int) -> list:
    """Read a PLINK-style list: one SNP ID per line (columns=1) or FID IID pairs (columns=2)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: file not found")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a list; give the file")
    rows = _split_lines(path)
    if columns == 1:
        return [r[0] for r in rows]
    bad = [i + 1 for i, r in enumerate(rows) if len(r) < 2]
    if bad:
        raise InputError(f"{path}: line {bad[0]} needs two fields (FID IID); fix the file")
    return [(r[0], r[1]) for r in rows]


def plink_prefix(path: str) -> str:
    """Accept ``PREFIX`` or ``PREFIX.bed`` for --bfile (``PREFIX.pgen`` for --pfile)."""
    p = Path(path)
    suffixes = (".bed", ".bim", ".fam", ".pgen", ".pvar", ".psam")
    return str(p.with_suffix("")) if p.suffix in suffixes else str(path)
