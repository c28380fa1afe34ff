"""Truncated Dirichlet-process mixture of zero-mean Gaussians, fitted by coordinate-ascent VI.

This is the clustering step of ML-MAGES (Liu, Crawford and Ramachandran 2025). The rows
x_i ∈ R^p (i = 1..N) of the effect matrix, after the near-zero rows are set aside (see
`zero_threshold`) and the rest are scaled by s = 1 / mean_t sd_t, follow

    v_k ~ Beta(1, α)  (k < K),   v_K = 1                 truncation at K = `max_components`
    π_k = v_k Π_{j<k} (1 − v_j)                           stick-breaking weights
    Λ_k ~ Wishart(ν₀, W₀),  E Λ_k = ν₀ W₀                 precision of component k
    z_i ~ Categorical(π),   x_i | z_i = k ~ N(0, Λ_k⁻¹)   zero means: no mean parameter

with α = `concentration` (0.5), ν₀ = `dof_prior` (5) and W₀ = I (on the scaled data). The
mean-field posterior q = Π_i Cat(z_i; r_i) Π_{k<K} Beta(v_k; a_k, b_k) Π_k Wishart(Λ_k; ν_k, W_k)
is fitted by coordinate ascent: with E ln|Λ_k| = Σ_{i=1}^p ψ((ν_k + 1 − i)/2) + p ln 2 + ln|W_k|,

    ln r_ik = E ln π_k + ½ E ln|Λ_k| − (p/2) ln 2π − ½ ν_k x_iᵀ W_k x_i + const_i
    N_k = Σ_i r_ik,   S_k = Σ_i r_ik x_i x_iᵀ
    a_k = 1 + N_k,    b_k = α + Σ_{j>k} N_j,    ν_k = ν₀ + N_k,    W_k⁻¹ = W₀⁻¹ + S_k.

The evidence lower bound, evaluated after each sweep, is

    ELBO = Σ_k [½ N_k E ln|Λ_k| − ½ N_k p ln 2π − ½ ν_k tr(W_k S_k)]        E ln p(x | z, Λ)
         + Σ_k N_k E ln π_k                                                 E ln p(z | v)
         + Σ_{k<K} [−ln B(1, α) + (α − 1) E ln(1 − v_k)]                    E ln p(v)
         + Σ_k [ln B_W(W₀, ν₀) + ½(ν₀ − p − 1) E ln|Λ_k| − ½ ν_k tr(W₀⁻¹ W_k)]  E ln p(Λ)
         − Σ_ik r_ik ln r_ik                                                −E ln q(z)
         − Σ_{k<K} [−ln B(a_k, b_k) + (a_k − 1) E ln v_k + (b_k − 1) E ln(1 − v_k)]
         − Σ_k [ln B_W(W_k, ν_k) + ½(ν_k − p − 1) E ln|Λ_k| − ½ ν_k p]

where ln B_W(W, ν) = −(ν/2) ln|W| − (νp/2) ln 2 − ln Γ_p(ν/2) is the Wishart normaliser (the
original used |W| in place of ln|W|, a bug). Each update maximises the ELBO in its block, so the
ELBO never decreases; the fit stops when |ΔELBO| < `tol` (absolute, on the scaled data) after
at least 3 sweeps, or after `max_iter` sweeps.

Deviations from the original, all deliberate: the last stick is v_K = 1 (the original gave it a
Beta(1 + N_K, α) factor); the ELBO uses ln|W|; hard labels are the arg-max of the plug-in
posterior π_k N(x; 0, Σ_k) (the original ignored π); the BIC uses the mixture log-likelihood;
the sub-cutoff coordinates of a kept row are clustered as they are (the original zeroed them);
ν₀ defaults to max(5, p) so that the prior is proper for p > 5.

Per restart (as the original): Σ_k = (ν_k W_k)⁻¹ back on the input scale, weights E[π], keep
the components with the largest weights until their cumulative weight exceeds
`weight_mass` (0.99), renormalise, then order the kept ones by trace(Σ_k), widest first.
Across `restarts` seeded runs, K is the most frequent kept count (ties to the larger K; when it
is 1, the smallest K > 1 any run produced), and among the runs with that K the smallest BIC
= ln(N)·K·(1 + p(p+1)/2) − 2 Σ_i ln Σ_k π_k N(x_i; 0, Σ_k) wins.
"""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln, logsumexp

