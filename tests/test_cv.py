"""Tests of lmmlasso_cli.selection.cv and `lmmlasso cv`: K-fold CV over individuals with the
null model refitted per fold, held-out individuals scored by the BLUP as each fold's path goes,
the folds' early stop (bigstatsr's n_abort) and the averaged model (CMSA)."""

import re

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
    RiseCounter,
    average_folds,
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
COEF_RTOL = 1e-12  # the same fits, averaged in another order
SETTINGS = TrainingSettings(lasso=LassoSettings(tol=1e-9, path_stop=None))  # every μ fitted
STOPPING = TrainingSettings(lasso=LassoSettings(tol=1e-9))  # glmnet's rules (the default)


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
    res = fit_fold(data, 1, held_out, mus, SETTINGS, n_abort=0)
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
    before = cross_validate(data, folds, mus, SETTINGS, n_abort=0)
    y = data.y_raw.copy()
    y[folds[0]] += 1e3 * (1 + np.arange(len(folds[0])))  # huge values, fold 0 only
    perturbed = TrainingData(data.X, y, data.covariates, data.K)
    after = cross_validate(perturbed, folds, mus, SETTINGS, n_abort=0)
    np.testing.assert_array_equal(after.folds[0].prediction, before.folds[0].prediction)
    assert after.log_delta[0] == before.log_delta[0]
    # ...while the folds that train on those individuals do see them: the test can fail
    for f in range(1, len(folds)):
        assert not np.allclose(after.folds[f].prediction, before.folds[f].prediction)


@pytest.fixture(scope="module")
def sparse_truth():
    data, causal = simulate_data(n=240, p=400, effect=0.7, seed=2)
    folds = kfold_indices(240, 5, np.random.default_rng(1))
    return data, causal, folds, full_data_grid(data, 25, 0.01)


def test_cv_chooses_a_sparse_mu_that_finds_the_truth(sparse_truth):
    data, causal, folds, mus = sparse_truth
    summary = cv_summary(cross_validate(data, folds, mus, SETTINGS, n_abort=0))
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


def _summary(ev_mean, ev_se, n_folds=None):
    n = len(ev_mean)
    z = np.zeros(n)
    n_folds = np.full(n, 3) if n_folds is None else np.array(n_folds)
    return CvSummary(
        np.geomspace(10, 1, n), z, np.array(ev_mean), np.array(ev_se), z, z, z, z, z, z, z, n_folds
    )


def test_choose_mu_best_and_one_standard_error():
    s = _summary([0.0, 0.3, 0.46, 0.5, 0.52, 0.4], [0.1, 0.1, 0.1, 0.1, 0.05, 0.1])
    assert choose_mu(s, "best") == 4
    assert choose_mu(s, "1se") == 3  # 0.5 >= 0.52 - 0.05 > 0.46
    tie = _summary([0.1, 0.4, 0.4, 0.2], [0.0, 0.0, 0.0, 0.0])
    assert choose_mu(tie, "best") == 1  # the larger μ among ties
    with pytest.raises(InputError, match="unknown `rule` 'max'"):
        choose_mu(s, "max")
    # only among the μ every fold reached: index 4 was fitted by 2 of the 3 folds
    part = _summary([0.0, 0.3, 0.46, 0.5, 0.9], [0.1, 0.1, 0.1, 0.01, 0.0], [3, 3, 3, 3, 2])
    assert part.n_complete == 4
    assert choose_mu(part, "best") == 3 and choose_mu(part, "1se") == 3


def test_cv_summary_is_mean_and_standard_error_over_folds():
    ev = np.array([[0.1, 0.5], [0.3, 0.4], [0.2, 0.9]])
    mse = 1 - ev
    zeros = np.zeros_like(ev)
    result = CvResult(np.array([2.0, 1.0]), (), ev, mse, zeros, zeros, zeros, zeros, np.zeros(3))
    s = cv_summary(result)
    np.testing.assert_allclose(s.ev_mean, [0.2, 0.6])
    np.testing.assert_allclose(s.ev_se, [0.1 / np.sqrt(3), np.sqrt(0.07) / np.sqrt(3)])
    np.testing.assert_allclose(s.mse_se, s.ev_se)
    np.testing.assert_array_equal(s.n_folds, [3, 3])


def test_cv_summary_means_over_the_folds_that_fitted_each_mu():
    nan = np.nan
    ev = np.array([[0.1, 0.5, 0.6, nan], [0.3, 0.4, nan, nan], [0.2, 0.9, 0.8, 0.7]])
    zeros = np.where(np.isnan(ev), nan, 0.0)
    result = CvResult(np.geomspace(8, 1, 4), (), ev, 1 - ev, zeros, zeros, zeros,
                      ~np.isnan(ev), np.zeros(3))  # fmt: skip
    s = cv_summary(result)
    np.testing.assert_array_equal(s.n_folds, [3, 3, 2, 1])
    np.testing.assert_array_equal(s.n_converged, [3, 3, 2, 1])
    assert s.n_complete == 2
    np.testing.assert_allclose(s.ev_mean, [0.2, 0.6, 0.7, 0.7])
    np.testing.assert_allclose(s.ev_se[2], np.std([0.6, 0.8], ddof=1) / np.sqrt(2))
    assert np.isnan(s.ev_se[3])  # one fold: no standard error
    assert choose_mu(s) == 1  # 0.7 at index 2 and 3 is not reached by every fold


