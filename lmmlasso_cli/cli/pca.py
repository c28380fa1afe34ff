"""`lmmlasso pca`: principal components of the genotypes, in plink2's format."""

from __future__ import annotations

import click

from lmmlasso_cli.cli.options import BFILE, EXACT_PCA_MAX_SAMPLES, RUN, SAMPLES, SNPS, options
from lmmlasso_cli.cli.runner import run_command

PCA = [
    click.option(
        "--method",
        type=click.Choice(["auto", "exact", "randomized"]),
        default="auto",
        show_default=True,
        help="exact = eigendecomposition of K accumulated over the SNP blocks (n × n memory, "
        "O(n³)); randomized = streamed randomized SVD (memory n × (k + 20)); auto = exact up "
        f"to {EXACT_PCA_MAX_SAMPLES} individuals.",
    ),
    click.option(
        "--scaling",
        type=click.Choice(["empirical", "hwe"]),
        default="empirical",
        show_default=True,
        help="Per-SNP sd: empirical or hwe = sqrt(2f(1-f)) as plink2 --pca (without --kinship).",
    ),
    click.option(
        "--n-pcs",
        type=click.IntRange(1),
        default=10,
        show_default=True,
        help="Number of principal components.",
    ),
    click.option(
        "--kinship",
        metavar="FILE",
        help="Take the PCs from this kinship's eigendecomposition (PREFIX.kinship.npz or a GCTA "
        "GRM)  [default: randomized SVD of the standardized genotypes, streamed in blocks]",
    ),
    click.option(
        "--power-iterations",
        type=click.IntRange(0),
        default=6,
        show_default=True,
        help="Subspace iterations of the randomized SVD (each one pass over the genotypes).",
    ),
    click.option(
        "--seed",
        type=click.IntRange(0),
        default=0,
        show_default=True,
        help="Seed of the random start of the randomized SVD.",
    ),
]


@click.command("pca", short_help="Principal components (plink2 .eigenvec/.eigenval).")
@options(BFILE, SAMPLES, SNPS, PCA, RUN)
@run_command
def pca(log, **kw):
    """Principal components of K = Z Zᵀ/p, Z the standardized SNPs (mean 0, sd 1, missing at
    the mean): its top eigenvectors (unit length) and eigenvalues. With --kinship they come from
    that matrix's eigendecomposition; otherwise, with --method exact (auto: up to 5000
    individuals), from the eigendecomposition of K accumulated over the SNP blocks, or with
    --method randomized (auto: larger samples) from a randomized SVD (subspace iteration,
    Halko et al. 2011: 1 + --power-iterations + 1 passes over the .bed, memory n × (k + 20)
    plus one block; no n × p matrix). Writes PREFIX.eigenvec (#FID IID PC1 ... PCk, usable as
    --covar) and PREFIX.eigenval, as plink2 --pca does. Eigenvalues are on K's scale (mean
    diagonal 1).
    """
    from lmmlasso_cli.cli.options import data_options_from
    from lmmlasso_cli.cli.pipeline import principal_components
    from lmmlasso_cli.io.dataset import load_dataset
    from lmmlasso_cli.io.pca_file import write_pcs

    data = load_dataset(data_options_from(kw, need_pheno=False))
    from lmmlasso_cli.cli.pipeline import plan_for_data

    plan_for_data(log, kw, "pca", data)
    plink, samples = data.plink, data.samples
    log.info(f"{plink.prefix}: {plink.n_samples} individuals, {plink.n_snps} SNPs")
    log.info(f"individuals: {samples.n_samples} kept; dropped: {samples.describe_drops()}")
    for note in data.snp_notes:
        log.info(note)
    pcs = principal_components(log, kw, data, kw["n_pcs"])
    write_pcs(kw["out"], samples.fid, samples.iid, pcs)
    total = ", ".join(f"{v:.4g}" for v in pcs.values)
    log.info(f"eigenvalues ({pcs.method}): {total}")
    log.info(f"wrote {kw['out']}.eigenvec and {kw['out']}.eigenval ({kw['n_pcs']} PCs)")