from lmmlasso_cli.errors import ConvergenceWarning

LN2 = np.log(2.0)
LN2PI = np.log(2.0 * np.pi)
MIN_KEPT = 1000  # the original's lower target for the number of prioritised variants
JITTER = 1e-8  # ridge added to the random initial scale matrices only


# ------------------------------------------------------------------------- zero threshold


@dataclass(frozen=True)
class ZeroThreshold:
    """Variants set aside as near-zero: every |effect| ≤ ``cutoff``."""

    cutoff: float
    kept: np.ndarray  # (n_variants,) bool, some |effect| > cutoff
    n_adjustments: int

    @property
    def n_kept(self) -> int:
        return int(self.kept.sum())


def zero_threshold(
    effects: np.ndarray,
    min_kept: int = MIN_KEPT,
    max_kept: int | None = None,
    initial: float | None = None,
    factor: float = 2.0,
    max_adjust: int = 10,
) -> ZeroThreshold:
    """The ML-MAGES adaptive cutoff: start at 1e-3 (N > 50 000), 1e-4 (N > 10 000) or 1e-5,
    then divide by ``factor`` while fewer than ``min_kept`` rows have some |effect| above it,
    or multiply while more than ``max_kept`` (default N//5 if N > 15 000 else N//3) do, at most
    ``max_adjust`` times (further halvings only while no row is kept)."""
    effects = _as_matrix(effects)
    n = effects.shape[0]
    if max_kept is None:
        max_kept = n // 5 if n > 15000 else n // 3
    if initial is None:
        initial = 1e-3 if n > 50000 else (1e-4 if n > 10000 else 1e-5)
    top = np.max(np.abs(effects), axis=1)
    if not np.any(top > 0):
        raise ValueError("every effect is zero: there is nothing to cluster")
    cutoff, n_adjust = float(initial), 0
    while True:
        n_kept = int(np.sum(top > cutoff))
        if n_kept > 0 and (n_adjust >= max_adjust or min_kept <= n_kept <= max_kept):
            break
        cutoff = cutoff / factor if (n_kept == 0 or n_kept < min_kept) else cutoff * factor
        n_adjust += 1
    return ZeroThreshold(cutoff=cutoff, kept=top > cutoff, n_adjustments=n_adjust)


# ------------------------------------------------------------------------- one VI fit


@dataclass(frozen=True)
class VariationalFit:
    """One coordinate-ascent run on the scaled data X (N × p), K = ``max_components``."""

    stick_a: np.ndarray  # (K-1,) Beta parameters of v_k
    stick_b: np.ndarray  # (K-1,)
    dof: np.ndarray  # (K,) Wishart ν_k
    scale: np.ndarray  # (K, p, p) Wishart W_k
    resp: np.ndarray  # (N, K) responsibilities r_ik of the last E-step
    elbo: np.ndarray  # (n_iter,) ELBO after each sweep
    converged: bool

    @property
    def n_iter(self) -> int:
        return len(self.elbo)

    @property
    def weights(self) -> np.ndarray:
        """E[π] under q: v̄_k = a_k/(a_k + b_k), v̄_K = 1, π̄_k = v̄_k Π_{j<k}(1 − v̄_j)."""
        v = np.r_[self.stick_a / (self.stick_a + self.stick_b), 1.0]
        return v * np.r_[1.0, np.cumprod(1.0 - v[:-1])]

    @property
    def covariances(self) -> np.ndarray:
        """(K, p, p) Σ_k = (ν_k W_k)⁻¹, the inverse of the posterior-mean precision."""
        return np.linalg.inv(self.dof[:, None, None] * self.scale)


def _as_matrix(effects) -> np.ndarray:
    effects = np.asarray(effects, dtype=np.float64)
    if effects.ndim == 1:
        effects = effects[:, None]
    if effects.ndim != 2 or effects.shape[0] == 0:
        raise ValueError("`effects` must be an (n_variants, n_traits) array with rows")
    if not np.all(np.isfinite(effects)):
        raise ValueError("`effects` must be finite (no NaN or inf)")
    return effects


