"""`lmmlasso predict`: phenotypes of new individuals from a fitted model, by BLUP."""

import click

from lmmlasso_cli.cli.common import bfile_option, run_command, run_options, sample_options


@click.command("predict", short_help="Predict new individuals: SNP effects + BLUP background.")
@bfile_option
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
@click.option(
    "--block-size",
    type=click.IntRange(1),
    default=2048,
    show_default=True,
    help="SNPs read per block.",
)
@sample_options
@run_options
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
    from lmmlasso_cli.cli.predict_command import run_predict

    run_predict(log, kw)
