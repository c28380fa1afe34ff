"""P-values of Q = Σ λ_k χ²₁: Liu, Imhof and the saddlepoint-contour inversion."""

import numpy as np
import pytest
from scipy import stats

from lmmlasso_cli.mlmages import quadform
from lmmlasso_cli.mlmages.quadform import contour_sf, imhof_sf, liu_sf, quadform_sf, saddlepoint

IMHOF_ATOL = 1e-10  # Imhof's integral is exact up to an absolute quadrature error
CONTOUR_RTOL = 1e-8  # the contour inversion is exact up to a relative quadrature error
LIU_RTOL_EXACT = 1e-10  # Liu is exact for equal weights
LIU_RTOL_MODERATE = 0.15  # Liu's known moment-match error for 1e-3 < p < 0.5
MC_DRAWS = 400_000


def _paired_sf(q, a, b):
    """Weights (a, a, b, b): a·χ²₂ + b·χ²₂ = 2a·Exp + 2b·Exp, a hypoexponential sum with
    P(Q > q) = (a e^{−q/2a} − b e^{−q/2b}) / (a − b)."""
    return (a * np.exp(-q / (2 * a)) - b * np.exp(-q / (2 * b))) / (a - b)


def _hypoexponential_sf(q, a):
    """Each distinct weight a_j twice: Σ_j a_j χ²₂ has P(Q > q) = Σ_j c_j e^{−q/2a_j},
    c_j = Π_{l≠j} a_j / (a_j − a_l)."""
    c = [np.prod([a[j] / (a[j] - a[m]) for m in range(len(a)) if m != j]) for j in range(len(a))]
    return np.array([np.sum(np.array(c) * np.exp(-x / (2 * a))) for x in np.atleast_1d(q)])


@pytest.mark.parametrize("n", [2, 7, 40])
def test_equal_weights_give_a_scaled_chi2_for_every_method(n):
    lam = np.full(n, 0.37)
    q = 0.37 * stats.chi2.isf([0.9, 0.5, 1e-2, 1e-6, 1e-15, 1e-40], n)
    exact = stats.chi2.sf(q / 0.37, n)
    np.testing.assert_allclose(liu_sf(q, lam), exact, rtol=LIU_RTOL_EXACT)
    np.testing.assert_allclose(quadform_sf(q, lam, "imhof"), exact, atol=IMHOF_ATOL)
    np.testing.assert_allclose(quadform_sf(q, lam, "contour"), exact, rtol=CONTOUR_RTOL)


def test_exact_methods_match_the_closed_form_of_paired_weights_far_into_the_tail():
    a, b = 2.0, 0.3
    lam = np.array([a, b, a, b])
    q = np.array([0.2, 3.0, 30.0, 150.0, 600.0, 1500.0])
    exact = _paired_sf(q, a, b)
    assert exact[-1] < 1e-150
    np.testing.assert_allclose(quadform_sf(q, lam, "contour"), exact, rtol=CONTOUR_RTOL)
    np.testing.assert_allclose(quadform_sf(q, lam, "imhof"), exact, atol=IMHOF_ATOL)
    # Liu is only a moment match: far in the tail it is off by orders of magnitude
    assert liu_sf(600.0, lam) / exact[4] > 10 or liu_sf(600.0, lam) / exact[4] < 0.1


def test_contour_matches_twenty_paired_weights_down_to_1e_144():
    a = np.array([3.0, 1.7, 1.1, 0.6, 0.35, 0.2, 0.12, 0.07, 0.04, 0.02])
    lam = np.repeat(a, 2)
    q = np.array([5.0, 20.0, 80.0, 400.0, 2000.0])
    exact = _hypoexponential_sf(q, a)
    assert exact[-1] < 1e-143
    np.testing.assert_allclose(quadform_sf(q, lam, "contour"), exact, rtol=CONTOUR_RTOL)
    np.testing.assert_allclose(quadform_sf(q, lam, "imhof"), exact, atol=IMHOF_ATOL)


def test_liu_and_the_exact_method_agree_with_monte_carlo():
    rng = np.random.default_rng(3)
    lam = np.array([3.0, 1.2, 0.7, 0.2, 0.05])
    draws = (rng.chisquare(1, size=(MC_DRAWS, len(lam))) * lam).sum(1)
    qs = np.quantile(draws, [0.5, 0.9, 0.99, 0.999])
    mc = np.array([(draws > q).mean() for q in qs])
    se = np.sqrt(mc * (1 - mc) / MC_DRAWS)
    exact = quadform_sf(qs, lam, "contour")
    assert np.all(np.abs(exact - mc) < 4 * se)
    liu = liu_sf(qs, lam)
    np.testing.assert_allclose(liu, exact, rtol=LIU_RTOL_MODERATE)
    np.testing.assert_allclose(quadform_sf(qs, lam, "imhof"), exact, atol=IMHOF_ATOL)


def test_imhof_and_contour_agree_on_random_weights():
    rng = np.random.default_rng(11)
    for _ in range(5):
        lam = rng.gamma(0.5, 1.0, size=rng.integers(2, 25))
        q = np.sum(lam) * rng.uniform(0.3, 4.0)
        assert abs(imhof_sf(q, lam) - contour_sf(q, lam)) < IMHOF_ATOL


def test_saddlepoint_solves_the_cgf_equation():
    lam = np.array([2.0, 0.5, 0.1])
    for q in (0.05, 1.0, 2.6, 50.0):
        s = saddlepoint(q, lam)
        assert s < 1 / (2 * lam.max())
        assert np.isclose(np.sum(lam / (1 - 2 * lam * s)), q, rtol=1e-12)


def test_zero_weights_are_dropped_and_bad_input_rejected():
    lam = np.array([1.0, 0.0, 1.0])
    assert np.isclose(contour_sf(3.0, lam), stats.chi2.sf(3.0, 2), rtol=CONTOUR_RTOL)
    assert imhof_sf(-1.0, lam) == 1.0 and contour_sf(0.0, lam) == 1.0
    with pytest.raises(ValueError, match="non-negative"):
        liu_sf(1.0, [1.0, -0.5])
    with pytest.raises(ValueError, match="point mass"):
        contour_sf(1.0, [0.0, 0.0])
    with pytest.raises(ValueError, match="`method` must be one of"):
        quadform_sf(1.0, [1.0], "davies")
    assert quadform.METHODS == ("liu", "imhof", "contour")
