"""`lmmlasso stability`: selection frequencies over subsamples, each a full LMM-Lasso training."""

from __future__ import annotations

import click

from lmmlasso_cli.cli.options import (
    COVAR,
    LASSO,
    NULL_SEARCH,
    PFILE,
    PHENO,
    PLOT,
    RUN,
    SAMPLES,
    SCHEDULER,
    SNPS,
    index_range,
    options,
)
from lmmlasso_cli.cli.runner import run_command
from lmmlasso_cli.errors import ConvergenceError, InputError

MAX_LISTED = 50  # SNPs at or above the threshold listed in the log


def _run(log, kw):
    import contextlib

    with contextlib.ExitStack() as stack:
        _run_in(log, kw, stack)


def _run_in(log, kw, stack):
    import numpy as np

    from lmmlasso_cli.cli.options import data_options_from, training_from
    from lmmlasso_cli.cli.pipeline import (
        GenotypeCache,
        backend_for,
        iter_phenotypes,
        load_inputs,
        output_prefix,
        run_units,
    )
    from lmmlasso_cli.cli.runner import log_messages
    from lmmlasso_cli.io.stability_file import SnpLabels, run_record, save_stability
    from lmmlasso_cli.selection.folds import TrainingData
    from lmmlasso_cli.selection.stability import (
        SelectionMode,
        StabilityPlan,
        check_reps,
        run_stability,
    )

    chosen = [k for k in ("mu", "n_active") if kw.get(k) is not None]
    if len(chosen) != 1 or kw["shards"] or not (kw.get("bfile") and kw.get("kinship")):
        raise InputError(
            "stability needs --bfile, --kinship and exactly one of --mu or --n-active "
            "(or --merge SHARD.stability.npz ... to combine shards)"
        )
    mode = SelectionMode(chosen[0], kw[chosen[0]])
    plan = StabilityPlan(kw["seed"], kw["n_reps"], kw["fraction"], mode, training_from(kw))
    reps = kw["reps"] or range(kw["n_reps"])
    check_reps(reps, kw["n_reps"])
    data, kin = load_inputs(log, data_options_from(kw), kw["kinship"])
    import math

    from lmmlasso_cli.cli.pipeline import plan_for_data

    n_sub = math.ceil(kw["fraction"] * data.samples.n_samples)
    plan_for_data(
        log, kw, "stability", data, kin, units=len(reps), n_subsample=n_sub,
        n_phenos=len(data.pheno_names), n_active=kw.get("n_active") or 0,
    )  # fmt: skip
    multi = len(data.pheno_names) > 1
    cache = GenotypeCache(log, data, kw["maf"], kw["block_size"], kw["threads"], kw["quiet"])
    backend = stack.enter_context(backend_for(log, kw, len(reps), processes=True))
    # the kinship stays out of the generator (it needs none without need_eig), so that a
    # single phenotype's run can let go of it once it is shared
    for pf in iter_phenotypes(log, data, None, kw["transform"], need_eig=False):
        geno = cache.get(pf)[1]
        n_samples, n_snps = geno.store.shape
        if mode.kind == "n_active" and mode.value > n_snps:
            raise InputError(f"--n-active {mode.value} exceeds the {n_snps} analysed SNPs")
        training = TrainingData(
            geno.store, pf.pheno.raw, pf.covariates, kin.submatrix(pf.fid, pf.iid)
        )
        pos = geno.snp_index
        plink = data.plink
        snps = SnpLabels(plink.chrom[pos], plink.snp[pos], plink.bp[pos], plink.a1[pos])
        run = run_record(pf.pheno.name, pf.fid, pf.iid, snps, training, plan, data.covariate_names)
        log.info(
            f"{pf.pheno.name}: replicates {reps.start}:{reps.stop} of {plan.n_reps}, "
            f"{run['n_subsample']} of {n_samples} individuals each, {mode.kind}={run['value']}"
        )
        if backend.distributed and not multi:
            # the workers read the codes and the kinship from the shared files; this process
            # lets go of its copies (at 10,000 x 500,000 the tree needed 13.8 GB with the codes,
            # 8.04 GB with the 0.8 GB kinship)
            training = backend.share(training)
            del geno
            kin = None
            cache.close()
        runs = run_units(
            log,
            backend,
            training,
            len(reps),
            "stability replicates",
            "rep",
            kw["quiet"],
            lambda data, map_fn, done: run_stability(data, plan, reps, map_fn, done),
        )
        log_messages(log, runs.messages, "replicate")
        n_bad = int((~runs.converged).sum())
        if n_bad and kw["on_nonconvergence"] == "error":
            raise ConvergenceError(
                f"the Lasso did not converge in {n_bad} of {runs.n_run} replicates; raise "
                f"--max-epochs or loosen --tol, or use --on-nonconvergence warn"
            )
        prefix = output_prefix(kw["out"], pf.pheno.name, multi)
        drop = ("quiet", "debug", "shards", "scheduler")
        params = {k: v for k, v in kw.items() if k not in drop}
        log.info(
            f"{pf.pheno.name}: log δ over replicates {np.min(runs.log_delta):.3f} to "
            f"{np.max(runs.log_delta):.3f}; {n_bad} fit(s) not converged"
        )
        save_stability(prefix + ".stability.npz", run, params, pf.fid, pf.iid, snps, runs)
        _report(log, prefix, snps, run, runs, kw["threshold"], kw["plot"])
    cache.close()


