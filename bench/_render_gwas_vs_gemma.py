"""The section "GWAS vs GEMMA (issue 5)" from bench/results/gwas_vs_gemma.json.

Renders what bench/gwas_vs_gemma.py measured; no slot for notes beyond ``body`` and ``end``.
"""

from __future__ import annotations

import re

from _render_markdown import markdown_table


def render(r: dict, notes, source: str) -> str:
    """The section body; ``notes`` is unused here, ``source`` is the JSON path."""
    m = r["machine"]
    ex, fx = r["agreement"]["exact_vs_gemma"], r["agreement"]["fixed_vs_gemma"]
    fe = r["agreement"]["fixed_vs_exact"]
    lines = [
        f"Measured by `.venv/bin/python bench/gwas_vs_gemma.py --repeats {r['repeats']}` on "
        f"{r['date']}; every figure below comes from that run (raw numbers in "
        f"`{source}`).",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, Linux "
        f"{m['kernel']}, Python {m['python']}; {m['lmmlasso']}, {m['gemma']}"
        + (f", FaST-LMM {r['fastlmm']} (pip, own venv)" if r["fastlmm"] else "")
        + ". 1-minute load average before/after the timings: "
        f"{r['loadavg_before_after'][0]:.2f}/{r['loadavg_before_after'][1]:.2f} (the machine "
        "is shared with other jobs, so wall times carry that noise).",
        "",
        f"Data: GEMMA's mouse_hs1940 example (1940 mice, 12226 SNPs), phenotype {r['pheno']} "
        f"(.fam column {5 + r['pheno']}), {r['n_analysed']} mice with a value; covariate: the "
        "intercept. One kinship for all tools: ours (`lmmlasso kinship`, defaults), given to "
        "GEMMA as a text matrix (`-k`) and to FaST-LMM as a KernelData. "
        f"Null model (ours): `{r['null_model_line']}`.",
        "",
        "### Agreement",
        "",
        markdown_table(
            [
                "ours",
                "peer",
                "SNPs compared",
                "corr −log10 P",
                "max abs Δ −log10 P",
                "max abs Δβ (per allele)",
                "max abs ΔSE",
                "max abs Δ log δ",
            ],  # fmt: skip
            [
                [
                    "gwas --exact",
                    "gemma -lmm 1",
                    ex["n_common"],
                    f"{ex['corr_neglog10p']:.12f}",
                    ex["max_abs_diff_neglog10p"],
                    ex["max_abs_diff_beta"],
                    ex["max_abs_diff_se"],
                    ex.get("max_abs_diff_log_delta", ""),
                ],
                [
                    "gwas (null δ)",
                    "gemma -lmm 1",
                    fx["n_common"],
                    f"{fx['corr_neglog10p']:.12f}",
                    fx["max_abs_diff_neglog10p"],
                    fx["max_abs_diff_beta"],
                    fx["max_abs_diff_se"],
                    "(δ fixed)",
                ],
                [
                    "gwas (null δ)",
                    "gwas --exact",
                    fe["n_common"],
                    f"{fe['corr_neglog10p']:.12f}",
                    fe["max_abs_diff_neglog10p"],
                    "",
                    "",
                    "",
                ],
            ],  # fmt: skip
        ),
        "",
        f"GEMMA tests {ex['n_gemma']} SNPs (its defaults drop MAF < 0.01 and > 5% missing "
        f"calls), we test {ex['n_ours']} (only monomorphic SNPs dropped); the comparison uses "
        f"the {ex['n_common']} in both. GEMMA's `allele1` is our A1 (.bim column 5) for "
        f"{ex['n_common'] - ex['n_flipped']} of them and its `allele0` for {ex['n_flipped']}; "
        "betas were oriented to our A1 before differencing. Largest |β| is "
        f"{ex['max_abs_beta']:.3g}. GEMMA prints 7 significant digits and we print 6, so "
        "differences of a few 1e-7 in β and SE are print rounding. GEMMA's Wald test is "
        "F(1, n − c − 1) = T², the same test as our t with n − c − 1 df. Top SNP: ours "
        f"{ex['top_snp_ours']}, GEMMA {ex['top_snp_gemma']}. "
        f"Per-SNP δ (ours): `{r['exact_log_delta_line']}`.",
    ]
    if "fixed_vs_fastlmm" in r["agreement"]:
        fl = r["agreement"]["fixed_vs_fastlmm"]
        lines += [
            "",
            markdown_table(
                [
                    "ours",
                    "peer",
                    "SNPs compared",
                    "corr −log10 P",
                    "max abs Δ −log10 P",
                    "max abs ΔT",
                    "FaST-LMM null h²",
                ],  # fmt: skip
                [
                    [
                        "gwas (null REML δ)",
                        "FaST-LMM single_snp",
                        fl["n_common"],
                        f"{fl['corr_neglog10p']:.12f}",
                        fl["max_abs_diff_neglog10p"],
                        fl["max_abs_diff_t"],
                        fl["fastlmm_null_h2"],
                    ]
                ],  # fmt: skip
            ),
            "",
            "FaST-LMM rescales K to mean diagonal 1 over the analysed mice (DiagKtoN), so its "
            "h² is on that scale; the tests do not depend on the scale of K. It tests all "
            f"{fl['n_fastlmm']} SNPs; the comparison uses the {fl['n_common']} we test.",
        ]
    else:
        lines += ["", f"FaST-LMM was not run: {r['fastlmm_problem']}."]
    lines += [
        "",
        f"### Timing (wall seconds, median of {r['repeats']} interleaved runs, after one "
        "untimed warm-up run of ours)",
        "",
        markdown_table(
            [
                "tool",
                "wall s (median)",
                "all runs",
                "CPU s (user+sys)",
                "max RSS MB",
                "time / ours (same model)",
            ],  # fmt: skip
            [
                [
                    t["tool"],
                    round(t["seconds"], 2),
                    ", ".join(f"{s:.1f}" for s in t["all_seconds"]),
                    round(t["cpu_seconds"], 2),
                    round(t["max_rss_mb"]),
                    round(t["time_ratio"], 2) if t["tool"] != t["compared_with"] else "1",
                ]
                for t in r["timing"]
            ],  # fmt: skip
        ),
        "",
        "Ratios compare a peer with our run of the same model: GEMMA -lmm 1 with `gwas "
        "--exact`, FaST-LMM with `gwas` at the null δ. Each wall time is a whole process: "
        "reading the data, the eigendecomposition, the null model and the scan (ours also fits "
        "the null model, then writes the TSV; GEMMA reads the text kinship).",
    ]
    if r["fastlmm_inner_seconds"]:
        s = r["fastlmm_inner_seconds"]
        lines.append(
            f"Inside the last FaST-LMM process: {s['import_and_load_s']:.1f} s importing and "
            f"loading K, {s['single_snp_s']:.1f} s in single_snp."
        )
    lines += [
        "",
        "Genomic-control λ in our logs: "
        + ", ".join(
            f"{k} {re.search(r'λ = ([0-9.]+)', v).group(1) if 'λ = ' in v else '?'}"
            for k, v in r["lambda_lines"].items()
        )
        + ".",
        "",
        "### Commands",
        "",
        "```",
        *r["commands"],
        "```",
        "",
        "Every command ran under `/usr/bin/time -v` (peak RSS); wall time is "
        "`time.perf_counter` around the process. FaST-LMM was installed with "
        "`pip install fastlmm six` into bench/work/gwas/fastlmm-venv (pysnptools imports `six` "
        "without declaring it).",
    ]
    return "\n".join(lines)
