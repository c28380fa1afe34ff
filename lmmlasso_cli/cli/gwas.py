"""`lmmlasso gwas`: a univariate LMM scan (δ of the null model or per SNP), or OLS with --lm."""

from __future__ import annotations

import click

from lmmlasso_cli.cli.options import (
    COVAR,
    NULL_SEARCH,
    PFILE,
    PHENO,
    PRECISION,
    RUN,
    SAMPLES,
    SCHEDULER,
    SNPS,
    options,
    part_option,
)
from lmmlasso_cli.cli.runner import run_command

POOL_MIN_CALLS = 2e8  # genotype calls from which the scan runs on worker processes

N_TOP_HITS = 5
BLOCKS_PER_UNIT = 4  # a work unit tests 4 blocks of --block-size SNPs (8192 by default)
JOB_PARAMS = ("maf", "block_size", "exact", "lm", "log_delta_range", "transform", "reml")


@click.command("gwas")
@click.option(
    "--bfile",
    metavar="PREFIX",
    help="PLINK 1 binary set PREFIX.bed/.bim/.fam; genotypes count A1 (.bim column 5). "
    "Required (or --pfile) unless --merge.",
)
@options([PFILE])
@click.option(
    "--kinship",
    metavar="FILE",
    help="Kinship (PREFIX.kinship.npz or GCTA .grm.bin); required unless --lm or --loco "
    "(ignored with --loco).",
)
@options(PHENO, COVAR, SAMPLES, SNPS, NULL_SEARCH, PRECISION)
@click.option(
    "--null",
    "null_path",
    metavar="FILE",
    help="PREFIX.null.npz from `lmmlasso fit-null`: its eigendecomposition and δ, fitted on "
    "the same individuals and covariates (as GEMMA -d/-u), instead of an eigendecomposition "
    "and null model here. --kinship is then optional; --reml and the δ search are ignored.",
)
@click.option(
    "--exact",
    is_flag=True,
    help="Re-estimate δ per SNP by REML with the covariates and the SNP (GEMMA -lmm 1), "
    "searched within --log-delta-range; slower.",
)
@click.option(
    "--lm", is_flag=True, help="Ordinary least squares with the same covariates (no kinship)."
)
@click.option(
    "--loco",
    is_flag=True,
    help="Leave one chromosome out: test each chromosome against a kinship of the others, "
    "computed here from the --bfile SNPs kept by --chr/--extract/--exclude/--maf (needs "
    "two or more chromosomes; memory about (chromosomes + 2) x n² x 8 bytes). One unit per "
    "chromosome (its kinship, eigendecomposition, null models and scan). --kinship is ignored.",
)
@click.option(
    "--pcs",
    type=click.IntRange(1),
    help="Add the top N principal components as covariates (from --kinship if given, else a "
    "randomized SVD of the --bfile SNPs, as `lmmlasso pca`).",
)
@click.option("--gz", is_flag=True, help="Write PREFIX.gwas.tsv.gz instead of PREFIX.gwas.tsv.")
@click.option(
    "--plot",
    is_flag=True,
    help="Also write PREFIX.manhattan.png and PREFIX.qq.png (needs matplotlib: "
    "pip install 'lmmlasso-cli[plot]').",
)
@options(
    part_option(
        "test only the K-th of N contiguous SNP ranges (whole units of 4 blocks); the parts "
        "concatenate into the whole run's file with --merge (or the shell, see the README). A "
        "part already written by the same job is reused. Not with --loco."
    )
)
@click.option(
    "--merge",
    "merge_parts",
    is_flag=True,
    help="Concatenate the part files PARTS (PREFIX.gwas.tsv[.gz] of parts 1..N of one job, "
    "one phenotype) into PREFIX.gwas.tsv[.gz] (with --gz).",
)
@click.argument("parts", nargs=-1, metavar="[PARTS]...")
@options(SCHEDULER, RUN)
@run_command
def gwas(log, **kw):
    """Test every SNP: y = Cα + xβ + u + ε, u ~ N(0, σg²K), ε ~ N(0, σe²I).

    With K = U S Uᵀ and δ = σe²/σg², phenotype, covariates and SNP blocks are rotated once by Uᵀ
    and whitened by (S + δ)^-1/2; the covariates are projected out. Per SNP: β̂ = x̃ᵀỹ/x̃ᵀx̃,
    σ̂² = (ỹᵀỹ − β̂²x̃ᵀx̃)/(n − c − 1), SE = √(σ̂²/x̃ᵀx̃), T = β̂/SE and a two-sided P from
    Student's t with n − c − 1 df. By default δ is the null model's (EMMAX, FaST-LMM), fitted
    here per phenotype (ML, or --reml); --exact re-estimates it per SNP (GEMMA -lmm 1); --lm
    is OLS. Phenotypes with the same individuals share one eigendecomposition and one pass
    over the genotypes.

    Writes PREFIX.gwas.tsv (PREFIX.PHENO.gwas.tsv for several phenotypes) with PLINK 2 columns
    #CHROM POS ID REF ALT A1 OBS_CT BETA SE T_STAT P (BETA, SE per copy of A1 = .bim column 5;
    LOG_DELTA too with --exact). Monomorphic and all-missing SNPs are dropped and counted; the
    log gives the genomic-control λ = median(T²)/0.4549. SNPs are tested in units of 4 blocks
    of --block-size, in this process or on a Dask cluster (--scheduler), with the same results.
    """
    if kw["merge_parts"]:
        _merge(log, kw)
    else:
        run_gwas(log, kw)


