"""`lmmlasso simulate`: phenotypes with planted SNP effects on the user's own genotypes."""

from __future__ import annotations

import click

from lmmlasso_cli.cli.options import (
    BFILE,
    RUN,
    SAMPLES,
    SCHEDULER,
    SNPS,
    data_options_from,
    options,
    unit_interval,
)
from lmmlasso_cli.cli.runner import progress_bar, run_command


@click.command("simulate")
@options(BFILE)
@click.option(
    "--kinship",
    metavar="FILE",
    help="Kinship (PREFIX.kinship.npz or GCTA .grm.bin) for the background u ~ N(0, K); "
    "required when --h2-background > 0.",
)
@options(SAMPLES, SNPS)
@click.option(
    "--n-causal",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="Causal SNPs per replicate, drawn among the SNPs kept by --chr/--extract/--exclude "
    "with MAF >= --maf.",
)
@click.option(
    "--h2-snps",
    type=float,
    default=0.3,
    show_default=True,
    callback=unit_interval,
    help="Share of the phenotype variance planted on the causal SNPs (exact in the sample).",
)
@click.option(
    "--h2-background",
    type=float,
    default=0.3,
    show_default=True,
    callback=unit_interval,
    help="Share of the variance from the polygenic and structure background u ~ N(0, K).",
)
@click.option("--n-pheno", type=click.IntRange(1), default=1, show_default=True, help="Replicates.")
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Replicate i uses numpy SeedSequence(seed).spawn(n_pheno)[i].",
)
@click.option(
    "--effect-dist",
    type=click.Choice(["normal", "equal"]),
    default="normal",
    show_default=True,
    help="Standardized effects: normal = N(0, 1); equal = ±1 with random sign (before the "
    "scaling to --h2-snps).",
)
@options(SCHEDULER, RUN)
@run_command
def simulate(log, **kw):
    """Simulate phenotypes y = Zb + u + e on the genotypes of --bfile (semi-empirical design).

    Per replicate: --n-causal SNPs drawn at random, standardized effects b, a background
    u = U√S z ~ N(0, K) from the kinship's eigendecomposition over the individuals kept, and
    noise e ~ N(0, I). The parts are made uncorrelated in the sample and scaled so that they
    hold exactly --h2-snps, --h2-background and the rest of a total variance of 1.

    Writes PREFIX.pheno (FID IID sim1 ... simK, for --pheno) and PREFIX.truth.tsv (PHENO CHR
    SNP BP A1 BETA BETA_STD; BETA per copy of A1 = .bim column 5, BETA_STD per sd of the SNP).
    With --scheduler, each replicate is a unit on a Dask cluster (the same phenotypes).
    """
    run_simulate(log, kw)


def run_simulate(log, kw):
    import pandas as pd

    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.io.dataset import load_dataset
    from lmmlasso_cli.io.kinship_file import load_kinship
    from lmmlasso_cli.io.plink import GenotypeReader
    from lmmlasso_cli.io.simulate_file import write_phenotypes, write_truth
    from lmmlasso_cli.nullmodel import decompose

    h2s, h2b = kw["h2_snps"], kw["h2_background"]
    if h2s + h2b > 1.0:
        raise InputError(f"--h2-snps {h2s} + --h2-background {h2b} exceed 1; lower one of them")
    if h2b > 0 and not kw.get("kinship"):
        raise InputError(
            f"--h2-background {h2b} needs --kinship (a PREFIX.kinship.npz from "
            f"`lmmlasso kinship`), or set --h2-background 0"
        )
    if (h2s == 0) != (kw["n_causal"] == 0):
        raise InputError(
            f"--h2-snps {h2s} with --n-causal {kw['n_causal']}: plant effects with both > 0, "
            f"or simulate no causal SNP with --h2-snps 0 --n-causal 0"
        )
    data = load_dataset(data_options_from(kw, need_pheno=False))
    from lmmlasso_cli.cli.pipeline import plan_for_data

    n_causal = min(len(data.snp_index), kw["n_causal"] * kw["n_pheno"])
    plan_for_data(log, kw, "simulate", data, n_snps=n_causal)
    plink, samples = data.plink, data.samples
    log.info(f"{plink.prefix}: {plink.n_samples} individuals, {plink.n_snps} SNPs")
    log.info(f"individuals: {samples.n_samples} kept; dropped: {samples.describe_drops()}")
    for note in data.snp_notes:
        log.info(note)
    eig = None
    if h2b > 0:
        kin = load_kinship(kw["kinship"])
        eig = decompose(kin.submatrix(samples.fid, samples.iid))
        log.info(f"kinship {kin.path}: eigendecomposed over {samples.n_samples} individuals")
    elif kw.get("kinship"):
        log.info("--h2-background 0: --kinship is not used")
    from lmmlasso_cli.cli.pipeline import backend_for

    reader = GenotypeReader(plink, samples.fam_index, num_threads=kw["threads"])
    try:
        with backend_for(log, kw, kw["n_pheno"], processes=True) as backend:
            values, truth, names = _simulate(log, kw, data, reader, eig, backend)
    finally:
        reader.close()
    out = kw["out"]
    write_phenotypes(out + ".pheno", samples.fid, samples.iid, names, values)
    write_truth(out + ".truth.tsv", pd.concat(truth, ignore_index=True))
    log.info(
        f"wrote {out}.pheno ({len(names)} phenotype(s), {samples.n_samples} individuals) and "
        f"{out}.truth.tsv (seed {kw['seed']})"
    )


