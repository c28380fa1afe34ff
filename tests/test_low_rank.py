"""Low-rank kinships (`kinship --rank`, FaST-LMM's path): every consumer against dense formulas
with the n × n matrix K = U diag(S) Uᵀ of rank r < n, and the CLI against the full kinship of
the same (at most r) SNPs."""

import numpy as np
import pandas as pd
import pytest
from _reference import dense_loglik, dense_reml_loglik, dense_standardize
from click.testing import CliRunner
from conftest import TOY
from test_gwas import GLS_RTOL, dense_gls, dense_reml_log_delta

from lmmlasso_cli.cli import main
from lmmlasso_cli.gwas import prepare_scan, scan, wald_exact
from lmmlasso_cli.io.kinship_file import load_kinship
from lmmlasso_cli.lmmlasso import blup_residual, fit_lmm_lasso
from lmmlasso_cli.nullmodel import (
    LowRankKinship,
    decompose,
    eigendecompose,
    fit_null_model,
    kinship_block,
    leading_eigen,
    restricted_eigen,
)
from lmmlasso_cli.settings import LassoSettings, NullSearch

RANK = 25
LOGLIK_ATOL = 1e-7  # profiled log-likelihood against scipy's multivariate normal
H2_ATOL = 1e-6  # the low-rank optimum against the full-rank one of the same K (Brent 1e-10)
COEF_ATOL = 1e-6  # Lasso optima of the same problem in two whitenings (duality gap 1e-10)
TSV_RTOL = 1e-4  # gwas.tsv: 6 significant digits, the null's δ found twice


@pytest.fixture(scope="module")
def problem():
    """n = 90 individuals, a kinship of RANK SNPs (rank RANK exactly), 30 test SNPs."""
    rng = np.random.default_rng(5)
    n = 90
    Zk = dense_standardize(rng.binomial(2, rng.uniform(0.1, 0.5, RANK), (n, RANK)).astype(float))
    K = Zk @ Zk.T / RANK
    G = rng.binomial(2, rng.uniform(0.1, 0.5, 30), size=(n, 30)).astype(float)
    C = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = 0.5 * G[:, 0] + rng.multivariate_normal(np.zeros(n), K) + rng.normal(size=n) + C[:, 1]
    low = LowRankKinship(Zk / np.sqrt(RANK)).eigen()
    return {"K": K, "Zk": Zk, "Z": dense_standardize(G), "C": C, "y": y, "low": low}


def test_factor_svd_and_leading_eigenpairs_reproduce_the_matrix(problem):
    K, low = problem["K"], problem["low"]
    assert low.low_rank and low.rank == RANK and low.n_samples == K.shape[0]
    np.testing.assert_allclose(low.eigvecs.T @ low.eigvecs, np.eye(RANK), atol=1e-12)
    np.testing.assert_allclose(low.eigvecs * low.eigvals @ low.eigvecs.T, K, atol=1e-12)
    assert np.all(np.diff(low.eigvals) >= 0)  # ascending, as eigendecompose
    lead = leading_eigen(K, RANK)
    np.testing.assert_allclose(lead.eigvals, np.linalg.eigvalsh(K)[-RANK:], rtol=1e-10)
    np.testing.assert_allclose(lead.eigvecs * lead.eigvals @ lead.eigvecs.T, K, atol=1e-12)
    # a truncation keeps the top eigenvalues only
    top = leading_eigen(K, 5)
    np.testing.assert_allclose(top.eigvals, np.linalg.eigvalsh(K)[-5:], rtol=1e-10)


