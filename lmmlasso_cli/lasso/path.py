"""Lasso and elastic-net fits, paths and fixed-support-size fits by working-set coordinate descent.

Objective (public scaling). For a design X̃ (n × p, see :mod:`lmmlasso_cli.lasso.design`) and
target y (n,), every function here minimizes over w ∈ R^p

    P(w) = ½‖y − X̃w‖² + μ·r·‖w‖₁ + ½·μ·(1 − r)·‖w‖²

with μ ("mu") ABSOLUTE — not divided by n — and r = l1_ratio ∈ (0, 1] (r = 1 is the Lasso).
scikit-learn's equivalent is ``ElasticNet(alpha=μ/n, l1_ratio=r, fit_intercept=False)``. There
is no intercept: unpenalized covariates are projected out by the design. The numba kernels in
:mod:`lmmlasso_cli.lasso._cd` use (l1, l2) = (μ·r, μ·(1 − r)); :func:`_penalties` is the one
place converting between the two.

Stopping rule: the elastic-net duality gap (see :mod:`lmmlasso_cli.lasso._cd`) computed over ALL
p features is ≤ tol·‖y‖². A fit that stops at ``max_epochs`` first emits a
:class:`~lmmlasso_cli.errors.ConvergenceWarning` and reports ``converged=False``; nothing raises
on non-convergence.

Working-set strategy (most features are never materialized — for the LMM design, never rotated):

1. The state is (w, R = y − X̃w, c = X̃ᵀR). From it the GLOBAL gap needs only
   max_j |c_j − l2·w_j|, ‖R‖², Rᵀy, ‖w‖₁ and ‖w‖²: O(p) once c is known.
2. Initial working set W: the support of w plus candidates. For a single fit these are the
   features with the largest KKT violations |c_j| > l1; on a path at μ_k they are the sequential
   strong set |c_j| ≥ r·(2μ_k − μ_{k−1}) (Tibshirani et al. 2012) computed from the previous
   solution. At most max(|supp w|, WS_MIN_SIZE) candidates are added (largest |c_j| first).
3. Round: fetch X̃_W (``design.columns``), run the kernel on W until its gap is
   ≤ WS_INNER_TOL·tol·‖y‖², recompute R exactly, then ONE ``design.correlations(R)`` call and the
   global gap. Stop if it is ≤ tol·‖y‖². While |W| ≤ n (and ≤ GRAM_MAX_FEATURES) the kernel
   is the Gram form (`_cd.cd_epochs_gram`, glmnet's "covariance" updates): G = X̃_WᵀX̃_W is
   kept from round to round and from μ to μ (`_GramCache`: only new columns' products are
   computed), and an update costs O(|W|) instead of O(n).
4. Otherwise add the features outside W that violate the KKT conditions most (|c_j| > l1), at
   most max(|W|, WS_MIN_SIZE) of them, so W at most doubles per round and few rounds are needed
   (as in celer / skglm). If nothing outside W violates (the gap shortfall is inside W, e.g. by
   rounding), the inner tolerance is tightened by WS_TIGHTEN. W never shrinks within a fit.
5. The epoch budget ``max_epochs`` is shared by all rounds of one fit (one μ).

The final certificate is always the global gap. Everything is deterministic (no randomness).

A path may end before its last μ (glmnet returns a shorter λ sequence the same way): after each
fitted μ_k, ``stop(k, coefs)`` (a caller's predicate, e.g. cv's held-out error) and then the
rules of :class:`~lmmlasso_cli.settings.PathStop` are checked; the first that fires ends the
path with μ_k kept. ``LassoPath`` holds only the fitted μ and says which rule stopped it.
"""

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lmmlasso_cli.errors import ConvergenceWarning, InputError
from lmmlasso_cli.lasso.design import Design
from lmmlasso_cli.settings import LassoSettings, PathStop

_DEFAULT = LassoSettings()  # the one home of the solver defaults

