"""LMM-Lasso fit: the original algorithm's optimum, and the CLI's outputs."""

import numpy as np
import pandas as pd
import pytest
from _reference import dense_kinship, dense_standardize
from click.testing import CliRunner
from scipy import optimize
from sklearn.linear_model import Lasso

from lmmlasso_cli.cli import main
from lmmlasso_cli.io.model_file import load_model
from lmmlasso_cli.lmmlasso import fit_lmm_lasso
from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model
from lmmlasso_cli.settings import LassoSettings

COEF_TOL = 1e-6
LOG_DELTA_TOL = 1e-6


def original_train(X, K, y, mu):
    """Rakitsch et al.'s train(): grid + Brent on nLLeval, full rotation, then a Lasso on the
    rotated data (solved here by scikit-learn to high precision instead of their ADMM)."""
    n = len(y)
    S, U = np.linalg.eigh(K)
    Uy = U.T @ y

    def nll(ldelta):
        sd = S + np.exp(ldelta)
        ss = np.sum(Uy * Uy / sd) / n
        return 0.5 * (n * np.log(2 * np.pi) + np.sum(np.log(sd)) + n + n * np.log(ss))

    grid = np.arange(101) / 100.0 * 10 - 5
    vals = np.array([nll(g) for g in grid])
    best, best_val = grid[vals.argmin()], vals.min()
    for i in range(1, 100):
        if vals[i] < vals[i - 1] and vals[i] < vals[i + 1]:
            x, f, *_ = optimize.brent(
                nll, brack=(grid[i - 1], grid[i], grid[i + 1]), full_output=True
            )
            if f < best_val:
                best, best_val = x, f
    d = 1.0 / np.sqrt(S + np.exp(best))
    SUX = (U.T @ X) * d[:, None]
    SUy = (U.T @ y) * d
    lasso = Lasso(alpha=mu / n, fit_intercept=False, tol=1e-14, max_iter=200_000)
    return best, lasso.fit(SUX, SUy).coef_


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(4)
    n, p = 120, 400
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(float)
    X = dense_standardize(G)
    K = dense_kinship(G)
    w = np.zeros(p)
    w[[3, 50, 120, 333]] = [0.6, -0.5, 0.4, 0.5]
    y = X @ w + np.linalg.cholesky(K + 1e-8 * np.eye(n)) @ rng.standard_normal(n) * 0.7
    y += rng.standard_normal(n) * 0.7
    y = (y - y.mean()) / y.std()
    return X, K, y


@pytest.mark.filterwarnings("ignore::lmmlasso_cli.errors.ConvergenceWarning")
def test_reproduces_original_lmm_lasso_optimum(sim):
    X, K, y = sim
    mu = 15.0
    ref_ldelta, ref_w = original_train(X, K, y, mu)
    null = fit_null_model(y, eigendecompose(K), None)
    assert null.log_delta == pytest.approx(ref_ldelta, abs=LOG_DELTA_TOL)
    fit = fit_lmm_lasso(
        np.asfortranarray(X),
        y,
        None,
        eigendecompose(K),
        null.log_delta,
        mu=mu,
        lasso=LassoSettings(tol=1e-12),
    )
    assert fit.path.converged[0]
    np.testing.assert_allclose(fit.path.coefs.toarray()[0], ref_w, atol=COEF_TOL)
    assert np.count_nonzero(ref_w) > 0


def test_covariates_unpenalized_equal_joint_gls_lasso(sim):
    """With covariates, w and α̂ satisfy the KKT conditions of the joint problem
    min ½‖L⁻¹(y − Cα − Xw)‖² + μ‖w‖₁, L = chol(K + δI) (an independent whitening)."""
    X, K, y = sim
    n = len(y)
    rng = np.random.default_rng(0)
    C = np.column_stack([np.ones(n), rng.standard_normal(n)])
    y = y + C @ np.array([3.0, -2.0])
    eig = eigendecompose(K)
    log_delta, mu = -0.3, 12.0
    fit = fit_lmm_lasso(
        np.asfortranarray(X), y, C, eig, log_delta, mu=mu, lasso=LassoSettings(tol=1e-13)
    )
    w = fit.path.coefs.toarray()[0]
    alpha = fit.covariate_coefs[0]
    L = np.linalg.cholesky(K + np.exp(log_delta) * np.eye(n))
    Xw, Cw = np.linalg.solve(L, X), np.linalg.solve(L, C)
    r = np.linalg.solve(L, y) - Cw @ alpha - Xw @ w
    np.testing.assert_allclose(Cw.T @ r, 0, atol=1e-7)  # α̂ optimal given w
    grad = Xw.T @ r
    active = w != 0
    np.testing.assert_allclose(grad[active], mu * np.sign(w[active]), atol=1e-5)
    assert np.all(np.abs(grad[~active]) <= mu * (1 + 1e-6))


