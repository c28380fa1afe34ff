"""Upper-tail probabilities of Q = Σ_k λ_k χ²₁ (independent, λ_k ≥ 0), three ways.

- ``liu``: Liu, Tang and Zhang (2009). With c_j = Σ λ_k^j, s₁ = c₃/c₂^{3/2}, s₂ = c₄/c₂²:
  if s₁² > s₂, a = 1/(s₁ − √(s₁² − s₂)), δ = s₁a³ − a², l = a² − 2δ; else a = 1/s₁, δ = 0,
  l = 1/s₁². Then P(Q > q) ≈ P(χ²_l(δ) > (q − c₁)/√(2c₂)·√2·a + l + δ). Exact when all λ are
  equal (then Q/λ ~ χ²_n); a moment match otherwise, whose relative error grows in the far tail.
- ``imhof``: Imhof (1961), the Gil-Pelaez inversion of the characteristic function,
  P(Q > q) = ½ + (1/π) ∫₀^∞ sin θ(u) / (u ρ(u)) du, θ(u) = ½ Σ arctan(λ_k u) − ½ q u,
  ρ(u) = Π (1 + λ_k² u²)^{1/4}, by adaptive quadrature (scipy.integrate.quad). Exact up to an
  absolute error of about 1e-11, so p-values below ~1e-9 are not resolved.
- ``contour``: the same inversion along the vertical line Re s = ŝ through the saddlepoint
  (K'(ŝ) = q, K(s) = −½ Σ ln(1 − 2λ_k s) the cumulant generating function):
  P(Q > q) = (1/π) ∫₀^∞ Re[exp(K(ŝ + it) − (ŝ + it) q) / (ŝ + it)] dt for ŝ > 0 (and 1 + the
  same integral for ŝ < 0). On that line the integrand does not oscillate near t = 0 and
  carries the factor exp(K(ŝ) − ŝq), so the quadrature has a *relative* error of about 1e-9
  however small the p-value (down to ~1e-300). This plays the role of Davies' (1980)
  algorithm, which is not implemented here.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, optimize, stats

METHODS = ("liu", "imhof", "contour")
QUAD_LIMIT = 2000
REL_TOL = 1e-10
QAWF_CYCLES = 400
IMHOF_ABS_TOL = 1e-13
CONTOUR_ABS_TOL = 1e-12  # relative to the integrand at t = 0, i.e. relative to the p-value


def _check(lambdas) -> np.ndarray:
    lam = np.asarray(lambdas, dtype=np.float64).ravel()
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ValueError("`lambdas` must be a non-empty finite array")
    if np.any(lam < 0):
        raise ValueError("`lambdas` must be non-negative (clip the eigenvalues at 0)")
    lam = lam[lam > 0]
    if lam.size == 0:
        raise ValueError("every weight in `lambdas` is zero: the null distribution is a point mass")
    return lam


def liu_sf(q, lambdas) -> np.ndarray:
    """P(Q > q) by Liu, Tang and Zhang's moment match (module docstring); ``q`` array-like."""
    lam = _check(lambdas)
    q = np.asarray(q, dtype=np.float64)
    c1, c2, c3, c4 = (np.sum(lam**j) for j in (1, 2, 3, 4))
    s1, s2 = c3 / c2**1.5, c4 / c2**2
    if s1 * s1 > s2:
        a = 1.0 / (s1 - np.sqrt(s1 * s1 - s2))
        delta = s1 * a**3 - a * a
        dof = a * a - 2.0 * delta
    else:
        a, delta, dof = 1.0 / s1, 0.0, 1.0 / (s1 * s1)
    x = (q - c1) / np.sqrt(2.0 * c2) * np.sqrt(2.0) * a + dof + delta
    if delta > 0:
        return stats.ncx2.sf(x, dof, delta)
    return stats.chi2.sf(x, dof)


def _oscillatory(head, f_cos, f_sin, omega: float, split: float, epsabs: float) -> float:
    """∫₀^split head(u) du + ∫_split^∞ [f_cos(u) cos(ωu) + f_sin(u) sin(ωu)] du, the tail by
    QUADPACK's Fourier-integral rule (QAWF), which handles slowly decaying oscillations."""
    total = integrate.quad(head, 0.0, split, limit=QUAD_LIMIT, epsabs=epsabs, epsrel=REL_TOL)[0]
    for f, weight in ((f_cos, "cos"), (f_sin, "sin")):
        total += integrate.quad(
            f, split, np.inf, weight=weight, wvar=omega, limlst=QAWF_CYCLES, epsabs=epsabs
        )[0]
    return total


