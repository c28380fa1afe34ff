"""Tests of lmmlasso_cli.lasso.path: P(w) = ½‖y − Xw‖² + μr‖w‖₁ + ½μ(1−r)‖w‖², μ absolute
(scikit-learn: alpha = μ/n, fit_intercept=False)."""

import dataclasses
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import enet_path, lasso_path

from lmmlasso_cli.errors import ConvergenceWarning, InputError
from lmmlasso_cli.lasso import _cd
from lmmlasso_cli.lasso.design import DenseDesign
from lmmlasso_cli.lasso.path import (
    LassoFit,
    LassoPath,
    fit_lasso,
    fit_lasso_path,
    fit_n_active,
    mu_grid,
    mu_max,
)
from lmmlasso_cli.settings import PathStop

TIGHT_TOL = 1e-12  # relative duality-gap tolerance for "exact" solves
COEF_ATOL = 1e-6  # coefficients vs an independent solver
GAP_RTOL = 1e-9  # gaps vs an independent numpy gap, relative to ‖y‖²
SKLEARN_MAX_ITER = 1_000_000
JUST_BELOW = 1 - 1e-4  # μ = mu_max·JUST_BELOW has exactly one nonzero on generic data


def make_problem(n_samples=80, n_features=200, n_true=8, rho=0.5, seed=0, order="C"):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_samples, n_features))
    X = Z.copy()
    for j in range(1, n_features):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
    X = (X - X.mean(0)) / X.std(0)
    coefs = np.zeros(n_features)
    coefs[rng.choice(n_features, n_true, replace=False)] = rng.choice([-1, 1], n_true) * 0.8
    y = X @ coefs + rng.standard_normal(n_samples)
    return np.asarray(X, order=order), y


def numpy_gap(X, y, w, mu, l1_ratio):
    """Primal minus dual of the augmented Lasso at the scaled residual (plain numpy)."""
    l1, l2 = mu * l1_ratio, mu * (1 - l1_ratio)
    r = y - X @ w
    primal = 0.5 * r @ r + l1 * np.abs(w).sum() + 0.5 * l2 * w @ w
    scale = min(1.0, l1 / np.max(np.abs(X.T @ r - l2 * w)))
    dual = scale * (r @ y) - 0.5 * scale**2 * (r @ r + l2 * w @ w)
    return primal - dual


class CountingDesign(DenseDesign):
    """A DenseDesign that records which columns the solver materialized."""

    def __init__(self, X):
        super().__init__(X)
        self.fetched = set()
        self.n_correlations = 0

    def columns(self, idx):
        self.fetched.update(np.asarray(idx).tolist())
        return super().columns(idx)

    def correlations(self, v):
        self.n_correlations += 1
        return super().correlations(v)


@pytest.fixture(scope="module")
def problem():
    return make_problem()


@pytest.fixture(params=["gram", "columns"], autouse=True)
def kernel_form(request, monkeypatch):
    """Every test runs with the working-set kernel in the Gram form (|W| ≤ n) and in the
    column form (the Gram form off)."""
    import lmmlasso_cli.lasso.path as path_module

    if request.param == "columns":
        monkeypatch.setattr(path_module, "GRAM_MAX_RATIO", 0.0)
    return request.param


def test_path_matches_sklearn_lasso_path(problem):
    X, y = problem
    n = X.shape[0]
    design = DenseDesign(X)
    mus = mu_grid(mu_max(design, y), n_mu=20, min_ratio=1e-2)
    path = fit_lasso_path(design, y, mus, tol=TIGHT_TOL)
    _, ref, _ = lasso_path(
        np.asfortranarray(X), y, alphas=mus / n, tol=TIGHT_TOL, max_iter=SKLEARN_MAX_ITER
    )
    assert isinstance(path.coefs, sp.csr_matrix) and path.coefs.shape == (20, X.shape[1])
    np.testing.assert_allclose(path.coefs.toarray(), ref.T, rtol=0, atol=COEF_ATOL)
    assert path.converged.all()
    assert np.all(path.gaps <= TIGHT_TOL * (y @ y))
    np.testing.assert_array_equal(path.n_active, np.count_nonzero(path.coefs.toarray(), axis=1))


