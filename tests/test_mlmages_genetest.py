"""Gene windows, the gene test's statistic and null, ε choice, BH q-values, cluster summaries."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import stats

from lmmlasso_cli.mlmages.genetest import (
    bh_qvalues,
    gene_windows,
    mixture_epsilon,
    run_gene_tests,
    summarize_gene_clusters,
)

KS_ALPHA = 1e-3  # calibration tests fail only for a clearly non-uniform null p-value law


def _brute_windows(gene_chrom, start, end, v_chrom, v_pos, w):
    return [
        sorted(
            np.flatnonzero((v_chrom == c) & (v_pos >= s - w) & (v_pos <= e + w)),
            key=lambda j: (v_pos[j], j),
        )
        for c, s, e in zip(gene_chrom, start, end, strict=True)
    ]


def test_windows_match_a_brute_force_scan_at_chromosome_ends_and_overlaps():
    rng = np.random.default_rng(0)
    v_chrom = np.array(["1"] * 40 + ["2"] * 25)
    v_pos = np.r_[rng.choice(np.arange(1, 5000), 40, replace=False), np.arange(25) * 100 + 1]
    perm = rng.permutation(len(v_pos))  # input need not be sorted by position
    v_chrom, v_pos = v_chrom[perm], v_pos[perm]
    genes = [
        ("ends_low", "1", 1, 50),  # at the chromosome start, window reaches below 1
        ("ends_high", "2", 2390, 9000),  # past the last variant of chromosome 2
        ("overlap_a", "1", 1000, 2500),
        ("overlap_b", "1", 2000, 3500),  # shares variants with overlap_a
        ("exact", "2", 101, 301),  # inclusive bounds: variants at 101, 201, 301
        ("other", "3", 1, 10**6),  # chromosome without variants
    ]
    name, chrom, start, end = (np.array(x) for x in zip(*genes, strict=True))
    for w in (0, 150):
        win = gene_windows(name, chrom, start, end, v_chrom, v_pos, window_bp=w, min_snps=1)
        expected = _brute_windows(chrom, start, end, v_chrom, v_pos, w)
        got = {g: list(win.variants(i)) for i, g in enumerate(win.gene)}
        for g, exp in zip(name, expected, strict=True):
            if exp:
                assert got[g] == exp, g
            else:
                assert g not in got
    win = gene_windows(name, chrom, start, end, v_chrom, v_pos, window_bp=0, min_snps=1)
    assert list(v_pos[win.variants(list(win.gene).index("exact"))]) == [101, 201, 301]
    a, b = (set(win.variants(list(win.gene).index(g))) for g in ("overlap_a", "overlap_b"))
    assert a & b
    assert "other" not in win.gene


def test_min_snps_drops_small_genes_and_counts_them():
    v_chrom = np.array(["1"] * 5)
    v_pos = np.array([10, 20, 30, 40, 50])
    win = gene_windows(
        ["one", "two", "three"], ["1"] * 3, [10, 15, 25], [10, 30, 50], v_chrom, v_pos, 0, 2
    )
    assert list(win.gene) == ["two", "three"] and win.n_too_few == 1
    assert list(win.n_snps) == [2, 3]
    with pytest.raises(ValueError, match="`min_snps`"):
        gene_windows(["g"], ["1"], [1], [2], v_chrom, v_pos, 0, 0)


def test_bh_matches_the_dense_formula_with_ties_and_nan():
    rng = np.random.default_rng(2)
    p = np.r_[rng.uniform(size=40) ** 3, [0.01, 0.01, 0.5, np.nan]]
    m = np.sum(~np.isnan(p))
    dense = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    rank = np.array([np.sum(p[ok] <= x) for x in p[ok]])  # ties share the larger rank
    raw = np.minimum(m * p[ok] / rank, 1)
    dense[ok] = [raw[p[ok] >= x].min() for x in p[ok]]
    np.testing.assert_allclose(bh_qvalues(p), dense, rtol=1e-14)
    assert np.isnan(bh_qvalues(p)[-1])


def test_statistic_and_null_with_identity_ld_is_a_scaled_chi2():
    beta = np.array([0.1, -0.2, 0.05, 0.3, 0.0])
    win = gene_windows(["g"], ["1"], [1], [5], ["1"] * 5, [1, 2, 3, 4, 5], 0, 2)
    eps = 0.02
    for method in ("liu", "imhof", "contour"):
        res = run_gene_tests(beta, win, np.eye(5), eps, method=method)
        q = np.sum(beta**2)
        assert np.isclose(res.stat[0, 0], q)
        assert np.isclose(res.pvalue[0, 0], stats.chi2.sf(q / eps, 5), rtol=1e-8, atol=1e-12)
        assert res.ld_rank[0] == 5


def test_null_pvalues_are_uniform_under_correlated_effects():
    rng = np.random.default_rng(5)
    n_genes, size, eps = 300, 6, 0.04
    n = n_genes * size
    blocks = []
    for _ in range(n_genes):
        A = rng.normal(size=(size, 3 * size))
        C = np.corrcoef(A)
        blocks.append(C)
    R = np.zeros((n, n))
    beta = np.empty(n)
    for g, C in enumerate(blocks):
        sl = slice(g * size, (g + 1) * size)
        R[sl, sl] = C
        beta[sl] = rng.multivariate_normal(np.zeros(size), eps * C)
    starts = np.arange(n_genes) * size * 10 + 1
    pos = (np.arange(n) // size) * size * 10 + 1 + np.arange(n) % size
    win = gene_windows(
        [f"g{i}" for i in range(n_genes)], ["1"] * n_genes, starts, starts + size, ["1"] * n, pos
    )
    assert win.n_genes == n_genes
    res = run_gene_tests(beta, win, lambda idx: R[np.ix_(idx, idx)], eps, method="contour")
    assert stats.kstest(res.pvalue[:, 0], "uniform").pvalue > KS_ALPHA
    # an ε ten times too small must break calibration (the test can fail)
    bad = run_gene_tests(beta, win, R, eps / 10, method="liu")
    assert stats.kstest(bad.pvalue[:, 0], "uniform").pvalue < KS_ALPHA
    np.testing.assert_allclose(bh_qvalues(res.pvalue[:, 0]), res.qvalue[:, 0])


def test_several_traits_use_their_own_epsilon():
    rng = np.random.default_rng(1)
    beta = rng.normal(size=(8, 2)) * [0.1, 1.0]
    win = gene_windows(["g"], ["1"], [1], [8], ["1"] * 8, np.arange(1, 9))
    res = run_gene_tests(beta, win, np.eye(8), [0.01, 1.0], trait_names=["A", "B"])
    q = np.sum(beta**2, axis=0)
    np.testing.assert_allclose(res.pvalue[0], stats.chi2.sf(q / [0.01, 1.0], 8), rtol=1e-9)
    assert res.trait_names == ("A", "B")
    with ThreadPoolExecutor(2) as pool:
        pooled = run_gene_tests(beta, win, np.eye(8), [0.01, 1.0], map_fn=pool.map)
    np.testing.assert_array_equal(pooled.pvalue, res.pvalue)
    with pytest.raises(ValueError, match="`epsilon` must be positive"):
        run_gene_tests(beta, win, np.eye(8), [0.01, 0.0])


def test_mixture_epsilon_follows_the_original_rule():
    cov = np.array([[[0.1]], [[5.0]], [[1.0]]])  # not in variance order on purpose
    assert mixture_epsilon(cov, np.array([0.3, 0.5, 0.2])) == 1.0  # second widest
    assert mixture_epsilon(cov, np.array([0.3, 0.005, 0.695])) == 0.1  # widest ≤ 1%: third
    assert mixture_epsilon(cov[:2], np.array([0.5, 0.005])) == 0.1  # too few: smallest left
    null = np.array([True, False, False])
    assert mixture_epsilon(cov, np.ones(3) / 3, rule="smallest-nonnull", null_mask=null) == 1.0
    two = np.array([[[4.0, 0.0], [0.0, 0.2]], [[1.0, 0.0], [0.0, 3.0]]])
    assert mixture_epsilon(two, np.array([0.5, 0.5]), trait=1) == 0.2


def test_cluster_summary_counts_every_variant_and_sums_the_right_cluster():
    # 6 variants, 2 traits; types per variant; the original's off-by-one would put the
    # |β| of cluster 1 under the previous (here: the last) cluster
    beta = np.array([[1.0, -2.0], [0.5, 0.1], [-3.0, 4.0], [0.2, 0.2], [0.0, 0.0], [1.0, 1.0]])
    vtypes = np.array(
        ["specific:A", "specific:A", "shared:A+B", "none", "none", "specific:B"], dtype=object
    )
    traits = {"specific:A": (0,), "specific:B": (1,), "shared:A+B": (0, 1), "none": ()}
    win = gene_windows(["g1", "g2"], ["1", "1"], [1, 3], [4, 6], ["1"] * 6, np.arange(1, 7))
    s = summarize_gene_clusters(win, beta, vtypes, traits)
    assert s.types == ("specific:A", "specific:B", "shared:A+B", "none")
    np.testing.assert_allclose(s.fraction[0], [2 / 4, 0, 1 / 4, 1 / 4])
    np.testing.assert_allclose(s.fraction[1], [0, 1 / 4, 1 / 4, 2 / 4])
    np.testing.assert_allclose(s.abs_sum[0], [1.5, 0.0, 7.0, 0.0])
    np.testing.assert_allclose(s.abs_sum[1], [0.0, 1.0, 7.0, 0.0])
    np.testing.assert_allclose(s.abs_sum_specific, [1.5, 1.0])
    np.testing.assert_allclose(s.abs_sum_shared, [7.0, 7.0])
    with pytest.raises(ValueError, match="absent from `type_traits`"):
        summarize_gene_clusters(win, beta, np.array(["x"] * 6, dtype=object), traits)