def imhof_sf(q: float, lambdas) -> float:
    """P(Q > q) by Imhof's integral (module docstring)."""
    lam = _check(lambdas)
    q = float(q)
    if q <= 0:
        return 1.0
    omega = 0.5 * q

    def phase_and_rho(u):
        return 0.5 * np.sum(np.arctan(lam * u)), u * np.exp(0.25 * np.sum(np.log1p((lam * u) ** 2)))

    def head(u):
        if u == 0.0:
            return 0.5 * (lam.sum() - q)
        phi, u_rho = phase_and_rho(u)
        return np.sin(phi - omega * u) / u_rho

    def f_cos(u):  # sin θ = sin φ cos ωu − cos φ sin ωu
        phi, u_rho = phase_and_rho(u)
        return np.sin(phi) / u_rho

    def f_sin(u):
        phi, u_rho = phase_and_rho(u)
        return -np.cos(phi) / u_rho

    value = _oscillatory(head, f_cos, f_sin, omega, 1.0 / lam.max(), IMHOF_ABS_TOL)
    return float(min(max(0.5 + value / np.pi, 0.0), 1.0))


def _cgf_derivs(s: float, lam: np.ndarray):
    t = 1.0 - 2.0 * lam * s
    return -0.5 * np.sum(np.log(t)), np.sum(lam / t), np.sum(2.0 * lam * lam / (t * t))


def saddlepoint(q: float, lambdas) -> float:
    """ŝ with K'(ŝ) = q, in (−∞, 1/(2 max λ))."""
    lam = _check(lambdas)
    lmax = lam.max()
    lo = -len(lam) / q  # K'(lo) ≤ n/(2|lo|) = q/2
    t = lmax / (2.0 * q)
    hi = (1.0 - t) / (2.0 * lmax) if t < 1.0 else 0.0  # K'(hi) ≥ 2q, or K'(0) = Σλ > q
    return optimize.brentq(lambda s: _cgf_derivs(s, lam)[1] - q, lo, hi, xtol=1e-300, rtol=1e-15)


def contour_sf(q: float, lambdas) -> float:
    """P(Q > q) by inversion along the saddlepoint line (module docstring)."""
    lam = _check(lambdas)
    q = float(q)
    if q <= 0:
        return 1.0
    sd = np.sqrt(2.0 * np.sum(lam * lam))
    c = saddlepoint(q, lam)
    if abs(c) * sd < 0.5:  # near the mean: step off the pole at s = 0 (p-value ~ 1/2 there)
        c = 0.5 / sd
    k0 = _cgf_derivs(c, lam)[0]

    def g(t):  # exp(K(c + it) − K(c)) / (c + it), smooth; the oscillation is exp(−itq)
        s = complex(c, t)
        return np.exp(-0.5 * np.sum(np.log(1.0 - 2.0 * lam * s)) - k0) / s

    def head(t):
        return (g(t) * np.exp(-1j * t * q)).real

    scale = 1.0 / np.sqrt(_cgf_derivs(c, lam)[2])  # width of the integrand's central bump
    total = _oscillatory(
        head, lambda t: g(t).real, lambda t: g(t).imag, q, 8.0 * scale, CONTOUR_ABS_TOL * abs(g(0))
    )
    value = np.exp(k0 - c * q) * total / np.pi
    if c < 0:
        value = 1.0 + value
    return float(min(max(value, 0.0), 1.0))


def quadform_sf(q, lambdas, method: str = "liu") -> np.ndarray:
    """P(Σ λ_k χ²₁ > q) for each q by ``method`` in `METHODS`."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "liu":
        return np.asarray(liu_sf(q, lambdas), dtype=np.float64)
    fn = imhof_sf if method == "imhof" else contour_sf
    q = np.asarray(q, dtype=np.float64)
    return np.vectorize(lambda x: fn(x, lambdas), otypes=[np.float64])(q)
