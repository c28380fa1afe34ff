"""The section "Principal components vs plink2 (issue 13)" from pca_vs_plink2.json."""

from __future__ import annotations


def render(result: dict, notes, source: str) -> str:
    m = result["machine"]
    lines = [
        f"Measured by `.venv/bin/python bench/pca_vs_plink2.py` on {result['date']} (raw numbers "
        f"in `{source}`); {m['nproc']} CPUs, {m['plink2']}; 1-minute load average "
        f"{result['loadavg_before'][0]} before, {result['loadavg_after'][0]} after.",
        "",
        "Both tools on exactly the SNPs plink2 keeps (for HLC also without missing calls, "
        "`--geno 0`), plink2 `--pca` with `--nonfounders` against `lmmlasso pca --scaling hwe` "
        "(its default `--method auto`: the exact eigendecomposition of K for up to 5000 "
        "individuals). The last column checks `--method randomized` (the streamed randomized "
        "SVD used above 5000 individuals) against the exact eigendecomposition of our kinship "
        "(empirical scaling, same SNPs).",
        "",
        "| data | individuals | SNPs | min \\|corr\\| vs plink2 (PC1–PC10) | eigenvalue ratio "
        "ours/plink2 | min \\|corr\\| randomized vs exact |",
        "|---|---|---|---|---|---|",
    ]
    for d in result["datasets"]:
        ratios = d["eigenvalue_ratio_vs_plink2"]
        lines.append(
            f"| {d['data']} | {d['n_samples']} | {d['n_snps']} | {min(d['corr_vs_plink2']):.6f} "
            f"| {min(ratios):.4f}–{max(ratios):.4f} | {min(d['corr_randomized_vs_exact']):.6f} |"
        )
    lines += ["", "| data | command | wall s | max RSS MB |", "|---|---|---|---|"]
    for d in result["datasets"]:
        for label, r in d["runs"].items():
            lines.append(f"| {d['data']} | {label} | {r['seconds']:.2f} | {r['max_rss_mb']:.0f} |")
    lines += ["", "Per-PC |corr| against plink2:", ""]
    for d in result["datasets"]:
        lines.append(f"- {d['data']}: " + ", ".join(f"{c:.6f}" for c in d["corr_vs_plink2"]))
    return "\n".join(lines) + "\n"
