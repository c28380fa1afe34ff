"""Shared by `fit` and `cv`: read genotypes, fit LMM-Lasso, compute BLUP weights, write outputs."""

from __future__ import annotations

import warnings

import numpy as np

from lmmlasso_cli.errors import ConvergenceError, ConvergenceWarning, InputError

BACKGROUND_TOL = 1e-3  # relative error above which a GRM is not reproduced by SNP BLUP weights


def read_genotypes(log, kw, data, fam_rows, quiet):
    """Standardized fit SNPs over the given individuals (the one n×p float64 copy)."""
    from lmmlasso_cli.cli.common import progress_bar
    from lmmlasso_cli.io.dataset import read_standardized
    from lmmlasso_cli.io.plink import GenotypeReader

    reader = GenotypeReader(data.plink, fam_rows, num_threads=kw.get("threads"))
    with progress_bar(len(data.snp_index), "reading SNPs", quiet, unit="SNP") as bar:
        geno = read_standardized(
            reader,
            data.snp_index,
            kw.get("maf", 0.0),
            kw.get("block_size", 2048),
            progress=bar.update,
        )
    log.info(
        f"SNPs: {geno.matrix.shape[1]} analysed over {geno.matrix.shape[0]} individuals; "
        f"dropped {geno.n_monomorphic} monomorphic, {geno.n_all_missing} all-missing, "
        f"{geno.n_low_maf} with MAF < {kw.get('maf', 0.0)}"
    )
    return reader, geno


def fit_model(log, kw, X, y, covariates, eig, log_delta, quiet, mus=None):
    """Run LMM-Lasso in the mode the options ask for and enforce --on-nonconvergence."""
    from lmmlasso_cli.cli.common import progress_bar
    from lmmlasso_cli.lmmlasso import fit_lmm_lasso

    mode = {}
    if mus is not None:
        mode["mus"] = mus
    elif kw.get("mu") is not None:
        mode["mu"] = kw["mu"]
    elif kw.get("n_active") is not None:
        if kw["n_active"] > X.shape[1]:
            raise InputError(f"--n-active {kw['n_active']} exceeds the {X.shape[1]} SNPs")
        mode["n_active"] = kw["n_active"]
    elif kw.get("mu_list"):
        mode["mus"] = np.array(sorted(kw["mu_list"], reverse=True))
    n_steps = len(mode.get("mus", [])) or kw.get("n_mu", 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        with progress_bar(n_steps, "lasso path", quiet, unit="mu") as bar:
            fit = fit_lmm_lasso(
                X,
                y,
                covariates,
                eig,
                log_delta,
                n_mu=kw.get("n_mu", 100),
                mu_min_ratio=kw.get("mu_min_ratio", 1e-3),
                l1_ratio=kw.get("l1_ratio", 1.0),
                tol=kw.get("tol", 1e-7),
                max_epochs=kw.get("max_epochs", 10_000),
                progress=lambda i: bar.update(1),
                **mode,
            )
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            log.warning(str(w.message))
    bad = np.flatnonzero(~fit.path.converged)
    if len(bad) and kw.get("on_nonconvergence") == "error":
        raise ConvergenceError(
            f"the Lasso did not converge at {len(bad)} of {fit.n_mu} μ values (first μ = "
            f"{fit.path.mus[bad[0]]:.4g}, duality gap {fit.path.gaps[bad[0]]:.3g}); raise "
            f"--max-epochs or loosen --tol, or use --on-nonconvergence warn"
        )
    return fit


def background_weights_for(log, kw, data, kin, reader, geno, fit, eig):
    """Per-SNP BLUP weights b (n_mu, p_K) and the SnpSet of the kinship SNPs, or (None, None)."""
    from lmmlasso_cli.io.dataset import standardized_blocks
    from lmmlasso_cli.io.model_file import SnpSet
    from lmmlasso_cli.io.plink import match_snps
    from lmmlasso_cli.predict import background_weights

    if kin is None:
        return None, None, {}
    plink = data.plink
    if kin.snp is not None:
        pos, flipped = match_snps(plink, kin.snp, kin.a1, None, kin.path)
        means, sds = kin.means, kin.sds
        blocks = standardized_blocks(reader, pos, means, sds, kw.get("block_size", 2048), flipped)
        weights = background_weights(blocks, fit.blup_residual, len(pos), kin.scale)
        a1 = np.where(flipped, plink.a2[pos], plink.a1[pos])
        a2 = np.where(flipped, plink.a1[pos], plink.a2[pos])
        snps = SnpSet(kin.snp, plink.chrom[pos], plink.bp[pos], a1, a2, means, sds)
        return snps, weights, {"background_source": kin.path}
    # A GCTA GRM carries no SNP list: approximate it by the analysed SNPs, and say how well.
    X = geno.matrix
    n_snps = X.shape[1]
    a = fit.blup_residual[-1]
    approx = X @ (X.T @ a) / n_snps
    exact = eig.eigvecs @ (eig.eigvals * (eig.eigvecs.T @ a))  # K_tt a
    weights = fit.blup_residual @ X / n_snps
    pos = geno.snp_index
    snps = SnpSet(
        plink.snp[pos],
        plink.chrom[pos],
        plink.bp[pos],
        plink.a1[pos],
        plink.a2[pos],
        geno.means,
        geno.sds,
    )
    info = {"background_source": "analysed SNPs (GCTA GRM has no SNP list)"}
    if np.linalg.norm(exact) > 0:
        err = float(np.linalg.norm(exact - approx) / np.linalg.norm(exact))
        info["background_rel_error"] = err
        if err > BACKGROUND_TOL:
            log.warning(
                f"{kin.path} is not reproduced by the analysed SNPs (relative error "
                f"{err:.2g}); predict's background part approximates it. Use a "
                f".kinship.npz from `lmmlasso kinship` for exact BLUP prediction"
            )
    return snps, weights, info
