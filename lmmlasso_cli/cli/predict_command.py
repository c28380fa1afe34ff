"""The body of `lmmlasso predict`."""

from __future__ import annotations

import numpy as np

from lmmlasso_cli.errors import InputError


def _new_samples(log, kw, model):
    """Aligned new individuals and their covariate design, in the model's column order."""
    from lmmlasso_cli.cli.common import data_options_from
    from lmmlasso_cli.io.dataset import load_dataset

    names = [n for n in model.covariate_names if n != "intercept"]
    if names and not kw.get("covar"):
        raise InputError(
            f"{model.path}: the model uses covariates {', '.join(names)}; give the "
            f"new individuals' values with --covar"
        )
    opts = data_options_from(
        {
            **kw,
            "covar": kw.get("covar") if names else None,
            "covar_names": names or None,
            "no_intercept": "intercept" not in model.covariate_names,
        },
        need_pheno=False,
    )
    data = load_dataset(opts)
    if data.covariate_names != model.covariate_names:
        raise InputError(
            f"{kw.get('covar')}: covariates {data.covariate_names} do not match the "
            f"model's {model.covariate_names}"
        )
    log.info(
        f"{data.plink.prefix}: {data.plink.n_samples} individuals; {data.n_samples} "
        f"predicted; dropped: {data.samples.describe_drops()}"
    )
    return data


def _observed(kw, model, data):
    """Observed phenotype of the new individuals (NaN where missing), or None."""
    from lmmlasso_cli.io.tables import read_table, select_columns

    if not kw.get("pheno"):
        return None
    table = read_table(kw["pheno"], "phenotype")
    name = kw.get("pheno_name") or model.pheno
    _, values = select_columns(
        table, [name] if table.has_header else None, None if table.has_header else [1], "pheno"
    )
    lookup = {k: i for i, k in enumerate(zip(table.fid, table.iid, strict=True))}
    rows = [lookup.get(k, -1) for k in zip(data.samples.fid, data.samples.iid, strict=True)]
    return np.array([values[r, 0] if r >= 0 else np.nan for r in rows])


def run_predict(log, kw):
    from lmmlasso_cli.io.dataset import read_standardized, standardized_blocks
    from lmmlasso_cli.io.model_file import load_model
    from lmmlasso_cli.io.plink import GenotypeReader, match_snps
    from lmmlasso_cli.predict import Prediction, score_blocks

    model = load_model(kw["model_path"])
    mus = np.arange(model.n_mu)
    if kw.get("mu_index") is not None:
        if kw["mu_index"] >= model.n_mu:
            raise InputError(f"--mu-index {kw['mu_index']}: the model has {model.n_mu} μ values")
        mus = np.array([kw["mu_index"]])
    log.info(
        f"model {model.path}: phenotype {model.pheno}, {model.n_mu} μ, "
        f"{len(model.fixed)} SNPs with fixed effects, background over "
        f"{0 if model.background is None else len(model.background)} SNPs"
    )
    data = _new_samples(log, kw, model)
    plink, n_new = data.plink, data.n_samples
    reader = GenotypeReader(plink, data.samples.fam_index, num_threads=kw.get("threads"))
    snps = np.zeros((len(mus), n_new))
    if len(model.fixed):
        pos, flipped = match_snps(
            plink, model.fixed.snp, model.fixed.a1, model.fixed.a2, model.path
        )
        log.info(f"fixed-effect SNPs: {len(pos)} matched, {int(flipped.sum())} with A1/A2 swapped")
        geno = read_standardized(
            reader,
            pos,
            means=model.fixed.means,
            sds=model.fixed.sds,
            flipped=flipped,
            block_size=kw["block_size"],
        )
        snps = model.fixed_coefs[mus] @ geno.matrix.T
    background = np.zeros_like(snps)
    if model.background is not None:
        bg = model.background
        pos, flipped = match_snps(plink, bg.snp, bg.a1, bg.a2, model.path + " (background)")
        blocks = standardized_blocks(reader, pos, bg.means, bg.sds, kw["block_size"], flipped)
        weights = model.background_weights[mus]
        size = kw["block_size"]
        background = score_blocks(
            ((z, weights[:, i * size : (i + 1) * size]) for i, z in enumerate(blocks)),
            len(mus),
            n_new,
        )
    covar = model.covariate_coefs[mus] @ data.covariates.T
    pred = Prediction(snps=snps, covariates=covar, background=background)
    _write(log, kw, model, data, mus, pred)
    _report(log, kw, model, data, mus, pred)


def _write(log, kw, model, data, mus, pred):
    import pandas as pd

    from lmmlasso_cli.io.artifacts import write_tsv

    frames = []
    for row, k in enumerate(mus):
        frame = pd.DataFrame({"FID": data.samples.fid, "IID": data.samples.iid})
        if model.n_mu > 1:
            frame["MU_INDEX"] = k
            frame["MU"] = model.mus[k]
        frame["PRED"] = pred.total[row]
        frame["PRED_SNPS"] = pred.snps[row]
        frame["PRED_COVAR"] = pred.covariates[row]
        frame["PRED_BACKGROUND"] = pred.background[row]
        original = model.transform.invert(pred.total[row])
        if original is not None:
            frame["PRED_PHENO"] = original
        frames.append(frame)
    out = kw["out"] + ".pred.tsv"
    write_tsv(
        out,
        pd.concat(frames, ignore_index=True),
        [
            f"model={model.path}",
            f"pheno={model.pheno}",
            f"scale=PRED on the model's {model.transform.kind} scale",
        ],
    )
    log.info(f"wrote {out}: {data.n_samples} individuals x {len(mus)} μ")


def _report(log, kw, model, data, mus, pred):
    from lmmlasso_cli.predict import accuracy

    y = _observed(kw, model, data)
    if y is None:
        return
    ok = np.isfinite(y)
    if ok.sum() < 3:
        log.warning(
            f"{kw['pheno']}: fewer than 3 predicted individuals have a phenotype; "
            f"no accuracy reported"
        )
        return
    y_model = model.transform.apply(y[ok])
    for row, k in enumerate(mus):
        acc = accuracy(y_model, pred.total[row, ok])
        log.info(
            f"μ index {k} (μ={model.mus[k]:.4g}): n={acc.n} explained variance "
            f"{acc.explained_variance:.4f}, R² {acc.r2:.4f}, Pearson r {acc.pearson_r:.4f}"
        )