@pytest.mark.parametrize("l1_ratio", [0.5, 0.2])
def test_path_matches_sklearn_enet_path(problem, l1_ratio):
    X, y = problem
    n = X.shape[0]
    design = DenseDesign(X)
    mus = mu_grid(mu_max(design, y, l1_ratio), n_mu=15, min_ratio=1e-2)
    path = fit_lasso_path(design, y, mus, l1_ratio=l1_ratio, tol=TIGHT_TOL)
    _, ref, _ = enet_path(
        np.asfortranarray(X),
        y,
        l1_ratio=l1_ratio,
        alphas=mus / n,
        tol=TIGHT_TOL,
        max_iter=SKLEARN_MAX_ITER,
    )
    np.testing.assert_allclose(path.coefs.toarray(), ref.T, rtol=0, atol=COEF_ATOL)
    for k in (0, 7, 14):
        w = path.coefs[k].toarray().ravel()
        assert abs(path.gaps[k] - numpy_gap(X, y, w, mus[k], l1_ratio)) <= GAP_RTOL * (y @ y)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_working_set_fit_equals_full_kernel_fit(problem, l1_ratio):
    X, y = problem
    design = DenseDesign(X)
    mu = 0.05 * mu_max(design, y, l1_ratio)
    fit = fit_lasso(design, y, mu, l1_ratio=l1_ratio, tol=TIGHT_TOL)
    XF = np.asfortranarray(X)
    w, R = np.zeros(X.shape[1]), y.copy()
    _cd.cd_epochs(
        XF,
        y,
        w,
        R,
        np.sum(XF**2, axis=0),
        mu * l1_ratio,
        mu * (1 - l1_ratio),
        TIGHT_TOL * (y @ y),
        100_000,
    )
    np.testing.assert_allclose(fit.coefs, w, rtol=0, atol=COEF_ATOL)
    # the reported numbers are what they claim, computed over ALL features
    r = y - X @ fit.coefs
    l1, l2 = mu * l1_ratio, mu * (1 - l1_ratio)
    objective = 0.5 * r @ r + l1 * np.abs(fit.coefs).sum() + 0.5 * l2 * fit.coefs @ fit.coefs
    assert fit.objective == pytest.approx(objective, rel=1e-12)
    assert abs(fit.gap - numpy_gap(X, y, fit.coefs, mu, l1_ratio)) <= GAP_RTOL * (y @ y)
    assert fit.tol_gap == pytest.approx(TIGHT_TOL * (y @ y))
    assert fit.converged and fit.gap <= fit.tol_gap
    assert fit.explained_variance == pytest.approx(1 - (r @ r) / (y @ y), rel=1e-12)
    assert fit.n_active == np.count_nonzero(fit.coefs)


def test_working_sets_leave_most_features_untouched():
    X, y = make_problem(n_samples=100, n_features=3000, n_true=5, seed=2)
    design = CountingDesign(X)
    mus = mu_grid(mu_max(design, y), n_mu=30, min_ratio=0.05)
    path = fit_lasso_path(design, y, mus)
    assert path.converged.all()
    assert len(design.fetched) < X.shape[1] // 10
    assert design.n_correlations <= 3 * len(mus)  # about one correlations call per μ
    single = CountingDesign(X)
    fit = fit_lasso(single, y, mus[-1])
    assert fit.converged and len(single.fetched) < X.shape[1] // 10
    np.testing.assert_allclose(fit.coefs, path.coefs[-1].toarray().ravel(), rtol=0, atol=1e-4)


