"""Compact genotypes against the dense standardized matrix they stand for."""

import numba
import numpy as np
import pytest

from lmmlasso_cli.compact import CompactGenotypes, code_counts
from lmmlasso_cli.genotypes import snp_stats, standardize
from lmmlasso_cli.lmmlasso import duplicate_columns, fit_lmm_lasso
from lmmlasso_cli.nullmodel import eigendecompose
from lmmlasso_cli.settings import LassoSettings

RTOL = 1e-12  # dot products summed in another order than BLAS's


def _codes(rng, n, p, missing=0.05):
    freqs = rng.uniform(0.05, 0.5, p)
    codes = rng.binomial(2, freqs, size=(n, p)).astype(np.uint8)
    codes[rng.random((n, p)) < missing] = 3
    return np.asfortranarray(codes)


def _counts(codes):
    counts = codes.astype(np.float64)
    counts[codes == 3] = np.nan
    return counts


@pytest.fixture
def store():
    rng = np.random.default_rng(3)
    codes = _codes(rng, 57, 41)
    stats = snp_stats(_counts(codes))
    return CompactGenotypes.from_codes(codes, stats.means, stats.sds, block_snps=7)


def _dense(store):
    return standardize(_counts(store.codes[store.rows]), store.means, store.sds)


def test_columns_are_the_standardized_values_bit_for_bit(store):
    Z = _dense(store)
    idx = np.array([5, 0, 40, 5, 17])
    assert np.array_equal(store.columns(idx), Z[:, idx])
    assert store.columns(idx).flags.f_contiguous
    assert np.array_equal(store.columns(idx, np.float32), Z[:, idx].astype(np.float32))


def test_products_equal_the_dense_ones(store):
    rng = np.random.default_rng(4)
    Z = _dense(store)
    u = rng.standard_normal(store.n_samples)
    np.testing.assert_allclose(store.tdot(u), Z.T @ u, rtol=RTOL, atol=RTOL)
    U = rng.standard_normal((store.n_samples, 3))
    np.testing.assert_allclose(store.tdot_many(U), Z.T @ U, rtol=RTOL, atol=RTOL)
    v = rng.standard_normal(store.n_snps) * (rng.random(store.n_snps) < 0.5)
    np.testing.assert_allclose(store.dot(v), Z @ v, rtol=RTOL, atol=RTOL)
    V = rng.standard_normal((store.n_snps, 2))
    np.testing.assert_allclose(store.dot(V), Z @ V, rtol=RTOL, atol=RTOL)


@pytest.mark.parametrize("copy_bytes", [0, 1e9])  # select through rows, or copy the subset
def test_rows_keep_the_whole_set_standardization(store, copy_bytes, monkeypatch):
    import lmmlasso_cli.compact as compact

    monkeypatch.setattr(compact, "SUBSET_COPY_BYTES", copy_bytes)
    rows = np.array([9, 2, 30, 31, 0])
    sub = store.take_rows(rows)
    assert np.array_equal(sub.columns(np.arange(sub.n_snps)), _dense(store)[rows])
    assert sub.all_rows == (copy_bytes > 0)
    u = np.random.default_rng(9).standard_normal(rows.size)
    np.testing.assert_allclose(sub.tdot(u), _dense(store)[rows].T @ u, rtol=RTOL, atol=RTOL)
    assert np.array_equal(sub.duplicate_columns(), duplicate_columns(_dense(store)[rows]))
    assert np.array_equal(
        sub.take_rows([1, 3]).columns(np.arange(sub.n_snps)), _dense(store)[[2, 31]]
    )


def test_code_counts_and_stats_match_numpy(store):
    counts = code_counts(store.codes)
    for c in range(4):
        assert np.array_equal(counts[:, c], (store.codes == c).sum(axis=0))
    G = _counts(store.codes)
    means = np.nanmean(G, axis=0)
    sds = np.sqrt(np.nansum((G - means) ** 2, axis=0) / G.shape[0])
    np.testing.assert_allclose(store.means, means, rtol=1e-15)
    np.testing.assert_allclose(store.sds, sds, rtol=1e-14)


def test_duplicates_match_the_dense_search():
    rng = np.random.default_rng(5)
    codes = _codes(rng, 30, 12, missing=0.0)
    codes[:, 7] = codes[:, 2]
    codes[:, 9] = codes[:, 2]
    codes[:, 11] = codes[:, 4]
    stats = snp_stats(_counts(codes))
    store = CompactGenotypes.from_codes(np.asfortranarray(codes), stats.means, stats.sds)
    dup = store.duplicate_columns()
    assert np.flatnonzero(dup).tolist() == [7, 9, 11]
    assert np.array_equal(dup, duplicate_columns(_dense(store)))
    # SNP 10 has SNP 5's codes with two calls swapped: the same standardization, so on the
    # individuals without those two calls it is a copy of SNP 5
    a, b = np.flatnonzero(codes[:, 5] == 0)[0], np.flatnonzero(codes[:, 5] == 2)[0]
    codes[:, 10] = codes[:, 5]
    codes[[a, b], 10] = codes[[b, a], 5]
    stats = snp_stats(_counts(codes))
    store = CompactGenotypes.from_codes(np.asfortranarray(codes), stats.means, stats.sds)
    rows = np.setdiff1d(np.arange(30), [a, b])
    assert not store.duplicate_columns()[10]
    sub = store.take_rows(rows)
    assert sub.duplicate_columns()[10]
    assert np.array_equal(sub.duplicate_columns(), duplicate_columns(_dense(store)[rows]))


