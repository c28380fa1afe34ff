"""Assemble an analysis data set from --bfile, --pheno, --covar and the sample/SNP filters.

This is where files meet: the .fam/.bim, the tables and the ID lists are read, individuals are
aligned on (FID, IID) in .fam order, and candidate SNPs are chosen from the .bim. Genotypes are
read in blocks of SNPs, as one-byte codes (`compact`), never as an n × p float matrix.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lmmlasso_cli.compact import CompactGenotypes, code_counts, standardize_codes
from lmmlasso_cli.errors import InputError
from lmmlasso_cli.genotypes import filter_snps, stats_from_tally
from lmmlasso_cli.io.plink import GenotypeReader, PlinkSet, read_id_list, read_plink
from lmmlasso_cli.io.samples import SampleAlignment, SampleSource, align_samples
from lmmlasso_cli.io.tables import Table, read_table, select_columns


@dataclass(frozen=True)
class DataOptions:
    """Everything the shared CLI options say about the inputs."""

    bfile: str  # the PLINK prefix
    genotype_format: str = "bed"  # "bed" (--bfile) or "pgen" (--pfile)
    pheno: str | None = None
    pheno_names: list[str] | None = None
    mpheno: list[int] | None = None
    all_pheno: bool = False
    covar: str | None = None
    covar_names: list[str] | None = None
    intercept: bool = True
    keep: str | None = None
    remove: str | None = None
    extract: str | None = None
    exclude: str | None = None
    chromosomes: list[str] | None = None
    maf: float = 0.0
    need_pheno: bool = True


@dataclass(frozen=True)
class Dataset:
    """Aligned inputs. Phenotypes may still hold NaN: see `phenotype_groups`."""

    plink: PlinkSet
    samples: SampleAlignment
    pheno_names: list[str]
    pheno_source: str
    phenotypes: np.ndarray  # (n_samples, n_pheno) float64, NaN for missing
    covariate_names: list[str]
    covariates: np.ndarray  # (n_samples, n_cov) float64, the intercept first if any
    snp_index: np.ndarray  # candidate SNPs (positions in the .bim) after --extract etc.
    snp_notes: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return self.samples.n_samples


def parse_chromosomes(text: str | None) -> list[str] | None:
    """'1,2,5-7' -> ['1', '2', '5', '6', '7']."""
    if not text:
        return None
    out: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            if not (lo.isdigit() and hi.isdigit()):
                raise InputError(f"--chr {text}: a range needs numbers, like 1-22")
            out.extend(str(c) for c in range(int(lo), int(hi) + 1))
        elif part:
            out.append(part)
    return out


def _select_snps(plink: PlinkSet, opts: DataOptions) -> tuple[np.ndarray, list[str]]:
    mask = np.ones(plink.n_snps, dtype=bool)
    notes = []
    if opts.chromosomes:
        hit = np.isin(plink.chrom, opts.chromosomes)
        notes.append(f"--chr kept {int(hit.sum())} of {plink.n_snps} SNPs")
        mask &= hit
    if opts.extract:
        wanted = set(read_id_list(opts.extract, 1))
        hit = np.array([s in wanted for s in plink.snp])
        notes.append(f"--extract {opts.extract} kept {int((mask & hit).sum())} SNPs")
        mask &= hit
    if opts.exclude:
        unwanted = set(read_id_list(opts.exclude, 1))
        hit = np.array([s in unwanted for s in plink.snp])
        notes.append(f"--exclude {opts.exclude} removed {int((mask & hit).sum())} SNPs")
        mask &= ~hit
    if not mask.any():
        raise InputError(f"{plink.bim_path}: no SNP is left after --chr/--extract/--exclude")
    return np.flatnonzero(mask), notes


def _phenotype_table(plink: PlinkSet, opts: DataOptions) -> Table:
    if opts.pheno:
        return read_table(opts.pheno, "phenotype")
    names = [f"fam{j + 6}" for j in range(plink.fam_phenotypes.shape[1])]
    return Table(plink.fam_path, plink.fid, plink.iid, names, plink.fam_phenotypes, False)


def load_dataset(opts: DataOptions) -> Dataset:
    """Read the PLINK metadata and tables and align the individuals (no genotypes are read)."""
    plink = read_plink(opts.bfile, opts.genotype_format)
    fam_label = os.path.basename(plink.fam_path)
    sources = []
    pheno_names: list[str] = []
    pheno_values = np.zeros((0, 0))
    pheno_table = None
    if opts.need_pheno:
        pheno_table = _phenotype_table(plink, opts)
        if opts.pheno_names:
            pheno_names, pheno_values = select_columns(pheno_table, opts.pheno_names, None, "pheno")
        elif opts.mpheno:
            pheno_names, pheno_values = select_columns(pheno_table, None, opts.mpheno, "pheno")
        elif opts.all_pheno:
            pheno_names, pheno_values = select_columns(pheno_table, None, None, "pheno")
        else:
            pheno_names, pheno_values = select_columns(pheno_table, None, [1], "pheno")
        if opts.pheno:
            sources.append(
                SampleSource(os.path.basename(opts.pheno), pheno_table.fid, pheno_table.iid)
            )
    cov_names: list[str] = []
    cov_values = None
    if opts.covar:
        cov_table = read_table(opts.covar, "covariate")
        cov_names, cov_values = select_columns(cov_table, opts.covar_names, None, "covar")
        sources.append(
            SampleSource(
                os.path.basename(opts.covar),
                cov_table.fid,
                cov_table.iid,
                complete=np.isfinite(cov_values).all(axis=1),
                why_incomplete="missing covariate values",
            )
        )
    keep = remove = None
    if opts.keep:
        ids = np.array(read_id_list(opts.keep, 2), dtype=str).reshape(-1, 2)
        keep = SampleSource(f"--keep {opts.keep}", ids[:, 0], ids[:, 1])
    if opts.remove:
        ids = np.array(read_id_list(opts.remove, 2), dtype=str).reshape(-1, 2)
        remove = SampleSource(f"--remove {opts.remove}", ids[:, 0], ids[:, 1])
    samples = align_samples(plink.fid, plink.iid, sources, keep, remove, fam_label)
    if opts.need_pheno:
        rows = (
            samples.source_rows[os.path.basename(opts.pheno)] if opts.pheno else samples.fam_index
        )
        pheno_values = pheno_values[rows]
    covariates, cov_labels = _design(samples, cov_values, cov_names, opts)
    snp_index, notes = _select_snps(plink, opts)
    return Dataset(
        plink=plink,
        samples=samples,
        pheno_names=list(pheno_names),
        pheno_source=pheno_table.path if pheno_table is not None else "",
        phenotypes=np.asarray(pheno_values, dtype=np.float64),
        covariate_names=cov_labels,
        covariates=covariates,
        snp_index=snp_index,
        snp_notes=notes,
    )


def _design(samples, cov_values, cov_names, opts: DataOptions):
    columns, labels = [], []
    if opts.intercept:
        columns.append(np.ones(samples.n_samples))
        labels.append("intercept")
    if cov_values is not None:
        rows = samples.source_rows[os.path.basename(opts.covar)]
        for j, name in enumerate(cov_names):
            columns.append(cov_values[rows, j])
            labels.append(name)
    if not columns:
        return np.zeros((samples.n_samples, 0)), []
    design = np.column_stack(columns)
    if np.linalg.matrix_rank(design) < design.shape[1]:
        const = [
            label
            for label, col in zip(labels, design.T, strict=True)
            if label != "intercept" and np.ptp(col) == 0
        ]
        hint = f" (constant: {', '.join(const)})" if const else ""
        where = opts.covar or "the covariates"
        raise InputError(
            f"{where}: the covariates{' with the intercept' if opts.intercept else ''} are "
            f"linearly dependent{hint}; drop the redundant ones with --covar-name"
        )
    return design, labels


def phenotype_groups(mask_matrix: np.ndarray) -> list[tuple[np.ndarray, list[int]]]:
    """Group phenotype columns by their set of non-missing individuals.

    Returns ``[(row_mask, [column, ...]), ...]`` in first-appearance order: phenotypes in one
    group share one eigendecomposition.
    """
    groups: dict[bytes, tuple[np.ndarray, list[int]]] = {}
    for j in range(mask_matrix.shape[1]):
        key = np.packbits(mask_matrix[:, j]).tobytes()
        if key not in groups:
            groups[key] = (mask_matrix[:, j].copy(), [])
        groups[key][1].append(j)
    return list(groups.values())


@dataclass(frozen=True)
class StandardizedGenotypes:
    """The analysed SNPs, standardized (mean 0, sd 1, missing = 0), one byte per call."""

    store: CompactGenotypes  # (n_samples × n_snps), expanded block by block
    snp_index: np.ndarray  # (n_snps,) positions in the .bim
    means: np.ndarray  # (n_snps,) mean A1 count over the analysed individuals
    sds: np.ndarray  # (n_snps,)
    n_all_missing: int
    n_monomorphic: int
    n_low_maf: int


def standardized_blocks(
    reader: GenotypeReader, snp_index, means, sds, block_size: int, flipped=None
):
    """Yield standardized float64 blocks (n_samples, block) with the given means and sds."""
    for start in range(0, len(snp_index), block_size):
        stop = start + block_size
        part = np.asarray(snp_index[start:stop])
        codes = reader.read_codes(part, None if flipped is None else flipped[start:stop])
        yield standardize_codes(codes, means[start:stop], sds[start:stop])


def read_standardized(
    reader: GenotypeReader,
    snp_index: np.ndarray,
    maf_min: float = 0.0,
    block_size: int = 2048,
    progress: Callable[[int], None] | None = None,
    means: np.ndarray | None = None,
    sds: np.ndarray | None = None,
    flipped: np.ndarray | None = None,
) -> StandardizedGenotypes:
    """Read SNP blocks as codes into one n × p byte array, dropping unusable SNPs.

    With ``means``/``sds`` given (one per SNP of ``snp_index``), those are used and no SNP is
    dropped: this is how new individuals are put on the training scale. ``flipped`` marks SNPs
    whose .bim counts the other allele; their counts become 2 − count.
    """
    snp_index = np.asarray(snp_index)
    out = np.empty((reader.n_samples, len(snp_index)), dtype=np.uint8, order="F")
    if means is not None:
        for start in range(0, len(snp_index), block_size):
            stop = min(start + block_size, len(snp_index))
            flip = None if flipped is None else flipped[start:stop]
            out[:, start:stop] = reader.read_codes(snp_index[start:stop], flip)
            if progress is not None:
                progress(stop - start)
        store = CompactGenotypes.from_codes(out, means, sds)
        return StandardizedGenotypes(store, snp_index, store.means, store.sds, 0, 0, 0)
    if flipped is not None:
        raise ValueError("flipped alleles need the training means and sds")
    kept, kept_means, kept_sds = [], [], []
    col = n_missing = n_mono = n_maf = 0
    for start in range(0, len(snp_index), block_size):
        part = snp_index[start : start + block_size]
        codes = reader.read_codes(part)
        stats = stats_from_tally(code_counts(codes))
        flt = filter_snps(stats, maf_min)
        keep = flt.keep
        k = int(keep.sum())
        out[:, col : col + k] = codes if k == len(part) else codes[:, keep]
        col += k
        kept.append(part[keep])
        kept_means.append(stats.means[keep])
        kept_sds.append(stats.sds[keep])
        n_missing += flt.n_all_missing
        n_mono += flt.n_monomorphic
        n_maf += flt.n_low_maf
        if progress is not None:
            progress(len(part))
    if col == 0:
        raise InputError(
            f"{reader.plink.bed_path}: no usable SNP (all missing, monomorphic or below --maf)"
        )
    means, sds = np.concatenate(kept_means), np.concatenate(kept_sds)
    store = CompactGenotypes.from_codes(out[:, :col], means, sds)  # a Fortran column slice
    return StandardizedGenotypes(
        store=store,
        snp_index=np.concatenate(kept),
        means=store.means,
        sds=store.sds,
        n_all_missing=n_missing,
        n_monomorphic=n_mono,
        n_low_maf=n_maf,
    )


@dataclass(frozen=True)
class StandardizedBlock:
    """One block of usable SNPs, standardized over the reader's individuals."""

    matrix: np.ndarray  # (n_samples, n_kept) float64 (or float32), Fortran; mean 0, sd 1
    snp_index: np.ndarray  # (n_kept,) positions in the .bim
    means: np.ndarray  # (n_kept,) mean A1 count
    sds: np.ndarray  # (n_kept,)
    n_read: int  # SNPs read, usable or not
    n_all_missing: int
    n_monomorphic: int
    n_low_maf: int