def test_mu_max_boundary(problem):
    X, y = problem
    design = DenseDesign(X)
    top = mu_max(design, y)
    assert top == pytest.approx(np.max(np.abs(X.T @ y)), rel=1e-14)
    for mu in (top, 2 * top):
        fit = fit_lasso(design, y, mu)
        assert fit.n_active == 0 and fit.converged and fit.n_epochs == 0
        assert fit.explained_variance == 0.0
    below = fit_lasso(design, y, top * JUST_BELOW, tol=TIGHT_TOL)
    assert below.n_active == 1
    assert np.flatnonzero(below.coefs)[0] == np.argmax(np.abs(X.T @ y))
    assert mu_max(design, y, 0.25) == pytest.approx(4 * top, rel=1e-14)


def test_mu_grid():
    grid = mu_grid(10.0, n_mu=5, min_ratio=1e-2)
    np.testing.assert_allclose(
        grid, 10.0 * np.array([1, 10**-0.5, 1e-1, 10**-1.5, 1e-2]), rtol=1e-12
    )
    assert np.all(np.diff(grid) < 0)
    np.testing.assert_array_equal(mu_grid(3.0, n_mu=1), [3.0])
    with pytest.raises(InputError, match="mu_max must be positive"):
        mu_grid(0.0)
    with pytest.raises(InputError, match="min_ratio"):
        mu_grid(1.0, min_ratio=2.0)


@pytest.mark.parametrize("n_active", [1, 4, 12])
def test_fit_n_active_hits_the_target(problem, n_active):
    X, y = problem
    design = DenseDesign(X)
    fit = fit_n_active(design, y, n_active)
    assert fit.n_active == n_active == np.count_nonzero(fit.coefs)
    assert fit.converged
    # the returned μ is a genuine solution: refitting at it from scratch gives the same support
    again = fit_lasso(design, y, fit.mu)
    np.testing.assert_array_equal(np.flatnonzero(again.coefs), np.flatnonzero(fit.coefs))


def test_fit_n_active_fallback_reports_the_achieved_count(problem):
    X, y = problem
    fit = fit_n_active(DenseDesign(X), y, 12, max_iter=2)
    assert fit.n_active == np.count_nonzero(fit.coefs)
    assert fit.n_active != 12  # two fits cannot reach it here
    with pytest.raises(InputError, match="n_active must be an integer"):
        fit_n_active(DenseDesign(X), y, 0)


def test_convergence_warning_single_fit(problem):
    X, y = problem
    design = DenseDesign(X)
    with pytest.warns(ConvergenceWarning, match=r"mu=.*gap .* > tol_gap .* after 1 epochs"):
        fit = fit_lasso(design, y, 0.01 * mu_max(design, y), tol=TIGHT_TOL, max_epochs=1)
    assert not fit.converged
    assert fit.gap > fit.tol_gap
    assert fit.n_epochs == 1


def test_convergence_warning_path(problem):
    X, y = problem
    design = DenseDesign(X)
    mus = mu_grid(mu_max(design, y), n_mu=5, min_ratio=1e-2)
    with pytest.warns(ConvergenceWarning, match=r"did not converge; worst at mu="):
        path = fit_lasso_path(design, y, mus, tol=TIGHT_TOL, max_epochs=1)
    assert not path.converged.all()
    assert path.converged[0]  # μ = mu_max: w = 0 is certified
    assert np.all(path.gaps[~path.converged] > TIGHT_TOL * (y @ y))


def test_no_warning_when_converged(problem):
    X, y = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit_lasso(DenseDesign(X), y, 0.1 * mu_max(DenseDesign(X), y))


def test_deterministic_and_layout_independent(problem):
    X, y = problem
    design = DenseDesign(X)
    mus = mu_grid(mu_max(design, y), n_mu=10, min_ratio=1e-2)
    a = fit_lasso_path(design, y, mus)
    b = fit_lasso_path(design, y, mus)
    np.testing.assert_array_equal(a.coefs.toarray(), b.coefs.toarray())
    np.testing.assert_array_equal(a.gaps, b.gaps)
    c = fit_lasso_path(DenseDesign(np.asfortranarray(X)), y, mus)
    np.testing.assert_allclose(a.coefs.toarray(), c.coefs.toarray(), rtol=0, atol=1e-12)


