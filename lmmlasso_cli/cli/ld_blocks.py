"""`lmmlasso ld-blocks`: approximately independent LD blocks from the genotypes (ML-MAGES)."""

import click

from lmmlasso_cli.cli.options import (
    BFILE,
    BLOCK_SNPS,
    RUN,
    SAMPLES,
    SNPS,
    data_options_from,
    options,
)
from lmmlasso_cli.cli.runner import run_command


@click.command("ld-blocks", short_help="LD blocks by the ML-MAGES method, within chromosomes.")
@options(BFILE, SAMPLES, SNPS, BLOCK_SNPS, RUN)
@run_command
def ld_blocks(log, **kw):
    """Split each chromosome into LD blocks by the ML-MAGES method.

    With r the in-sample correlation of standardized SNPs (missing calls at the mean), the LD
    profile at anti-diagonal k is Σ r²ᵢⱼ over i + j = k, |i − j| ≤ --block-snps, streamed from
    the .bed in windows of SNPs (never a chromosome-wide matrix). It is smoothed with a Hann
    window (offset corrected), ⌊J/--block-snps⌋ local minima about --block-snps apart become
    breakpoints, and each breakpoint then moves to the split with the least cross-block LD
    Σ r² between neighbouring blocks. Writes PREFIX.blocks.tsv: CHR START END FIRST_SNP
    LAST_SNP N_SNPS (START/END in bp, the first and last SNP of each block).
    """
    import numpy as np

    from lmmlasso_cli.cli.pipeline import compute_blocks
    from lmmlasso_cli.io.blocks_file import write_blocks
    from lmmlasso_cli.io.dataset import load_dataset, range_reader, snp_scales
    from lmmlasso_cli.io.plink import GenotypeReader

    data = load_dataset(data_options_from(kw, need_pheno=False))
    from lmmlasso_cli.cli.pipeline import plan_for_data

    plan_for_data(log, kw, "ld", data)
    plink, samples = data.plink, data.samples
    log.info(f"{plink.prefix}: {plink.n_samples} individuals, {plink.n_snps} SNPs")
    log.info(f"individuals: {samples.n_samples} kept; dropped: {samples.describe_drops()}")
    for note in data.snp_notes:
        log.info(note)
    with GenotypeReader(plink, samples.fam_index, num_threads=kw["threads"]) as reader:
        sc = snp_scales(reader, data.snp_index, kw["maf"], kw["block_size"])
        log.info(
            f"SNPs: {len(sc.snp_index)} used; dropped {sc.n_monomorphic} monomorphic, "
            f"{sc.n_all_missing} all-missing, {sc.n_low_maf} with MAF < {kw['maf']}"
        )
        read_block = range_reader(reader, sc.snp_index, sc.means, sc.sds)
        chrom = plink.chrom[sc.snp_index]
        blocks = compute_blocks(read_block, chrom, kw["block_snps"], kw["quiet"])
    out = kw["out"] + ".blocks.tsv"
    write_blocks(out, plink, sc.snp_index, blocks)
    sizes = blocks.sizes
    log.info(
        f"wrote {out}: {blocks.n_blocks} blocks on {len(set(blocks.chrom))} chromosome(s), "
        f"{sizes.min()} to {sizes.max()} SNPs each (median {int(np.median(sizes))})"
    )