def test_rise_counter_counts_rises_since_the_last_minimum():
    # rises at 3, 5, 7 (4 and 6 fall but stay above the minimum 3.0 at index 2)
    errors = [5.0, 4.0, 3.0, 3.5, 3.2, 3.6, 3.3, 3.7, 1.0]
    counter = RiseCounter(3)
    stops = [counter.update(e) for e in errors[:8]]
    assert stops == [False] * 7 + [True] and counter.best_index == 2
    counter = RiseCounter(3)
    for e in [5.0, 5.5, 5.6, 4.0, 4.1, 4.2]:  # a new minimum at index 3 resets the count
        assert not counter.update(e)
    assert counter.update(4.3) and counter.best_index == 3
    late = RiseCounter(1, min_mus=4)  # bigstatsr's nlam.min: no stop before 4 μ
    assert [late.update(e) for e in [1.0, 2.0, 3.0, 4.0]] == [False, False, False, True]
    never = RiseCounter(0)
    assert not any(never.update(e) for e in range(1, 20))
    with pytest.raises(InputError, match="`n_abort` must be a non-negative integer"):
        RiseCounter(-1)


def _expected_stop(errors, n_abort, min_mus):
    """The index after which bigstatsr's rule stops, straight from its definition."""
    for k in range(len(errors)):
        best = int(np.argmin(errors[: k + 1]))  # first minimum so far
        rises = sum(errors[j] > errors[j - 1] for j in range(best + 1, k + 1))
        if k + 1 >= min_mus and rises >= n_abort:
            return k
    return None


@pytest.mark.parametrize("n_abort", [1, 3, 5])
def test_fold_stops_exactly_when_its_held_out_error_rose_n_abort_times(small, n_abort):
    data, folds, _ = small
    mus = full_data_grid(data, 40, 1e-3)  # down to μ_max/1000: the held-out error rises
    full = fit_fold(data, 2, folds[2], mus, SETTINGS, n_abort=0)
    errors = (full.y - full.prediction).var(axis=1)
    expected = _expected_stop(errors, n_abort, min_mus=5)
    assert expected is not None and expected < len(mus) - 1  # the case stops, in the grid
    ticks = []
    res = fit_fold(data, 2, folds[2], mus, SETTINGS, n_abort=n_abort, progress=ticks.append)
    assert res.n_fitted == expected + 1
    np.testing.assert_array_equal(res.prediction, full.prediction[: expected + 1])
    assert f"rose `n_abort` {n_abort} times" in res.stop_reason
    assert sum(ticks) == len(mus) and ticks[-1] == len(mus) - res.n_fitted  # the rest at once
    assert res.coefs.shape == (expected + 1, data.X.shape[1])


def test_early_stop_chooses_the_same_mu_as_the_whole_path(sparse_truth):
    data, _, folds, mus = sparse_truth
    full = cv_summary(cross_validate(data, folds, mus, SETTINGS, n_abort=0))
    result = cross_validate(data, folds, mus, STOPPING)
    stopped = cv_summary(result)
    assert result.n_fitted.max() < len(mus)  # the folds did stop
    for rule in ("best", "1se"):
        k = choose_mu(stopped, rule)
        assert k == choose_mu(full, rule) and k < stopped.n_complete
        assert stopped.ev_mean[k] == pytest.approx(full.ev_mean[k], rel=1e-9)


def test_average_is_the_mean_of_each_folds_best_coefficients(sparse_truth):
    data, _, folds, mus = sparse_truth
    result = cross_validate(data, folds, mus, STOPPING)
    avg = average_folds(result)
    rows, best_mus = [], []
    for fold, held_out in enumerate(folds):  # each fold again, its whole path, by dense algebra
        train = np.setdiff1d(np.arange(len(data.y_raw)), held_out)
        fit = fit_training(data, train, SETTINGS, mus=mus)
        delta = np.exp(fit.null.log_delta)
        K_tt, K_vt = data.K[np.ix_(train, train)], data.K[np.ix_(held_out, train)]
        y_v = fit.transform.apply(data.y_raw[held_out])
        evs = []
        for k in range(result.folds[fold].n_fitted):  # the μ that fold reached
            w = fit.lmm.path.coefs[k].toarray().ravel()
            alpha = fit.lmm.covariate_coefs[k]
            resid = fit.y - data.covariates[train] @ alpha - data.X[train] @ w
            pred = data.X[held_out] @ w + data.covariates[held_out] @ alpha
            pred = pred + K_vt @ np.linalg.solve(K_tt + delta * np.eye(len(train)), resid)
            evs.append(1 - np.var(y_v - pred) / np.var(y_v))
        best = int(np.argmax(evs))
        rows.append(fit.lmm.path.coefs[best].toarray().ravel())
        best_mus.append(mus[best])
    np.testing.assert_allclose(avg.coefs, np.mean(rows, axis=0), rtol=COEF_RTOL, atol=1e-12)
    np.testing.assert_array_equal(avg.mus, best_mus)
    assert avg.mu == pytest.approx(np.exp(np.mean(np.log(best_mus))))
    assert avg.converged