def test_warm_start_and_progress(problem):
    X, y = problem
    design = DenseDesign(X)
    mu = 0.05 * mu_max(design, y)
    cold = fit_lasso(design, y, mu, tol=TIGHT_TOL)
    warm = fit_lasso(design, y, mu, tol=TIGHT_TOL, coefs_init=cold.coefs)
    assert warm.n_epochs <= 1
    np.testing.assert_allclose(warm.coefs, cold.coefs, rtol=0, atol=1e-10)
    seen = []
    mus = mu_grid(mu_max(design, y), n_mu=4)
    fit_lasso_path(design, y, mus, progress=seen.append)
    assert seen == [0, 1, 2, 3]


def test_results_are_frozen(problem):
    X, y = problem
    design = DenseDesign(X)
    fit = fit_lasso(design, y, 0.5 * mu_max(design, y))
    assert isinstance(fit, LassoFit)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.mu = 1.0
    path = fit_lasso_path(design, y, [2.0, 1.0])
    assert isinstance(path, LassoPath) and path.l1_ratio == 1.0 and path.tol == 1e-7
    with pytest.raises(dataclasses.FrozenInstanceError):
        path.tol = 1.0


def test_input_errors(problem):
    X, y = problem
    design = DenseDesign(X)
    with pytest.raises(InputError, match=r"l1_ratio must be in \(0, 1\]"):
        fit_lasso(design, y, 1.0, l1_ratio=0.0)
    with pytest.raises(InputError, match="mu must be a positive"):
        fit_lasso(design, y, -1.0)
    with pytest.raises(InputError, match="non-increasing"):
        fit_lasso_path(design, y, [1.0, 2.0])
    with pytest.raises(InputError, match="max_epochs must be a positive integer"):
        fit_lasso(design, y, 1.0, max_epochs=0)
    with pytest.raises(InputError, match="NaN"):
        fit_lasso(design, np.full_like(y, np.nan), 1.0)
    with pytest.raises(ValueError, match=r"y must have shape \(80,\)"):
        fit_lasso(design, y[:-1], 1.0)


def test_null_and_duplicated_columns(problem):
    """A zero column keeps coefficient 0 even from a nonzero warm start; exact duplicates share
    one effect (their sum matches the fit without the duplicate)."""
    X, y = problem
    Xd = np.column_stack([X, X[:, 0], np.zeros(X.shape[0])])
    design = DenseDesign(Xd)
    mu = 0.05 * mu_max(design, y)
    init = np.zeros(Xd.shape[1])
    init[-1] = 1.0
    fit = fit_lasso(design, y, mu, tol=TIGHT_TOL, coefs_init=init)
    assert fit.converged and fit.coefs[-1] == 0.0
    plain = fit_lasso(DenseDesign(X), y, mu, tol=TIGHT_TOL)
    merged = fit.coefs[:-2].copy()
    merged[0] += fit.coefs[-2]
    np.testing.assert_allclose(merged, plain.coefs, rtol=0, atol=COEF_ATOL)


# --- where a path stops (glmnet's rules; the caller's predicate) ------------------------------


def _direct_ev(X, y, path):
    """1 − ‖y − Xw‖²/‖y‖² of every returned w, in plain numpy."""
    W = path.coefs.toarray()
    return np.array([1 - np.sum((y - X @ w) ** 2) / np.sum(y**2) for w in W])


def _glmnet_stop(ev, n_active, rules, cap):
    """(index, rule) where glmnet's elnet loop exits, straight from its Fortran: after λ m,
    exit if me > ne (here from the first λ), then, once m ≥ mnlam, if rsq − rsq0 < sml·rsq or
    rsq > rsqmax."""
    for k in range(len(ev)):
        if n_active[k] > cap:
            return k, "max_active"
        if k + 1 < rules.min_mus:
            continue
        if ev[k] - (ev[k - 1] if k else 0.0) < rules.ev_change * ev[k]:
            return k, "ev_change"
        if ev[k] > rules.ev_max:
            return k, "ev_max"
    return None, ""