def _log_wishart_norm(logdet_scale, dof, p):
    """ln B_W(W, ν) = −(ν/2) ln|W| − (νp/2) ln 2 − ln Γ_p(ν/2)."""
    i = np.arange(1, p + 1)
    log_gamma_p = p * (p - 1) / 4 * np.log(np.pi) + gammaln((dof[..., None] + 1 - i) / 2).sum(-1)
    return -0.5 * dof * logdet_scale - 0.5 * dof * p * LN2 - log_gamma_p


def _expected_logdet(dof, logdet_scale, p):
    i = np.arange(1, p + 1)
    return digamma((dof[:, None] + 1 - i) / 2).sum(1) + p * LN2 + logdet_scale


def _expected_log_weights(stick_a, stick_b):
    total = digamma(stick_a + stick_b)
    log_v, log_1mv = digamma(stick_a) - total, digamma(stick_b) - total
    return np.r_[log_v, 0.0] + np.r_[0.0, np.cumsum(log_1mv)], log_v, log_1mv


class _Sweeper:
    """The E- and M-steps of the model on fixed data and hyperparameters (kernels in `_vi`)."""

    def __init__(self, X, concentration, dof_prior, scale_prior):
        from lmmlasso_cli.mlmages import _vi  # numba compiles on first use only

        self.kernels = _vi
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.p = X.shape[1]
        self.alpha = float(concentration)
        self.dof0 = float(dof_prior)
        self.W0 = scale_prior
        self.W0_inv = np.linalg.inv(scale_prior)
        self.logdet_W0 = np.linalg.slogdet(scale_prior)[1]

    def e_step(self, stick_a, stick_b, dof, scale):
        """Responsibilities (N, K) and Σ r ln r."""
        p, K = self.p, len(dof)
        chol = np.ascontiguousarray(np.linalg.cholesky(scale))  # W_k = L Lᵀ
        logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1)
        log_pi = _expected_log_weights(stick_a, stick_b)[0]
        log_const = log_pi + 0.5 * _expected_logdet(dof, logdet, p) - 0.5 * p * LN2PI
        resp = np.empty((self.X.shape[0], K))
        r_log_r = self.kernels.e_step(self.X, chol, np.ascontiguousarray(dof), log_const, resp)
        return resp, r_log_r

    def m_step(self, resp):
        K = resp.shape[1]
        counts, scatter = np.empty(K), np.empty((K, self.p, self.p))
        self.kernels.scatter(self.X, np.ascontiguousarray(resp), counts, scatter)
        stick_a = 1.0 + counts[:-1]
        stick_b = self.alpha + (counts.sum() - np.cumsum(counts))[:-1]
        dof = self.dof0 + counts
        scale_inv = self.W0_inv + scatter
        scale = np.linalg.inv(0.5 * (scale_inv + np.swapaxes(scale_inv, 1, 2)))
        scale = 0.5 * (scale + np.swapaxes(scale, 1, 2))
        return (stick_a, stick_b, dof, scale), counts, scatter

    def elbo(self, r_log_r, counts, scatter, stick_a, stick_b, dof, scale) -> float:
        p = self.p
        logdet = np.linalg.slogdet(scale)[1]
        e_logdet = _expected_logdet(dof, logdet, p)
        log_pi, log_v, log_1mv = _expected_log_weights(stick_a, stick_b)
        trace_ws = np.einsum("kpq,kqp->k", scale, scatter)
        e_log_px = np.sum(0.5 * counts * e_logdet - 0.5 * counts * p * LN2PI - 0.5 * dof * trace_ws)
        e_log_pz = np.sum(counts * log_pi)
        log_beta_prior = gammaln(1.0) + gammaln(self.alpha) - gammaln(1.0 + self.alpha)
        e_log_pv = np.sum(-log_beta_prior + (self.alpha - 1.0) * log_1mv)
        norm0 = _log_wishart_norm(self.logdet_W0, np.array(self.dof0), p)
        trace_w0 = np.einsum("pq,kqp->k", self.W0_inv, scale)
        e_log_plam = np.sum(norm0 + 0.5 * (self.dof0 - p - 1) * e_logdet - 0.5 * dof * trace_w0)
        e_log_qz = r_log_r
        log_beta_q = gammaln(stick_a) + gammaln(stick_b) - gammaln(stick_a + stick_b)
        e_log_qv = np.sum(-log_beta_q + (stick_a - 1) * log_v + (stick_b - 1) * log_1mv)
        e_log_qlam = np.sum(
            _log_wishart_norm(logdet, dof, p) + 0.5 * (dof - p - 1) * e_logdet - 0.5 * dof * p
        )
        return float(e_log_px + e_log_pz + e_log_pv + e_log_plam - e_log_qz - e_log_qv - e_log_qlam)


