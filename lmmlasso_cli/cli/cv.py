"""`lmmlasso cv`: K-fold cross-validation over individuals, then a refit at the chosen μ."""

from __future__ import annotations

import click

from lmmlasso_cli.cli.options import (
    BFILE,
    COVAR,
    CV,
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
            "N_FOLDS": s.n_folds,
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


def _cross_validate(folds, mus, settings, n_abort, data, map_fn, progress):
    from lmmlasso_cli.selection.cv import cross_validate

    return cross_validate(data, folds, mus, settings, map_fn, progress, n_abort)


def _log_stops(log, name, result) -> None:
    """One line per fold: how many μ it fitted and why it stopped."""
    n_mu = len(result.mus)
    for fold in result.folds:
        why = f": {fold.stop_reason}" if fold.stop_reason else " (the whole grid)"
        log.info(f"{name}: fold {fold.fold} fitted {fold.n_fitted} of {n_mu} μ{why}")


def _write_table(log, kw, cv, name, prefix, result, summary, k, best) -> None:
    """PREFIX.cv.tsv (and .cv.png), and the summary line of the log."""
    from lmmlasso_cli.io.artifacts import write_tsv

    s, mus = summary, summary.mus
    header = [
        f"pheno={name}",
        f"n={sum(len(f.held_out) for f in result.folds)} folds={cv.n_folds} seed={cv.seed} "
        f"transform={kw['transform']}",
        f"rule={cv.rule} chosen_mu_index={k} chosen_mu={mus[k]:.10g} "
        f"best_mu_index={best} best_mu={mus[best]:.10g} refit={cv.refit}",
        "held-out scores per fold on the fold's transformed scale: explained variance "
        "1-Var(y-yhat)/Var(y), MSE, Var(Xw)/Var(y), Var(K_vt a)/Var(y); "
        "mean and SE = sd/sqrt(N_FOLDS) over the N_FOLDS folds that fitted the mu",
        f"n_abort={cv.n_abort} fold_mus_fitted={','.join(str(m) for m in result.n_fitted)} "
        f"of {len(result.mus)}; mu chosen among the {s.n_complete} every fold fitted",
        "fold_log_delta=" + ",".join(f"{v:.6g}" for v in result.log_delta),
    ]
    write_tsv(prefix + ".cv.tsv", _cv_table(s, k), header)
    if kw["plot"]:
        from lmmlasso_cli.io.plots import plot_cv

        title = f"{name}: {cv.n_folds}-fold CV, rule {cv.rule}"
        plot_cv(prefix + ".cv.png", mus, s.ev_mean, s.ev_se, s.mean_n_active, k, title)
        log.info(f"wrote {prefix}.cv.png")
    log.info(
        f"{name}: rule {cv.rule}: μ={mus[k]:.6g} (index {k}), held-out explained variance "
        f"{s.ev_mean[k]:.4f} ± {s.ev_se[k]:.4f} with {s.mean_n_active[k]:.1f} SNPs on average "
        f"(best: μ={mus[best]:.6g}, {s.ev_mean[best]:.4f}); SNP part {s.snp_mean[k]:.4f}, "
        f"background part {s.background_mean[k]:.4f}; wrote {prefix}.cv.tsv"
    )


def _final_model(log, kw, cv, name, inputs, result, k, grid, lasso):
    """The model written: the refit at μ_k on all individuals, or the mean of the fold models
    (CMSA). Returns (LmmLassoFit, its μ, what the artifact records of it)."""
    from lmmlasso_cli.cli.pipeline import LassoRequest, fit_lasso
    from lmmlasso_cli.lmmlasso import assemble_lmm_fit
    from lmmlasso_cli.selection.cv import average_folds

    X, y, C, eig, log_delta = inputs
    extra = {"cv_folds": cv.n_folds, "cv_seed": cv.seed, "cv_mu_index": k,
             "cv_n_abort": cv.n_abort, "cv_refit": cv.refit}  # fmt: skip
    if cv.refit == "refit":
        request = LassoRequest(mus=result.mus[k : k + 1])
        policy, quiet = kw["on_nonconvergence"], kw["quiet"]
        fit = fit_lasso(log, X, y, C, eig, log_delta, request, grid, lasso, policy, quiet)
        return fit, float(result.mus[k]), {**extra, "selected_by": f"cv ({cv.rule})"}
    avg = average_folds(result)
    fit = assemble_lmm_fit(X, y, C, eig, log_delta, avg.coefs, avg.mu, avg.converged, lasso)
    log.info(
        f"{name}: refit average: the mean of the {cv.n_folds} fold models at their best μ "
        f"(indices {', '.join(str(i) for i in avg.best_index)}); MU in the model files is "
        f"their geometric mean {avg.mu:.6g}"
    )
    extra = {
        **extra,
        "selected_by": "cv (average of the folds' best models)",
        "cv_fold_best_mu_index": avg.best_index.tolist(),
        "cv_fold_best_mu": avg.mus.tolist(),
    }
    return fit, avg.mu, extra


def run_cv(log, kw):
    import functools

    import numpy as np

    from lmmlasso_cli.cli.options import (
        cv_from,
        data_options_from,
        lasso_from,
        mu_grid_from,
        null_search_from,
        training_from,
    )
    from lmmlasso_cli.cli.pipeline import (
        GenotypeCache,
        backend_for,
        background_for,
        iter_phenotypes,
        load_inputs,
        output_prefix,
        run_units,
        write_model,
    )
    from lmmlasso_cli.cli.runner import log_messages
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.selection.cv import choose_mu, cv_summary, shared_mu_grid
    from lmmlasso_cli.selection.folds import TrainingData, kfold_indices

    cv = cv_from(kw)
    if cv.refit == "average" and cv.rule != "best":
        raise InputError(
            "--refit average takes each fold's own best μ (bigstatsr's CMSA), so --rule 1se "
            "has nothing to pick; use --rule best, or --refit refit for the 1se μ"
        )
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
        backend_for(log, kw, cv.n_folds, processes=True) as backend,
    ):
        for pf in iter_phenotypes(log, data, kin, kw["transform"], search):
            name, eig, log_delta = pf.pheno.name, pf.eig, pf.null.log_delta
            reader, geno = cache.get(pf)
            X, y, C = geno.store, pf.pheno.values, pf.covariates
            mus = shared_mu_grid(X, y, C, eig, log_delta, grid, lasso.l1_ratio)
            training = TrainingData(X, pf.pheno.raw, C, kin.submatrix(pf.fid, pf.iid))
            folds = kfold_indices(len(y), cv.n_folds, np.random.default_rng(cv.seed))
            abort = (
                f"a fold stops once its held-out error has risen {cv.n_abort} times since its "
                f"minimum"
                if cv.n_abort
                else "no held-out stop (--n-abort 0)"
            )
            log.info(
                f"{name}: {cv.n_folds}-fold CV over {len(y)} individuals (seed {cv.seed}), "
                f"{len(mus)} μ from {mus[0]:.4g} to {mus[-1]:.4g}; {abort}"
            )
            work = functools.partial(_cross_validate, folds, mus, settings, cv.n_abort)
            result = run_units(
                log, backend, training, len(folds), "cv folds x μ", "μ", kw["quiet"], work,
                steps=len(mus),
            )  # fmt: skip
            log_messages(log, [m for fold in result.folds for m in fold.messages], "fold")
            _log_stops(log, name, result)
            summary = cv_summary(result)
            k, best = choose_mu(summary, cv.rule), choose_mu(summary, "best")
            prefix = output_prefix(kw["out"], name, multi)
            _write_table(log, kw, cv, name, prefix, result, summary, k, best)
            inputs = (X, y, C, eig, log_delta)
            fit, mu, extra = _final_model(log, kw, cv, name, inputs, result, k, grid, lasso)
            extra = {"null_method": pf.null.method, **extra}
            background = background_for(log, data, kin, reader, geno, fit, eig, kw["block_size"])
            write_model(log, prefix, data, pf, geno, fit, background, {**params, "mu": mu}, extra)


