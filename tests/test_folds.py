"""Tests of lmmlasso_cli.selection.folds: splits of individuals and training on one split."""

import numpy as np
import pytest
from conftest import simulate_data

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.selection.folds import (
    TrainingData,
    fit_training,
    kfold_indices,
    replicate_generators,
    subsample_indices,
    subsample_size,
)
from lmmlasso_cli.settings import TrainingSettings


def test_kfold_partitions_with_balanced_sizes():
    folds = kfold_indices(103, 10, np.random.default_rng(3))
    sizes = [len(f) for f in folds]
    assert len(folds) == 10 and max(sizes) - min(sizes) <= 1
    np.testing.assert_array_equal(np.sort(np.concatenate(folds)), np.arange(103))
    assert all(np.all(np.diff(f) > 0) for f in folds)


def test_kfold_is_seeded():
    a = kfold_indices(50, 5, np.random.default_rng(11))
    b = kfold_indices(50, 5, np.random.default_rng(11))
    c = kfold_indices(50, 5, np.random.default_rng(12))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_kfold_rejects_too_many_folds():
    with pytest.raises(InputError, match="cannot make 6 folds.*lower `n_folds`"):
        kfold_indices(11, 6, np.random.default_rng(0))
    with pytest.raises(InputError, match="`n_folds` must be an integer of at least 2"):
        kfold_indices(11, 1, np.random.default_rng(0))


def test_subsample_size_is_ceil_without_replacement():
    idx = subsample_indices(101, 0.5, np.random.default_rng(0))
    assert len(idx) == subsample_size(101, 0.5) == 51
    assert len(np.unique(idx)) == 51 and idx.min() >= 0 and idx.max() < 101
    assert np.all(np.diff(idx) > 0)
    with pytest.raises(InputError, match="`fraction` must be in"):
        subsample_size(10, 0.0)


def test_replicate_generators_depend_only_on_seed_and_index():
    full = [g.random(3) for g in replicate_generators(5, 10, range(10))]
    shard = [g.random(3) for g in replicate_generators(5, 10, range(4, 7))]
    direct = np.random.default_rng(np.random.SeedSequence(5).spawn(10)[6]).random(3)
    for got, want in zip(shard, full[4:7], strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(full[6], direct)


def test_fit_training_ignores_everyone_outside_train():
    data, _ = simulate_data(n=60, p=80)
    train = np.arange(0, 60, 2)
    fit = fit_training(data, train, TrainingSettings(), n_active=3)
    # the transform is fitted on the training values only
    assert fit.transform.mean == pytest.approx(data.y_raw[train].mean(), rel=1e-12)
    y = data.y_raw.copy()
    y[1::2] = 1e6  # only individuals outside train change
    other = fit_training(
        TrainingData(data.X, y, data.covariates, data.K), train, TrainingSettings(), n_active=3
    )
    assert other.null.log_delta == fit.null.log_delta
    np.testing.assert_array_equal(other.lmm.path.coefs.toarray(), fit.lmm.path.coefs.toarray())
    np.testing.assert_array_equal(other.lmm.blup_residual, fit.lmm.blup_residual)


def test_fit_training_rejects_a_constant_training_phenotype():
    data, _ = simulate_data(n=40, p=30)
    y = data.y_raw.copy()
    y[:20] = 1.0
    constant = TrainingData(data.X, y, data.covariates, data.K)
    with pytest.raises(InputError, match="constant over a training set of 20"):
        fit_training(constant, np.arange(20), TrainingSettings(), n_active=2)