def initial_parameters(n_traits: int, max_components: int, rng: np.random.Generator):
    """The original's random start: a_k, b_k ~ U(0, 1); ν_k uniform on {p, …, p+7}; for k < p
    W_k = diag(2, …, 0.02 at k, …, 2) (wide along trait k), otherwise W_k = CCᵀ / max(CCᵀ) with
    C = (U(p×p) − ½)·randint(1, 10)."""
    p, K = n_traits, max_components
    stick_a, stick_b = rng.random(K - 1), rng.random(K - 1)
    dof = rng.integers(p, p + 8, size=K).astype(np.float64)
    scale = np.empty((K, p, p))
    for k in range(K):
        if k < p:
            diag = np.full(p, 2.0)
            diag[k] = 0.02
            scale[k] = np.diag(diag)
        else:
            C = (rng.random((p, p)) - 0.5) * rng.integers(1, 10)
            CC = C @ C.T
            scale[k] = CC / np.max(CC) + JITTER * np.eye(p)
    return stick_a, stick_b, dof, scale


def fit_variational(
    X: np.ndarray,
    max_components: int = 20,
    concentration: float = 0.5,
    dof_prior: float | None = None,
    scale_prior: np.ndarray | None = None,
    tol: float = 1e-3,
    max_iter: int = 1000,
    seed=None,
    init_resp: np.ndarray | None = None,
) -> VariationalFit:
    """One coordinate-ascent run of the model in the module docstring on X (N × p) as given
    (no scaling). It starts from `initial_parameters` drawn with ``seed`` (an int,
    SeedSequence or Generator), or from an M-step on ``init_resp`` (N × K) when given.
    ``dof_prior`` defaults to max(5, p); ``scale_prior`` (W₀) to I."""
    X = _as_matrix(X)
    n, p = X.shape
    K = int(max_components)
    if K < 1:
        raise ValueError(f"`max_components` must be at least 1, got {max_components}")
    if dof_prior is None:
        dof_prior = max(5.0, float(p))
    if dof_prior <= p - 1:
        raise ValueError(f"`dof_prior` must exceed n_traits - 1 = {p - 1}, got {dof_prior}")
    W0 = np.eye(p) if scale_prior is None else np.asarray(scale_prior, dtype=np.float64)
    sweeper = _Sweeper(X, concentration, dof_prior, W0)
    if init_resp is not None:
        resp = np.asarray(init_resp, dtype=np.float64)
        if resp.shape != (n, K):
            raise ValueError(f"`init_resp` must have shape ({n}, {K}), got {resp.shape}")
        params = sweeper.m_step(resp)[0]
    else:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        params = initial_parameters(p, K, rng)
    elbo, converged = [], False
    for it in range(max_iter):
        resp, r_log_r = sweeper.e_step(*params)
        params, counts, scatter = sweeper.m_step(resp)
        elbo.append(sweeper.elbo(r_log_r, counts, scatter, *params))
        if it >= 2 and abs(elbo[-1] - elbo[-2]) < tol:
            converged = True
            break
    stick_a, stick_b, dof, scale = params
    return VariationalFit(stick_a, stick_b, dof, scale, resp, np.array(elbo), converged)


# ------------------------------------------------------------------------- restarts, K