def test_restrictions_and_blocks_match_the_dense_submatrix(problem):
    K, Zk = problem["K"], problem["Zk"]
    kin = LowRankKinship(Zk / np.sqrt(RANK))
    rows = np.arange(0, 90, 2)[::-1]
    cols = np.arange(1, 90, 3)
    np.testing.assert_allclose(kinship_block(kin, rows, cols), K[np.ix_(rows, cols)], atol=1e-12)
    np.testing.assert_array_equal(kinship_block(K, rows, cols), K[np.ix_(rows, cols)])
    sub = restricted_eigen(kin, rows)
    np.testing.assert_allclose(sub.eigvecs * sub.eigvals @ sub.eigvecs.T, K[np.ix_(rows, rows)],
                               atol=1e-12)  # fmt: skip
    full = restricted_eigen(K, rows)
    assert not full.low_rank and full.eigvecs.shape == (45, 45)
    assert decompose(K[np.ix_(rows, rows)]).eigvals == pytest.approx(full.eigvals, abs=1e-12)


@pytest.mark.parametrize("reml", [False, True])
def test_null_model_is_the_dense_likelihood_of_the_rank_r_kinship(problem, reml):
    K, C, y, low = problem["K"], problem["C"], problem["y"], problem["low"]
    search = NullSearch(reml=reml)
    null = fit_null_model(y, low, C, search)
    if reml:
        dense = dense_reml_loglik(y, C, K, null.sigma2_g, null.sigma2_e)
    else:
        dense = dense_loglik(y, C, K, null.sigma2_g, null.sigma2_e, null.coefs)
    assert null.loglik == pytest.approx(dense, abs=LOGLIK_ATOL)
    # the same optimum as the full eigendecomposition of the same K (its n − r zero eigenvalues
    # as explicit rows): the low-rank path changes the cost, not the model
    ref = fit_null_model(y, eigendecompose(K), C, search)
    assert null.h2 == pytest.approx(ref.h2, abs=H2_ATOL)
    assert null.loglik == pytest.approx(ref.loglik, abs=LOGLIK_ATOL)
    np.testing.assert_allclose(null.grid_nll, ref.grid_nll, atol=1e-8)


def test_fixed_delta_scan_matches_dense_gls(problem):
    K, Z, C, y, low = problem["K"], problem["Z"], problem["C"], problem["y"], problem["low"]
    log_delta = 0.3
    blocks = [(np.arange(20), Z[:, :20], np.ones(20)), (np.arange(20, 30), Z[:, 20:], np.ones(10))]
    (assoc,) = scan(blocks, low, [prepare_scan(y, C, low, log_delta)])
    assert assoc.df == len(y) - C.shape[1] - 1 and assoc.n_samples == len(y)
    for j in range(Z.shape[1]):
        expected = dense_gls(y, C, Z[:, j], K, np.exp(log_delta))
        got = (assoc.beta[j], assoc.se[j], assoc.t_stat[j], assoc.p_value[j])
        np.testing.assert_allclose(got, expected, rtol=GLS_RTOL)


def test_a_float32_block_keeps_the_low_rank_statistics(problem):
    Z, C, y, low = problem["Z"], problem["C"], problem["y"], problem["low"]
    model = prepare_scan(y, C, low, 0.3)
    (a64,) = scan([(np.arange(30), Z, np.ones(30))], low, [model])
    (a32,) = scan([(np.arange(30), Z.astype(np.float32), np.ones(30))], low, [model])
    np.testing.assert_allclose(a32.t_stat, a64.t_stat, rtol=1e-4)


def test_exact_scan_matches_dense_reml_per_snp(problem):
    K, Z, C, y, low = problem["K"], problem["Z"], problem["C"], problem["y"], problem["low"]
    snps = [0, 3, 11]
    (assoc,) = scan(
        [(np.array(snps), Z[:, snps], np.ones(3))], low, [prepare_scan(y, C, low, 0.0)], "exact"
    )
    for k, j in enumerate(snps):
        log_delta, nll = dense_reml_log_delta(y, C, Z[:, j], K)
        assert nll(assoc.log_delta[k]) <= nll(log_delta) + 1e-9
        expected = dense_gls(y, C, Z[:, j], K, np.exp(assoc.log_delta[k]))
        got = (assoc.beta[k], assoc.se[k], assoc.p_value[k])
        np.testing.assert_allclose(got, expected[0:2] + expected[3:], rtol=1e-5)
    # and the exact statistics equal the full-rank path's of the same K
    full = eigendecompose(K)
    ref = wald_exact(prepare_scan(y, C, full, 0.0), full.eigvecs.T @ Z[:, snps])
    np.testing.assert_allclose(assoc.log_delta, ref.log_delta, atol=1e-5)