def _check(kw):
    from lmmlasso_cli.errors import InputError

    if not kw.get("bfile"):
        raise InputError("gwas needs --bfile (or --merge PART.gwas.tsv ... to concatenate parts)")
    if kw["parts"]:
        raise InputError(f"{kw['parts'][0]}: part files are only read with --merge")
    if kw["part"] and kw["loco"]:
        raise InputError("--part splits one scan; --loco runs per chromosome: use --chr instead")

    if kw["lm"] and (kw["exact"] or kw["loco"]):
        flag = "--exact" if kw["exact"] else "--loco"
        raise InputError(f"--lm is ordinary least squares without a kinship: drop {flag} or --lm")
    if kw["null_path"] and (kw["lm"] or kw["loco"]):
        flag = "--lm" if kw["lm"] else "--loco"
        raise InputError(f"--null gives one kinship's null models; {flag} fits none: drop one")
    if not (kw["lm"] or kw["loco"] or kw.get("kinship") or kw["null_path"]):
        raise InputError(
            "--kinship is required (or --null from fit-null, --loco to build per-chromosome "
            "kinships from --bfile, or --lm for plain linear regression)"
        )


def run_gwas(log, kw):
    import contextlib
    import itertools

    from lmmlasso_cli.cli.options import data_options_from, null_search_from
    from lmmlasso_cli.cli.pipeline import backend_for, iter_phenotypes, load_inputs

    _check(kw)
    method = "ols" if kw["lm"] else "exact" if kw["exact"] else "fixed"
    with_kinship = method != "ols" and not kw["loco"]
    if kw["loco"] and kw["kinship"]:
        log.info(f"--loco: ignoring --kinship {kw['kinship']}; kinships come from --bfile")
    kinship = kw["kinship"] if with_kinship else None
    data, kin = load_inputs(log, data_options_from(kw), kinship)
    from lmmlasso_cli.cli.pipeline import plan_for_data

    pool = data.samples.n_samples * len(data.snp_index) >= POOL_MIN_CALLS
    read = bool(kw["null_path"])
    units = len(data.snp_index) if pool else 1
    plan_for_data(log, kw, "gwas", data, kin, units=units, eigen_read=read)
    if method == "exact":  # numba compiles the kernels during the eigh and SNP reading
        from lmmlasso_cli.gwas import prepare_exact_kernels

        prepare_exact_kernels()
    for note in data.snp_notes:
        log.info(note)
    if kw["pcs"]:
        data = _with_pcs(log, kw, data)
    log.info(f"test: {_describe(method, kw)}")
    multi = len(data.pheno_names) > 1
    search = null_search_from(kw)
    with contextlib.ExitStack() as stack:
        # SNP units on --threads worker processes (one BLAS thread each) once the scan is big
        # enough to pay for starting them; the bytes equal a serial run's
        n_units = len(data.snp_index)
        backend = stack.enter_context(backend_for(log, kw, n_units, processes=pool))
        fits = iter_phenotypes(
            log,
            data,
            kin,
            kw["transform"],
            search if with_kinship and not read else None,
            need_eig=with_kinship and not read,
            backend=backend,
        )
        for _, group in itertools.groupby(fits, key=lambda pf: pf.group):
            group = list(group)
            if kw["loco"]:
                results, header = _scan_loco(log, kw, data, group, method, search, backend), []
            else:
                eig, deltas = _null_models(log, kw, data, group) if read else _fitted(group)
                results, header = _scan(log, kw, data, group, eig, deltas, method, backend)
            for pf, assoc in zip(group, results, strict=True):
                if assoc is not None:
                    _write(log, kw, data, pf, assoc, multi, header)