@dataclass(frozen=True)
class MixtureFit:
    """The chosen mixture, on the input scale, components ordered by trace(Σ), widest first.

    Variants with every |effect| ≤ ``zero_cutoff`` are set aside: label −1, probability NaN.
    """

    covariances: np.ndarray  # (n_components, n_traits, n_traits)
    weights: np.ndarray  # (n_components,) renormalised E[π]
    labels: np.ndarray  # (n_variants,) int, 0-based component, −1 = set aside
    probabilities: np.ndarray  # (n_variants,) plug-in posterior of the label, NaN if set aside
    kept: np.ndarray  # (n_variants,) bool, clustered (not set aside)
    zero_cutoff: float
    data_scale: float  # s: the VI saw s·effects, so its W₀ = I is in those units
    bic: float  # of the chosen run
    chosen_run: int
    run_n_components: np.ndarray  # (restarts,) kept K of each run
    run_bic: np.ndarray  # (restarts,)
    run_n_iter: np.ndarray  # (restarts,)
    run_converged: np.ndarray  # (restarts,) bool
    settings: dict  # the arguments of `fit_mixture`, for the artifact

    @property
    def n_components(self) -> int:
        return len(self.weights)

    @property
    def n_traits(self) -> int:
        return self.covariances.shape[1]

    @property
    def counts(self) -> np.ndarray:
        """(n_components,) number of variants labelled with each component."""
        return np.bincount(self.labels[self.labels >= 0], minlength=self.n_components)


def mixture_log_density(x: np.ndarray, covariances: np.ndarray, weights: np.ndarray):
    """(N, K) ln π_k + ln N(x_i; 0, Σ_k)."""
    x = _as_matrix(x)
    p = x.shape[1]
    chol = np.linalg.cholesky(covariances)  # Σ = L Lᵀ: xᵀΣ⁻¹x = |L⁻¹x|²
    out = np.empty((x.shape[0], len(weights)))
    for k in range(len(weights)):
        z = np.linalg.solve(chol[k], x.T)
        half_logdet = np.log(np.diag(chol[k])).sum()
        out[:, k] = np.log(weights[k]) - 0.5 * (z * z).sum(0) - half_logdet - 0.5 * p * LN2PI
    return out


@dataclass(frozen=True)
class _Run:
    covariances: np.ndarray
    weights: np.ndarray
    bic: float
    n_iter: int
    converged: bool


def _summarise_run(fit: VariationalFit, X: np.ndarray, data_scale: float, weight_mass: float):
    weights = fit.weights
    order = np.argsort(-weights, kind="stable")
    n_keep = int(np.searchsorted(np.cumsum(weights[order]), weight_mass, side="right")) + 1
    keep = order[: min(n_keep, len(order))]
    cov = fit.covariances[keep] / data_scale**2
    w = weights[keep] / weights[keep].sum()
    by_trace = np.argsort(-np.trace(cov, axis1=1, axis2=2), kind="stable")
    cov, w = cov[by_trace], w[by_trace]
    n, p = X.shape
    loglik = float(logsumexp(mixture_log_density(X / data_scale, cov, w), axis=1).sum())
    bic = np.log(n) * len(w) * (1 + p * (p + 1) / 2) - 2.0 * loglik
    return _Run(cov, w, float(bic), fit.n_iter, fit.converged)


def _restart(child, X, data_scale, options, weight_mass) -> _Run:
    """One seeded run on the scaled data, summarised; module level so process pools can map it."""
    fit = fit_variational(X * data_scale, *options, seed=child)
    return _summarise_run(fit, X, data_scale, weight_mass)


def choose_n_components(run_k: np.ndarray) -> int:
    """The original's rule: the most frequent K (ties to the larger); if that is 1, the smallest
    K > 1 that some run produced (1 only when every run gave 1)."""
    freq = Counter(int(k) for k in run_k)
    top = max(freq.values())
    chosen = max(k for k, f in freq.items() if f == top)
    if chosen == 1:
        larger = [k for k in freq if k > 1]
        if larger:
            chosen = min(larger)
    return chosen