def test_lasso_and_blup_match_the_full_rank_whitening(problem):
    K, Z, C, y, low = problem["K"], problem["Z"], problem["C"], problem["y"], problem["low"]
    full = eigendecompose(K)
    lasso = LassoSettings(tol=1e-10)
    a = fit_lmm_lasso(Z, y, C, low, 0.2, mu=0.05 * len(y), lasso=lasso)
    b = fit_lmm_lasso(Z, y, C, full, 0.2, mu=0.05 * len(y), lasso=lasso)
    wa, wb = a.path.coefs.toarray()[0], b.path.coefs.toarray()[0]
    assert np.count_nonzero(wb) > 2 and bool(a.path.converged[0])
    np.testing.assert_allclose(wa, wb, atol=COEF_ATOL)
    np.testing.assert_allclose(a.covariate_coefs, b.covariate_coefs, atol=COEF_ATOL)
    resid = y - C @ a.covariate_coefs[0] - Z @ wa
    dense = np.linalg.solve(K + np.exp(0.2) * np.eye(len(y)), resid)
    np.testing.assert_allclose(blup_residual(resid, low, 0.2), dense, atol=1e-10)
    np.testing.assert_allclose(a.blup_residual[0], dense, atol=1e-6)


def _run(args):
    result = CliRunner().invoke(main, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory):
    """The toy set with a kinship of 200 SNPs (rank 200 < 600 individuals), stored full and
    with --rank 200, and the commands run on each."""
    base = tmp_path_factory.mktemp("lowrank")
    bim = pd.read_csv(TOY / "toy.bim", sep=r"\s+", header=None)
    extract = base / "k.snps"
    extract.write_text("\n".join(bim[1].iloc[::50]) + "\n")
    bfile, pheno = str(TOY / "toy"), str(TOY / "toy.pheno")
    runs = {}
    for name, rank in (("full", []), ("low", ["--rank", "200"])):
        out = str(base / name)
        kinship = ["kinship", "--bfile", bfile, "--extract", str(extract), "--out", out + "_k"]
        _run([*kinship, "--precision", "float64", *rank])  # float32 has noise beyond rank 200
        kin = f"{out}_k.kinship.npz"
        common = ["--bfile", bfile, "--pheno", pheno, "--kinship", kin]
        _run(["fit-null", *common, "--out", out])
        _run(["gwas", *common, "--out", out + "_g"])
        _run(["fit", *common, "--null", f"{out}.null.npz", "--n-active", "5", "--out", out + "_f"])
        runs[name] = out
    return runs


def test_cli_low_rank_kinship_file_is_exact_for_few_snps(toy_runs):
    full = load_kinship(toy_runs["full"] + "_k.kinship.npz")
    low = load_kinship(toy_runs["low"] + "_k.kinship.npz")
    assert full.rank is None and low.rank == 200 and low.matrix is None
    assert full.n_snps == low.n_snps == 200
    K = low.eigen.eigvecs * low.eigen.eigvals @ low.eigen.eigvecs.T
    np.testing.assert_allclose(K, full.matrix, atol=1e-12)
    log = open(toy_runs["low"] + "_k.log").read()
    assert "rank 200: the leading eigenpairs keep 100.00% of trace(K) (exact" in log


