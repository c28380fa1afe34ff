"""`lmmlasso cv`: K-fold cross-validation over individuals, then a refit at the chosen μ."""

from __future__ import annotations

import click

from lmmlasso_cli.cli.options import (
    BFILE,
    COVAR,
    LASSO,
    MODEL_PARAMS,
    MU_GRID,
    NULL_SEARCH,
    PHENO,
    PLOT,
    RUN,
    SAMPLES,
    SCHEDULER,
    SNPS,
    kinship_option,
    options,
)
from lmmlasso_cli.cli.runner import run_command


def _cv_table(summary, chosen: int):
    import numpy as np
    import pandas as pd

    s = summary
    return pd.DataFrame(
        {
            "MU_INDEX": np.arange(len(s.mus)),
            "MU": s.mus,
            "MEAN_N_ACTIVE": s.mean_n_active,
            "EXPLAINED_VARIANCE_MEAN": s.ev_mean,
            "EXPLAINED_VARIANCE_SE": s.ev_se,
            "MSE_MEAN": s.mse_mean,
            "MSE_SE": s.mse_se,
            "SNP_VARIANCE_MEAN": s.snp_mean,
            "SNP_VARIANCE_SE": s.snp_se,
            "BACKGROUND_VARIANCE_MEAN": s.background_mean,
            "BACKGROUND_VARIANCE_SE": s.background_se,
            "N_CONVERGED_FOLDS": s.n_converged,
            "CHOSEN": (np.arange(len(s.mus)) == chosen).astype(int),
        }
    )


def _cross_validate(folds, mus, settings, data, map_fn, progress):
    from lmmlasso_cli.selection.cv import cross_validate

    return cross_validate(data, folds, mus, settings, map_fn, progress)