@pytest.mark.parametrize(
    "case, rule",
    [
        ("n>p", "ev_change"),  # EV saturates at the least-squares fit
        ("noiseless p>n", "ev_max"),  # y = Xβ exactly: EV → 1
        ("wide", "max_active"),
    ],
)
def test_glmnet_stop_rules_against_the_explained_variance_computed_directly(case, rule):
    if case == "n>p":
        X, y = make_problem(n_samples=200, n_features=15, n_true=5, seed=3)
        rules, n_mu, ratio = PathStop(), 60, 1e-5
    elif case == "noiseless p>n":
        X, _ = make_problem(n_samples=50, n_features=120, seed=4)
        y = X[:, :5] @ np.array([1.0, -0.8, 0.6, 0.5, -0.4])
        rules, n_mu, ratio = PathStop(ev_change=0.0, max_active=120), 80, 1e-6
    else:
        X, y = make_problem(n_samples=80, n_features=200, seed=5)
        rules, n_mu, ratio = PathStop(max_active=12), 40, 1e-3
    design = DenseDesign(X)
    mus = mu_grid(mu_max(design, y), n_mu, ratio)
    whole = fit_lasso_path(design, y, mus, tol=TIGHT_TOL)
    assert whole.stop_rule == "" and len(whole.mus) == n_mu
    cap = rules.max_active or X.shape[0] // 2
    k, expected = _glmnet_stop(_direct_ev(X, y, whole), whole.n_active, rules, cap)
    assert expected == rule and k < n_mu - 1
    path = fit_lasso_path(design, y, mus, tol=TIGHT_TOL, rules=rules)
    assert path.stop_rule == rule and len(path.mus) == k + 1  # μ_k kept, as glmnet does
    np.testing.assert_array_equal(path.mus, mus[: k + 1])
    np.testing.assert_array_equal(path.coefs.toarray(), whole.coefs.toarray()[: k + 1])
    np.testing.assert_allclose(path.explained_variance, _direct_ev(X, y, path), atol=1e-12)
    assert f"`{rule}`" in path.stop_reason
    if rule == "max_active":  # the cap: only the last μ kept exceeds it
        assert path.n_active[-1] > 12 and np.all(path.n_active[:-1] <= 12)


def test_max_active_defaults_to_half_the_samples_and_rules_wait_for_min_mus():
    X, y = make_problem(n_samples=40, n_features=300, seed=6)
    design = DenseDesign(X)
    mus = mu_grid(mu_max(design, y), 50, 1e-3)
    path = fit_lasso_path(design, y, mus, rules=PathStop())
    assert path.stop_rule == "max_active" and path.n_active[-1] > 20
    assert np.all(path.n_active[:-1] <= 20)
    # one μ repeated: the EV stops rising at once, but glmnet's mnlam waits for min_mus μ
    flat = fit_lasso_path(design, y, np.full(7, mus[3]), rules=PathStop(min_mus=4))
    assert flat.stop_rule == "ev_change" and len(flat.mus) == 4
    empty = fit_lasso_path(design, y, np.full(7, 2 * mus[0]), rules=PathStop(min_mus=4))
    assert empty.stop_rule == "" and len(empty.mus) == 7  # w = 0: EV 0 never "stops rising"
    with pytest.raises(InputError, match="`max_active` must be a positive integer"):
        fit_lasso_path(design, y, mus, rules=PathStop(max_active=0))
    with pytest.raises(InputError, match="`ev_max` must be in"):
        fit_lasso_path(design, y, mus, rules=PathStop(ev_max=1.5))


def test_stop_predicate_sees_each_solution_and_ends_the_path():
    X, y = make_problem()
    design = DenseDesign(X)
    mus = mu_grid(mu_max(design, y), 20, 1e-2)
    seen, done = [], []

    def stop(k, coefs):
        assert not coefs.flags.writeable
        seen.append(coefs.copy())
        return k == 6

    path = fit_lasso_path(design, y, mus, progress=done.append, stop=stop)
    assert path.stop_rule == "stop" and len(path.mus) == 7 and done == list(range(7))
    np.testing.assert_array_equal(np.array(seen), path.coefs.toarray())


