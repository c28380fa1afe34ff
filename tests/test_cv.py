"""Tests of lmmlasso_cli.selection.cv and `lmmlasso cv`: K-fold CV over individuals with the
null model refitted per fold and held-out individuals scored by the BLUP."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import simulate_data

from lmmlasso_cli.cli import main
from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.artifacts import read_tsv
from lmmlasso_cli.io.model_file import load_model
from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model
from lmmlasso_cli.selection.cv import (
    CvResult,
    CvSummary,
    choose_mu,
    cross_validate,
    cv_summary,
    fit_fold,
    shared_mu_grid,
)
from lmmlasso_cli.selection.folds import (
    TrainingData,
    fit_training,
    kfold_indices,
)
from lmmlasso_cli.settings import LassoSettings, MuGrid, TrainingSettings
from lmmlasso_cli.transforms import fit_transform

PRED_RTOL = 1e-8  # held-out prediction vs the dense BLUP formula
SETTINGS = TrainingSettings(lasso=LassoSettings(tol=1e-9))


def full_data_grid(data, n_mu, ratio):
    """μ grid from the null model of all individuals (as `lmmlasso cv` builds it)."""
    y = fit_transform(data.y_raw, "standardize").apply(data.y_raw)
    eig = eigendecompose(data.K)
    null = fit_null_model(y, eig, data.covariates)
    grid = MuGrid(n_mu=n_mu, mu_min_ratio=ratio)
    return shared_mu_grid(data.X, y, data.covariates, eig, null.log_delta, grid)


@pytest.fixture(scope="module")
def small():
    data, causal = simulate_data(n=80, p=120, seed=4)
    folds = kfold_indices(80, 4, np.random.default_rng(0))
    return data, folds, full_data_grid(data, 6, 0.05)


def test_held_out_prediction_is_the_dense_blup(small):
    data, folds, mus = small
    held_out = folds[1]
    res = fit_fold(data, 1, held_out, mus, SETTINGS)
    train = np.setdiff1d(np.arange(80), held_out)
    fit = fit_training(data, train, SETTINGS, mus=mus)
    delta = np.exp(fit.null.log_delta)
    X_t, X_v = data.X[train], data.X[held_out]
    C_t, C_v = data.covariates[train], data.covariates[held_out]
    K_tt, K_vt = data.K[np.ix_(train, train)], data.K[np.ix_(held_out, train)]
    for k in range(len(mus)):
        w = fit.lmm.path.coefs[k].toarray().ravel()
        alpha = fit.lmm.covariate_coefs[k]
        resid = fit.y - C_t @ alpha - X_t @ w
        blup = K_vt @ np.linalg.solve(K_tt + delta * np.eye(len(train)), resid)
        want = X_v @ w + C_v @ alpha + blup
        np.testing.assert_allclose(res.prediction[k], want, rtol=PRED_RTOL, atol=1e-10)
        np.testing.assert_allclose(res.background[k], blup, rtol=PRED_RTOL, atol=1e-10)
    np.testing.assert_allclose(res.y, fit.transform.apply(data.y_raw[held_out]))


def test_held_out_individuals_never_influence_their_own_prediction(small):
    data, folds, mus = small
    before = cross_validate(data, folds, mus, SETTINGS)
    y = data.y_raw.copy()
    y[folds[0]] += 1e3 * (1 + np.arange(len(folds[0])))  # huge values, fold 0 only
    after = cross_validate(TrainingData(data.X, y, data.covariates, data.K), folds, mus, SETTINGS)
    np.testing.assert_array_equal(after.folds[0].prediction, before.folds[0].prediction)
    assert after.log_delta[0] == before.log_delta[0]
    # ...while the folds that train on those individuals do see them: the test can fail
    for f in range(1, len(folds)):
        assert not np.allclose(after.folds[f].prediction, before.folds[f].prediction)


def test_cv_chooses_a_sparse_mu_that_finds_the_truth():
    data, causal = simulate_data(n=240, p=400, effect=0.7, seed=2)
    mus = full_data_grid(data, 25, 0.01)
    folds = kfold_indices(240, 5, np.random.default_rng(1))
    summary = cv_summary(cross_validate(data, folds, mus, SETTINGS))
    k = choose_mu(summary, "best")
    assert 0 < k < len(mus) - 1  # an interior optimum, not an end of the grid
    assert summary.ev_mean[k] > summary.ev_mean[0] + 0.2  # beats the empty model at μ_max
    assert summary.mean_n_active[k] < 60
    refit = fit_training(data, np.arange(240), SETTINGS, mu=mus[k])
    active = np.flatnonzero(refit.lmm.path.coefs[0].toarray())
    assert len(np.intersect1d(active, causal)) >= len(causal) - 1
    # the SNP part rises and the background part falls along the path (Fig. 4 of the paper)
    assert summary.snp_mean[0] == 0 and summary.snp_mean[k] > 0.2
    assert summary.background_mean[-1] < summary.background_mean[0]


def _summary(ev_mean, ev_se):
    n = len(ev_mean)
    z = np.zeros(n)
    return CvSummary(
        np.geomspace(10, 1, n), z, np.array(ev_mean), np.array(ev_se), z, z, z, z, z, z, z
    )


def test_choose_mu_best_and_one_standard_error():
    s = _summary([0.0, 0.3, 0.46, 0.5, 0.52, 0.4], [0.1, 0.1, 0.1, 0.1, 0.05, 0.1])
    assert choose_mu(s, "best") == 4
    assert choose_mu(s, "1se") == 3  # 0.5 >= 0.52 - 0.05 > 0.46
    tie = _summary([0.1, 0.4, 0.4, 0.2], [0.0, 0.0, 0.0, 0.0])
    assert choose_mu(tie, "best") == 1  # the larger μ among ties
    with pytest.raises(InputError, match="unknown `rule` 'max'"):
        choose_mu(s, "max")


def test_cv_summary_is_mean_and_standard_error_over_folds():
    ev = np.array([[0.1, 0.5], [0.3, 0.4], [0.2, 0.9]])
    mse = 1 - ev
    zeros = np.zeros_like(ev)
    result = CvResult(np.array([2.0, 1.0]), (), ev, mse, zeros, zeros, zeros, zeros, np.zeros(3))
    s = cv_summary(result)
    np.testing.assert_allclose(s.ev_mean, [0.2, 0.6])
    np.testing.assert_allclose(s.ev_se, [0.1 / np.sqrt(3), np.sqrt(0.07) / np.sqrt(3)])
    np.testing.assert_allclose(s.mse_se, s.ev_se)


def test_overlapping_folds_are_rejected(small):
    data, folds, mus = small
    with pytest.raises(InputError, match="the folds overlap"):
        cross_validate(data, [folds[0], folds[0]], mus, SETTINGS)


@pytest.fixture(scope="module")
def tiny_kinship(tiny, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("cv") / "k")
    r = CliRunner().invoke(main, ["kinship", "--bfile", tiny["prefix"], "--out", out, "--quiet"])
    assert r.exit_code == 0, r.output
    return out + ".kinship.npz"


def test_cli_cv_writes_the_table_and_a_model_for_predict(tiny, tiny_kinship, tmp_path):
    base = ["--bfile", tiny["prefix"], "--kinship", tiny_kinship, "--pheno", tiny["pheno"]]
    base += ["--pheno-name", "q", "--covar", tiny["covar"], "--quiet", "--threads", "1"]
    base += ["--folds", "3", "--n-mu", "8", "--mu-min-ratio", "0.05"]
    runner = CliRunner()
    chosen = {}
    for rule in ("best", "1se"):
        out = str(tmp_path / rule)
        r = runner.invoke(main, ["cv", *base, "--rule", rule, "--out", out])
        assert r.exit_code == 0, r.output
        table = read_tsv(out + ".cv.tsv")
        assert len(table) == 8 and table.CHOSEN.sum() == 1
        assert {"EXPLAINED_VARIANCE_SE", "SNP_VARIANCE_MEAN", "BACKGROUND_VARIANCE_MEAN"} <= set(
            table.columns
        )
        chosen[rule] = table.MU[table.CHOSEN == 1].item()
        model = load_model(out + ".model.npz")
        np.testing.assert_allclose(model.mus, [chosen[rule]], rtol=1e-9)
        assert model.meta["selected_by"] == f"cv ({rule})"
    assert chosen["1se"] >= chosen["best"]
    r = runner.invoke(
        main,
        ["predict", "--bfile", tiny["prefix"], "--model", str(tmp_path / "best.model.npz")]
        + ["--covar", tiny["covar"], "--out", str(tmp_path / "pred"), "--quiet"],
    )
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(tmp_path / "pred.pred.tsv", sep="\t", comment="#")
    assert len(pred) == 60 and np.all(np.isfinite(pred.PRED))
