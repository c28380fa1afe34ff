"""`lmmlasso shrink`: ML-MAGES shrinkage of LD-inflated marginal effects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from lmmlasso_cli.cli.options import (
    BFILE,
    BLOCK_SNPS,
    PLOT,
    RUN,
    SAMPLES,
    SCHEDULER,
    SNPS,
    options,
)
from lmmlasso_cli.cli.runner import run_command

if TYPE_CHECKING:
    import numpy as np

INPUT = [
    click.option(
        "--gwas",
        "gwas_path",
        metavar="FILE",
        help="PREFIX.gwas.tsv[.gz] from `lmmlasso gwas` (BETA, SE per copy of A1; OBS_CT).",
    ),
    click.option(
        "--sumstats",
        "sumstats_path",
        metavar="FILE",
        help="Summary statistics with CHR, SNP (or ID), A1, BETA, SE and optionally A2, N.",
    ),
    click.option(
        "--blocks",
        "blocks_path",
        metavar="FILE",
        help="LD blocks: PREFIX.blocks.tsv of `lmmlasso ld-blocks`, or a BED-like `chr start "
        "stop` file (e.g. LDetect's)  [default: computed here with --block-snps]",
    ),
]

METHOD = [
    click.option(
        "--method",
        type=click.Choice(["mlp", "enet"]),
        default="mlp",
        show_default=True,
        help="mlp = the ML-MAGES network ensemble; enet = elastic net on the block's LD and "
        "marginal effects (the regularized-regression baseline).",
    ),
    click.option(
        "--top-r",
        type=click.IntRange(1),
        default=15,
        show_default=True,
        help="Neighbours per variant in the features: the --top-r largest |r| in its block.",
    ),
    click.option(
        "--n-replicates",
        type=click.IntRange(1),
        default=200,
        show_default=True,
        help="Training simulations (one block and one point of the ML-MAGES grid each).",
    ),
    click.option(
        "--n-models",
        type=click.IntRange(1),
        default=10,
        show_default=True,
        help="Networks in the ensemble (their predictions are averaged).",
    ),
    click.option(
        "--max-epochs",
        type=click.IntRange(1),
        default=200,
        show_default=True,
        help="Epochs per network at most (early stopping: 10 epochs without improvement).",
    ),
    click.option(
        "--matching",
        type=click.Choice(["snr", "rms"]),
        default="snr",
        show_default=True,
        help="How training simulations match your effects per block: snr = your noise level "
        "(SE) and your excess variance mean(β²) − mean(se²) as the signal; rms = one factor "
        "on β, se and b (the grid's signal-to-noise ratio).",
    ),
    click.option(
        "--save-model",
        metavar="FILE",
        help="Save the trained ensemble (.npz, plain arrays) for other traits on these genotypes.",
    ),
    click.option(
        "--model",
        "model_path",
        metavar="FILE",
        help="Use a saved ensemble instead of training (refused if trained on other genotypes).",
    ),
    click.option(
        "--seed",
        type=click.IntRange(0),
        default=0,
        show_default=True,
        help="Seed of the training simulations and networks (SeedSequence spawn per unit).",
    ),
]


@click.command("shrink", short_help="ML-MAGES: shrink LD-inflated marginal effects.")
@options(BFILE, INPUT, SAMPLES, SNPS, BLOCK_SNPS, METHOD, PLOT, SCHEDULER, RUN)
@run_command
def shrink(log, **kw):
    """Shrink marginal GWAS effects with the ML-MAGES network (Liu, Crawford and Ramachandran
    2025), trained on simulations from --bfile, or with an elastic net.

    --bfile is the LD reference: the same individuals as the GWAS, or a panel for outside
    summary statistics. Variants are matched by ID and alleles (BETA negated where A1 is the
    .bim's A2). Effects are put on the standardized scale, β = β_a·s_j/σ_y and se = se_a·s_j/σ_y
    (s_j the SNP's sd in the reference, σ_y = median se·√(t² + n − 2)). Per variant the network
    sees β, se, its LD score Σ_{i≠j} r² and its --top-r neighbours by |r| in its block (their β
    and signed r). Training: phenotypes simulated on the reference's blocks over the grid of
    causal fraction {0.01, 0.05} × h² {0.3, 0.7} × MAF weighting {−0.25, 0}, marginal effects
    as `lmmlasso gwas --lm` computes them, spread-matched to your own effects per block;
    networks 64-8 ReLU, weighted MSE (weight 2 on causal SNPs), Adam, early stopping on
    held-out replicates. enet minimizes ‖β − R b‖²/(2m) + αρ‖b‖₁ + α(1 − ρ)‖b‖²/2 per block
    of m variants (ρ = 0.5, α by 5-fold CV over the block's rows). Writes PREFIX.shrink.tsv:
    #CHROM POS ID A1 A2 BLOCK BETA SE BETA_SHRUNK BETA_STD BETA_SHRUNK_STD. --threads N
    simulates N blocks and trains N networks at a time (worker processes), --scheduler on a
    Dask cluster; results do not depend on either.
    """
    inputs = _inputs(log, kw)
    try:
        _shrink(log, kw, inputs)
    finally:
        inputs.reader.close()


def _shrink(log, kw, inputs):
    import contextlib
    import functools
    import warnings

    import numpy as np
    from threadpoolctl import threadpool_limits

    from lmmlasso_cli.cli.pipeline import backend_for
    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.errors import ConvergenceWarning, InputError
    from lmmlasso_cli.io.artifacts import provenance
    from lmmlasso_cli.io.shrink_file import load_shrink_model, save_shrink_model, write_shrink
    from lmmlasso_cli.io.work_units import GenotypeSource, StandardizedRange, read_range
    from lmmlasso_cli.mlmages.mlp import MlpSettings
    from lmmlasso_cli.mlmages.shrink import shrink_effects, to_per_allele

    if kw["method"] == "enet" and (kw["model_path"] or kw["save_model"]):
        raise InputError("--model and --save-model go with --method mlp (enet trains nothing)")
    model = None
    if kw["model_path"]:
        model = load_shrink_model(kw["model_path"], inputs.fingerprint)
        log.info(
            f"model {kw['model_path']}: {model.ensemble.n_models} networks "
            f"{'-'.join(map(str, model.ensemble.hidden_layers))}, top-r {model.top_r}, "
            f"trained on {model.n_training_rows} rows"
        )
    settings = MlpSettings(n_models=kw["n_models"], max_epochs=kw["max_epochs"])
    train = kw["method"] == "mlp" and model is None
    n_tasks = (
        max(settings.n_models, min(kw["n_replicates"], inputs.blocks.n_blocks)) if train else 1
    )
    with contextlib.ExitStack() as stack:
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always", ConvergenceWarning)
        backend = stack.enter_context(backend_for(log, kw, n_tasks, processes=train))
        read_block, simulate_map = inputs.read_block, map
        if backend.distributed:  # the simulation units read their blocks themselves
            source = GenotypeSource.of(inputs.plink, inputs.fam_index, num_threads=1)
            ranges = StandardizedRange(source, inputs.snp_index, inputs.means, inputs.sds)
            read_block = functools.partial(read_range, backend.share(ranges))
            simulate_map = backend.map
        else:
            stack.enter_context(threadpool_limits(limits=1))  # the bits of any --threads
        if train:
            log.info(
                f"training {settings.n_models} networks on {kw['n_replicates']} simulated "
                f"replicates (seed {kw['seed']})"
            )
        simulating = stack.enter_context(
            progress_bar(kw["n_replicates"] if train else 0, "simulating", kw["quiet"], "rep")
        )
        bar = stack.enter_context(
            progress_bar(settings.n_models if train else 0, "training networks", kw["quiet"], "net")
        )

        def counting_map(fn, items):
            for result in backend.map(fn, items):
                bar.update(1)
                yield result

        with progress_bar(inputs.n_snps, "shrinking", kw["quiet"], unit="SNP") as done:
            result = shrink_effects(
                inputs.beta_std,
                inputs.se_std,
                inputs.blocks,
                read_block,
                method=kw["method"],
                model=model,
                means=inputs.means,
                fingerprint=inputs.fingerprint,
                top_r=kw["top_r"],
                n_replicates=kw["n_replicates"],
                seed=kw["seed"],
                mlp_settings=settings,
                map_fn=counting_map,
                progress=done.update,
                matching=kw["matching"],
                simulate_map_fn=simulate_map,
                simulate_progress=simulating.update,
            )
    for w in caught:
        log.warning(str(w.message))
    if result.trained:
        ens = result.model.ensemble
        log.info(
            f"trained on {result.model.n_training_rows} rows; epochs per network "
            f"{ens.n_epochs.min()} to {ens.n_epochs.max()} (best {ens.best_epoch.min()} to "
            f"{ens.best_epoch.max()}); validation weighted MSE {np.median(ens.val_loss):.4g}"
        )
    shrunk = to_per_allele(result.beta_shrunk_std, inputs.sds, inputs.pheno_sd)
    out = kw["out"] + ".shrink.tsv"
    header = [
        f"method={kw['method']} source={inputs.source} n_snps={inputs.n_snps} "
        f"n_blocks={inputs.blocks.n_blocks} pheno_sd={inputs.pheno_sd:.6g}",
        "BETA/SE/BETA_SHRUNK per copy of A1; *_STD per sd of the SNP (in --bfile) and of the "
        "phenotype",
    ]
    write_shrink(
        out,
        inputs.plink,
        inputs.snp_index,
        result.block,
        inputs.beta,
        inputs.se,
        shrunk,
        result.beta_std,
        result.beta_shrunk_std,
        header,
    )
    n_zeroish = int(np.sum(np.abs(result.beta_shrunk_std) < 0.1 * np.abs(result.beta_std)))
    log.info(
        f"wrote {out}: {inputs.n_snps} variants; rms effect {_rms(result.beta_std):.4g} "
        f"marginal, {_rms(result.beta_shrunk_std):.4g} shrunk (standardized); {n_zeroish} "
        f"shrunk below a tenth of their marginal size"
    )
    for j in np.argsort(-np.abs(result.beta_shrunk_std), kind="stable")[:5]:
        pos = inputs.snp_index[j]
        log.info(
            f"  {inputs.plink.snp[pos]} chr{inputs.plink.chrom[pos]}:{inputs.plink.bp[pos]} "
            f"BETA_STD={result.beta_std[j]:+.4f} BETA_SHRUNK_STD={result.beta_shrunk_std[j]:+.4f}"
        )
    if kw["plot"]:
        import os

        from lmmlasso_cli.io.plots import plot_shrink

        name = os.path.basename(inputs.source)
        title = f"{name}: {kw['method']} shrinkage, {inputs.n_snps} variants"
        plot_shrink(kw["out"] + ".shrink.png", result.beta_std, result.beta_shrunk_std, title)
        log.info(f"wrote {kw['out']}.shrink.png")
    if kw["save_model"] and result.model is not None:
        params = {k: kw[k] for k in ("bfile", "top_r", "n_replicates", "n_models", "seed")}
        save_shrink_model(kw["save_model"], result.model, provenance("shrink", params))
        log.info(f"wrote {kw['save_model']}: reuse it with --model on the same --bfile and filters")


@dataclass(frozen=True)
class _Inputs:
    """Matched effects (per allele and standardized), their blocks, and the reference."""

    plink: object  # PlinkSet
    fam_index: np.ndarray  # (n,) .fam rows of the reference individuals
    reader: object  # GenotypeReader of the reference individuals
    read_block: object  # (start, stop) -> standardized genotypes of those analysed SNPs
    snp_index: np.ndarray  # (n_snps,) .bim positions of the analysed variants, increasing
    means: np.ndarray  # (n_snps,) mean A1 count in the reference
    sds: np.ndarray  # (n_snps,) sd of the A1 count in the reference
    beta: np.ndarray  # (n_snps,) per copy of the .bim's A1
    se: np.ndarray
    beta_std: np.ndarray  # per sd of SNP and phenotype
    se_std: np.ndarray
    pheno_sd: float
    blocks: object  # mlmages.ld.BlockPartition
    fingerprint: str
    source: str

    @property
    def n_snps(self) -> int:
        return len(self.snp_index)


def _inputs(log, kw):
    import numpy as np

    from lmmlasso_cli.cli.options import data_options_from
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.io.blocks_file import blocks_for_snps, read_blocks
    from lmmlasso_cli.io.dataset import load_dataset, range_reader, snp_scales
    from lmmlasso_cli.io.plink import GenotypeReader
    from lmmlasso_cli.io.sumstats import match_sumstats, read_sumstats
    from lmmlasso_cli.mlmages.shrink import genotype_fingerprint, phenotype_sd, to_standardized

    given = [k for k in ("gwas_path", "sumstats_path") if kw[k]]
    if len(given) != 1:
        raise InputError("give the marginal effects with one of --gwas or --sumstats")
    source = kw[given[0]]
    data = load_dataset(data_options_from(kw, need_pheno=False))
    from lmmlasso_cli.cli.pipeline import plan_for_data

    plan_for_data(log, kw, "ld", data)
    plink, samples = data.plink, data.samples
    log.info(f"LD reference {plink.prefix}: {samples.n_samples} individuals, {plink.n_snps} SNPs")
    stats = read_sumstats(source)
    matched = match_sumstats(stats, plink, data.snp_index)
    log.info(f"{source}: {matched.summary()}")
    reader = GenotypeReader(plink, samples.fam_index, num_threads=kw["threads"])
    sc = snp_scales(reader, matched.snp_index, kw["maf"], kw["block_size"])
    keep = np.isin(matched.snp_index, sc.snp_index)
    if not keep.all():
        log.info(
            f"{int((~keep).sum())} matched variants are monomorphic, all-missing or below --maf "
            f"in the reference and are dropped"
        )
    beta, se = matched.beta[keep], matched.se[keep]
    n = matched.n[keep] if matched.n is not None else samples.n_samples
    pheno_sd = phenotype_sd(beta * sc.sds, se * sc.sds, n)
    beta_std, se_std = to_standardized(beta, se, sc.sds, pheno_sd)
    log.info(
        f"{len(sc.snp_index)} variants; phenotype sd estimated from the effects as {pheno_sd:.4g}"
        f" (N from {'the file' if matched.n is not None else 'the reference'})"
    )
    read_block = range_reader(reader, sc.snp_index, sc.means, sc.sds)
    chrom = plink.chrom[sc.snp_index]
    if kw["blocks_path"]:
        blocks, n_uncovered = blocks_for_snps(read_blocks(kw["blocks_path"]), plink, sc.snp_index)
        log.info(
            f"blocks from {kw['blocks_path']}: {blocks.n_blocks} blocks; {n_uncovered} variants "
            f"in no interval (each run of them is a block of its own)"
        )
    else:
        from lmmlasso_cli.cli.pipeline import compute_blocks

        blocks = compute_blocks(read_block, chrom, kw["block_snps"], kw["quiet"])
        log.info(f"LD blocks computed here: {blocks.n_blocks} (--block-snps {kw['block_snps']})")
    pos = sc.snp_index
    fingerprint = genotype_fingerprint(
        plink.snp[pos], plink.a1[pos], plink.a2[pos], samples.fid, samples.iid, sc.means
    )
    return _Inputs(
        plink=plink,
        fam_index=samples.fam_index,
        reader=reader,
        read_block=read_block,
        snp_index=pos,
        means=sc.means,
        sds=sc.sds,
        beta=beta,
        se=se,
        beta_std=beta_std,
        se_std=se_std,
        pheno_sd=pheno_sd,
        blocks=blocks,
        fingerprint=fingerprint,
        source=source,
    )


def _rms(x):
    import numpy as np

    return float(np.sqrt(np.mean(np.square(x))))
