"""`lmmlasso kinship`: the realized relationship matrix, streamed over SNP blocks."""

import click

from lmmlasso_cli.cli.options import BFILE, RUN, SAMPLES, SNPS, data_options_from, options
from lmmlasso_cli.cli.runner import progress_bar, run_command


@click.command("kinship")
@options(BFILE, SAMPLES, SNPS)
@click.option(
    "--scaling",
    type=click.Choice(["empirical", "hwe"]),
    default="empirical",
    show_default=True,
    help="Per-SNP sd: empirical (each SNP sd 1 exactly) or hwe = sqrt(2f(1-f)) as "
    "in PLINK --make-rel and GCTA.",
)
@click.option(
    "--grm", is_flag=True, help="Also write GCTA binary PREFIX.grm.bin/.grm.N.bin/.grm.id."
)
@options(RUN)
@run_command
def kinship(log, **kw):
    """Realized relationship matrix K = Z Zᵀ / p from standardized SNPs.

    Z has per SNP mean 0 and sd 1 after mean imputation of missing calls. K is then divided by
    its mean diagonal (recorded as `scale`), so trace(K) = n. Writes PREFIX.kinship.npz (K, FID,
    IID, the SNP IDs with their means and sds, the normalization). Peak memory is about
    n² + n × block-size floats.
    """
    import numpy as np

    from lmmlasso_cli.io.artifacts import provenance, write_gcta_grm
    from lmmlasso_cli.io.dataset import load_dataset
    from lmmlasso_cli.io.kinship_file import save_kinship
    from lmmlasso_cli.io.plink import GenotypeReader
    from lmmlasso_cli.kinship import compute_kinship

    data = load_dataset(data_options_from(kw, need_pheno=False))
    plink, samples = data.plink, data.samples
    log.info(f"{plink.prefix}: {plink.n_samples} individuals, {plink.n_snps} SNPs")
    log.info(f"individuals: {samples.n_samples} kept; dropped: {samples.describe_drops()}")
    for note in data.snp_notes:
        log.info(note)
    reader = GenotypeReader(plink, samples.fam_index, num_threads=kw["threads"])
    with reader, progress_bar(len(data.snp_index), "kinship", kw["quiet"], unit="SNP") as bar:
        try:
            kin = compute_kinship(
                reader.blocks(data.snp_index, kw["block_size"]),
                samples.n_samples,
                maf_min=kw["maf"],
                scaling=kw["scaling"],
                progress=bar.update,
                blas_threads=kw["threads"],
            )
        except ValueError as exc:
            from lmmlasso_cli.errors import InputError

            raise InputError(f"{plink.bed_path}: {exc}") from None
        from lmmlasso_cli.cli.pipeline import note_dosages

        note_dosages(log, reader)
    used = kin.snp_index  # positions in the .bim (the blocks carry .bim positions)
    log.info(
        f"SNPs: {kin.n_snps} used; dropped {kin.n_monomorphic} monomorphic, "
        f"{kin.n_all_missing} all-missing, {kin.n_low_maf} with MAF < {kw['maf']}"
    )
    params = {
        k: kw[k]
        for k in (
            "bfile",
            "maf",
            "scaling",
            "block_size",
            "chromosomes",
            "extract",
            "exclude",
            "keep",
            "remove",
        )
    }
    out = kw["out"] + ".kinship.npz"
    save_kinship(
        out,
        kin,
        samples.fid,
        samples.iid,
        plink.snp[used],
        plink.a1[used],
        provenance("kinship", params),
    )
    log.info(
        f"wrote {out}: {samples.n_samples} x {samples.n_samples}, scaling {kin.scaling}, "
        f"normalized by mean diagonal {kin.scale:.6f}"
    )
    if kw["grm"]:
        write_gcta_grm(kw["out"], kin.matrix, samples.fid, samples.iid, kin.n_snps)
        log.info(f"wrote {kw['out']}.grm.bin/.grm.N.bin/.grm.id (GCTA, float32)")
    off = kin.matrix[np.triu_indices(samples.n_samples, 1)]
    log.info(
        f"summary: mean diagonal {np.mean(np.diag(kin.matrix)):.4f}, off-diagonal mean "
        f"{off.mean():.4f}, sd {off.std():.4f}, max {off.max():.4f}"
    )