# Minimal number of features added to a working set per round.
WS_MIN_SIZE = 10
# The kernel solves the working-set problem to gap <= WS_INNER_TOL * tol * ||y||^2.
WS_INNER_TOL = 0.5
# Factor tightening the inner tolerance when the global gap fails without outside violators.
WS_TIGHTEN = 0.1
# The kernel works on the Gram matrix G = X̃_WᵀX̃_W (updates in O(|W|), not O(n)) while
# |W| <= GRAM_MAX_RATIO * n and |W| <= GRAM_MAX_FEATURES (G then takes at most 128 MB).
GRAM_MAX_RATIO = 1.0
GRAM_MAX_FEATURES = 4096
# fit_n_active(K) keeps the Gram form up to this many times max(K, WS_MIN_SIZE) features (its
# working sets stayed below 9K for K = 100 on the bench's 4,000 × 100,000 and 2,000 × 50,000
# sets), so its Gram matrix is bounded by K, not n; larger sets run in the column form.
N_ACTIVE_GRAM_FACTOR = 16
# Between rounds, drop working-set features that the Gap Safe test certifies to be 0.
GAP_SAFE = True
# fit_n_active: step down from mu_max by this factor until n_active >= K ...
N_ACTIVE_DESCENT = 0.5
# ... but not below mu_max * N_ACTIVE_MIN_RATIO; bisection stops when log(mu_hi / mu_lo) < this.
N_ACTIVE_MIN_RATIO = 1e-6
N_ACTIVE_LOG_RTOL = 1e-10


@dataclass(frozen=True)
class LassoFit:
    """Solution of P(w) = ½‖y − X̃w‖² + μr‖w‖₁ + ½μ(1−r)‖w‖² at one μ (absolute, not per sample).

    coefs: (n_features,) float64 dense w. objective: P(w). gap: absolute duality gap at return,
    over all features. tol_gap: tol·‖y‖² (converged ⇔ gap ≤ tol_gap). n_epochs: CD epochs over
    all working-set rounds. n_active: number of nonzero coefs. explained_variance:
    1 − ‖y − X̃w‖²/‖y‖² (training, on the design's scale; 0 if y = 0).
    """

    mu: float
    l1_ratio: float
    coefs: np.ndarray
    objective: float
    gap: float
    tol_gap: float
    converged: bool
    n_epochs: int
    n_active: int
    explained_variance: float


@dataclass(frozen=True)
class LassoPath:
    """Solutions of P(w) (see :class:`LassoFit`) along decreasing μ, with warm starts.

    mus, objectives, gaps (absolute), converged, n_epochs, n_active, explained_variance:
    (n_mu,) arrays over the FITTED μ (a prefix of the requested ones when the path stopped).
    coefs: scipy.sparse.csr_matrix (n_mu, n_features), row k = w at mus[k]. tol: relative
    tolerance; the gap at mus[k] is certified against tol·‖y‖². stop_rule: "" (every μ
    fitted), or which check ended the path after its last μ: "stop" (the caller's predicate),
    "ev_change", "ev_max" or "max_active" (`PathStop`); stop_reason says it in words, with
    parameter names in backquotes.
    """

    mus: np.ndarray
    coefs: sp.csr_matrix
    objectives: np.ndarray
    gaps: np.ndarray
    converged: np.ndarray
    n_epochs: np.ndarray
    n_active: np.ndarray
    explained_variance: np.ndarray
    l1_ratio: float
    tol: float
    stop_rule: str = ""
    stop_reason: str = ""


def _kernels():
    """The numba kernels, imported on first use so that importing this module stays fast."""
    from lmmlasso_cli.lasso import _cd

    return _cd


# ---------------------------------------------------------------------------------------------
# scaling and validation


def _penalties(mu: float, l1_ratio: float) -> tuple[float, float]:
    """Public (μ, r) → kernel (l1, l2) = (μ·r, μ·(1 − r)). The only conversion point."""
    return mu * l1_ratio, mu * (1.0 - l1_ratio)


def _check_l1_ratio(l1_ratio: float) -> float:
    l1_ratio = float(l1_ratio)
    if not 0.0 < l1_ratio <= 1.0:
        raise InputError(f"l1_ratio must be in (0, 1] (1 is the Lasso), got {l1_ratio}")
    return l1_ratio


def _check_mu(mu: float) -> float:
    mu = float(mu)
    if not (math.isfinite(mu) and mu > 0):
        raise InputError(f"mu must be a positive finite number, got {mu}")
    return mu


