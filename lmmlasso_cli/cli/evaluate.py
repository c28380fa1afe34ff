"""`lmmlasso evaluate`: precision–recall and ROC of result files against the causal SNPs."""

from __future__ import annotations

import click

from lmmlasso_cli.cli.options import BFILE, RUN, options
from lmmlasso_cli.cli.runner import run_command


def _named_results(ctx, param, values):
    out = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            import os

            path = value
            name = os.path.basename(value).split(".")[0] or value
        if not name or not path:
            raise click.BadParameter(f"{value!r}: expected NAME=FILE")
        out.append((name, path))
    names = [n for n, _ in out]
    if len(set(names)) < len(names):
        raise click.BadParameter("every --result needs its own NAME (use NAME=FILE)")
    return out


@click.command("evaluate")
@click.option(
    "--truth",
    required=True,
    metavar="FILE",
    help="Causal SNPs: a TSV with a SNP column and optionally PHENO (e.g. PREFIX.truth.tsv).",
)
@click.option("--pheno", metavar="NAME", help="Rows of --truth with this PHENO.")
@click.option(
    "--result",
    "results",
    required=True,
    multiple=True,
    callback=_named_results,
    metavar="NAME=FILE",
    help="A method's result, repeatable: weights.tsv (score |BETA_STD|), stability.tsv "
    "(FREQ) or gwas.tsv (−log10 P), told apart by their columns.",
)
@options(BFILE)
@click.option(
    "--mu-index",
    type=click.IntRange(0),
    help="For a weights.tsv of a μ path (MU_INDEX column): the μ to score  [default: the last]",
)
@click.option(
    "--window-bp",
    type=click.IntRange(0),
    help="Collapse to causal loci: the SNPs within ±W bp of a causal SNP (same chromosome).",
)
@click.option(
    "--window-snps",
    type=click.IntRange(0),
    help="Collapse to causal loci: the ±N neighbouring SNPs of a causal SNP in .bim order.",
)
@click.option(
    "--plot",
    is_flag=True,
    help="Also write PREFIX.pr.png with the PR curves of all methods (needs matplotlib).",
)
@options(RUN)
@run_command
def evaluate(log, **kw):
    """Score how well each result ranks the causal SNPs of --truth.

    The SNP universe is the .bim of --bfile; SNPs a result does not list score 0. Ties form one
    threshold. Without a window every SNP is a unit (causal = positive). With --window-bp or
    --window-snps each causal SNP becomes a locus (its window) scored by its best SNP; SNPs
    outside all loci are the negatives and the other SNPs inside loci are ignored: TP = loci
    recovered, FP = selected SNPs outside every locus.

    Writes PREFIX.eval.tsv (METHOD, AUC_PR = average precision, AUC_ROC, counts, and precision
    and recall of the method's own selection: non-zero weights; FREQ ≥ the threshold in a
    stability file's header, or its SELECTED column; Bonferroni P ≤ 0.05/#tested for a gwas
    file) and PREFIX.curves.tsv (METHOD THRESHOLD PRECISION RECALL FPR TP FP, one row per
    distinct score).
    """
    run_evaluate(log, kw)