def _merge(log, kw):
    from lmmlasso_cli.io.stability_file import check_mergeable, load_stability, save_stability
    from lmmlasso_cli.selection.stability import combine_runs

    if not kw["shards"]:
        raise InputError("--merge needs the shard files: --merge a.stability.npz b.stability.npz")
    shards = [load_stability(path) for path in kw["shards"]]
    check_mergeable(shards)
    runs = combine_runs([s.runs for s in shards])
    first = shards[0]
    log.info(f"merged {len(shards)} shard(s): {runs.n_run} of {first.run['n_reps']} replicates")
    if runs.n_run < first.run["n_reps"]:
        log.warning(
            f"only {runs.n_run} of {first.run['n_reps']} replicates are present; the "
            f"frequencies are over those"
        )
    params = {"merge": list(kw["shards"]), "threshold": kw["threshold"]}
    save_stability(
        kw["out"] + ".stability.npz", first.run, params, first.fid, first.iid, first.snps, runs
    )
    _report(log, kw["out"], first.snps, first.run, runs, kw["threshold"], kw["plot"])


def _report(log, prefix, snps, run, runs, threshold, plot=False):
    from lmmlasso_cli.io.stability_file import write_stability_table
    from lmmlasso_cli.selection.stability import summarize_stability

    summary = summarize_stability(runs, threshold)
    write_stability_table(prefix + ".stability.tsv", snps, run, runs, summary)
    log.info(
        f"{run['pheno']}: {runs.n_run} replicates, {summary.mean_selected:.4g} SNPs selected "
        f"per replicate on average (q), {runs.n_snps} SNPs (p)"
    )
    log.info(
        f"Meinshausen-Bühlmann: E[false selections among SNPs with FREQ >= {threshold:g}] <= "
        f"q²/((2·{threshold:g}−1)·p) = {summary.bound:.4g}; {len(summary.stable)} SNP(s) at "
        f"or above the threshold"
    )
    for j in summary.stable[:MAX_LISTED]:
        log.info(
            f"  {snps.snp[j]} chr{snps.chrom[j]}:{snps.bp[j]} FREQ={summary.frequencies[j]:.3f}"
        )
    if len(summary.stable) > MAX_LISTED:
        log.info(f"  ... and {len(summary.stable) - MAX_LISTED} more in {prefix}.stability.tsv")
    log.info(f"wrote {prefix}.stability.tsv and {prefix}.stability.npz")
    if plot:
        from lmmlasso_cli.io.plots import plot_stability

        title = f"{run['pheno']}: {runs.n_run} replicates, {run['mode']} = {run['value']:g}"
        plot_stability(prefix + ".stability.png", snps.chrom, snps.bp, summary.frequencies,
                       threshold, title)  # fmt: skip
        log.info(f"wrote {prefix}.stability.png")


@click.command("stability")
@click.option(
    "--bfile",
    metavar="PREFIX",
    help="PLINK 1 binary set PREFIX.bed/.bim/.fam "
    "(counts A1, .bim column 5). Required (or --pfile) unless --merge.",
)
@options([PFILE])
@click.option(
    "--kinship",
    metavar="FILE",
    help="PREFIX.kinship.npz from `lmmlasso kinship` or a "
    "GCTA GRM (PREFIX.grm.bin). Required unless --merge.",
)
@options(PHENO, COVAR, SAMPLES, SNPS, NULL_SEARCH)
@click.option(
    "--mu",
    type=click.FloatRange(0, min_open=True),
    help="Fixed μ in every replicate (absolute, not per sample: a subsample of half "
    "the individuals selects fewer SNPs than the full data at the same μ).",
)
@click.option(
    "--n-active",
    type=click.IntRange(1),
    help="Select this many SNPs in every replicate (the paper's choice).",
)
@click.option(
    "--n-reps",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Replicates in the whole run.",
)
@click.option(
    "--fraction",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Each replicate fits ceil(fraction·n) individuals drawn without replacement.",
)
@click.option(
    "--reps",
    callback=index_range,
    metavar="A:B",
    help="Run only replicates A..B-1 of --n-reps (a shard for a cluster job; "
    "combine shards with --merge).  [default: 0:n-reps]",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Replicate i draws from SeedSequence(seed).spawn(n_reps)[i].",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.5, 1, min_open=True),
    default=0.6,
    show_default=True,
    help="FREQ threshold π of the Meinshausen-Bühlmann bound "
    "E[V] <= q²/((2π−1)p) reported in the log and the TSV header.",
)
@click.option(
    "--merge",
    is_flag=True,
    help="Combine shard files SHARDS (PREFIX.stability.npz of one run with disjoint "
    "--reps) into --out, as a single run would have written them.",
)
@click.argument("shards", nargs=-1, metavar="[SHARDS]...")
@options(LASSO, PLOT, SCHEDULER, RUN)
@run_command
def stability(log, **kw):
    """Stability selection (Meinshausen & Bühlmann 2010) as in LMM-Lasso (Rakitsch et al. 2013).

    Each of --n-reps replicates draws --fraction of the individuals without replacement and
    refits everything on them: the phenotype transform, the null model (eigendecomposition of
    the subsample's kinship, δ search) and the Lasso at --mu or at --n-active SNPs. FREQ is the
    fraction of replicates selecting a SNP. Writes PREFIX.stability.tsv (CHR SNP BP A1 FREQ, by
    decreasing FREQ, the bound in the header) and PREFIX.stability.npz (per-replicate
    selections, log δ, μ and active counts). --threads N runs replicates in N worker processes
    with one BLAS thread each, --scheduler on a Dask cluster; results are identical for any N
    and any backend.
    """
    if kw["merge"]:
        _merge(log, kw)
    else:
        _run(log, kw)