def _fitted(group):
    """The group's eigendecomposition and the log δ of its null models fitted here."""
    eig = group[0].eig
    return eig, [pf.null.log_delta if eig is not None else None for pf in group]


def _null_models(log, kw, data, group):
    """The eigendecomposition and log δ of ``group``'s phenotypes read from --null
    (`pipeline.nulls_from_file`: same individuals, same covariates)."""
    from lmmlasso_cli.cli.pipeline import nulls_from_file

    entries = nulls_from_file(log, group, kw["null_path"], data, kw.get("kinship"))
    return entries[0].eig, [entry.log_delta for entry in entries]


def _with_pcs(log, kw, data):
    """The dataset with the top --pcs principal components appended to its covariates."""
    import dataclasses

    import numpy as np

    from lmmlasso_cli.cli.pipeline import principal_components

    pcs = principal_components(log, {**kw, "scaling": "empirical"}, data, kw["pcs"])
    names = [f"PC{k + 1}" for k in range(kw["pcs"])]
    log.info(f"covariates: + {kw['pcs']} PCs ({pcs.method}); eigenvalues "
             + ", ".join(f"{v:.4g}" for v in pcs.values))  # fmt: skip
    return dataclasses.replace(
        data,
        covariates=np.column_stack([data.covariates, pcs.vectors]),
        covariate_names=[*data.covariate_names, *names],
    )


def _describe(method, kw):
    if method == "ols":
        return "OLS (--lm): y = Cα + xβ + ε"
    null = "REML" if kw.get("reml") else "ML"
    if kw["null_path"]:
        null = f"from {kw['null_path']}"
    where = "per-chromosome LOCO kinship" if kw["loco"] else kw["kinship"] or "of --null"
    if method == "exact":
        return f"LMM Wald test, δ re-estimated per SNP by REML (--exact); kinship {where}"
    return f"LMM Wald test at the null model's δ ({null}); kinship {where}"