def test_progress_counts_every_fold_times_every_mu(small):
    data, folds, mus = small
    ticks = []
    cross_validate(data, folds, mus, STOPPING, progress=ticks.append)
    assert sum(ticks) == len(folds) * len(mus)


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


@pytest.fixture(scope="module")
def toy_cv(toy, tmp_path_factory):
    """The toy kinship and the options of a 3-fold cv of q1 on it."""
    out = tmp_path_factory.mktemp("toy_cv")
    runner = CliRunner()
    r = runner.invoke(
        main, ["kinship", "--bfile", str(toy / "toy"), "--out", str(out / "toy"), "--quiet"]
    )
    assert r.exit_code == 0, r.output
    base = ["--bfile", str(toy / "toy"), "--kinship", str(out / "toy.kinship.npz")]
    base += ["--pheno", str(toy / "toy.pheno"), "--pheno-name", "q1"]
    base += ["--covar", str(toy / "toy.covar"), "--folds", "3", "--threads", "1", "--quiet"]
    return out, base


@pytest.mark.slow
def test_cli_cv_on_toy_stops_the_folds_and_chooses_among_the_mu_all_reached(toy_cv):
    out, base = toy_cv
    r = CliRunner().invoke(main, ["cv", *base, "--out", str(out / "q1")])
    assert r.exit_code == 0, r.output
    table = read_tsv(str(out / "q1.cv.tsv"))
    assert 5 <= len(table) < 100  # the default grid has 100 μ; the folds stopped
    assert table.N_FOLDS.iloc[0] == 3 and table.N_FOLDS.iloc[-1] >= 1
    assert np.all(np.diff(table.N_FOLDS) <= 0)
    chosen = table[table.CHOSEN == 1]
    assert len(chosen) == 1 and chosen.N_FOLDS.item() == 3
    log = open(out / "q1.log").read()
    assert log.count("fitted") >= 3 and "rose --n-abort 3 times" in log
    model = load_model(str(out / "q1.model.npz"))
    np.testing.assert_allclose(model.mus, [chosen.MU.item()], rtol=1e-9)
    assert model.meta["cv_refit"] == "refit" and model.meta["cv_n_abort"] == 3

    r = CliRunner().invoke(
        main, ["cv", *base, "--full-path", "--n-mu", "8", "--mu-min-ratio", "0.1",
               "--out", str(out / "full")]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    full = read_tsv(str(out / "full.cv.tsv"))
    assert len(full) == 8 and (full.N_FOLDS == 3).all()


@pytest.mark.slow
def test_cli_cv_refit_average_writes_a_model_for_predict(toy, toy_cv):
    out, base = toy_cv
    r = CliRunner().invoke(main, ["cv", *base, "--refit", "average", "--out", str(out / "avg")])
    assert r.exit_code == 0, r.output
    model = load_model(str(out / "avg.model.npz"))
    meta = model.meta
    assert meta["cv_refit"] == "average" and len(meta["cv_fold_best_mu_index"]) == 3
    assert model.mus[0] == pytest.approx(np.exp(np.mean(np.log(meta["cv_fold_best_mu"]))))
    weights = read_tsv(str(out / "avg.weights.tsv"))
    assert len(weights) == np.count_nonzero(model.fixed_coefs[0]) > 0
    path = read_tsv(str(out / "avg.path.tsv"))
    assert len(path) == 1 and path.CONVERGED.item() == 1 and np.isnan(path.GAP.item())
    r = CliRunner().invoke(
        main,
        ["predict", "--bfile", str(toy / "new"), "--model", str(out / "avg.model.npz"),
         "--covar", str(toy / "new.covar"), "--pheno", str(toy / "new.pheno"),
         "--out", str(out / "avg.new"), "--quiet"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    text = open(out / "avg.new.log").read()
    assert float(re.search(r"explained variance (-?[0-9.]+)", text).group(1)) > 0.3

    r = CliRunner().invoke(
        main, ["cv", *base, "--refit", "average", "--rule", "1se", "--out", str(out / "bad")]
    )
    assert r.exit_code == 1 and "--refit average takes each fold's own best μ" in r.stderr