def _replicate_unit(Z, eig, h2s, h2b, effect_dist, item):
    """One replicate ``item = (columns of Z, generator)`` (a work unit)."""
    from lmmlasso_cli.compact import as_genotypes
    from lmmlasso_cli.io.shared_arrays import resolve
    from lmmlasso_cli.simulate import simulate_phenotype

    Z, eig = as_genotypes(resolve(Z)), resolve(eig)
    cols, rng = item
    return simulate_phenotype(Z.columns(cols), eig, h2s, h2b, rng, effect_dist)


def _simulate(log, kw, data, reader, eig, backend):
    """(values (n, n_pheno), truth frames, names) of the replicates, one unit each."""
    import functools

    import numpy as np
    import pandas as pd

    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.io.dataset import iter_standardized, read_standardized
    from lmmlasso_cli.simulate import draw_causal, replicate_generators

    plink, samples = data.plink, data.samples
    h2s, h2b = kw["h2_snps"], kw["h2_background"]
    candidates = []
    with progress_bar(len(data.snp_index), "candidates", kw["quiet"], unit="SNP") as bar:
        snps, size = data.snp_index, kw["block_size"]
        blocks = iter_standardized(reader, snps, kw["maf"], size, expand=False)
        for block in blocks:
            candidates.append(block.snp_index)
            bar.update(block.n_read)
    candidates = np.concatenate(candidates)
    log.info(
        f"causal candidates: {len(candidates)} polymorphic SNPs with MAF >= {kw['maf']} "
        f"over the {samples.n_samples} individuals"
    )
    if kw["n_causal"] > len(candidates):
        raise InputError(
            f"--n-causal {kw['n_causal']} exceeds the {len(candidates)} candidate SNPs; "
            f"lower it or relax --maf/--chr/--extract"
        )
    rngs = replicate_generators(kw["seed"], kw["n_pheno"])
    chosen = [candidates[draw_causal(len(candidates), kw["n_causal"], rng)] for rng in rngs]
    union = np.unique(np.concatenate(chosen)) if kw["n_causal"] else np.zeros(0, dtype=np.int64)
    if len(union):
        geno = read_standardized(reader, union, 0.0, kw["block_size"])
        assert np.array_equal(geno.snp_index, union)  # candidates are polymorphic
        Z, sds = geno.store, geno.sds
    else:
        Z, sds = np.zeros((samples.n_samples, 0)), np.zeros(0)
    names = [f"sim{r + 1}" for r in range(kw["n_pheno"])]
    values = np.empty((samples.n_samples, kw["n_pheno"]))
    truth = []
    columns = [np.searchsorted(union, causal) for causal in chosen]
    task = functools.partial(
        _replicate_unit, backend.share(Z), backend.share(eig), h2s, h2b, kw["effect_dist"]
    )
    sims = backend.map(task, list(zip(columns, rngs, strict=True)))
    for r, (name, cols, causal, sim) in enumerate(zip(names, columns, chosen, sims, strict=True)):
        values[:, r] = sim.values
        truth.append(
            pd.DataFrame(
                {
                    "PHENO": name,
                    "CHR": plink.chrom[causal],
                    "SNP": plink.snp[causal],
                    "BP": plink.bp[causal],
                    "A1": plink.a1[causal],
                    "BETA": sim.beta_std / sds[cols],
                    "BETA_STD": sim.beta_std,
                }
            )
        )
        var = np.var(sim.values)
        log.info(
            f"{name}: {len(causal)} causal SNPs; realized shares planted "
            f"{np.var(sim.planted) / var:.4f}, background {np.var(sim.background) / var:.4f}, "
            f"noise {np.var(sim.noise) / var:.4f}"
        )
    return values, truth, names