@pytest.fixture(scope="module")
def chain(tiny, tmp_path_factory):
    """kinship on all 60, fit on 45 (--remove the last 15), predict the 15."""
    folder = tmp_path_factory.mktemp("chain")
    rm = folder / "new.txt"
    rm.write_text("".join(f"F{i} I{i}\n" for i in range(45, 60)))
    runner = CliRunner()
    k = str(folder / "k")
    assert (
        runner.invoke(
            main,
            ["kinship", "--bfile", tiny["prefix"], "--out", k, "--quiet", "--precision", "float64"],
        ).exit_code
        == 0
    )
    base = [
        "--bfile",
        tiny["prefix"],
        "--kinship",
        k + ".kinship.npz",
        "--pheno",
        tiny["pheno"],
        "--pheno-name",
        "q",
        "--covar",
        tiny["covar"],
        "--quiet",
    ]
    r = runner.invoke(
        main,
        [
            "fit",
            *base,
            "--remove",
            str(rm),
            "--n-active",
            "3",
            "--out",
            str(folder / "m"),
            "--tol",
            "1e-10",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main,
        [
            "predict",
            "--bfile",
            tiny["prefix"],
            "--keep",
            str(rm),
            "--model",
            str(folder / "m.model.npz"),
            "--covar",
            tiny["covar"],
            "--out",
            str(folder / "p"),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    return {"dir": folder, "k": k + ".kinship.npz", "base": base, "rm": rm}


def read(path):
    return pd.read_csv(path, sep="\t", comment="#")


def test_prediction_equals_dense_blup_formula(tiny, chain):
    from lmmlasso_cli.io.model_file import load_model

    model = load_model(str(chain["dir"] / "m.model.npz"))
    K = np.load(chain["k"])["K"]
    t, v = np.arange(45), np.arange(45, 60)
    G = tiny["G"]
    # the fit's SNPs: standardized on the 45 training individuals
    keep = [j for j in range(G.shape[1]) if j != 5]
    Gt = G[np.ix_(t, keep)]
    mean_t = np.nanmean(Gt, axis=0)
    Gti = np.where(np.isnan(Gt), mean_t, Gt)
    sd_t = Gti.std(axis=0)

    def z(rows):
        Gr = G[np.ix_(rows, keep)]
        return np.where(np.isnan(Gr), 0.0, (Gr - mean_t) / sd_t)

    w = np.zeros(len(keep))
    ids = [f"rs{j}" for j in keep]
    for snp, coef in zip(model.fixed.snp, model.fixed_coefs[0], strict=True):
        w[ids.index(snp)] = coef
    pheno = pd.read_csv(tiny["pheno"], sep=" ")
    cov = pd.read_csv(tiny["covar"], sep=" ")
    y = pheno.q.to_numpy()[t]
    y = (y - y.mean()) / y.std()
    C = np.column_stack([np.ones(60), cov.age, cov.sex])
    alpha = model.covariate_coefs[0]
    delta = np.exp(model.meta["log_delta"])
    a = np.linalg.solve(K[np.ix_(t, t)] + delta * np.eye(45), y - C[t] @ alpha - z(t) @ w)
    dense = z(v) @ w + C[v] @ alpha + K[np.ix_(v, t)] @ a
    pred = read(chain["dir"] / "p.pred.tsv")
    np.testing.assert_allclose(pred.PRED, dense, atol=1e-8)
    np.testing.assert_allclose(pred.PRED_BACKGROUND, K[np.ix_(v, t)] @ a, atol=1e-8)
    raw = pheno.q.to_numpy()[t]
    np.testing.assert_allclose(pred.PRED_PHENO, dense * raw.std() + raw.mean(), atol=1e-8)
    assert np.count_nonzero(w) == 3


def test_score_file_reproduces_genetic_value(tiny, chain):
    """Σ_j g_j · weight_j + offset equals PRED_SNPS + PRED_BACKGROUND + intercept.

    Missing calls: predict imputes the fit's mean for fixed-effect SNPs and the kinship's mean
    for the background; a score file has one weight per SNP, so individuals with a missing call
    at a fixed-effect SNP are left out of the comparison.
    """
    from lmmlasso_cli.io.model_file import load_model

    model = load_model(str(chain["dir"] / "m.model.npz"))
    score = read(chain["dir"] / "m.score.tsv")
    G = tiny["G"][45:]
    col = {f"rs{j}": j for j in range(G.shape[1])}
    means = dict(zip(model.background.snp, model.background.means, strict=True))
    Gs = np.column_stack([G[:, col[s]] for s in score.SNP])
    Gs = np.where(np.isnan(Gs), np.array([means[s] for s in score.SNP]), Gs)
    complete = ~np.isnan(np.column_stack([G[:, col[s]] for s in model.fixed.snp])).any(axis=1)
    assert complete.sum() >= 10 and len(model.fixed) == 3
    offset = model.meta["score_offsets"][0]
    pred = read(chain["dir"] / "p.pred.tsv")
    intercept = model.covariate_coefs[0, 0]
    expected = (pred.PRED_SNPS + pred.PRED_BACKGROUND + intercept).to_numpy()
    np.testing.assert_allclose(
        (Gs @ score.SCORE_MU0 + offset)[complete], expected[complete], atol=1e-8
    )


def test_flipped_alleles_give_same_prediction(tiny, chain, tmp_path):
    from conftest import write_plink

    G = 2.0 - tiny["G"][45:]
    write_plink(tmp_path / "flip", G, fid=tiny["fid"][45:], iid=tiny["iid"][45:])
    bim = pd.read_csv(tmp_path / "flip.bim", sep="\t", header=None)
    bim[[4, 5]] = bim[[5, 4]].to_numpy()
    bim.to_csv(tmp_path / "flip.bim", sep="\t", header=False, index=False)
    r = CliRunner().invoke(
        main,
        [
            "predict",
            "--bfile",
            str(tmp_path / "flip"),
            "--model",
            str(chain["dir"] / "m.model.npz"),
            "--covar",
            tiny["covar"],
            "--out",
            str(tmp_path / "p"),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    np.testing.assert_allclose(
        read(tmp_path / "p.pred.tsv").PRED, read(chain["dir"] / "p.pred.tsv").PRED, atol=1e-10
    )


def test_missing_model_snps_is_an_error(tiny, chain, tmp_path):
    lines = open(tiny["prefix"] + ".bim").read().splitlines()
    import shutil

    for ext in (".bed", ".fam"):
        shutil.copy(tiny["prefix"] + ext, tmp_path / f"x{ext}")
    open(tmp_path / "x.bim", "w").write(
        "\n".join(ln.replace("rs1\t", "zz1\t").replace("rs2\t", "zz2\t") for ln in lines)
    )
    r = CliRunner().invoke(
        main,
        [
            "predict",
            "--bfile",
            str(tmp_path / "x"),
            "--model",
            str(chain["dir"] / "m.model.npz"),
            "--covar",
            tiny["covar"],
            "--out",
            str(tmp_path / "p"),
        ],
    )
    assert r.exit_code == 1
    assert "2 of the 299 SNPs of" in r.stderr and "are missing" in r.stderr


def test_path_outputs_and_nonconvergence(tiny, chain, tmp_path):
    runner = CliRunner()
    out = str(tmp_path / "path")
    grid = ["--n-mu", "8", "--mu-min-ratio", "0.05"]
    # by default the path stops as glmnet's: here past --max-active (60 individuals / 2)
    r = runner.invoke(main, ["fit", *chain["base"], *grid, "--out", out + "s"])
    assert r.exit_code == 0, r.output
    stopped = read(out + "s.path.tsv")
    assert 2 <= len(stopped) < 8 and stopped.N_ACTIVE.iloc[-1] > 30
    assert (stopped.N_ACTIVE.iloc[:-1] <= 30).all()
    log = open(out + "s.log").read()
    assert f"stopped after μ index {len(stopped) - 1}" in log and "more than --max-active 30" in log
    assert load_model(out + "s.model.npz").n_mu == len(stopped)
    r = runner.invoke(main, ["fit", *chain["base"], *grid, "--full-path", "--out", out])
    assert r.exit_code == 0, r.output
    path = read(out + ".path.tsv")
    assert len(path) == 8 and path.CONVERGED.all() and path.N_ACTIVE.iloc[0] == 0
    np.testing.assert_array_equal(path.MU.iloc[: len(stopped)], stopped.MU)
    assert np.all(np.diff(path.MU) < 0)
    weights = read(out + ".weights.tsv")
    assert set(weights.MU_INDEX) <= set(range(8))
    assert (
        weights.groupby("MU_INDEX").size().reindex(range(8), fill_value=0)
        == path.N_ACTIVE.to_numpy()
    ).all()
    # per allele = standardized / sd: one ratio per SNP along the whole path
    ratio = (weights.BETA_STD / weights.BETA).groupby(weights.SNP)
    assert np.all(ratio.max() - ratio.min() < 1e-9 * ratio.max()) and (ratio.min() > 0).all()
    r = runner.invoke(
        main,
        [
            "fit",
            *chain["base"],
            "--mu",
            "0.5",
            "--max-epochs",
            "1",
            "--on-nonconvergence",
            "error",
            "--out",
            out + "e",
        ],
    )
    assert r.exit_code == 1 and "did not converge" in r.stderr
    r = runner.invoke(
        main, ["fit", *chain["base"], "--mu", "0.5", "--max-epochs", "1", "--out", out + "w"]
    )
    assert r.exit_code == 0
    assert read(out + "w.path.tsv").CONVERGED.iloc[0] == 0
    assert "WARNING" in open(out + "w.log").read()


def test_fit_null_file_and_refit_agree(tiny, chain, tmp_path):
    runner = CliRunner()
    out = str(tmp_path / "n")
    assert runner.invoke(main, ["fit-null", *chain["base"], "--out", out]).exit_code == 0
    r = runner.invoke(
        main,
        ["fit", *chain["base"], "--null", out + ".null.npz", "--n-active", "3", "--out", out + "a"],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["fit", *chain["base"], "--n-active", "3", "--out", out + "b"])
    a, b = read(out + "a.weights.tsv"), read(out + "b.weights.tsv")
    assert len(a) == 3
    np.testing.assert_allclose(a.BETA, b.BETA, atol=1e-10)
    r = runner.invoke(
        main,
        [
            "fit",
            *chain["base"],
            "--null",
            out + ".null.npz",
            "--mu",
            "3",
            "--remove",
            str(chain["rm"]),
            "--out",
            out + "c",
        ],
    )
    assert r.exit_code == 1 and "re-run `lmmlasso fit-null`" in r.stderr


def test_many_phenotypes_write_one_set_each(tiny, chain, tmp_path):
    out = str(tmp_path / "mp")
    args = [a if a != "q" else "q,q_na" for a in chain["base"]]
    r = CliRunner().invoke(main, ["fit", *args, "--mu", "3", "--out", out])
    assert r.exit_code == 0, r.output
    for name in ("q", "q_na"):
        assert read(f"{out}.{name}.path.tsv").CONVERGED.all()


def test_exact_duplicate_snps_are_fitted_once(sim):
    """Copies of SNPs make the optimum non-unique; the first copy carries the effect, the
    copies stay at 0, and the fit equals the fit without the copies."""
    from lmmlasso_cli.lmmlasso import duplicate_columns

    X, K, y = sim
    top = np.argsort(-np.abs(X.T @ y))[:5]
    Xd = np.asfortranarray(np.column_stack([X, X[:, top], X[:, top[:2]]]))
    dup = duplicate_columns(Xd)
    assert dup.sum() == 7 and not dup[: X.shape[1]].any()
    eig = eigendecompose(K)
    mus = np.geomspace(40, 2, 12)
    with_dups = fit_lmm_lasso(Xd, y, None, eig, 0.0, mus=mus, lasso=LassoSettings(tol=1e-10))
    plain = fit_lmm_lasso(
        np.asfortranarray(X), y, None, eig, 0.0, mus=mus, lasso=LassoSettings(tol=1e-10)
    )
    coefs = with_dups.path.coefs.toarray()
    assert with_dups.n_duplicates == 7 and not coefs[:, X.shape[1] :].any()
    np.testing.assert_allclose(coefs[:, : X.shape[1]], plain.path.coefs.toarray(), atol=1e-7)
    np.testing.assert_array_equal(with_dups.path.n_active, plain.path.n_active)
