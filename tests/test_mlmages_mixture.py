"""The zero-mean DP Gaussian mixture: closed forms, the ELBO, scikit-learn, recovery, seeds."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.special import multigammaln

from lmmlasso_cli.errors import ConvergenceWarning
from lmmlasso_cli.mlmages.labels import label_components, null_components
from lmmlasso_cli.mlmages.mixture import (
    choose_n_components,
    fit_mixture,
    fit_variational,
    zero_threshold,
)

ELBO_SLACK = 1e-9  # relative: coordinate ascent may only lose rounding noise
SKLEARN_RTOL = 5e-4  # differences: sklearn's last stick Beta(1 + N_K, α) and its pinned mean
RECOVERY_COV_RTOL = 0.25  # planted covariances from 600 draws each


def _planted(rng, covs, n_each):
    X = np.vstack([rng.multivariate_normal(np.zeros(len(c)), c, n_each) for c in covs])
    truth = np.repeat(np.arange(len(covs)), n_each)
    return X, truth


def _log_evidence(X, dof0, W0):
    """ln p(X) of x_i ~ N(0, Λ⁻¹), Λ ~ Wishart(ν₀, W₀), integrated in closed form:
    −(Np/2) ln π + ln Γ_p(ν_N/2) − ln Γ_p(ν₀/2) + (ν₀/2) ln|W₀⁻¹| − (ν_N/2) ln|W_N⁻¹|."""
    n, p = X.shape
    dofn = dof0 + n
    Wn_inv = np.linalg.inv(W0) + X.T @ X
    return (
        -n * p / 2 * np.log(np.pi)
        + multigammaln(dofn / 2, p)
        - multigammaln(dof0 / 2, p)
        + dof0 / 2 * np.linalg.slogdet(np.linalg.inv(W0))[1]
        - dofn / 2 * np.linalg.slogdet(Wn_inv)[1]
    )


def test_one_component_is_the_closed_form_posterior_and_its_elbo_the_evidence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.2], [0, 0, 0.3]])
    W0 = np.diag([1.0, 2.0, 0.5])
    fit = fit_variational(X, max_components=1, dof_prior=6.0, scale_prior=W0, seed=1)
    np.testing.assert_allclose(fit.dof, [6.0 + 200])
    np.testing.assert_allclose(fit.scale[0], np.linalg.inv(np.linalg.inv(W0) + X.T @ X))
    np.testing.assert_allclose(fit.weights, [1.0])
    # q(Λ) is the exact posterior, so the ELBO is ln p(X); with det for logdet it would not be
    assert np.isclose(fit.elbo[-1], _log_evidence(X, 6.0, W0), rtol=1e-12)


def test_elbo_never_decreases():
    rng = np.random.default_rng(1)
    covs = [
        np.diag([1.0, 0.01, 0.01]),
        np.diag([0.01, 1.0, 0.01]),
        np.full((3, 3), 0.6) + 0.4 * np.eye(3),
    ]
    X, _ = _planted(rng, covs, 300)
    for seed in range(3):
        fit = fit_variational(X, max_components=10, seed=seed, tol=1e-8, max_iter=300)
        steps = np.diff(fit.elbo)
        assert np.all(steps >= -ELBO_SLACK * np.abs(fit.elbo[1:])), steps.min()
        assert fit.elbo[-1] > fit.elbo[0]


def test_agrees_with_sklearn_bayesian_mixture_from_the_same_start():
    mixture = pytest.importorskip("sklearn.mixture")
    rng = np.random.default_rng(2)
    covs = [np.array([[2.0, 0.0], [0.0, 0.05]]), np.array([[0.05, 0.0], [0.0, 2.0]])]
    X, truth = _planted(rng, covs, 400)
    K = 4
    init = np.full((len(X), K), 0.02)
    init[np.arange(len(X)), truth] += 0.5 + 0.4 * rng.random(len(X))
    init /= init.sum(1, keepdims=True)

    class FromResp(mixture.BayesianGaussianMixture):
        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, init)

    ref = FromResp(
        n_components=K,
        covariance_type="full",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.5,
        mean_prior=np.zeros(2),
        mean_precision_prior=1e12,  # means pinned at 0
        degrees_of_freedom_prior=5.0,
        covariance_prior=np.eye(2),  # sklearn's W₀⁻¹
        reg_covar=0.0,
        tol=1e-10,
        max_iter=500,
        n_init=1,
    ).fit(X)
    ours = fit_variational(
        X, max_components=K, dof_prior=5.0, tol=1e-10, max_iter=500, init_resp=init
    )
    occupied = ref.weights_ > 0.05
    assert occupied.sum() == 2 and np.all((ours.weights > 0.05) == occupied)
    np.testing.assert_allclose(ours.weights[occupied], ref.weights_[occupied], rtol=SKLEARN_RTOL)
    np.testing.assert_allclose(
        ours.covariances[occupied], ref.covariances_[occupied], rtol=SKLEARN_RTOL, atol=1e-4
    )
    np.testing.assert_allclose(
        ours.dof[occupied], ref.degrees_of_freedom_[occupied], rtol=SKLEARN_RTOL
    )
    resp_ref = ref.predict_proba(X)
    assert np.max(np.abs(ours.resp[:, occupied] - resp_ref[:, occupied])) < 1e-3


def test_recovers_planted_specific_and_shared_components_for_two_traits():
    rng = np.random.default_rng(3)
    planted = {
        "specific:A": np.diag([1.0, 0.002]),
        "specific:B": np.diag([0.002, 0.6]),
        "shared:A+B": np.array([[0.5, 0.45], [0.45, 0.5]]),
    }
    X, truth = _planted(rng, planted.values(), 600)
    fit = fit_mixture(X, restarts=4, seed=1, zero_cutoff=0.0)
    types = label_components(fit.covariances, ["A", "B"])
    assert sorted(types.types) == sorted(planted)
    for name, cov in planted.items():
        k = types.types.index(name)
        np.testing.assert_allclose(fit.covariances[k], cov, rtol=RECOVERY_COV_RTOL, atol=0.02)
    assert np.all(fit.kept) and np.all(fit.probabilities > 1 / 3)


def test_recovers_planted_components_for_three_traits_with_a_null_one():
    rng = np.random.default_rng(4)
    shared_ab = np.array([[0.6, 0.5, 0.0], [0.5, 0.6, 0.0], [0.0, 0.0, 0.001]])
    planted = {
        "specific:A": np.diag([1.0, 0.001, 0.001]),
        "specific:C": np.diag([0.001, 0.001, 0.8]),
        "shared:A+B": shared_ab,
        "none": np.eye(3) * 2.5e-3,  # the Wishart prior floors a variance near 1/(ν₀ + N_k)
    }
    X, truth = _planted(rng, planted.values(), 500)
    X = np.vstack([X, np.zeros((200, 3))])  # exactly zero: set aside
    fit = fit_mixture(X, restarts=4, seed=2, zero_cutoff=1e-5)
    assert fit.labels[-200:].tolist() == [-1] * 200 and fit.kept.sum() == 2000
    null = null_components(fit.covariances, zero_cutoff=0.05)  # sd ≤ 0.1 is null
    types = label_components(fit.covariances, ["A", "B", "C"], null_mask=null)
    assert sorted(types.types) == sorted(planted)
    labels = np.array(types.of_variants(fit.labels))
    names = np.array(list(planted) + ["none"])[np.r_[truth, np.full(200, 4)]]
    assert np.mean(labels == names) > 0.85


def test_same_result_for_any_thread_count_and_map():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(5)
    X, _ = _planted(rng, [np.diag([1.0, 0.01]), np.diag([0.01, 1.0])], 500)
    fits = []
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(threads):
            fits.append(fit_mixture(X, restarts=3, seed=7, zero_cutoff=0.0, max_iter=200))
    with ThreadPoolExecutor(2) as pool:
        fits.append(
            fit_mixture(X, restarts=3, seed=7, zero_cutoff=0.0, max_iter=200, map_fn=pool.map)
        )
    for other in fits[1:]:
        np.testing.assert_array_equal(other.labels, fits[0].labels)
        np.testing.assert_array_equal(other.covariances, fits[0].covariances)
        np.testing.assert_array_equal(other.run_bic, fits[0].run_bic)
    changed = fit_mixture(X, restarts=3, seed=8, zero_cutoff=0.0, max_iter=200)
    assert not np.array_equal(changed.run_bic, fits[0].run_bic)


def test_choice_of_k_follows_the_original():
    assert choose_n_components(np.array([3, 3, 4, 4, 2])) == 4  # tie: the larger K
    assert choose_n_components(np.array([1, 1, 1, 5, 3])) == 3  # K = 1: smallest K > 1 seen
    assert choose_n_components(np.array([1, 1])) == 1


def test_zero_threshold_halves_or_doubles_the_start_cutoff():
    rng = np.random.default_rng(6)
    n = 12000  # start at 1e-4 (N > 10 000), keep between 1000 and N // 3 = 4000
    effects = np.zeros((n, 2))
    effects[:800, 0] = rng.uniform(2e-4, 1e-2, 800)  # 800 above 1e-4: too few, halve
    effects[800:1100, 1] = rng.uniform(6e-5, 9e-5, 300)  # these join once the cutoff is 5e-5
    res = zero_threshold(effects)
    assert res.cutoff == 5e-5 and res.n_kept == 1100 and res.n_adjustments == 1
    big = np.abs(rng.normal(size=(3000, 1)))  # every row is far above 1e-5: double
    res = zero_threshold(big, min_kept=100, max_kept=1000)
    assert 100 <= res.n_kept <= 1000 or res.n_adjustments == 10
    assert res.cutoff == 1e-5 * 2**res.n_adjustments
    with pytest.raises(ValueError, match="every effect is zero"):
        zero_threshold(np.zeros((5, 2)))


def test_an_unconverged_chosen_run_warns_with_the_numbers():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 2))
    with pytest.warns(ConvergenceWarning, match="stopped after 3 sweeps without"):
        fit = fit_mixture(X, restarts=2, zero_cutoff=0.0, max_iter=3, tol=1e-12)
    assert not fit.run_converged.any() and fit.run_n_iter.tolist() == [3, 3]


def test_too_few_variants_above_the_cutoff_is_an_error():
    with pytest.raises(ValueError, match="lower `zero_cutoff`"):
        fit_mixture(np.array([[1.0, 0.0], [0.0, 0.0]]), zero_cutoff=0.5, restarts=1)