def _scan(log, kw, data, group, eig, log_deltas, method, backend):
    """Scan the candidate SNPs (or --part's range) for every phenotype of a group sharing
    ``eig``, in units of `BLOCKS_PER_UNIT` blocks on ``backend``. Returns one `Association` per
    phenotype (None for a part already written by this job) and the part's header lines."""
    import functools

    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.gwas import concatenate, prepare_scan
    from lmmlasso_cli.io.work_units import GenotypeSource, gwas_unit, part_units, snp_units

    models = [
        prepare_scan(pf.pheno.values, pf.covariates, eig, log_delta)
        for pf, log_delta in zip(group, log_deltas, strict=True)
    ]
    snp_index = data.snp_index
    units = snp_units(len(snp_index), kw["block_size"], BLOCKS_PER_UNIT)
    header = []
    if kw["part"]:
        k, n = kw["part"]
        units = part_units(units, k, n)
        header = [f"part={k}/{n}", f"job={_job(kw, data, group, models)}"]
        if all(_finished(kw, pf, header, len(data.pheno_names) > 1) for pf in group):
            log.info(f"part {k}/{n}: every output is already there from this job; reusing it")
            return [None] * len(group), header
        where = f"candidate SNPs {units[0].start}:{units[-1].stop}" if units else "no SNP"
        log.info(f"part {k}/{n}: {len(units)} unit(s), {where}")
    threads = 1 if backend.distributed else kw["threads"]
    source = GenotypeSource.of(data.plink, group[0].fam_index, threads)
    task = functools.partial(
        gwas_unit,
        source,
        kw["block_size"],
        kw["maf"],
        backend.share(eig),
        [backend.share(m) for m in models],
        method,
        kw["log_delta_range"],
        kw["precision"],
    )
    names = ",".join(pf.pheno.name for pf in group)
    n_snps = sum(len(u) for u in units)
    parts = []
    with progress_bar(n_snps, f"gwas {names}", kw["quiet"], unit="SNP") as bar:
        for part in backend.map(task, [snp_index[u] for u in units]):
            parts.append(part)
            bar.update(part.n_read)
    dropped = [sum(getattr(p, f) for p in parts) for f in ("n_monomorphic", "n_all_missing")]
    dropped.append(sum(p.n_low_maf for p in parts))
    log.info(
        f"{names}: {n_snps - sum(dropped)} SNPs tested on {len(group[0].fid)} individuals; "
        f"dropped {dropped[0]} monomorphic, {dropped[1]} all-missing, {dropped[2]} with "
        f"MAF < {kw['maf']}"
    )
    if not parts:
        from lmmlasso_cli.gwas import scan

        return scan([], eig, models, method), header
    results = [concatenate([p.associations[k] for p in parts]) for k in range(len(models))]
    return results, header


def _job(kw, data, group, models) -> str:
    """What the parts of one gwas job share: individuals, SNPs, phenotypes, model, parameters."""
    from lmmlasso_cli.io.artifacts import fingerprint

    plink, pos = data.plink, data.snp_index
    arrays = [a for m in models for a in (m.y_tilde, m.weights)]
    params = {k: kw.get(k) for k in JOB_PARAMS}
    params["n_parts"] = kw["part"][1]
    strings = (group[0].fid, group[0].iid, plink.snp[pos], plink.a1[pos])
    return fingerprint(strings=strings, arrays=arrays, params=params)


def _gwas_path(kw, pf, multi) -> str:
    from lmmlasso_cli.cli.pipeline import output_prefix

    return (
        output_prefix(kw["out"], pf.pheno.name, multi) + ".gwas.tsv" + (".gz" if kw["gz"] else "")
    )


def _finished(kw, pf, header, multi) -> bool:
    import os

    from lmmlasso_cli.io.artifacts import read_header

    path = _gwas_path(kw, pf, multi)
    if not os.path.exists(path):
        return False
    found = read_header(path)
    return all(found.get(key) == value for key, _, value in (h.partition("=") for h in header))


def _merge(log, kw):
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.io.gwas_file import check_gwas_parts, concatenate_gwas_parts

    if not kw["parts"]:
        raise InputError("--merge needs the part files: --merge p1.gwas.tsv p2.gwas.tsv ...")
    paths = check_gwas_parts(list(kw["parts"]))
    out = kw["out"] + ".gwas.tsv" + (".gz" if kw["gz"] else "")
    n_rows = concatenate_gwas_parts(paths, out)
    log.info(f"wrote {out}: {n_rows} SNPs from {len(paths)} parts ({', '.join(paths)})")


