"""The body of `lmmlasso fit`, one phenotype at a time."""

from __future__ import annotations

import numpy as np

from lmmlasso_cli.errors import InputError


def _check_mode(kw):
    chosen = [k for k in ("mu", "n_active", "mu_list") if kw.get(k) is not None]
    if len(chosen) > 1:
        flags = ", ".join("--" + k.replace("_", "-") for k in chosen)
        raise InputError(f"{flags}: choose one of --mu, --n-active or --mu-list")
    if not kw.get("no_kinship") and not kw.get("kinship"):
        raise InputError("--kinship is required (or --no-kinship for a plain Lasso)")


def run_fit(log, kw):
    from lmmlasso_cli.cli.fit_runner import (
        background_weights_for,
        fit_model,
        read_genotypes,
    )
    from lmmlasso_cli.cli.null_runner import iter_phenotypes, load_inputs

    _check_mode(kw)
    if kw.get("no_kinship"):
        kw = {**kw, "kinship": None}
    data, kin = load_inputs(log, kw)
    multi = len(data.pheno_names) > 1
    refit = kin is not None and not kw.get("null_path")
    cached = (None, None, None)
    for pf in iter_phenotypes(log, kw, data, kin, fit_models=refit, need_eig=refit):
        eig, log_delta, method = _null_for(log, kw, pf)
        if cached[0] != pf.group:
            cached = (pf.group, *read_genotypes(log, kw, data, pf.fam_index, kw["quiet"]))
        _, reader, geno = cached
        fit = fit_model(
            log, kw, geno.matrix, pf.pheno.values, pf.covariates, eig, log_delta, kw["quiet"]
        )
        bg_snps, bg_weights, bg_info = background_weights_for(
            log, kw, data, kin, reader, geno, fit, eig
        )
        prefix = kw["out"] + (f".{pf.pheno.name}" if multi else "")
        write_fit_outputs(
            log,
            kw,
            prefix,
            data,
            pf,
            geno,
            fit,
            bg_snps,
            bg_weights,
            {**bg_info, "null_method": method},
        )


def _null_for(log, kw, pf):
    """(eig, log δ, method) from --null, from the refitted null model, or none."""
    from lmmlasso_cli.io.null_file import check_same_samples, load_null

    if kw.get("kinship") is None:
        log.info(f"{pf.pheno.name}: no kinship: plain Lasso with unpenalized covariates")
        return None, float("nan"), "none"
    if kw.get("null_path"):
        entry = load_null(kw["null_path"], pf.pheno.name)
        check_same_samples(entry, pf.fid, pf.iid, kw["null_path"], kw["bfile"])
        log.info(
            f"{pf.pheno.name}: null model from {kw['null_path']} ({entry.method}): "
            f"log δ={entry.log_delta:.4f} h²={entry.h2:.4f}"
        )
        return entry.eig, entry.log_delta, entry.method
    return pf.eig, pf.null.log_delta, pf.null.method


