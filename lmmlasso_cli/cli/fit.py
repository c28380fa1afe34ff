"""`lmmlasso fit`: LMM-Lasso at one μ, at a target number of SNPs, or along a μ path."""

import click

from lmmlasso_cli.cli.options import (
    BFILE,
    COVAR,
    LASSO,
    MODEL_PARAMS,
    MU_GRID,
    NULL_SEARCH,
    PATH_STOP,
    PHENO,
    PLOT,
    RUN,
    SAMPLES,
    SCHEDULER,
    SNPS,
    options,
)
from lmmlasso_cli.cli.runner import run_command


@click.command("fit", short_help="LMM-Lasso: sparse SNP effects plus a polygenic random effect.")
@options(BFILE)
@click.option(
    "--kinship",
    metavar="FILE",
    help="Kinship (PREFIX.kinship.npz or GCTA .grm.bin); required unless --no-kinship.",
)
@click.option(
    "--null",
    "null_path",
    metavar="FILE",
    help="PREFIX.null.npz from `lmmlasso fit-null` (else the null model is refitted).",
)
@click.option(
    "--no-kinship",
    is_flag=True,
    help="Plain Lasso with unpenalized covariates (no random effect): the baseline.",
)
@options(PHENO, COVAR, SAMPLES, SNPS, NULL_SEARCH)
@click.option(
    "--mu",
    type=click.FloatRange(0, min_open=True),
    help="One μ: minimize ½‖ỹ − X̃w‖² + μ‖w‖₁ (μ absolute, NOT divided by n; ỹ, X̃ "
    "the rotated phenotype and standardized SNPs).",
)
@click.option("--n-active", type=click.IntRange(1), help="Find the μ that selects this many SNPs.")
@options(MU_GRID, PATH_STOP, LASSO, PLOT, SCHEDULER, RUN)
@run_command
def fit(log, **kw):
    """LMM-Lasso (Rakitsch et al. 2013): sparse SNP effects plus a polygenic random effect.

    Genotypes and phenotype are rotated by (S+δ)^-1/2 Uᵀ from the null model's K = U S Uᵀ and
    δ = σe²/σg²; covariates (the intercept among them) are projected out, unpenalized. The
    Lasso objective is ½‖ỹ − X̃w‖² + μ·r·‖w‖₁ + ½·μ·(1−r)·‖w‖², μ absolute (not per
    sample), solved by coordinate descent and certified by the duality gap. Without --mu or
    --n-active, fits a path of --n-mu values, stopping as glmnet does once the training
    explained variance no longer rises or more than --max-active SNPs are in (--full-path:
    every μ). Writes PREFIX.weights.tsv, PREFIX.path.tsv, PREFIX.model.npz (for `lmmlasso
    predict`) and PREFIX.score.tsv (for plink2 --score).
    With --scheduler, each phenotype's null model and Lasso fit are units on a Dask cluster.
    """
    import itertools

    from lmmlasso_cli.cli.options import (
        data_options_from,
        lasso_from,
        mu_grid_from,
        null_search_from,
    )
    from lmmlasso_cli.cli.pipeline import (
        GenotypeCache,
        LassoRequest,
        backend_for,
        background_for,
        fit_lasso_batch,
        iter_phenotypes,
        load_inputs,
        null_models_for,
        output_prefix,
        plot_model,
        write_model,
    )
    from lmmlasso_cli.errors import InputError

    chosen = [k for k in ("mu", "n_active", "mu_list") if kw.get(k) is not None]
    if len(chosen) > 1:
        flags = ", ".join("--" + k.replace("_", "-") for k in chosen)
        raise InputError(f"{flags}: choose one of --mu, --n-active or --mu-list")
    if not kw["no_kinship"] and not kw["kinship"]:
        raise InputError("--kinship is required (or --no-kinship for a plain Lasso)")
    kinship = None if kw["no_kinship"] else kw["kinship"]
    data, kin = load_inputs(log, data_options_from(kw), kinship)
    from lmmlasso_cli.cli.pipeline import plan_for_data

    single = kw["mu"] is not None or kw["n_active"] is not None
    n_mu = 1 if single else mu_grid_from(kw).n_values
    plan_for_data(log, kw, "fit", data, kin, n_mu=n_mu, n_active=kw["n_active"] or 0)
    if not kw["scheduler"]:  # numba compiles the kernels during the eigh and SNP reading
        from lmmlasso_cli.lasso.prepare import prepare_kernels

        prepare_kernels()
    refit = kin is not None and not kw["null_path"]
    search = null_search_from(kw) if refit else None
    request = LassoRequest(mu=kw["mu"], n_active=kw["n_active"])
    grid, lasso = mu_grid_from(kw), lasso_from(kw)
    params = {k: kw.get(k) for k in MODEL_PARAMS}
    multi = len(data.pheno_names) > 1
    policy, quiet = kw["on_nonconvergence"], kw["quiet"]
    with (
        GenotypeCache(log, data, kw["maf"], kw["block_size"], kw["threads"], quiet) as cache,
        backend_for(log, kw, len(data.pheno_names), processes=True) as backend,
    ):
        fits = iter_phenotypes(log, data, kin, kw["transform"], search, refit, backend)
        for _, group in itertools.groupby(fits, key=lambda pf: pf.group):
            group = list(group)
            nulls = null_models_for(
                log, group, kin is not None, kw["null_path"], data, kw["kinship"]
            )
            reader, geno = cache.get(group[0])
            items = [
                (pf.pheno.values, pf.covariates, eig, log_delta)
                for pf, (eig, log_delta, _) in zip(group, nulls, strict=True)
            ]
            lasso_fits = fit_lasso_batch(
                log, backend, geno.store, items, request, grid, lasso, policy, quiet
            )
            for pf, (eig, _, method), fit in zip(group, nulls, lasso_fits, strict=True):
                background = background_for(
                    log, data, kin, reader, geno, fit, eig, kw["block_size"]
                )
                prefix = output_prefix(kw["out"], pf.pheno.name, multi)
                extra = {"null_method": method}
                model = write_model(log, prefix, data, pf, geno, fit, background, params, extra)
                if kw["plot"]:
                    plot_model(log, prefix, pf.pheno.name, model)