def _blocks(log, kw, reader, group, snp_index, label=""):
    """Standardized blocks of ``snp_index`` as `gwas.scan` takes them, with a progress bar;
    once exhausted, logs how many SNPs were tested and dropped."""
    import numpy as np

    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.io.dataset import iter_standardized

    counts = {"all_missing": 0, "monomorphic": 0, "low_maf": 0}
    names = ",".join(pf.pheno.name for pf in group)
    dtype = np.dtype(kw["precision"])
    stream = iter_standardized(reader, snp_index, kw["maf"], kw["block_size"], dtype=dtype)
    with progress_bar(len(snp_index), f"gwas {names}{label}", kw["quiet"], unit="SNP") as bar:
        for block in stream:
            counts["all_missing"] += block.n_all_missing
            counts["monomorphic"] += block.n_monomorphic
            counts["low_maf"] += block.n_low_maf
            yield block.snp_index, block.matrix, block.sds
            bar.update(block.n_read)
    dropped = sum(counts.values())
    log.info(
        f"{names}{label}: {len(snp_index) - dropped} SNPs tested on {reader.n_samples} "
        f"individuals; dropped {counts['monomorphic']} monomorphic, {counts['all_missing']} "
        f"all-missing, {counts['low_maf']} with MAF < {kw['maf']}"
    )


def _scan_loco(log, kw, data, group, method, search, backend):
    """One kinship pass keeping per-chromosome parts (`_loco_kinship`), then one unit per
    chromosome (`io.work_units.loco_unit`: K_-c, its eigendecomposition, the null models and
    the scan of c's SNPs) on ``backend``; results merged in .bim order."""
    import functools

    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.gwas import merge_loco
    from lmmlasso_cli.io.work_units import GenotypeSource, loco_unit

    plink, snp_index = data.plink, data.snp_index
    kin = _loco_kinship(log, kw, data, group, backend)
    chroms = [c for c in dict.fromkeys(plink.chrom[snp_index]) if c in kin.chrom_parts]
    if len(kin.chrom_parts) < 2:
        raise InputError(
            f"{plink.bim_path}: --loco needs usable SNPs on at least two chromosomes, found "
            f"{', '.join(kin.chrom_parts) or 'none'}; widen --chr or drop --loco"
        )
    n = len(group[0].fid)
    log.info(f"LOCO kinship: {kin.n_snps} SNPs on {len(kin.chrom_parts)} chromosomes over {n} "
             f"individuals; one unit per chromosome")  # fmt: skip
    shared = {c: (backend.share(part), count) for c, (part, count) in kin.chrom_parts.items()}
    threads = 1 if backend.distributed else kw["threads"]
    task = functools.partial(
        loco_unit,
        GenotypeSource.of(plink, group[0].fam_index, threads),
        kw["block_size"],
        kw["maf"],
        kw["precision"],
        shared,
        [(pf.pheno.values, pf.covariates) for pf in group],
        method,
        search,
    )
    names = ",".join(pf.pheno.name for pf in group)
    items = [(c, snp_index[plink.chrom[snp_index] == c]) for c in chroms]
    parts = []
    with progress_bar(len(snp_index), f"gwas {names} LOCO", kw["quiet"], unit="SNP") as bar:
        for part in backend.map(task, items):
            parts.append(part)
            bar.update(part.n_read)
    for part in parts:
        done, dropped = part.chromosome, part.n_all_missing + part.n_monomorphic + part.n_low_maf
        log.info(
            f"chromosome {done.chrom}: kinship from the {done.n_snps_kinship} SNPs of the "
            f"other chromosomes; {part.n_read - dropped} SNPs tested (dropped "
            f"{part.n_monomorphic} monomorphic, {part.n_all_missing} all-missing, "
            f"{part.n_low_maf} with MAF < {kw['maf']}); log δ "
            + ", ".join(
                f"{pf.pheno.name} {null.log_delta:.4f}"
                for pf, null in zip(group, done.nulls, strict=True)
            )
        )
    return merge_loco([(p.associations, p.chromosome) for p in parts]).associations