def write_fit_outputs(log, kw, prefix, data, pf, geno, fit, bg_snps, bg_weights, extra):
    from lmmlasso_cli.io.artifacts import provenance
    from lmmlasso_cli.io.model_file import (
        SnpSet,
        per_allele_scores,
        save_model,
        write_path,
        write_score,
        write_weights,
    )

    plink, path = data.plink, fit.path
    coefs = path.coefs.toarray()
    union = np.flatnonzero(np.any(coefs != 0, axis=0))
    pos = geno.snp_index[union]
    fixed = SnpSet(
        plink.snp[pos],
        plink.chrom[pos],
        plink.bp[pos],
        plink.a1[pos],
        plink.a2[pos],
        geno.means[union],
        geno.sds[union],
    )
    fixed_coefs = coefs[:, union]
    names = data.covariate_names
    constant = (
        fit.covariate_coefs[:, names.index("intercept")]
        if "intercept" in names
        else np.zeros(fit.n_mu)
    )
    score_snps, per_allele, offsets = per_allele_scores(
        fixed, fixed_coefs, bg_snps, bg_weights, constant
    )
    params = {
        k: kw.get(k)
        for k in (
            "bfile",
            "kinship",
            "null_path",
            "no_kinship",
            "pheno",
            "covar",
            "covar_names",
            "no_intercept",
            "transform",
            "mu",
            "n_active",
            "n_mu",
            "mu_min_ratio",
            "mu_list",
            "l1_ratio",
            "tol",
            "max_epochs",
            "maf",
            "extract",
            "exclude",
            "chromosomes",
            "keep",
            "remove",
        )
    }
    meta = provenance("fit", params)
    meta.update(
        {
            "pheno": pf.pheno.name,
            "covariate_names": names,
            "log_delta": fit.log_delta,
            "mu_max": fit.mu_max,
            "l1_ratio": path.l1_ratio,
            "tol": path.tol,
            "converged": path.converged.tolist(),
            "gaps": path.gaps.tolist(),
            "score_offsets": offsets.tolist(),
            "n_snps_analysed": int(geno.matrix.shape[1]),
            **extra,
        }
    )
    header = [
        f"pheno={pf.pheno.name}",
        f"n={len(pf.fid)}",
        f"log_delta={fit.log_delta:.6g}",
        f"l1_ratio={path.l1_ratio:g}",
        "objective=0.5*||y~-X~w||^2+mu*r*||w||_1+0.5*mu*(1-r)*||w||^2 (mu absolute)",
        "lmmlasso-cli " + meta["tool_version"],
    ]
    write_weights(prefix + ".weights.tsv", fixed, fixed_coefs, path.mus, header)
    write_path(prefix + ".path.tsv", path, header)
    save_model(
        prefix + ".model.npz",
        meta,
        pf.fid,
        pf.iid,
        path.mus,
        fixed,
        fixed_coefs,
        fit.covariate_coefs,
        bg_snps,
        bg_weights,
        pf.pheno.transform,
    )
    write_score(prefix + ".score.tsv", score_snps, per_allele, header)
    _log_summary(log, pf.pheno.name, prefix, fit, offsets, fixed, fixed_coefs, names)


def _log_summary(log, name, prefix, fit, offsets, fixed, fixed_coefs, names):
    path = fit.path
    n_bad = int((~path.converged).sum())
    if fit.n_duplicates:
        log.info(
            f"{name}: {fit.n_duplicates} SNPs have genotypes identical to an earlier SNP; "
            f"each set of copies is fitted once (the first in .bim order carries the effect)"
        )
    if fit.n_mu == 1:
        log.info(
            f"{name}: μ={path.mus[0]:.6g} (μ_max {fit.mu_max:.6g}): {path.n_active[0]} SNPs "
            f"selected, duality gap {path.gaps[0]:.3g}, converged {bool(path.converged[0])}, "
            f"training explained variance (rotated) {path.explained_variance[0]:.4f}"
        )
        order = np.argsort(-np.abs(fixed_coefs[0]))[:10]
        for j in order:
            if fixed_coefs[0, j] != 0:
                log.info(
                    f"  {fixed.snp[j]} chr{fixed.chrom[j]}:{fixed.bp[j]} "
                    f"BETA_STD={fixed_coefs[0, j]:+.4f}"
                )
    else:
        log.info(
            f"{name}: path of {fit.n_mu} μ from {path.mus[0]:.4g} to {path.mus[-1]:.4g}: "
            f"{path.n_active[0]} to {path.n_active[-1]} SNPs; {n_bad} not converged"
        )
    for j, cname in enumerate(names):
        log.info(f"  covariate {cname}: {fit.covariate_coefs[-1, j]:+.6g}")
    if n_bad:
        log.warning(
            f"{name}: {n_bad} fit(s) did not reach the duality-gap tolerance; see "
            f"{prefix}.path.tsv (CONVERGED = 0)"
        )
    extra = (
        ""
        if names == ["intercept"] or not names
        else ("; the other covariates are not in the score")
    )
    log.info(f"wrote {prefix}.weights.tsv, .path.tsv, .model.npz, .score.tsv")
    log.info(
        f"score: plink2 --score {prefix}.score.tsv 1 2 header cols=+scoresums "
        f"--score-col-nums 3-{2 + fit.n_mu}; PRED = SCORE_MU<k>_SUM + offset, offset "
        f"(μ index 0) = {offsets[0]:.10g}{extra}"
    )