def test_gram_cache_equals_the_direct_product(problem):
    """`_GramCache` reuses the products of the features a working set shares with the last one
    (grown, shrunk, reordered among the cached) and must give X̃_WᵀX̃_W every time."""
    from lmmlasso_cli.lasso.path import _GramCache

    X, _ = problem
    X = np.asfortranarray(X)
    cache = _GramCache()
    for ws in ([3, 8, 20], [3, 8, 20], [1, 3, 8, 20, 40], [3, 20, 40, 41], [0, 3, 40, 41, 90]):
        ws = np.array(ws)
        G = cache.get(ws, X[:, ws])
        np.testing.assert_allclose(G, X[:, ws].T @ X[:, ws], rtol=0, atol=1e-10)
        assert G.flags.f_contiguous


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_gap_safe_drops_only_features_zero_at_the_optimum(problem, l1_ratio):
    """The Gap Safe test at a warm start's state: what it drops is 0 in scikit-learn's
    solution, and near the optimum it drops most of the zeros."""
    from lmmlasso_cli.lasso.path import _gap_safe_keep, _global_gap, _State

    X, y = problem
    n = X.shape[0]
    design = DenseDesign(X)
    mu = 0.1 * mu_max(design, y, l1_ratio)
    l1, l2 = mu * l1_ratio, mu * (1 - l1_ratio)
    _, ref, _ = enet_path(
        np.asfortranarray(X), y, l1_ratio=l1_ratio, alphas=[mu / n], tol=TIGHT_TOL,
        max_iter=SKLEARN_MAX_ITER,
    )  # fmt: skip
    ref = ref[:, 0]
    ws = np.arange(X.shape[1])
    norms = np.einsum("ij,ij->j", X, X)
    for loose in (fit_lasso(design, y, mu, l1_ratio, tol=1e-3), fit_lasso(design, y, mu, l1_ratio)):
        w = loose.coefs.copy()
        resid = y - X @ w
        state = _State(w, resid, X.T @ resid)
        keep = _gap_safe_keep(state, ws, norms, l1, l2, _global_gap(y, state, l1, l2))
        assert np.all(ref[~keep] == 0)
    assert (~keep).sum() > 0.5 * np.sum(ref == 0)  # at the certified optimum: most zeros go


def test_fit_n_active_keeps_its_gram_matrices_within_its_bound(problem, monkeypatch):
    """`fit_n_active(K)` builds no Gram matrix over more than `gram_max_features(K)` features;
    larger working sets run in the column form, to the same certified optimum."""
    import lmmlasso_cli.lasso.path as path_module

    X, y = problem
    sizes = []
    get = path_module._GramCache.get

    def recorded(self, ws, X_ws):
        sizes.append(ws.size)
        return get(self, ws, X_ws)

    monkeypatch.setattr(path_module._GramCache, "get", recorded)
    free = fit_n_active(DenseDesign(X), y, 12, tol=TIGHT_TOL)
    unbounded, sizes[:] = list(sizes), []
    monkeypatch.setattr(path_module, "N_ACTIVE_GRAM_FACTOR", 1)  # a bound of max(K, 10) = 12
    assert path_module.gram_max_features(12) == 12 and path_module.gram_max_features(None) == 4096
    bound = fit_n_active(DenseDesign(X), y, 12, tol=TIGHT_TOL)
    if unbounded:  # the Gram form (not switched off by the kernel_form fixture)
        assert max(unbounded) > 12 and max(sizes) <= 12
    assert bound.n_active == free.n_active == 12 and bound.mu == free.mu
    gaps = [numpy_gap(X, y, f.coefs, f.mu, 1.0) for f in (free, bound)]
    assert max(gaps) <= 10 * TIGHT_TOL * (y @ y)
    np.testing.assert_allclose(bound.coefs, free.coefs, atol=COEF_ATOL)