def run_cv(log, kw):
    import functools

    import numpy as np

    from lmmlasso_cli.cli.options import (
        data_options_from,
        lasso_from,
        mu_grid_from,
        null_search_from,
        training_from,
    )
    from lmmlasso_cli.cli.pipeline import (
        GenotypeCache,
        LassoRequest,
        backend_for,
        background_for,
        fit_lasso,
        iter_phenotypes,
        load_inputs,
        output_prefix,
        run_units,
        write_model,
    )
    from lmmlasso_cli.cli.runner import log_messages
    from lmmlasso_cli.io.artifacts import write_tsv
    from lmmlasso_cli.selection.cv import choose_mu, cv_summary, shared_mu_grid
    from lmmlasso_cli.selection.folds import TrainingData, kfold_indices

    settings = training_from(kw)
    grid, lasso = mu_grid_from(kw), lasso_from(kw)
    data, kin = load_inputs(log, data_options_from(kw), kw["kinship"])
    from lmmlasso_cli.cli.pipeline import plan_for_data

    n_train = data.samples.n_samples * (kw["folds"] - 1) // kw["folds"]
    plan_for_data(log, kw, "cv", data, kin, units=kw["folds"], n_subsample=n_train)
    multi = len(data.pheno_names) > 1
    params = {k: kw.get(k) for k in MODEL_PARAMS}
    search = null_search_from(kw)
    with (
        GenotypeCache(log, data, kw["maf"], kw["block_size"], kw["threads"], kw["quiet"]) as cache,
        backend_for(log, kw, kw["folds"], processes=True) as backend,
    ):
        for pf in iter_phenotypes(log, data, kin, kw["transform"], search):
            eig, log_delta = pf.eig, pf.null.log_delta
            reader, geno = cache.get(pf)
            X, y, C = geno.store, pf.pheno.values, pf.covariates
            mus = shared_mu_grid(X, y, C, eig, log_delta, grid, lasso.l1_ratio)
            training = TrainingData(X, pf.pheno.raw, C, kin.submatrix(pf.fid, pf.iid))
            folds = kfold_indices(len(y), kw["folds"], np.random.default_rng(kw["seed"]))
            log.info(
                f"{pf.pheno.name}: {kw['folds']}-fold CV over {len(y)} individuals (seed "
                f"{kw['seed']}), {len(mus)} μ from {mus[0]:.4g} to {mus[-1]:.4g}"
            )
            result = run_units(
                log,
                backend,
                training,
                len(folds),
                "cv folds",
                "fold",
                kw["quiet"],
                functools.partial(_cross_validate, folds, mus, settings),
            )
            log_messages(log, [m for fold in result.folds for m in fold.messages], "fold")
            summary = cv_summary(result)
            k, best = choose_mu(summary, kw["rule"]), choose_mu(summary, "best")
            prefix = output_prefix(kw["out"], pf.pheno.name, multi)
            header = [
                f"pheno={pf.pheno.name}",
                f"n={len(y)} folds={kw['folds']} seed={kw['seed']} transform={kw['transform']}",
                f"rule={kw['rule']} chosen_mu_index={k} chosen_mu={mus[k]:.10g} "
                f"best_mu_index={best} best_mu={mus[best]:.10g}",
                "held-out scores per fold on the fold's transformed scale: explained variance "
                "1-Var(y-yhat)/Var(y), MSE, Var(Xw)/Var(y), Var(K_vt a)/Var(y); "
                "SE = sd/sqrt(folds)",
                "fold_log_delta=" + ",".join(f"{v:.6g}" for v in result.log_delta),
            ]
            write_tsv(prefix + ".cv.tsv", _cv_table(summary, k), header)
            if kw["plot"]:
                from lmmlasso_cli.io.plots import plot_cv

                title = f"{pf.pheno.name}: {kw['folds']}-fold CV, rule {kw['rule']}"
                plot_cv(prefix + ".cv.png", mus, summary.ev_mean, summary.ev_se,
                        summary.mean_n_active, k, title)  # fmt: skip
                log.info(f"wrote {prefix}.cv.png")
            log.info(
                f"{pf.pheno.name}: rule {kw['rule']}: μ={mus[k]:.6g} (index {k}), held-out "
                f"explained variance {summary.ev_mean[k]:.4f} ± {summary.ev_se[k]:.4f} with "
                f"{summary.mean_n_active[k]:.1f} SNPs on average (best: μ={mus[best]:.6g}, "
                f"{summary.ev_mean[best]:.4f}); SNP part {summary.snp_mean[k]:.4f}, background "
                f"part {summary.background_mean[k]:.4f}; wrote {prefix}.cv.tsv"
            )
            request = LassoRequest(mus=mus[k : k + 1])
            policy = kw["on_nonconvergence"]
            fit = fit_lasso(log, X, y, C, eig, log_delta, request, grid, lasso, policy, kw["quiet"])
            background = background_for(log, data, kin, reader, geno, fit, eig, kw["block_size"])
            extra = {
                "null_method": pf.null.method,
                "selected_by": f"cv ({kw['rule']})",
                "cv_folds": kw["folds"],
                "cv_seed": kw["seed"],
                "cv_mu_index": k,
            }
            params = {**params, "mu": float(mus[k])}
            write_model(log, prefix, data, pf, geno, fit, background, params, extra)


@click.command("cv")
@options(BFILE, kinship_option(), PHENO, COVAR, SAMPLES, SNPS, NULL_SEARCH)
@click.option(
    "--folds",
    type=click.IntRange(2),
    default=10,
    show_default=True,
    help="K of K-fold cross-validation over individuals.",
)
@options(MU_GRID)
@click.option(
    "--rule",
    type=click.Choice(["best", "1se"]),
    default="best",
    show_default=True,
    help="best = largest mean held-out explained variance; 1se = the largest μ "
    "(fewest SNPs) within one standard error of it.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fold split.")
@options(LASSO, PLOT, SCHEDULER, RUN)
@run_command
def cv(log, **kw):
    """Choose μ by K-fold cross-validation over individuals, then refit on everyone.

    Each fold refits the phenotype transform, the null model (eigendecomposition of the
    training individuals' kinship) and the Lasso path on its training individuals, on one μ
    grid shared by all folds, and predicts its held-out individuals by the BLUP: X_v w + C_v α +
    K_vt (K_tt + δI)⁻¹(y_t − C_t α − X_t w). Writes PREFIX.cv.tsv (per μ: mean active SNPs,
    mean ± SE of held-out explained variance and MSE, and the variance of the SNP and
    background parts) and, at the chosen μ, the outputs of `lmmlasso fit` (PREFIX.model.npz for
    `lmmlasso predict`, .weights.tsv, .path.tsv, .score.tsv). --threads N runs folds in N
    worker processes, --scheduler on a Dask cluster (the same results).
    """
    run_cv(log, kw)