def fit_mixture(
    effects: np.ndarray,
    max_components: int = 20,
    concentration: float = 0.5,
    restarts: int = 25,
    seed: int = 0,
    tol: float = 1e-3,
    max_iter: int = 1000,
    weight_mass: float = 0.99,
    dof_prior: float | None = None,
    min_kept: int = MIN_KEPT,
    max_kept: int | None = None,
    zero_cutoff: float | None = None,
    map_fn=map,
) -> MixtureFit:
    """Cluster the variants' effects (n_variants × n_traits) with the DP mixture of the module
    docstring: set aside the near-zero rows (`zero_threshold` with ``min_kept``/``max_kept``,
    or every row with all |effect| ≤ ``zero_cutoff`` when given), scale, fit ``restarts`` runs
    seeded by ``SeedSequence(seed).spawn(restarts)`` through ``map_fn`` (any map-like
    callable; the result does not depend on it), choose K and the run, and label every kept
    variant by its plug-in posterior. Warns `ConvergenceWarning` if the chosen run did not
    reach ``tol`` within ``max_iter`` sweeps."""
    effects = _as_matrix(effects)
    if restarts < 1:
        raise ValueError(f"`restarts` must be at least 1, got {restarts}")
    if not 0.0 < weight_mass <= 1.0:
        raise ValueError(f"`weight_mass` must be in (0, 1], got {weight_mass}")
    if zero_cutoff is None:
        threshold = zero_threshold(effects, min_kept=min_kept, max_kept=max_kept)
        cutoff, kept = threshold.cutoff, threshold.kept
    else:
        cutoff = float(zero_cutoff)
        kept = np.max(np.abs(effects), axis=1) > cutoff
    X = effects[kept]
    if X.shape[0] < 2:
        raise ValueError(
            f"only {X.shape[0]} variant(s) have some |effect| above the zero cutoff {cutoff:.3g}; "
            f"lower `zero_cutoff` or `min_kept`"
        )
    sd = X.std(axis=0)
    if not np.all(sd > 0):
        raise ValueError("a trait's effects are constant among the kept variants; drop the trait")
    data_scale = 1.0 / float(np.mean(sd))
    seeds = np.random.SeedSequence(seed).spawn(restarts)

    one_run = functools.partial(
        _restart,
        X=X,
        data_scale=data_scale,
        options=(max_components, concentration, dof_prior, None, tol, max_iter),
        weight_mass=weight_mass,
    )
    runs = list(map_fn(one_run, seeds))
    run_k = np.array([len(r.weights) for r in runs])
    run_bic = np.array([r.bic for r in runs])
    chosen_k = choose_n_components(run_k)
    candidates = np.flatnonzero(run_k == chosen_k)
    best = int(candidates[np.argmin(run_bic[candidates])])
    run = runs[best]
    if not run.converged:
        warnings.warn(
            f"the chosen mixture run stopped after {run.n_iter} sweeps without |ΔELBO| < {tol:g}; "
            f"raise `max_iter`",
            ConvergenceWarning,
            stacklevel=2,
        )
    log_dens = mixture_log_density(X, run.covariances, run.weights)
    post = np.exp(log_dens - logsumexp(log_dens, axis=1, keepdims=True))
    labels = np.full(effects.shape[0], -1, dtype=np.int64)
    probs = np.full(effects.shape[0], np.nan)
    labels[kept] = np.argmax(post, axis=1)
    probs[kept] = np.max(post, axis=1)
    settings = {
        "max_components": int(max_components),
        "concentration": float(concentration),
        "restarts": int(restarts),
        "seed": seed,
        "tol": float(tol),
        "max_iter": int(max_iter),
        "weight_mass": float(weight_mass),
        "dof_prior": float(max(5.0, effects.shape[1]) if dof_prior is None else dof_prior),
        "min_kept": int(min_kept),
        "max_kept": max_kept,
    }
    return MixtureFit(
        covariances=run.covariances,
        weights=run.weights,
        labels=labels,
        probabilities=probs,
        kept=kept,
        zero_cutoff=cutoff,
        data_scale=data_scale,
        bic=run.bic,
        chosen_run=best,
        run_n_components=run_k,
        run_bic=run_bic,
        run_n_iter=np.array([r.n_iter for r in runs]),
        run_converged=np.array([r.converged for r in runs]),
        settings=settings,
    )
