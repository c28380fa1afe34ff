import numpy as np
import pytest
from scipy import stats

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.transforms import check_phenotype, fit_transform


def test_standardize_ddof0_and_inverse():
    y = np.array([1.0, 2.0, 4.0, 7.0])
    t = fit_transform(y, "standardize")
    z = t.apply(y)
    assert z.mean() == pytest.approx(0, abs=1e-15) and z.std() == pytest.approx(1)
    np.testing.assert_allclose(t.invert(z), y)


def test_boxcox_matches_scipy_then_standardized():
    y = np.random.default_rng(0).lognormal(size=200)
    t = fit_transform(y, "boxcox")
    bc, lam = stats.boxcox(y)
    assert t.boxcox_lambda == pytest.approx(lam)
    np.testing.assert_allclose(t.apply(y), (bc - bc.mean()) / bc.std(), atol=1e-12)
    with pytest.raises(InputError, match="Box-Cox needs positive values"):
        fit_transform(np.array([1.0, -1.0, 2.0]), "boxcox", "q")


def test_rint_matches_rank_formula_with_ties():
    y = np.array([3.0, 1.0, 2.0, 2.0, 10.0])
    expected = stats.norm.ppf((stats.rankdata(y) - 0.5) / len(y))
    np.testing.assert_allclose(fit_transform(y, "rint").apply(y), expected, atol=1e-12)


def test_constant_and_missing_phenotypes_rejected():
    with pytest.raises(InputError, match="is constant"):
        check_phenotype(np.array([2.0, 2.0, np.nan]), "q", "f")
    with pytest.raises(InputError, match="missing for every"):
        check_phenotype(np.array([np.nan, np.nan]), "q", "f")