def iter_standardized(
    reader: GenotypeReader,
    snp_index: np.ndarray,
    maf_min: float = 0.0,
    block_size: int = 2048,
    scaling: str = "empirical",
    expand: bool = True,
    dtype=np.float64,
):
    """Yield `StandardizedBlock`s over ``snp_index`` in order, dropping the SNPs that
    `read_standardized` drops; memory is one n × block array, never n × p. With
    ``expand=False`` the blocks carry no matrix (None): a pass for the SNP scales only;
    ``dtype`` float32 gives the float64 values rounded once."""
    for start in range(0, len(snp_index), block_size):
        part = np.asarray(snp_index[start : start + block_size])
        codes = reader.read_codes(part)
        stats = stats_from_tally(code_counts(codes), scaling)
        flt = filter_snps(stats, maf_min)
        keep = flt.keep
        matrix = None
        if expand:
            matrix = standardize_codes(codes[:, keep], stats.means[keep], stats.sds[keep], dtype)
        yield StandardizedBlock(
            matrix=matrix,
            snp_index=part[keep],
            means=stats.means[keep],
            sds=stats.sds[keep],
            n_read=len(part),
            n_all_missing=flt.n_all_missing,
            n_monomorphic=flt.n_monomorphic,
            n_low_maf=flt.n_low_maf,
        )


