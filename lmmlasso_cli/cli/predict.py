"""`lmmlasso predict`: phenotypes of new individuals from a fitted model, by BLUP."""

import click

from lmmlasso_cli.cli.options import BFILE, BLOCK_SIZE, RUN, SAMPLES, options
from lmmlasso_cli.cli.runner import run_command


@click.command("predict", short_help="Predict new individuals: SNP effects + BLUP background.")
@options(BFILE)
@click.option(
    "--model",
    "model_path",
    required=True,
    metavar="FILE",
    help="PREFIX.model.npz from `lmmlasso fit` or `lmmlasso cv`.",
)
@click.option(
    "--covar",
    type=click.Path(),
    metavar="FILE",
    help="Covariates of the new individuals (required if the model has covariates "
    "besides the intercept; the same column names).",
)
@click.option(
    "--pheno",
    type=click.Path(),
    metavar="FILE",
    help="Observed phenotypes of the new individuals, to report accuracy.",
)
@click.option(
    "--pheno-name", metavar="NAME", help="Column of --pheno  [default: the model's phenotype name]"
)
@click.option(
    "--mu-index",
    type=click.IntRange(0),
    default=None,
    help="For a path model: predict only at this μ index  [default: every μ]",
)
@options([BLOCK_SIZE], SAMPLES, RUN)
@run_command
def predict(log, **kw):
    """Predict phenotypes as ŷ = X w + C α̂ + ĝ, where ĝ = K_vt (K_tt + δI)⁻¹ (y − Cα̂ − Xw).

    ĝ, the BLUP of the random effect, is computed from the new individuals' genotypes and the
    per-SNP BLUP weights stored in the model, so the training .bed is not needed. SNPs are
    matched by ID and A1 (a swapped A1/A2 is handled); missing calls count as the training
    mean. Writes PREFIX.pred.tsv with FID, IID, PRED (model scale), PRED_SNPS, PRED_COVAR,
    PRED_BACKGROUND and, for the standardize/none transforms, PRED_PHENO (phenotype units).
    With --pheno, logs explained variance, R² and Pearson r on the model scale.
    """
    import numpy as np

    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.io.dataset import read_standardized, standardized_blocks
    from lmmlasso_cli.io.model_file import load_model
    from lmmlasso_cli.io.plink import GenotypeReader, match_snps
    from lmmlasso_cli.io.prediction_file import read_observed, write_predictions
    from lmmlasso_cli.predict import predict_model

    model = load_model(kw["model_path"])
    mus = np.arange(model.n_mu)
    if kw["mu_index"] is not None:
        if kw["mu_index"] >= model.n_mu:
            raise InputError(f"--mu-index {kw['mu_index']}: the model has {model.n_mu} μ values")
        mus = np.array([kw["mu_index"]])
    log.info(
        f"model {model.path}: phenotype {model.pheno}, {model.n_mu} μ, "
        f"{len(model.fixed)} SNPs with fixed effects, background over "
        f"{0 if model.background is None else len(model.background)} SNPs"
    )
    data = _new_samples(log, kw, model)
    plink, size = data.plink, kw["block_size"]
    fixed_z, blocks, weights = np.zeros((data.n_samples, 0)), (), None
    with GenotypeReader(plink, data.samples.fam_index, num_threads=kw["threads"]) as reader:
        if len(model.fixed):
            fx = model.fixed
            pos, flipped = match_snps(plink, fx.snp, fx.a1, fx.a2, model.path)
            log.info(
                f"fixed-effect SNPs: {len(pos)} matched, {int(flipped.sum())} with A1/A2 swapped"
            )
            geno = read_standardized(
                reader, pos, means=fx.means, sds=fx.sds, flipped=flipped, block_size=size
            )
            fixed_z = geno.store
        if model.background is not None:
            bg = model.background
            pos, flipped = match_snps(plink, bg.snp, bg.a1, bg.a2, model.path + " (background)")
            blocks = standardized_blocks(reader, pos, bg.means, bg.sds, size, flipped)
            weights = model.background_weights[mus]
        pred = predict_model(
            model.fixed_coefs[mus],
            fixed_z,
            model.covariate_coefs[mus],
            data.covariates,
            weights,
            blocks,
        )
    out = kw["out"] + ".pred.tsv"
    write_predictions(out, model, data.samples.fid, data.samples.iid, mus, pred)
    log.info(f"wrote {out}: {data.n_samples} individuals x {len(mus)} μ")
    if kw["pheno"]:
        y = read_observed(kw["pheno"], kw["pheno_name"] or model.pheno, data.samples)
        _report(log, kw["pheno"], model, mus, pred, y)


def _new_samples(log, kw, model):
    """Aligned new individuals and their covariate design, in the model's column order."""
    from lmmlasso_cli.cli.options import data_options_from
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.io.dataset import load_dataset

    names = [n for n in model.covariate_names if n != "intercept"]
    if names and not kw["covar"]:
        raise InputError(
            f"{model.path}: the model uses covariates {', '.join(names)}; give the "
            f"new individuals' values with --covar"
        )
    opts = data_options_from(
        {
            **kw,
            "covar": kw["covar"] if names else None,
            "covar_names": names or None,
            "no_intercept": "intercept" not in model.covariate_names,
        },
        need_pheno=False,
    )
    data = load_dataset(opts)
    from lmmlasso_cli.cli.pipeline import plan_for_data

    plan_for_data(log, kw, "predict", data, n_snps=len(model.fixed))
    if data.covariate_names != model.covariate_names:
        raise InputError(
            f"{kw['covar']}: covariates {data.covariate_names} do not match the "
            f"model's {model.covariate_names}"
        )
    log.info(
        f"{data.plink.prefix}: {data.plink.n_samples} individuals; {data.n_samples} "
        f"predicted; dropped: {data.samples.describe_drops()}"
    )
    return data


def _report(log, pheno_path, model, mus, pred, y):
    import numpy as np

    from lmmlasso_cli.predict import accuracy

    ok = np.isfinite(y)
    if ok.sum() < 3:
        log.warning(
            f"{pheno_path}: fewer than 3 predicted individuals have a phenotype; "
            f"no accuracy reported"
        )
        return
    y_model = model.transform.apply(y[ok])
    for row, k in enumerate(mus):
        acc = accuracy(y_model, pred.total[row, ok])
        log.info(
            f"μ index {k} (μ={model.mus[k]:.4g}): n={acc.n} explained variance "
            f"{acc.explained_variance:.4f}, R² {acc.r2:.4f}, Pearson r {acc.pearson_r:.4f}"
        )