def _check_tol(tol: float, max_epochs: int) -> tuple[float, int]:
    tol = float(tol)
    if not (math.isfinite(tol) and tol >= 0):
        raise InputError(f"tol must be a non-negative finite number, got {tol}")
    if int(max_epochs) != max_epochs or max_epochs < 1:
        raise InputError(f"max_epochs must be a positive integer, got {max_epochs}")
    return tol, int(max_epochs)


def _sq_norm(v: np.ndarray) -> float:
    """‖v‖² without BLAS (a multithreaded ddot is slow on a busy machine)."""
    return float(np.einsum("i,i->", v, v))


def _check_path_stop(rules: PathStop | None, n_samples: int) -> int | None:
    """Validate the stopping rules; returns the active-set cap (None without rules)."""
    if rules is None:
        return None
    if int(rules.min_mus) != rules.min_mus or rules.min_mus < 1:
        raise InputError(f"`min_mus` must be a positive integer, got {rules.min_mus}")
    if not (math.isfinite(rules.ev_change) and rules.ev_change >= 0):
        raise InputError(f"`ev_change` must be a non-negative number, got {rules.ev_change}")
    if not 0.0 < rules.ev_max <= 1.0:
        raise InputError(f"`ev_max` must be in (0, 1], got {rules.ev_max}")
    if rules.max_active is None:
        return max(n_samples // 2, 1)
    if int(rules.max_active) != rules.max_active or rules.max_active < 1:
        raise InputError(f"`max_active` must be a positive integer, got {rules.max_active}")
    return int(rules.max_active)


def _rule_fired(
    rules: PathStop, k: int, expl: np.ndarray, n_active: int, cap: int
) -> tuple[str, str]:
    """(rule, reason) of the first `PathStop` rule that ends the path after μ_k, or ("", "")."""
    if n_active > cap:
        return "max_active", f"{n_active} SNPs are active, more than `max_active` {cap}"
    if k + 1 < rules.min_mus:
        return "", ""
    rise = expl[k] - expl[k - 1] if k else expl[k]
    if rise < rules.ev_change * expl[k]:
        return "ev_change", (
            f"the training explained variance {expl[k]:.6g} rose by {rise:.3g} from the "
            f"previous μ, less than `ev_change` {rules.ev_change:g} of itself"
        )
    if expl[k] > rules.ev_max:
        return "ev_max", (
            f"the training explained variance {expl[k]:.6g} exceeds `ev_max` {rules.ev_max:g}"
        )
    return "", ""


def _check_target(design: Design, y: np.ndarray) -> np.ndarray:
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.shape != (design.n_samples,):
        raise ValueError(
            f"y must have shape ({design.n_samples},) to match the design, got {y.shape}"
        )
    if not np.all(np.isfinite(y)):
        raise InputError("y contains NaN or infinite values; impute or drop those samples first")
    return y


# ---------------------------------------------------------------------------------------------
# working-set solver (internal)


class _State:
    """Mutable solver state: w (p,), R = y − X̃w (n,), corr = X̃ᵀR (p,)."""

    def __init__(self, w: np.ndarray, resid: np.ndarray, corr: np.ndarray):
        self.w, self.resid, self.corr = w, resid, corr

    def copy(self) -> "_State":
        return _State(self.w.copy(), self.resid.copy(), self.corr.copy())


def _initial_state(design: Design, y: np.ndarray, coefs_init: np.ndarray | None) -> _State:
    if coefs_init is None:
        w = np.zeros(design.n_features)
        resid = y.copy()
    else:
        w = np.array(coefs_init, dtype=np.float64)
        if w.shape != (design.n_features,):
            raise ValueError(f"coefs_init must have shape ({design.n_features},), got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise InputError("coefs_init contains NaN or infinite values")
        support = np.flatnonzero(w)
        resid = y - design.columns(support) @ w[support] if support.size else y.copy()
    return _State(w, resid, design.correlations(resid))


class _GramCache:
    """G = X̃_WᵀX̃_W of the last working set W, so that the next one (the next round, or the
    next μ of a path) computes only the products of its new columns."""

    def __init__(self, max_features: int = GRAM_MAX_FEATURES):
        self.index: np.ndarray | None = None
        self.gram: np.ndarray | None = None
        self.max_features = max_features

    def fits(self, n_features: int, n_samples: int) -> bool:
        """Whether a working set of ``n_features`` runs in the Gram form (|W| ≤ ratio · n and
        ≤ ``max_features``)."""
        return n_features <= min(GRAM_MAX_RATIO * n_samples, self.max_features)

    def get(self, ws: np.ndarray, X_ws: np.ndarray) -> np.ndarray:
        """G for the sorted working set ``ws`` with columns ``X_ws`` (n, |ws|), Fortran order."""
        m = ws.size
        if self.index is not None and np.array_equal(ws, self.index):
            return self.gram
        known = np.zeros(m, dtype=bool) if self.index is None else np.isin(ws, self.index)
        if 2 * int(known.sum()) < m:  # mostly new: one product
            G = np.asfortranarray(X_ws.T @ X_ws)
        else:
            old = np.flatnonzero(known)
            new = np.flatnonzero(~known)
            pos = np.searchsorted(self.index, ws[old])
            G = np.empty((m, m), order="F")
            _kernels().gram_gather(self.gram, pos, G, old)
            if new.size:
                cross = X_ws.T @ X_ws[:, new]  # (m, |new|)
                G[:, new] = cross
                G[new, :] = cross.T
        self.index, self.gram = ws.copy(), G
        return G


def _gap_safe_keep(
    state: _State, ws: np.ndarray, norms: np.ndarray, l1: float, l2: float, gap: float
) -> np.ndarray:
    """Which working-set features to keep: drops those at 0 that the Gap Safe sphere test
    (Ndiaye et al. 2017) certifies to be 0 at the optimum. In the augmented form X' = [X̃;
    √l2·I] the dual point θ = const·[R; −√l2·w] is feasible and the optimum θ* lies within
    √(2·gap) of it (the dual is 1-strongly concave), so const·|c_j − l2·w_j| +
    √(‖x̃_j‖² + l2)·√(2·gap) < l1 implies w*_j = 0."""
    w = state.w[ws]
    scores = state.corr - l2 * state.w
    dual_norm = float(np.max(np.abs(scores))) if scores.size else 0.0
    const = l1 / dual_norm if dual_norm > l1 else 1.0
    bound = const * np.abs(scores[ws]) + np.sqrt((norms + l2) * 2.0 * max(gap, 0.0))
    return (w != 0) | (bound >= l1)


def gram_max_features(n_active: int | None = None) -> int:
    """The largest working set solved in the Gram form: `GRAM_MAX_FEATURES`, and for a fit at
    ``n_active`` = K nonzeros at most `N_ACTIVE_GRAM_FACTOR` · max(K, `WS_MIN_SIZE`)."""
    if n_active is None:
        return GRAM_MAX_FEATURES
    return min(GRAM_MAX_FEATURES, N_ACTIVE_GRAM_FACTOR * max(int(n_active), WS_MIN_SIZE))


def _global_gap(y: np.ndarray, state: _State, l1: float, l2: float) -> float:
    """The elastic-net duality gap over ALL features (`_cd.gap_from_parts`) from c = X̃ᵀR: the
    O(p) ingredients in numpy, the formula the kernels use."""
    w = state.w
    dual_norm = float(np.max(np.abs(state.corr - l2 * w))) if w.size else 0.0
    r_norm2, r_dot_y = _sq_norm(state.resid), float(np.einsum("i,i->", state.resid, y))
    w_l1, w_norm2 = float(np.abs(w).sum()), _sq_norm(w)
    return _kernels().gap_from_parts(dual_norm, r_norm2, r_dot_y, w_l1, w_norm2, l1, l2)


def _top(score: np.ndarray, threshold: float, k: int, strict: bool) -> np.ndarray:
    """Sorted indices of the (at most k) largest scores above threshold."""
    cand = np.flatnonzero(score > threshold if strict else score >= threshold)
    if cand.size > k:
        keep = np.argpartition(-score[cand], k - 1)[:k]
        cand = np.sort(cand[keep])
    return cand


def _candidates(state: _State, l1: float, l1_prev: float | None) -> np.ndarray:
    """Initial working set: support ∪ strong set (path) or ∪ top KKT violators (single fit)."""
    support = np.flatnonzero(state.w)
    score = np.abs(state.corr)
    score[support] = -np.inf
    k = max(support.size, WS_MIN_SIZE)
    if l1_prev is None or l1_prev <= l1:
        extra = _top(score, l1, k, strict=True)
    else:
        extra = _top(score, 2.0 * l1 - l1_prev, k, strict=False)
    return np.union1d(support, extra)


def _solve(
    design: Design,
    y: np.ndarray,
    state: _State,
    l1: float,
    l2: float,
    tol_gap: float,
    max_epochs: int,
    working_set: np.ndarray,
    gram: _GramCache | None = None,
) -> tuple[float, int, bool]:
    """Working-set CD from `state` (updated in place). Returns (global gap, epochs, converged).
    Working sets small against n run in the Gram form (`_GramCache.fits`), through ``gram``."""
    gap = _global_gap(y, state, l1, l2)
    if gap <= tol_gap:
        return gap, 0, True
    gram = gram if gram is not None else _GramCache()
    w, resid = state.w, state.resid
    ws = np.union1d(working_set, np.flatnonzero(w)).astype(np.intp)
    tol_inner = WS_INNER_TOL * tol_gap
    n_epochs = 0
    while True:
        X_ws = design.columns(ws)
        norms = np.einsum("ij,ij->j", X_ws, X_ws)
        w_ws = w[ws]
        w_ws[norms == 0] = 0.0  # null columns: coefficient 0, R unchanged
        budget = max_epochs - n_epochs
        if gram.fits(ws.size, y.size):
            G = gram.get(ws, X_ws)
            corr_ws = X_ws.T @ resid
            _, epochs = _kernels().cd_epochs_gram(
                G, X_ws.T @ y, _sq_norm(y), w_ws, corr_ws, l1, l2, tol_inner, budget
            )
        else:
            _, epochs = _kernels().cd_epochs(X_ws, y, w_ws, resid, norms, l1, l2, tol_inner, budget)
        n_epochs += epochs
        w[ws] = w_ws
        np.subtract(y, X_ws @ w_ws, out=resid)  # exact residual for the certificate
        state.corr = design.correlations(resid)
        gap = _global_gap(y, state, l1, l2)
        if gap <= tol_gap:
            return gap, n_epochs, True
        if n_epochs >= max_epochs:
            return gap, n_epochs, False
        if GAP_SAFE:
            ws = ws[_gap_safe_keep(state, ws, norms, l1, l2, gap)]
        score = np.abs(state.corr)
        score[ws] = -np.inf
        new = _top(score, l1, max(ws.size, WS_MIN_SIZE), strict=True)
        if new.size:
            ws = np.union1d(ws, new)
        else:
            tol_inner *= WS_TIGHTEN


def _make_fit(
    y: np.ndarray,
    y_norm2: float,
    state: _State,
    mu: float,
    l1_ratio: float,
    gap: float,
    tol_gap: float,
    converged: bool,
    n_epochs: int,
) -> LassoFit:
    l1, l2 = _penalties(mu, l1_ratio)
    w, resid = state.w, state.resid
    support = np.flatnonzero(w)
    w_support = w[support]
    r_norm2 = _sq_norm(resid)
    objective = 0.5 * r_norm2 + l1 * float(np.abs(w_support).sum()) + 0.5 * l2 * _sq_norm(w_support)
    return LassoFit(
        mu=mu,
        l1_ratio=l1_ratio,
        coefs=w.copy(),
        objective=objective,
        gap=float(gap),
        tol_gap=tol_gap,
        converged=bool(converged),
        n_epochs=int(n_epochs),
        n_active=int(support.size),
        explained_variance=1.0 - r_norm2 / y_norm2 if y_norm2 > 0 else 0.0,
    )


def _warn_fit(fit: LassoFit) -> None:
    warnings.warn(
        f"Lasso at mu={fit.mu:.6g} (l1_ratio={fit.l1_ratio:g}) stopped with duality gap "
        f"{fit.gap:.3e} > tol_gap {fit.tol_gap:.3e} after {fit.n_epochs} epochs; "
        f"raise max_epochs or tol",
        ConvergenceWarning,
        stacklevel=3,
    )


# ---------------------------------------------------------------------------------------------
# public API


def mu_max(design: Design, y: np.ndarray, l1_ratio: float = 1.0) -> float:
    """Smallest μ whose solution of P(w) = ½‖y − X̃w‖² + μr‖w‖₁ + ½μ(1−r)‖w‖² is w = 0:
    max_j |x̃_jᵀy| / r (μ absolute, not per sample)."""
    y = _check_target(design, y)
    l1_ratio = _check_l1_ratio(l1_ratio)
    corr = design.correlations(y)
    return float(np.max(np.abs(corr)) / l1_ratio) if corr.size else 0.0


def mu_grid(mu_max: float, n_mu: int = 100, min_ratio: float = 1e-3) -> np.ndarray:
    """Geometric decreasing grid of n_mu values from mu_max down to mu_max·min_ratio."""
    mu_max = float(mu_max)
    if not (math.isfinite(mu_max) and mu_max > 0):
        raise InputError(
            f"mu_max must be positive and finite, got {mu_max}; is y zero after "
            f"projecting out the covariates?"
        )
    if int(n_mu) != n_mu or n_mu < 1:
        raise InputError(f"n_mu must be a positive integer, got {n_mu}")
    if not 0.0 < min_ratio <= 1.0:
        raise InputError(f"min_ratio must be in (0, 1], got {min_ratio}")
    if n_mu == 1:
        return np.array([mu_max])
    return mu_max * np.logspace(0.0, np.log10(min_ratio), int(n_mu))


def fit_lasso(
    design: Design,
    y: np.ndarray,
    mu: float,
    l1_ratio: float = 1.0,
    tol: float = _DEFAULT.tol,
    max_epochs: int = _DEFAULT.max_epochs,
    coefs_init: np.ndarray | None = None,
) -> LassoFit:
    """Minimize P(w) = ½‖y − X̃w‖² + μr‖w‖₁ + ½μ(1−r)‖w‖² (μ absolute, r = l1_ratio ∈ (0, 1]).

    Working-set cyclic CD (module docstring), warm-started at coefs_init (n_features,) if
    given. Stops when the duality gap over all features is ≤ tol·‖y‖², or after max_epochs
    epochs in total, with a ConvergenceWarning and converged=False.
    """
    y = _check_target(design, y)
    mu = _check_mu(mu)
    l1_ratio = _check_l1_ratio(l1_ratio)
    tol, max_epochs = _check_tol(tol, max_epochs)
    l1, l2 = _penalties(mu, l1_ratio)
    y_norm2 = _sq_norm(y)
    tol_gap = tol * y_norm2
    state = _initial_state(design, y, coefs_init)
    gap, n_epochs, converged = _solve(
        design, y, state, l1, l2, tol_gap, max_epochs, _candidates(state, l1, None)
    )
    fit = _make_fit(y, y_norm2, state, mu, l1_ratio, gap, tol_gap, converged, n_epochs)
    if not converged:
        _warn_fit(fit)
    return fit


def fit_lasso_path(
    design: Design,
    y: np.ndarray,
    mus: np.ndarray,
    l1_ratio: float = 1.0,
    tol: float = _DEFAULT.tol,
    max_epochs: int = _DEFAULT.max_epochs,
    progress: Callable[[int], object] | None = None,
    stop: Callable[[int, np.ndarray], bool] | None = None,
    rules: PathStop | None = None,
) -> LassoPath:
    """Solutions of P(w) = ½‖y − X̃w‖² + μr‖w‖₁ + ½μ(1−r)‖w‖² for each μ in mus (absolute,
    non-increasing), warm-starting each from the previous one with the sequential strong rule,
    until a stopping check ends the path.

    Each μ stops when its global duality gap is ≤ tol·‖y‖² or after max_epochs epochs. One
    ConvergenceWarning summarizes the μ values that did not converge (see LassoPath.converged).
    After the k-th μ is solved: progress(k) is called; then ``stop(k, coefs)`` (coefs: w at
    mus[k], (n_features,), read-only and valid during the call only), and the path ends there
    if it returns True; then the glmnet rules ``rules`` are checked (`PathStop`; None, the
    default here: none; `LassoSettings.path_stop` is what `fit_lmm_lasso` passes).
    The μ after a stop are not fitted: the result holds mus[:k + 1] (see LassoPath.stop_rule).
    """
    y = _check_target(design, y)
    l1_ratio = _check_l1_ratio(l1_ratio)
    tol, max_epochs = _check_tol(tol, max_epochs)
    cap = _check_path_stop(rules, design.n_samples)
    mus = np.asarray(mus, dtype=np.float64)
    if mus.ndim != 1 or mus.size == 0:
        raise InputError(f"mus must be a non-empty 1-D array, got shape {mus.shape}")
    if not (np.all(np.isfinite(mus)) and np.all(mus > 0)):
        raise InputError("mus must be positive and finite")
    if np.any(np.diff(mus) > 0):
        raise InputError("mus must be non-increasing (largest first); build them with mu_grid")
    n_mu = mus.size
    y_norm2 = _sq_norm(y)
    tol_gap = tol * y_norm2
    state = _initial_state(design, y, None)
    objectives, gaps, expl = np.empty(n_mu), np.empty(n_mu), np.empty(n_mu)
    converged = np.empty(n_mu, dtype=bool)
    n_epochs = np.empty(n_mu, dtype=np.int64)
    n_active = np.empty(n_mu, dtype=np.int64)
    indptr = np.zeros(n_mu + 1, dtype=np.int64)
    indices, values = [], []
    l1_prev = None
    n_fitted, rule, reason = n_mu, "", ""
    gram = _GramCache()
    for k, mu in enumerate(mus):
        l1, l2 = _penalties(float(mu), l1_ratio)
        candidates = _candidates(state, l1, l1_prev)
        gap, epochs, ok = _solve(design, y, state, l1, l2, tol_gap, max_epochs, candidates, gram)
        fit = _make_fit(y, y_norm2, state, float(mu), l1_ratio, gap, tol_gap, ok, epochs)
        objectives[k], gaps[k], converged[k] = fit.objective, fit.gap, fit.converged
        n_epochs[k], n_active[k], expl[k] = fit.n_epochs, fit.n_active, fit.explained_variance
        support = np.flatnonzero(state.w)
        indices.append(support)
        values.append(state.w[support])
        indptr[k + 1] = indptr[k] + support.size
        l1_prev = l1
        if progress is not None:
            progress(k)
        if stop is not None:
            view = state.w.view()
            view.flags.writeable = False
            if stop(k, view):
                rule, reason = "stop", f"`stop` ended the path after μ index {k}"
        if not rule and rules is not None:
            rule, reason = _rule_fired(rules, k, expl, int(n_active[k]), cap)
        if rule:
            n_fitted = k + 1
            break
    mus = mus[:n_fitted]
    objectives, gaps, expl = objectives[:n_fitted], gaps[:n_fitted], expl[:n_fitted]
    converged, n_epochs, n_active = converged[:n_fitted], n_epochs[:n_fitted], n_active[:n_fitted]
    coefs = sp.csr_matrix(
        (np.concatenate(values), np.concatenate(indices), indptr[: n_fitted + 1]),
        shape=(n_fitted, design.n_features),
    )
    if not converged.all():
        bad = np.flatnonzero(~converged)
        worst = bad[np.argmax(gaps[bad])]
        warnings.warn(
            f"Lasso path: {bad.size} of {n_fitted} mu values did not converge; worst at "
            f"mu={mus[worst]:.6g} with duality gap {gaps[worst]:.3e} > tol_gap {tol_gap:.3e} "
            f"after {n_epochs[worst]} epochs; raise max_epochs or tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    return LassoPath(
        mus=mus.copy(),
        coefs=coefs,
        objectives=objectives,
        gaps=gaps,
        converged=converged,
        n_epochs=n_epochs,
        n_active=n_active,
        explained_variance=expl,
        l1_ratio=l1_ratio,
        tol=tol,
        stop_rule=rule,
        stop_reason=reason,
    )


def fit_n_active(
    design: Design,
    y: np.ndarray,
    n_active: int,
    l1_ratio: float = 1.0,
    tol: float = _DEFAULT.tol,
    max_iter: int = 60,
    max_epochs: int = _DEFAULT.max_epochs,
) -> LassoFit:
    """Fit P(w) = ½‖y − X̃w‖² + μr‖w‖₁ + ½μ(1−r)‖w‖² at a μ whose solution has exactly
    n_active = K nonzero coefficients.

    Search: from mu_max (0 nonzeros) step μ down by N_ACTIVE_DESCENT until some μ gives ≥ K
    nonzeros, then bisect in log μ between the smallest μ with < K and the largest with > K,
    each fit warm-started from the former. At most max_iter fits; each stops as in fit_lasso.

    If no μ gives exactly K (ties, duplicated columns, or max_iter reached), returns the fit at
    the largest μ found with more than K nonzeros; if no μ ≥ mu_max·N_ACTIVE_MIN_RATIO reaches
    K (e.g. K larger than the Lasso can select), returns the fit at the smallest μ tried. The
    achieved count is the returned fit's n_active. A ConvergenceWarning is emitted if the
    returned fit did not converge.
    """
    y = _check_target(design, y)
    l1_ratio = _check_l1_ratio(l1_ratio)
    tol, max_epochs = _check_tol(tol, max_epochs)
    if int(n_active) != n_active or not 1 <= n_active <= design.n_features:
        raise InputError(
            f"n_active must be an integer in [1, {design.n_features}] "
            f"(the number of features), got {n_active}"
        )
    if int(max_iter) != max_iter or max_iter < 1:
        raise InputError(f"max_iter must be a positive integer, got {max_iter}")
    y_norm2 = _sq_norm(y)
    tol_gap = tol * y_norm2
    state0 = _initial_state(design, y, None)
    mu_top = float(np.max(np.abs(state0.corr))) / l1_ratio
    if mu_top == 0:
        raise InputError(
            "y is orthogonal to every feature (mu_max = 0): no mu gives nonzero "
            "coefficients; is y zero after projecting out the covariates?"
        )

    gram = _GramCache(gram_max_features(n_active))

    def solve_at(mu: float, start: _State, mu_start: float) -> tuple[LassoFit, _State]:
        state = start.copy()
        l1, l2 = _penalties(mu, l1_ratio)
        l1_start, _ = _penalties(mu_start, l1_ratio)
        candidates = _candidates(state, l1, l1_start)
        gap, epochs, ok = _solve(design, y, state, l1, l2, tol_gap, max_epochs, candidates, gram)
        return _make_fit(y, y_norm2, state, mu, l1_ratio, gap, tol_gap, ok, epochs), state

    hi_fit, hi_state = solve_at(mu_top, state0, mu_top)  # < K nonzeros (0)
    lo_fit = None
    n_fits = 1
    result = None
    while result is None and lo_fit is None and n_fits < max_iter:
        mu = hi_fit.mu * N_ACTIVE_DESCENT
        if mu < mu_top * N_ACTIVE_MIN_RATIO:
            break
        fit, state = solve_at(mu, hi_state, hi_fit.mu)
        n_fits += 1
        if fit.n_active == n_active:
            result = fit
        elif fit.n_active < n_active:
            hi_fit, hi_state = fit, state
        else:
            lo_fit = fit
    while (
        result is None
        and lo_fit is not None
        and n_fits < max_iter
        and math.log(hi_fit.mu / lo_fit.mu) > N_ACTIVE_LOG_RTOL
    ):
        mu = math.sqrt(hi_fit.mu * lo_fit.mu)
        fit, state = solve_at(mu, hi_state, hi_fit.mu)
        n_fits += 1
        if fit.n_active == n_active:
            result = fit
        elif fit.n_active < n_active:
            hi_fit, hi_state = fit, state
        else:
            lo_fit = fit
    if result is None:
        result = lo_fit if lo_fit is not None else hi_fit
    if not result.converged:
        _warn_fit(result)
    return result
