"""ML-MAGES part 1: LD blocks, features, training data, the network, the elastic net, the IO."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from lmmlasso_cli.errors import ArtifactError, InputError
from lmmlasso_cli.gwas import prepare_scan, wald_fixed
from lmmlasso_cli.mlmages import ld as ldmod
from lmmlasso_cli.mlmages.enet import EnetSettings, enet_block
from lmmlasso_cli.mlmages.features import block_features, feature_names, top_neighbours
from lmmlasso_cli.mlmages.ld import BlockPartition, block_ld, find_ld_blocks, ld_profile
from lmmlasso_cli.mlmages.mlp import MlpEnsemble, MlpSettings, predict, train_ensemble
from lmmlasso_cli.mlmages.shrink import (
    ShrinkModel,
    genotype_fingerprint,
    phenotype_sd,
    shrink_effects,
)
from lmmlasso_cli.mlmages.training import SimulationGrid, simulate_training_data
from tests._reference import dense_standardize

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*still improving near `max_epochs`"  # the tiny ensembles train for 4 epochs
)

EXACT = 1e-10  # identities that hold up to rounding
WLS_TOL = 2e-3  # Adam's full-batch optimum vs the closed form, relative to the coefficients
KKT_TOL = 1e-5  # elastic-net stationarity, relative to α


def block_genotypes(rng, n, sizes, rho=0.95):
    """Genotypes with independent LD blocks: per block a latent Gaussian AR(1), two haplotypes."""
    cols = []
    for size in sizes:
        freqs = rng.uniform(0.2, 0.5, size)
        thresh = np.quantile(rng.standard_normal(100_000), freqs)
        hap = []
        for _ in range(2):
            z = np.empty((n, size))
            z[:, 0] = rng.standard_normal(n)
            for j in range(1, size):
                z[:, j] = rho * z[:, j - 1] + np.sqrt(1 - rho**2) * rng.standard_normal(n)
            hap.append(z < thresh)
        cols.append(hap[0].astype(float) + hap[1])
    return np.column_stack(cols)


def reader_of(Z):
    return lambda a, b: Z[:, a:b]


@pytest.fixture(scope="module")
def blocky():
    rng = np.random.default_rng(11)
    sizes = [110, 90, 120, 80, 100, 100]  # chr1: the first four, chr2: the last two
    G = block_genotypes(rng, 300, sizes)
    Z = dense_standardize(G)
    chrom = np.array(["1"] * 400 + ["2"] * 200)
    return {"Z": Z, "G": G, "chrom": chrom, "sizes": sizes}


# --------------------------------------------------------------------------- LD and blocks


def test_block_ld_is_pearson_r(blocky):
    R = block_ld(blocky["Z"][:, :50])
    assert np.allclose(R, np.corrcoef(blocky["G"][:, :50], rowvar=False), atol=EXACT)


def test_streamed_profile_equals_dense_sums(blocky):
    Z, band = blocky["Z"][:, :130], 17
    prof = ld_profile(reader_of(Z), 0, 130, band, window=40)  # several windows
    W = np.corrcoef(Z, rowvar=False) ** 2
    J = 130
    i, j = np.indices((J, J))
    inband = np.abs(i - j) <= band
    v = np.bincount((i + j)[inband], weights=W[inband], minlength=2 * J - 1)
    cross = [W[(i < p) & (j >= p) & inband].sum() for p in range(J + 1)]
    assert np.allclose(prof.antidiagonal, v, atol=1e-9)
    assert np.allclose(prof.cross, cross, atol=1e-9)


def test_smoothing_offset_is_corrected():
    k = np.arange(2 * 1000 - 1)
    dip = lambda centre, depth: depth * np.exp(-((k - centre) ** 2) / (2 * 20.0**2))  # noqa: E731
    v = 1.0 - dip(1000, 0.9) - dip(400, 0.4) - dip(1630, 0.5)  # deepest at SNP 500
    breaks = ldmod.initial_breakpoints(v, 1, 200, 100)
    assert breaks.tolist() == [500]  # ML-MAGES would report (1000 − 100 + 1) // 2 = 450


def test_block_finder_recovers_block_diagonal_boundaries(blocky):
    part = find_ld_blocks(reader_of(blocky["Z"]), blocky["chrom"], block_snps=150, smooth_width=40)
    edges = np.cumsum([0] + blocky["sizes"])
    assert part.starts.tolist() == edges[:-1].tolist()
    assert part.stops.tolist() == edges[1:].tolist()
    assert part.chrom.tolist() == ["1"] * 4 + ["2"] * 2  # never across a chromosome


# --------------------------------------------------------------------------- features


def brute_features(beta, se, R, r):
    """Loop oracle: neighbours by |r| (ties to the lower index), LD score excluding self."""
    rows = []
    for j in range(len(beta)):
        others = [i for i in range(len(beta)) if i != j]
        others.sort(key=lambda i: (-abs(R[j, i]), i))
        nb = others[:r]
        ell = sum(R[j, i] ** 2 for i in others)
        rows.append([beta[j], se[j], ell] + [beta[i] for i in nb] + [R[j, i] for i in nb])
    return np.array(rows)


def test_features_match_loop_oracle_and_rank_by_abs_r():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 8))
    R = np.corrcoef(A @ rng.standard_normal((8, 12)), rowvar=False)
    R[0, 5] = R[5, 0] = -0.99  # strong negative LD: the first neighbour of 0 and 5
    beta, se = rng.standard_normal(12), rng.uniform(0.1, 0.2, 12)
    feats = block_features(beta, se, R, 4)
    assert np.allclose(feats.matrix, brute_features(beta, se, R, 4), atol=EXACT)
    assert feats.neighbours[0, 0] == 5 and feats.neighbours[5, 0] == 0
    assert len(feature_names(4)) == feats.matrix.shape[1] == 2 * 4 + 3


def test_small_block_pads_neighbours():
    R = np.array([[1.0, 0.5], [0.5, 1.0]])
    f = block_features(np.array([1.0, 2.0]), np.array([0.1, 0.1]), R, 3)
    assert top_neighbours(R, 3).tolist() == [[1, -1, -1], [0, -1, -1]]
    assert f.matrix[0].tolist() == [1.0, 0.1, 0.25, 2.0, 0.0, 0.0, 0.5, 0.0, 0.0]


def _selector(n_features, k):
    """A one-member linear 'network' that outputs feature k unchanged."""
    W = np.zeros((n_features, 1))
    W[k] = 1.0
    return MlpEnsemble(
        ((W,),), ((np.zeros(1),),), np.ones(n_features), 1.0, np.ones(1), np.ones(1), np.ones(1)
    )


def test_block_two_sees_only_block_two_neighbours():
    # hand-built block-diagonal LD: two blocks of 3, read through Z with that correlation
    R1 = np.array([[1, 0.6, 0.2], [0.6, 1, -0.5], [0.2, -0.5, 1]])
    R2 = np.array([[1, -0.7, 0.1], [-0.7, 1, 0.3], [0.1, 0.3, 1]])
    rng = np.random.default_rng(0)
    n = 5000
    Z = np.zeros((n, 6))
    for a, Rb in ((0, R1), (3, R2)):
        X = rng.standard_normal((n, 3))
        X -= X.mean(0)
        X = X @ np.linalg.inv(np.linalg.cholesky(np.cov(X.T, bias=True))).T
        Z[:, a : a + 3] = X @ np.linalg.cholesky(Rb).T  # exact sample correlation Rb
    beta = np.array([10.0, 20.0, 30.0, -1.0, -2.0, -3.0])
    blocks = BlockPartition(np.array([0, 3]), np.array([3, 6]), np.array(["1", "1"]))
    model = ShrinkModel(ensemble=_selector(2 * 2 + 3, 3), top_r=2, fingerprint="x")
    res = shrink_effects(beta, np.ones(6), blocks, reader_of(Z), model=model)
    # first neighbour (largest |r|) of each variant, within its own block
    assert np.allclose(res.beta_shrunk_std, [20.0, 10.0, 20.0, -2.0, -1.0, -2.0])
    assert np.allclose(res.ld_score[3:], (R2**2).sum(0) - 1, atol=1e-9)
    assert res.block.tolist() == [0, 0, 0, 1, 1, 1]


# --------------------------------------------------------------------------- network


def test_linear_network_is_weighted_least_squares():
    rng = np.random.default_rng(5)
    n, r = 400, 1
    X = rng.standard_normal((n, 2 * r + 3))
    y = X @ np.array([0.5, -1.0, 0.2, 0.0, 0.3]) + 0.4 + rng.standard_normal(n)
    y[::2] = 0.0  # zero targets get weight 1, the others 2
    w = np.where(y != 0, 2.0, 1.0)
    settings = MlpSettings(
        hidden_layers=(), n_models=1, learning_rate=0.02, batch_size=n, max_epochs=3000,
        patience=100, min_delta=0.0, l2=0.0, validation_fraction=0.0,
    )  # fmt: skip
    ens = train_ensemble(X, y, w, np.zeros(n), r, settings, seed=1)
    A = np.column_stack([X, np.ones(n)])
    sw = np.sqrt(w)
    wls = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)[0]
    ols = np.linalg.lstsq(A, y, rcond=None)[0]
    probe = np.column_stack([np.eye(5), np.ones(5)])
    fitted = np.linalg.lstsq(
        np.vstack([probe, [0, 0, 0, 0, 0, 1]]),
        np.concatenate([predict(ens, np.eye(5)), predict(ens, np.zeros((1, 5)))]),
        rcond=None,
    )[0]
    scale = np.abs(wls).max()
    assert np.abs(fitted - wls).max() < WLS_TOL * scale
    assert np.abs(ols - wls).max() > 10 * WLS_TOL * scale  # the weights matter here


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_numpy_forward_equals_estimator_predict():
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((200, 7)), rng.standard_normal(200)
    est = MLPRegressor(hidden_layer_sizes=(64, 8), max_iter=20, random_state=0).fit(X, y)
    ens = MlpEnsemble(
        (tuple(est.coefs_),), (tuple(est.intercepts_),), np.ones(7), 1.0,
        np.ones(1), np.ones(1), np.ones(1),
    )  # fmt: skip
    assert np.allclose(predict(ens, X), est.predict(X), rtol=0, atol=EXACT)


# --------------------------------------------------------------------------- training data


def _tiny_training(blocky, seed, n_models=2):
    Z = blocky["Z"][:, :400]
    part = BlockPartition(
        np.array([0, 110, 200, 320]), np.array([110, 200, 320, 400]), np.array(["1"] * 4)
    )
    means = np.nanmean(blocky["G"][:, :400], axis=0)
    user = np.random.default_rng(1).standard_normal(400) * 0.05
    data = simulate_training_data(
        reader_of(Z), part, means, user, 3, 8, seed, SimulationGrid(ld_exponents=(-1.0, 0.0)),
        matching="rms",
    )  # fmt: skip
    ens = train_ensemble(
        data.features, data.target, data.weight, data.replicate, 3,
        MlpSettings(n_models=n_models, max_epochs=4, hidden_layers=(16, 4)), seed=seed,
    )  # fmt: skip
    return data, ens, part, user


def test_training_rows_are_spread_matched(blocky):
    data, _, part, user = _tiny_training(blocky, seed=4)
    for r in range(8):
        rows = data.replicate == r
        t = data.block[r]
        a, b = part.starts[t], part.stops[t]
        rms = lambda x: np.sqrt(np.mean(x**2))  # noqa: E731
        assert np.isclose(rms(data.features[rows, 0]), rms(user[a:b]), rtol=1e-9)
        p_causal = SimulationGrid(ld_exponents=(-1.0, 0.0)).points()[data.grid_point[r]][0]
        assert data.n_causal[r] == max(2, round(p_causal * (b - a)))
        assert np.array_equal(data.weight[rows] == 2.0, data.target[rows] != 0)


def test_snr_matching_takes_the_users_noise_and_excess_variance(blocky):
    Z = blocky["Z"][:, :400]
    part = BlockPartition(np.array([0, 200]), np.array([200, 400]), np.array(["1"] * 2))
    means = np.nanmean(blocky["G"][:, :400], axis=0)
    rng = np.random.default_rng(2)
    se = np.full(400, 0.05)
    beta = np.concatenate([rng.normal(0, 0.05, 200), rng.normal(0, 0.2, 200)])  # noise | signal
    grid = SimulationGrid(ld_exponents=(0.0,))
    data = simulate_training_data(reader_of(Z), part, means, beta, 3, 16, 9, grid,
                                  se_std=se, matching="snr")  # fmt: skip
    rms = lambda x: np.sqrt(np.mean(x**2))  # noqa: E731
    for r in range(16):
        rows = data.replicate == r
        assert np.isclose(rms(data.features[rows, 1]), 0.05, rtol=1e-9)  # se' = the user's
        excess = np.mean(beta[part.starts[data.block[r]] : part.stops[data.block[r]]] ** 2)
        if excess - 0.05**2 <= 0:  # a block that looks like noise teaches "predict 0"
            assert not data.target[rows].any()
    assert data.target[np.isin(data.replicate, np.flatnonzero(data.block == 1))].any()
    with pytest.raises(ValueError, match="needs the user's standard errors"):
        simulate_training_data(reader_of(Z), part, means, beta, 3, 2, 9, grid, matching="snr")


def test_deterministic_for_a_seed_whatever_the_threads(blocky):
    with threadpool_limits(limits=1):
        d1, e1, *_ = _tiny_training(blocky, seed=9)
    with threadpool_limits(limits=2):
        d2, e2, *_ = _tiny_training(blocky, seed=9)
    assert np.array_equal(d1.features, d2.features)
    X = d1.features[:50]
    assert np.array_equal(predict(e1, X), predict(e2, X))
    d3, e3, *_ = _tiny_training(blocky, seed=10)
    assert not np.array_equal(predict(e1, X), predict(e3, X))


def test_model_file_round_trips_and_is_refused_on_other_genotypes(blocky, tmp_path):
    from lmmlasso_cli.io.shrink_file import load_shrink_model, save_shrink_model

    data, ens, *_ = _tiny_training(blocky, seed=2)
    ids = [f"rs{j}" for j in range(400)]
    means = np.nanmean(blocky["G"][:, :400], axis=0)
    args = (ids, ["A"] * 400, ["G"] * 400, ["F"] * 300, [f"I{i}" for i in range(300)])
    fp = genotype_fingerprint(*args, means)
    model = ShrinkModel(ensemble=ens, top_r=3, fingerprint=fp, n_replicates=8)
    path = str(tmp_path / "m.npz")
    save_shrink_model(path, model, {"command": "test"})
    back = load_shrink_model(path, fp)
    assert back.top_r == 3 and back.settings == model.settings
    assert np.array_equal(predict(back.ensemble, data.features), predict(ens, data.features))
    other = means.copy()
    other[7] += 0.01
    assert genotype_fingerprint(*args, other) != fp
    with pytest.raises(ArtifactError, match="trained on other genotypes.*without --model"):
        load_shrink_model(path, genotype_fingerprint(*args, other))


def test_shrink_effects_trains_then_predicts_and_enet_runs(blocky):
    Z = blocky["Z"][:, :200]
    part = BlockPartition(np.array([0, 110]), np.array([110, 200]), np.array(["1", "1"]))
    truth = np.zeros(200)
    truth[[20, 150]] = [0.4, -0.3]
    y = Z @ truth + np.random.default_rng(4).standard_normal(300)
    tests = wald_fixed(prepare_scan(y, np.ones((300, 1))), Z)
    sdy = phenotype_sd(tests.beta, tests.se, 300)
    beta, se = tests.beta / sdy, tests.se / sdy
    means = np.nanmean(blocky["G"][:, :200], axis=0)
    settings = MlpSettings(n_models=2, max_epochs=3, hidden_layers=(8, 4))
    res = shrink_effects(
        beta, se, part, reader_of(Z), means=means, fingerprint="fp", top_r=5, n_replicates=4,
        mlp_settings=settings,
    )  # fmt: skip
    assert res.trained and res.model.fingerprint == "fp" and res.model.n_replicates == 4
    again = shrink_effects(beta, se, part, reader_of(Z), model=res.model)
    assert not again.trained and np.array_equal(again.beta_shrunk_std, res.beta_shrunk_std)
    enet = shrink_effects(beta, se, part, reader_of(Z), method="enet")
    assert enet.model is None and enet.enet_alpha.shape == (2,)
    assert np.abs(enet.beta_shrunk_std).sum() < np.abs(beta).sum()  # it shrinks
    with pytest.raises(ValueError, match="`means`"):
        shrink_effects(beta, se, part, reader_of(Z))


def test_phenotype_sd_is_exact_for_ols(blocky):
    rng = np.random.default_rng(8)
    Z = blocky["Z"][:, :60]
    y = 3.0 * (Z[:, 4] * 0.3 + rng.standard_normal(300)) + 7.0
    tests = wald_fixed(prepare_scan(y, np.ones((300, 1))), Z)
    assert np.isclose(phenotype_sd(tests.beta, tests.se, 300), y.std(), rtol=1e-9)


# --------------------------------------------------------------------------- elastic net


def test_enet_satisfies_its_optimality_conditions(blocky):
    Z = blocky["Z"][:, :110]
    R = block_ld(Z)
    rng = np.random.default_rng(6)
    truth = np.zeros(110)
    truth[[10, 60]] = [0.3, -0.2]
    beta = R @ truth + rng.standard_normal(110) * 0.05
    settings = EnetSettings(tol=1e-10, max_iter=100_000)
    coef, alpha = enet_block(beta, R, settings)
    rho, b = settings.l1_ratio, len(beta)
    grad = R.T @ (beta - R @ coef) / b - alpha * (1 - rho) * coef  # must lie in αρ ∂‖β‖₁
    nz = coef != 0
    assert nz.any() and (~nz).any()
    assert np.allclose(grad[nz], alpha * rho * np.sign(coef[nz]), atol=KKT_TOL * alpha)
    assert np.all(np.abs(grad[~nz]) <= alpha * rho * (1 + KKT_TOL))


# --------------------------------------------------------------------------- io


def _bim(tmp_path):
    from tests.conftest import write_plink

    G = np.random.default_rng(0).integers(0, 3, size=(10, 6)).astype(float)
    write_plink(tmp_path / "ref", G, chrom=["1"] * 4 + ["2"] * 2, snp=[f"rs{j}" for j in range(6)])
    from lmmlasso_cli.io.plink import read_plink

    return read_plink(str(tmp_path / "ref"))  # alleles A (A1) / G (A2)


def test_sumstats_matched_by_id_and_allele(tmp_path):
    from lmmlasso_cli.io.sumstats import match_sumstats, read_sumstats

    plink = _bim(tmp_path)
    path = tmp_path / "ss.txt"
    path.write_text(
        "CHR SNP A1 A2 BETA SE N\n"
        "1 rs0 A G 0.5 0.1 100\n"  # same orientation
        "1 rs1 G A 0.4 0.1 100\n"  # flipped: A1 is the .bim's A2
        "1 rs2 C T 0.3 0.1 100\n"  # alleles match neither orientation
        "1 rs99 A G 0.2 0.1 100\n"  # not in the .bim
        "2 rs4 A G 0.1 0.1 100\n"
        "2 rs4 A G 0.1 0.1 100\n"  # duplicate ID: both copies dropped
        "1 rs5 a g 0.7 0.2 100\n"  # on chr 2 in the .bim
        "1 rs3 g a NA 0.1 100\n"  # missing BETA
    )
    m = match_sumstats(read_sumstats(str(path)), plink)
    assert m.snp_index.tolist() == [0, 1]
    assert m.beta.tolist() == [0.5, -0.4]
    assert (m.n_flipped, m.n_allele_mismatch, m.n_not_in_bim) == (1, 1, 1)
    assert (m.n_duplicate, m.n_chrom_mismatch, m.n_missing_value, m.n_input) == (2, 1, 1, 8)


def test_gwas_tsv_is_read_with_its_alleles(tmp_path):
    from lmmlasso_cli.io.sumstats import match_sumstats, read_sumstats

    plink = _bim(tmp_path)
    path = tmp_path / "x.gwas.tsv"
    path.write_text(
        "#CHROM\tPOS\tID\tREF\tALT\tA1\tOBS_CT\tBETA\tSE\tT_STAT\tP\n"
        "1\t1000\trs0\tG\tA\tA\t10\t0.5\t0.1\t5\t0.001\n"
        "1\t2000\trs1\tA\tG\tG\t10\t0.4\t0.1\t4\t0.003\n"
        "1\t3000\trs2\tG\tA\tA\t10\tNA\tNA\tNA\tNA\n"
    )
    m = match_sumstats(read_sumstats(str(path)), plink)
    assert m.beta.tolist() == [0.5, -0.4] and m.n.tolist() == [10, 10]
    assert m.n_missing_value == 1
    bad = tmp_path / "bad.txt"
    bad.write_text("CHR SNP A1 BETA\n1 rs0 A 0.1\n")
    with pytest.raises(InputError, match="bad.txt: lacks the column.*SE"):
        read_sumstats(str(bad))


def test_shrink_tsv_columns_and_scales(tmp_path):
    from lmmlasso_cli.io.artifacts import read_tsv
    from lmmlasso_cli.io.shrink_file import SHRINK_COLUMNS, write_shrink
    from lmmlasso_cli.mlmages.shrink import to_per_allele, to_standardized

    plink = _bim(tmp_path)
    sd, sdy = np.array([0.5, 0.8, 1.0]), 2.0
    beta, se = np.array([0.2, -0.4, 0.1]), np.array([0.1, 0.1, 0.2])
    b_std, se_std = to_standardized(beta, se, sd, sdy)
    assert np.allclose(b_std, [0.05, -0.16, 0.05]) and np.allclose(se_std, [0.025, 0.04, 0.1])
    assert np.allclose(to_per_allele(b_std, sd, sdy), beta, atol=EXACT)
    path = str(tmp_path / "x.shrink.tsv")
    idx = np.array([0, 2, 5])
    write_shrink(path, plink, idx, np.array([0, 0, 1]), beta, se, beta / 2, b_std, b_std / 2)
    frame = read_tsv(path)
    assert list(frame.columns) == SHRINK_COLUMNS
    assert frame["ID"].tolist() == ["rs0", "rs2", "rs5"] and frame["BLOCK"].tolist() == [1, 1, 2]


def test_blocks_file_round_trip_and_bed_intervals(tmp_path):
    from lmmlasso_cli.io.blocks_file import blocks_for_snps, read_blocks, write_blocks

    plink = _bim(tmp_path)  # bp 1000 … 6000
    idx = np.arange(6)
    part = BlockPartition(np.array([0, 2, 4]), np.array([2, 4, 6]), np.array(["1", "1", "2"]))
    write_blocks(str(tmp_path / "b.blocks.tsv"), plink, idx, part)
    back, uncovered = blocks_for_snps(read_blocks(str(tmp_path / "b.blocks.tsv")), plink, idx)
    assert back.starts.tolist() == [0, 2, 4] and uncovered == 0
    bed = tmp_path / "ldetect.bed"
    bed.write_text("chr start stop\nchr1 999 2000\nchr1 3000 4000\nchr2 0 7000\n")
    # half-open 0-based: (999, 2000] holds 1000 and 2000; (3000, 4000] holds 4000 only
    part2, uncovered = blocks_for_snps(read_blocks(str(bed)), plink, idx)
    assert part2.starts.tolist() == [0, 2, 3, 4] and part2.stops.tolist() == [2, 3, 4, 6]
    assert uncovered == 1
    (tmp_path / "bad.bed").write_text("chr1 10\n")
    with pytest.raises(InputError, match="bad.bed: line 1 has fewer than 3 fields"):
        read_blocks(str(tmp_path / "bad.bed"))