def test_results_do_not_depend_on_the_thread_count(store):
    u = np.random.default_rng(6).standard_normal(store.n_samples)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = store.tdot(u)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = store.tdot(u)
    finally:
        numba.set_num_threads(before)
    assert one.tobytes() == two.tobytes()


def test_lmm_lasso_on_compact_genotypes_reaches_the_dense_optimum():
    rng = np.random.default_rng(7)
    n, p = 80, 60
    codes = _codes(rng, n, p)
    stats = snp_stats(_counts(codes))
    store = CompactGenotypes.from_codes(codes, stats.means, stats.sds)
    Z = _dense(store)
    K = Z @ Z.T / p + 0.05 * np.eye(n)
    eig = eigendecompose(K)
    y = Z[:, :3] @ np.array([1.0, -0.5, 0.8]) + rng.standard_normal(n)
    C = np.ones((n, 1))
    lasso = LassoSettings(tol=1e-10)
    a = fit_lmm_lasso(store, y, C, eig, 0.3, mu=2.0, lasso=lasso)
    b = fit_lmm_lasso(Z, y, C, eig, 0.3, mu=2.0, lasso=lasso)
    assert a.path.converged.all() and b.path.converged.all()
    # both certified: objectives within the two gaps
    assert abs(a.path.objectives[0] - b.path.objectives[0]) <= a.path.gaps[0] + b.path.gaps[0]
    np.testing.assert_allclose(a.path.coefs.toarray(), b.path.coefs.toarray(), atol=1e-5)


def test_read_codes_agree_with_the_float_reader():
    from pathlib import Path

    from lmmlasso_cli.io.plink import GenotypeReader, read_plink

    plink = read_plink(str(Path(__file__).parents[1] / "data" / "toy" / "toy"))
    rows = np.arange(plink.n_samples)[::-3]
    idx = np.arange(0, plink.n_snps, 5)
    flipped = np.arange(len(idx)) % 4 == 1
    with GenotypeReader(plink, rows) as reader:
        counts = reader.read(idx).astype(np.float64)
        codes = reader.read_codes(idx, flipped)
    assert codes.dtype == np.uint8 and codes.flags.f_contiguous
    assert (codes == 3).any()
    counts[:, flipped] = 2.0 - counts[:, flipped]
    assert np.array_equal(np.where(codes == 3, np.nan, codes), counts, equal_nan=True)


def test_duplicates_survive_hash_collisions(monkeypatch):
    """Every hash equal: the exact comparison alone must find the copies."""
    import lmmlasso_cli.compact_kernels as kernels

    rng = np.random.default_rng(8)
    codes = _codes(rng, 25, 10, missing=0.0)
    codes[:, 6] = codes[:, 3]
    codes[:, 8] = codes[:, 0]
    codes[:, 9] = codes[:, 3]
    stats = snp_stats(_counts(codes))
    store = CompactGenotypes.from_codes(np.asfortranarray(codes), stats.means, stats.sds)

    def collide(codes, rows, out):
        out[:] = 7

    monkeypatch.setattr(kernels, "column_hashes", collide)
    assert np.flatnonzero(store.duplicate_columns()).tolist() == [6, 8, 9]


@pytest.mark.parametrize("share", [0.1, 0.6, 1.0])  # through rows, or every row with u padded
def test_subset_products_match_the_dense_rows_whatever_the_path(store, share, monkeypatch):
    import lmmlasso_cli.compact as compact

    monkeypatch.setattr(compact, "SUBSET_COPY_BYTES", 0)
    rng = np.random.default_rng(11)
    rows = rng.permutation(store.n_samples)[: max(2, int(share * store.n_samples))]
    rows = np.append(rows, rows[0])  # a row listed twice counts twice
    sub = store.take_rows(rows)
    assert not sub.all_rows
    padded = rows.size >= compact.PADDED_MIN_SHARE * store.n_samples
    assert padded == (share > compact.PADDED_MIN_SHARE)
    u = rng.standard_normal(rows.size)
    np.testing.assert_allclose(sub.tdot(u), _dense(store)[rows].T @ u, rtol=RTOL, atol=RTOL)
    counts = code_counts(store.codes, rows)
    for c in range(4):
        assert np.array_equal(counts[:, c], (store.codes[rows] == c).sum(axis=0))