def test_cli_low_rank_gwas_and_fit_match_the_full_kinship(toy_runs):
    read = {k: pd.read_csv(v + "_g.gwas.tsv", sep="\t") for k, v in toy_runs.items()}
    assert len(read["low"]) == len(read["full"]) > 9000  # SNPs failing filters are left out
    np.testing.assert_allclose(read["low"]["P"], read["full"]["P"], rtol=TSV_RTOL)
    # the default float32 rotation rounds each way at 1e-7 of a SNP's sum of squares
    np.testing.assert_allclose(read["low"]["BETA"], read["full"]["BETA"], rtol=TSV_RTOL, atol=1e-6)
    logs = {k: open(v + "_g.log").read() for k, v in toy_runs.items()}
    assert "rank-200 SVD" in logs["low"] and "rank-200 SVD" not in logs["full"]
    nulls = {k: pd.read_csv(v + ".null.tsv", sep="\t", comment="#") for k, v in toy_runs.items()}
    np.testing.assert_allclose(nulls["low"]["H2"], nulls["full"]["H2"], atol=1e-8)
    fits = {
        k: pd.read_csv(v + "_f.weights.tsv", sep="\t", comment="#") for k, v in toy_runs.items()
    }
    assert list(fits["low"]["SNP"]) == list(fits["full"]["SNP"]) and len(fits["low"]) == 5
    np.testing.assert_allclose(fits["low"]["BETA"], fits["full"]["BETA"], rtol=1e-6)


def test_cli_cv_stability_predict_simulate_run_on_a_low_rank_kinship(toy_runs, tmp_path):
    """The resampling commands restrict the factor's rows (an SVD per training set) and give
    the full kinship's answers for the same K."""
    bfile, pheno = str(TOY / "toy"), str(TOY / "toy.pheno")
    out = {}
    for name, prefix in toy_runs.items():
        common = ["--bfile", bfile, "--pheno", pheno, "--kinship", prefix + "_k.kinship.npz"]
        o = str(tmp_path / name)
        _run(["cv", *common, "--folds", "3", "--n-mu", "8", "--out", o + "_cv"])
        _run(["stability", *common, "--n-reps", "4", "--n-active", "5", "--out", o + "_st"])
        _run(["predict", "--bfile", str(TOY / "new"), "--model", prefix + "_f.model.npz",
              "--pheno", str(TOY / "new.pheno"), "--out", o + "_pr"])  # fmt: skip
        _run(["simulate", "--bfile", bfile, "--kinship", prefix + "_k.kinship.npz",
              "--n-causal", "5", "--h2-snps", "0.2", "--h2-background", "0.4", "--seed", "3",
              "--out", o + "_sim"])  # fmt: skip
        out[name] = o
    cv = {k: pd.read_csv(v + "_cv.cv.tsv", sep="\t", comment="#") for k, v in out.items()}
    err = ["MEAN_N_ACTIVE", "EXPLAINED_VARIANCE_MEAN", "MSE_MEAN", "BACKGROUND_VARIANCE_MEAN"]
    np.testing.assert_allclose(cv["low"][err], cv["full"][err], rtol=1e-5)
    st = {k: pd.read_csv(v + "_st.stability.tsv", sep="\t", comment="#") for k, v in out.items()}
    pd.testing.assert_frame_equal(st["low"], st["full"])
    pr = {k: pd.read_csv(v + "_pr.pred.tsv", sep="\t", comment="#") for k, v in out.items()}
    cols = ["PRED", "PRED_SNPS", "PRED_BACKGROUND"]
    np.testing.assert_allclose(pr["low"][cols], pr["full"][cols], rtol=1e-5, atol=1e-8)
    sim = {k: pd.read_csv(v + "_sim.pheno", sep=r"\s+") for k, v in out.items()}
    # the background u = U S^½ z draws rank-many normals, so the two differ; both have the
    # asked-for shares (simulate scales each part to its share exactly)
    assert sim["low"].shape == sim["full"].shape