@dataclass(frozen=True)
class SnpScales:
    """The usable SNPs of ``snp_index`` and their standardization, without their genotypes."""

    snp_index: np.ndarray  # (n_kept,) positions in the .bim
    means: np.ndarray  # (n_kept,) mean A1 count
    sds: np.ndarray  # (n_kept,)
    n_all_missing: int
    n_monomorphic: int
    n_low_maf: int


def snp_scales(
    reader: GenotypeReader,
    snp_index: np.ndarray,
    maf_min: float = 0.0,
    block_size: int = 2048,
    scaling: str = "empirical",
) -> SnpScales:
    """One streaming pass of `iter_standardized`: which SNPs are usable, with means and sds
    (``scaling`` "empirical" or "hwe", as `genotypes.snp_stats`)."""
    parts = list(iter_standardized(reader, snp_index, maf_min, block_size, scaling, False))
    if not parts or sum(len(b.snp_index) for b in parts) == 0:
        raise InputError(
            f"{reader.plink.bed_path}: no usable SNP (all missing, monomorphic or below --maf)"
        )
    return SnpScales(
        snp_index=np.concatenate([b.snp_index for b in parts]),
        means=np.concatenate([b.means for b in parts]),
        sds=np.concatenate([b.sds for b in parts]),
        n_all_missing=sum(b.n_all_missing for b in parts),
        n_monomorphic=sum(b.n_monomorphic for b in parts),
        n_low_maf=sum(b.n_low_maf for b in parts),
    )


def range_reader(
    reader: GenotypeReader,
    snp_index: np.ndarray,
    means: np.ndarray,
    sds: np.ndarray,
    flipped: np.ndarray | None = None,
) -> Callable[[int, int], np.ndarray]:
    """``read_block(start, stop)``: standardized genotypes (n_samples, stop − start) of SNPs
    ``snp_index[start:stop]``, the form the ML-MAGES core reads genotypes in."""
    snp_index = np.asarray(snp_index)

    def read_block(start: int, stop: int) -> np.ndarray:
        flip = None if flipped is None else flipped[start:stop]
        codes = reader.read_codes(snp_index[start:stop], flip)
        return standardize_codes(codes, means[start:stop], sds[start:stop])

    return read_block
