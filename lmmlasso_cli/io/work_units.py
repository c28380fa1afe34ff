"""Work units that read their own genotypes: a .bed path, individuals and a SNP range.

A unit is small to describe (`GenotypeSource`: the .bed path, its dimensions and the .fam rows of
the individuals; plus the .bim positions of its SNPs), so a process pool or a Dask worker reads
its blocks from shared storage itself: no genotype array is ever pickled. The unit functions
call the core (`kinship.kinship_part`, `gwas.scan`) on the blocks they read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.io.plink import GenotypeReader, PlinkSet


def snp_units(n_snps: int, block_size: int, blocks_per_unit: int) -> list[range]:
    """Work units over ``n_snps`` candidate SNPs: consecutive ranges of ``blocks_per_unit``
    blocks of ``block_size``, so a unit reads exactly the blocks a single pass would. One
    partition for every backend and for job-array parts (`part_units`)."""
    step = block_size * blocks_per_unit
    return [range(a, min(a + step, n_snps)) for a in range(0, n_snps, step)]


def part_units(units: list, k: int, n: int) -> list:
    """Part ``k`` of ``n`` (1-based) of ``units``: contiguous, sizes differing by at most one."""
    return [units[i] for i in np.array_split(np.arange(len(units)), n)[k - 1]]


@dataclass(frozen=True)
class GenotypeSource:
    """Where a unit reads genotypes: a PLINK set and the .fam rows of its individuals."""

    prefix: str
    n_fam: int  # individuals in the .fam
    n_bim: int  # SNPs in the .bim
    fam_index: np.ndarray  # (n,) rows of the analysed individuals, in analysis order
    num_threads: int | None = None  # .bed decoding and syrk threads (None in workers: one)
    genotype_format: str = "bed"  # "bed" or "pgen" (`io.pgen`)

    @classmethod
    def of(cls, plink: PlinkSet, fam_index, num_threads=None) -> GenotypeSource:
        return cls(
            plink.prefix,
            plink.n_samples,
            plink.n_snps,
            np.asarray(fam_index),
            num_threads,
            plink.genotype_format,
        )

    def reader(self) -> GenotypeReader:
        plink = _ShapeOnly(self.prefix, self.n_fam, self.n_bim, self.genotype_format)
        return GenotypeReader(plink, self.fam_index, num_threads=self.num_threads)


@dataclass(frozen=True)
class StandardizedRange:
    """A picklable ``read_block(start, stop)`` (`io.dataset.range_reader`'s form): the SNPs
    ``snp_index[start:stop]`` of ``source``, standardized by the given means and sds. Each call
    opens the genotype file (work units of ML-MAGES training run it in workers)."""

    source: GenotypeSource
    snp_index: np.ndarray  # (n_snps,) .bim positions
    means: np.ndarray  # (n_snps,)
    sds: np.ndarray  # (n_snps,)

    def __call__(self, start: int, stop: int) -> np.ndarray:
        from lmmlasso_cli.io.dataset import range_reader

        with self.source.reader() as reader:
            return range_reader(reader, self.snp_index, self.means, self.sds)(start, stop)


def read_range(ranges, start: int, stop: int) -> np.ndarray:
    """``ranges(start, stop)`` for a `StandardizedRange` or its `io.shared_arrays` record."""
    from lmmlasso_cli.io.shared_arrays import resolve

    return resolve(ranges)(start, stop)


@dataclass(frozen=True)
class _ShapeOnly:
    """What `GenotypeReader` needs of a `PlinkSet`: the .bed path and its dimensions."""

    prefix: str
    n_samples: int
    n_snps: int
    genotype_format: str = "bed"

    @property
    def bed_path(self) -> str:
        return self.prefix + (".pgen" if self.genotype_format == "pgen" else ".bed")


def kinship_unit(
    source: GenotypeSource,
    block_size: int,
    maf: float,
    scaling: str,
    precision: str,
    fixed_bits: int,
    positions,
    chrom=None,
):
    """The `kinship.KinshipPart` of the SNPs at ``positions`` (.bim rows), read in blocks of
    one-byte codes, in fixed point of ``fixed_bits`` (`kinship.to_fixed`: units add exactly).
    ``chrom`` (a chromosome code per .bim row, or its shared array) keeps per-chromosome parts.
    """
    from lmmlasso_cli.io.shared_arrays import resolve
    from lmmlasso_cli.kinship import kinship_part, to_fixed

    with source.reader() as reader:
        blocks = reader.blocks(np.asarray(positions), block_size, codes=True)
        part = kinship_part(
            blocks,
            reader.n_samples,
            maf_min=maf,
            scaling=scaling,
            chrom=None if chrom is None else resolve(chrom),
            blas_threads=source.num_threads,
            precision=precision,
        )
    return to_fixed(part, fixed_bits)


@dataclass(frozen=True)
class ScanPart:
    """`gwas.scan` of one unit's SNPs for every phenotype of a group, and what it dropped."""

    associations: list  # one gwas.Association per phenotype
    n_read: int
    n_all_missing: int
    n_monomorphic: int
    n_low_maf: int


def _standardized_blocks(reader, positions, maf, block_size, precision, counts):
    """`gwas.scan`'s blocks of the SNPs at ``positions``; adds the SNPs dropped as all-missing,
    monomorphic and below ``maf`` to ``counts`` (3,)."""
    from lmmlasso_cli.io.dataset import iter_standardized

    stream = iter_standardized(
        reader, np.asarray(positions), maf, block_size, dtype=np.dtype(precision)
    )
    for block in stream:
        counts[:] += (block.n_all_missing, block.n_monomorphic, block.n_low_maf)
        yield block.snp_index, block.matrix, block.sds


def gwas_unit(source, block_size, maf, eig, models, method, log_delta_range, precision, positions):
    """Scan the SNPs at ``positions`` (standardized in blocks of ``precision``, unusable SNPs
    dropped)."""
    from lmmlasso_cli.gwas import scan
    from lmmlasso_cli.io.shared_arrays import resolve

    eig, models = resolve(eig), [resolve(m) for m in models]
    counts = np.zeros(3, dtype=np.int64)
    with source.reader() as reader:
        blocks = _standardized_blocks(reader, positions, maf, block_size, precision, counts)
        results = scan(blocks, eig, models, method, log_delta_range)
    return ScanPart(results, len(positions), *(int(c) for c in counts))


@dataclass(frozen=True)
class LocoPart:
    """`gwas.scan_loco_chromosome` of one chromosome (a `ScanPart` with its null models)."""

    associations: list  # one gwas.Association per phenotype
    chromosome: object  # gwas.LocoChromosome
    n_read: int
    n_all_missing: int
    n_monomorphic: int
    n_low_maf: int


def loco_unit(source, block_size, maf, precision, chrom_parts, phenotypes, method, search, item):
    """One chromosome of a LOCO scan: ``item`` = (chromosome, .bim positions of its SNPs);
    ``chrom_parts`` maps every chromosome to (its Z Zᵀ or that array shared, its SNP count)."""
    from lmmlasso_cli.gwas import scan_loco_chromosome
    from lmmlasso_cli.io.shared_arrays import resolve

    chrom, positions = item
    parts = {c: (resolve(part), n) for c, (part, n) in chrom_parts.items()}
    counts = np.zeros(3, dtype=np.int64)
    with source.reader() as reader:
        blocks = _standardized_blocks(reader, positions, maf, block_size, precision, counts)
        results, done = scan_loco_chromosome(parts, chrom, phenotypes, blocks, method, search)
    return LocoPart(results, done, len(positions), *(int(c) for c in counts))