def test_a_rank_that_leaves_no_room_for_a_snp_row_still_matches_dense_gls():
    """r + m = n: U and the covariates' complement span everything, so a SNP has no own row."""
    rng = np.random.default_rng(8)
    n, r = 30, 27
    F = rng.normal(size=(n, r)) / np.sqrt(r)
    K = F @ F.T
    C = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y, Z = rng.normal(size=n), dense_standardize(rng.binomial(2, 0.3, (n, 5)).astype(float))
    low = LowRankKinship(F).eigen()
    model = prepare_scan(y, C, low, 0.1)
    assert model.n_null == 0 and len(model.uy) == n
    (assoc,) = scan([(np.arange(5), Z, np.ones(5))], low, [model])
    for j in range(5):
        expected = dense_gls(y, C, Z[:, j], K, np.exp(0.1))
        np.testing.assert_allclose(assoc.p_value[j], expected[3], rtol=1e-7)


def test_two_phenotypes_share_one_block_and_each_matches_dense_gls(problem):
    K, Z, C, y, low = problem["K"], problem["Z"], problem["C"], problem["y"], problem["low"]
    y2 = y[::-1].copy()
    models = [prepare_scan(y, C, low, 0.3), prepare_scan(y2, C, low, -0.2)]
    results = scan([(np.arange(30), Z, np.ones(30))], low, models)
    for assoc, pheno, log_delta in zip(results, (y, y2), (0.3, -0.2), strict=True):
        for j in (0, 9, 29):
            expected = dense_gls(pheno, C, Z[:, j], K, np.exp(log_delta))
            np.testing.assert_allclose(assoc.p_value[j], expected[3], rtol=GLS_RTOL)


def test_simulated_background_lies_in_the_low_rank_kinship(problem):
    from lmmlasso_cli.simulate import simulate_phenotype

    low = problem["low"]
    n = low.n_samples
    sim = simulate_phenotype(np.zeros((n, 0)), low, 0.0, 0.5, np.random.default_rng(1))
    basis = np.column_stack([low.eigvecs, np.ones(n)])  # u is U S^½ z, centred and scaled
    resid = sim.background - basis @ np.linalg.lstsq(basis, sim.background, rcond=None)[0]
    assert np.linalg.norm(resid) < 1e-10 * np.linalg.norm(sim.background)
    assert np.var(sim.background) / np.var(sim.values) == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize(
    "extra, needle",
    [(["--rank", "599"], "--rank 599"), (["--rank", "5", "--part", "1/2"], "--merge")],
)
def test_kinship_rank_refusals_are_one_line(tmp_path, extra, needle):
    result = CliRunner().invoke(
        main, ["kinship", "--bfile", str(TOY / "toy"), "--out", str(tmp_path / "k"), "--quiet",
               *extra],
    )  # fmt: skip
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.output
    assert "memory plan" not in result.output  # refused before any work
    assert not (tmp_path / "k.kinship.npz").exists()


def test_a_broken_low_rank_file_is_refused_in_one_line(tmp_path, toy_runs):
    art = dict(np.load(toy_runs["low"] + "_k.kinship.npz"))
    art["K_eigvecs"] = art["K_eigvecs"][:, :-1]  # one column short of K_eigvals
    path = tmp_path / "bad.kinship.npz"
    np.savez(path, **art)
    result = CliRunner().invoke(main, ["fit-null", "--bfile", str(TOY / "toy"), "--pheno",
                                       str(TOY / "toy.pheno"), "--kinship", str(path),
                                       "--out", str(tmp_path / "o"), "--quiet"])  # fmt: skip
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and str(path) in lines[0] and "kinship --rank" in lines[0]


def test_more_pcs_than_a_low_rank_kinship_holds_is_refused_naming_it(tmp_path, toy_runs):
    kin = toy_runs["low"] + "_k.kinship.npz"
    ok = ["pca", "--bfile", str(TOY / "toy"), "--kinship", kin, "--out", str(tmp_path / "p")]
    _run([*ok, "--n-pcs", "200"])  # all it holds
    result = CliRunner().invoke(main, [*ok, "--n-pcs", "201", "--quiet"])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith(f"Error: {kin}: holds 200 eigenpairs") and "--n-pcs" in lines[0]