def _loco_kinship(log, kw, data, group, backend):
    """The kinship of the group's individuals with per-chromosome parts, summed over the units
    of `kinship` (fixed point, so the same bits on every backend)."""
    import dataclasses

    import numpy as np

    from lmmlasso_cli.cli.kinship import BLOCKS_PER_UNIT, sum_kinship_units
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.io.work_units import snp_units
    from lmmlasso_cli.kinship import finish_kinship

    plink, snp_index = data.plink, data.snp_index
    names, codes = np.unique(plink.chrom, return_inverse=True)  # small codes travel to units
    items = [snp_index[u] for u in snp_units(len(snp_index), kw["block_size"], BLOCKS_PER_UNIT)]
    chrom = backend.share(codes.astype(np.int32))
    part = sum_kinship_units(
        kw, backend, data, group[0].fam_index, items, "empirical", "LOCO kinship", chrom
    )
    try:
        kin = finish_kinship(part)
    except ValueError as exc:
        raise InputError(f"{plink.bed_path}: {exc}") from None
    order = {int(code): str(names[code]) for code in kin.chrom_parts}
    return dataclasses.replace(
        kin, chrom_parts={order[int(c)]: value for c, value in kin.chrom_parts.items()}
    )


def _write(log, kw, data, pf, assoc, multi, header):
    import numpy as np

    from lmmlasso_cli.cli.pipeline import output_prefix
    from lmmlasso_cli.gwas import genomic_control
    from lmmlasso_cli.io.gwas_file import write_gwas
    from lmmlasso_cli.io.plots import GENOME_WIDE, plot_manhattan, plot_qq

    name = pf.pheno.name
    prefix = output_prefix(kw["out"], name, multi)
    path = _gwas_path(kw, pf, multi)
    write_gwas(path, data.plink, assoc, header)
    lam = genomic_control(assoc.t_stat)
    p = assoc.p_value
    n_nan = int(np.isnan(p).sum())
    n_sig = int(np.sum(p < GENOME_WIDE))
    n_bonf = int(np.sum(p < 0.05 / max(assoc.n_snps, 1)))
    log.info(
        f"{name}: wrote {path}: {assoc.n_snps} SNPs, n={assoc.n_samples}, df={assoc.df}; "
        f"genomic-control λ = {lam:.4f}; {n_sig} with P < 5e-8, {n_bonf} below Bonferroni "
        f"0.05/{assoc.n_snps}" + (f"; {n_nan} collinear with the covariates (NA)" if n_nan else "")
    )
    if assoc.method == "exact":
        lo, hi = kw["log_delta_range"]
        at_edge = int(np.sum((assoc.log_delta <= lo) | (assoc.log_delta >= hi)))
        q = np.percentile(assoc.log_delta, [0, 50, 100]) if assoc.n_snps else [np.nan] * 3
        log.info(
            f"{name}: per-SNP REML log δ min {q[0]:.4f}, median {q[1]:.4f}, max {q[2]:.4f}; "
            f"{at_edge} SNPs at the edge of --log-delta-range"
        )
    plink = data.plink
    for j in np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")[:N_TOP_HITS]:
        pos = assoc.snp_index[j]
        log.info(
            f"  {plink.snp[pos]} chr{plink.chrom[pos]}:{plink.bp[pos]} A1={plink.a1[pos]} "
            f"BETA={assoc.beta[j]:+.4g} SE={assoc.se[j]:.3g} P={p[j]:.3g}"
        )
    if kw["plot"]:
        pos = assoc.snp_index
        title = f"{name}: {_short(assoc.method, kw)}, n={assoc.n_samples}"
        plot_manhattan(prefix + ".manhattan.png", plink.chrom[pos], plink.bp[pos], p, title)
        plot_qq(prefix + ".qq.png", p, lam, title)
        log.info(f"{name}: wrote {prefix}.manhattan.png and {prefix}.qq.png")


def _short(method, kw):
    label = {"ols": "OLS", "exact": "LMM, per-SNP δ", "fixed": "LMM, null δ"}[method]
    return label + (", LOCO" if kw["loco"] else "")