def run_evaluate(log, kw):
    import numpy as np
    import pandas as pd

    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.evaluate import causal_loci, ranking_curves, selection_recovery, unit_scores
    from lmmlasso_cli.io.evaluate_file import read_result, read_truth, write_eval_tables
    from lmmlasso_cli.io.plink import plink_prefix, read_plink
    from lmmlasso_cli.io.plots import plot_pr

    if kw["window_bp"] is not None and kw["window_snps"] is not None:
        raise InputError("--window-bp and --window-snps: choose one window")
    plink = read_plink(plink_prefix(kw["bfile"]), kw["genotype_format"])
    lookup = {s: i for i, s in enumerate(plink.snp)}  # unique: read_plink refuses duplicates
    truth = read_truth(kw["truth"], kw.get("pheno"))
    absent = [s for s in truth.snp if s not in lookup]
    if absent:
        raise InputError(
            f"{truth.path}: {len(absent)} causal SNPs are not in {plink.bim_path} (e.g. "
            f"{absent[0]}); give the --bfile the phenotypes were simulated on"
        )
    causal = np.array(sorted(lookup[s] for s in truth.snp))
    loci, window = None, "none"
    if kw["window_bp"] is not None:
        loci = causal_loci(causal, plink.chrom, plink.bp, kw["window_bp"])
        window = f"±{kw['window_bp']} bp"
    elif kw["window_snps"] is not None:
        loci = causal_loci(causal, plink.chrom, None, kw["window_snps"])
        window = f"±{kw['window_snps']} SNPs"
    log.info(
        f"truth {truth.path}"
        + (f" (PHENO {truth.pheno})" if truth.pheno else "")
        + f": {len(causal)} causal SNPs among the {plink.n_snps} SNPs of {plink.bim_path}; "
        f"window {window}"
        + (f": {len(loci.negatives)} SNPs outside every locus" if loci is not None else "")
    )
    rows, curve_frames, pr = [], [], {}
    for name, path in kw["results"]:
        res = read_result(path, kw.get("mu_index"))
        pos = np.array([lookup.get(s, -1) for s in res.snp], dtype=np.int64)
        unknown = int(np.sum(pos < 0))
        if unknown == len(pos) and len(pos):
            raise InputError(
                f"{path}: none of its {len(pos)} SNPs is in {plink.bim_path}; wrong --bfile?"
            )
        scores = np.zeros(plink.n_snps)
        scores[pos[pos >= 0]] = res.score[pos >= 0]
        curves = ranking_curves(*unit_scores(scores, causal, loci))
        sel = None
        if res.selected is not None:
            chosen = np.zeros(plink.n_snps, dtype=bool)
            chosen[pos[pos >= 0]] = res.selected[pos >= 0]
            sel = selection_recovery(chosen, causal, loci)
        rows.append(
            {
                "METHOD": name,
                "KIND": res.kind,
                "AUC_PR": curves.average_precision,
                "AUC_ROC": curves.roc_auc,
                "N_CAUSAL": len(causal),
                "N_SNPS": plink.n_snps,
                "N_NEGATIVE": curves.n_negative,
                "WINDOW": window,
                "N_SELECTED": sel.n_selected if sel else pd.NA,
                "PRECISION_SEL": sel.precision if sel else np.nan,
                "RECALL_SEL": sel.recall if sel else np.nan,
                "SELECTION": res.selection_rule or "NA",
                "FILE": path,
            }
        )
        curve_frames.append(
            pd.DataFrame(
                {
                    "METHOD": name,
                    "THRESHOLD": curves.thresholds,
                    "PRECISION": curves.precision,
                    "RECALL": curves.recall,
                    "FPR": curves.fpr,
                    "TP": curves.tp,
                    "FP": curves.fp,
                }
            )
        )
        pr[name] = (curves.recall, curves.precision)
        extra = f"; {unknown} of its SNPs are not in the .bim (ignored)" if unknown else ""
        log.info(f"{name}: {path} read as {res.kind} ({len(res.snp)} SNPs listed){extra}")
        if res.note:
            log.info(f"{name}: {res.note}")
    summary = pd.DataFrame(rows)
    summary["N_SELECTED"] = summary["N_SELECTED"].astype("Int64")
    write_eval_tables(kw["out"], summary, pd.concat(curve_frames, ignore_index=True))
    log.info(_table(summary))
    log.info(f"wrote {kw['out']}.eval.tsv and {kw['out']}.curves.tsv")
    if kw["plot"]:
        title = f"{len(causal)} causal SNPs" + (f", window {window}" if loci else "")
        ap = dict(zip(summary.METHOD, summary.AUC_PR, strict=True))
        plot_pr(kw["out"] + ".pr.png", pr, ap, title)
        log.info(f"wrote {kw['out']}.pr.png")


def _table(summary) -> str:
    """The AUC table as aligned text for the log."""
    cols = ["METHOD", "AUC_PR", "AUC_ROC", "N_SELECTED", "PRECISION_SEL", "RECALL_SEL"]
    text = summary[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="NA")
    return "\n" + text