@click.command("cv")
@options(BFILE, kinship_option(), PHENO, COVAR, SAMPLES, SNPS, NULL_SEARCH, CV, MU_GRID)
@options(PATH_STOP, LASSO, PLOT, SCHEDULER, RUN)
@run_command
def cv(log, **kw):
    """Choose μ by K-fold cross-validation over individuals, then refit on everyone.

    Each fold refits the phenotype transform, the null model (eigendecomposition of the
    training individuals' kinship) and the Lasso path on its training individuals, on one μ
    grid shared by all folds, and predicts its held-out individuals by the BLUP: X_v w + C_v α +
    K_vt (K_tt + δI)⁻¹(y_t − C_t α − X_t w), μ by μ. A fold's path stops once its held-out
    error has risen --n-abort times since its minimum (bigstatsr), or by glmnet's rules
    (--full-path fits every μ). Writes PREFIX.cv.tsv (per μ reached by some fold: the folds that
    reached it, mean active SNPs, mean ± SE of held-out explained variance and MSE, and the
    variance of the SNP and background parts) and the outputs of `lmmlasso fit` (PREFIX.model.npz
    for `lmmlasso predict`, .weights.tsv, .path.tsv, .score.tsv) for the refit at the chosen μ
    or, with --refit average, the mean of the fold models. --threads N runs folds in N worker
    processes, --scheduler on a Dask cluster (the same results).
    """
    run_cv(log, kw)
