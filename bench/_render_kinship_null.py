"""The section "Kinship and null model (issue 2)" from bench/results/kinship_null.json.

Renders what bench/kinship_null.py measured; slot for notes: ``discrepancies`` (after the
heading "Discrepancies found in this run").
"""

from __future__ import annotations

from _render_markdown import markdown_table

# The kinship_null.py setting in runs that did not yet record it in the JSON
LEGACY_GEMMA_NULL_SNPS = 100


def timing_table(rows: list[dict]) -> str:
    return markdown_table(
        [
            "data",
            "tool",
            "SNPs used",
            "wall s (median)",
            "CPU s (user+sys)",
            "max RSS MB",
            "time / ours",
            "RSS / ours",
        ],
        [
            [
                r["dataset"],
                r["tool"],
                r["n_snps_used"],
                round(r["seconds"], 2),
                round(r["cpu_seconds"], 2),
                round(r["max_rss_mb"]),
                round(r["time_ratio_vs_ours"], 2),
                round(r["rss_ratio_vs_ours"], 2),
            ]
            for r in rows
        ],
    )


def agreement_table(rows: list[dict]) -> str:
    return markdown_table(
        ["data", "compared with", "SNPs", "max abs ΔK", "mean abs ΔK", "peer raw mean diag"],
        [
            [
                r["dataset"],
                r["peer"],
                r["n_snps"]
                if "peer_n_snps" not in r
                else f"{r['n_snps']} (GEMMA {r['peer_n_snps']})",
                r["max_abs_diff"],
                r["mean_abs_diff"],
                round(r["peer_mean_diag_raw"], 6),
            ]
            for r in rows
        ],
    )


def h2_table(rows: list[dict]) -> str:
    return markdown_table(
        [
            "pheno (.fam col)",
            "n",
            "our h²",
            "t = tr(PKP)/n",
            "ours as pve",
            "GEMMA pve",
            "abs Δ",
            "ours as pve (mean-diag t)",
            "our se(h²)",
            "our se as pve",
            "GEMMA se(pve)",
            "REML logL ours",
            "REML logL GEMMA",
            "ours − GEMMA",
        ],
        [
            [
                f"{r['pheno']} ({r['fam_column']})",
                r["n_ours"],
                f"{r['h2_ours']:.6f}",
                f"{r['t_centred']:.6f}",
                f"{r['pve_ours_gemma_conversion']:.6f}",
                f"{r['pve_gemma']:.6f}",
                f"{r['abs_diff_pve']:.1e}",
                f"{r['pve_ours_mean_diag_conversion']:.6f}",
                f"{r['h2_se_ours']:.6f}",
                f"{r['pve_se_ours_converted']:.6f}",
                f"{r['pve_se_gemma']:.6f}",
                f"{r['loglik_reml_ours']:.4f}",
                f"{r['loglik_reml_gemma']:g}",
                f"{r['loglik_diff']:+.4f}",
            ]
            for r in rows
        ],
    )


def intercept_table(rows: list[dict]) -> str:
    return markdown_table(
        [
            "pheno",
            "σg² ours",
            "vg GEMMA",
            "σe² ours",
            "ve GEMMA",
            "intercept ours (se)",
            "beta GEMMA (se)",
        ],
        [
            [
                r["pheno"],
                f"{r['sigma2_g_ours']:.6f}",
                f"{r['vg_gemma']:g}",
                f"{r['sigma2_e_ours']:.6f}",
                f"{r['ve_gemma']:g}",
                f"{r['beta_intercept_ours']:.4g} ({r['se_intercept_ours']:.4g})",
                f"{r['beta_gemma']:.4g} ({r['beta_se_gemma']:.4g})",
            ]
            for r in rows
        ],
    )


def render(result: dict, notes, source: str) -> str:
    """The section body; ``notes`` supplies the hand-written blocks, ``source`` the JSON path."""
    m = result["machine"]
    flags = " --quick" if result["quick"] else ""
    lines = [
        f"Measured by `.venv/bin/python bench/kinship_null.py{flags}`"
        f" on {result['date']}; every figure below comes from that run "
        f"(raw numbers in `{source}`).",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, Linux "
        f"{m['kernel']}, Python {m['python']}; {m['lmmlasso']}, {m['plink2']}, "
        f"{m['plink1.9']}, {m['gemma']}.",
        "",
        "Data: GEMMA's examples from the Debian package gemma-doc, gunzipped into `bench/work/data`"
        ": mouse_hs1940 (1940 mice, 12226 SNPs, 6 phenotypes in .fam columns 6–11) and HLC "
        "(427 people, 358499 SNPs with missing calls).",
        "",
        f"### Kinship: time and peak memory (median of {result['repeats']} runs, after one "
        "untimed warm-up run of `lmmlasso kinship`)",
        "",
        timing_table(result["timing"]),
        "",
        "Time / ours = peer wall time divided by `lmmlasso kinship` with default settings (all "
        f"cores, here {result['machine']['nproc']}). Runs of the five commands were "
        "interleaved, repeat by repeat. The machine was shared with other jobs; 1-minute "
        "load average before/after the timings: "
        + "; ".join(
            f"{k} {v['before'][0]:.2f}/{v['after'][0]:.2f}"
            for k, v in result["loadavg_during_timing"].items()
        )
        + ", so wall times carry that noise (CPU seconds are less affected). "
        "The tools do not use the same SNPs by default: plink2 drops variants with a "
        "negative bp position ("
        + ", ".join(f"{v} in {k}" for k, v in result["negative_bp"].items())
        + ") and non-autosomal ones ("
        + ", ".join(f"{v} in {k}" for k, v in result["non_autosomal"].items())
        + "), and on HLC, which has missing calls, it does not mean-impute (that needs the "
        "`meanimpute` modifier) but corrects for missingness, per its log; GEMMA drops SNPs with "
        "MAF < 0.01 or more than 5% missing among phenotyped individuals; lmmlasso drops only "
        "monomorphic SNPs.",
        "",
        "### Kinship: agreement",
        "",
        agreement_table(result["agreement"]),
        "",
        "All matrices are divided by their mean diagonal before comparing. plink2 runs with "
        "`--nonfounders`, so its allele frequencies come from all individuals as ours do (the "
        "mouse .fam lists parents for every mouse: without it plink2 sees 0 founders). plink2: our "
        "`--scaling hwe` against `plink2 --make-rel square bin` (float64) on SNPs that are "
        "autosomal, at bp >= 0, without missing calls and polymorphic. GEMMA: our default "
        "empirical kinship against `gemma -gk 2` (its .sXX.txt has 10 significant digits). "
        "With both tools' defaults the matrices differ because of the SNP sets: GEMMA's MAF "
        "filter removes rare SNPs, which weigh heavily once standardized to sd 1. On GEMMA's "
        "own SNP set (same filter, computed by the bench) the formulas agree: both centre and "
        "scale each SNP over all individuals (sd with ddof 0 after mean imputation).",
        "",
        "### Null model: h² against GEMMA REML (mouse, same kinship)",
        "",
    ]
    h2 = result["h2"]
    if h2 is None:
        lines += ["Not run.", ""]
    else:
        offsets = result["loglik_offsets"]
        se_centred = ", ".join(f"{r['beta_se_centred_model']:.4g}" for r in h2["rows"])
        lines += [
            h2_table(h2["rows"]),
            "",
            intercept_table(h2["rows"]),
            "",
            "GEMMA double-centres the kinship over the analysed individuals before its "
            "eigendecomposition (`CenterMatrix(G)` in gemma.cpp) and reports pve = σg²·t / "
            "(σg²·t + σe²) with t = tr(P K_sub P)/n, P = I − 11ᵀ/n. With an intercept as the "
            "only covariate the REML likelihood, σg² and σe² do not change under that centring, "
            'so "ours as pve" uses GEMMA\'s t. The conversion with t = mean diag(K_sub) (the '
            "plain mean diagonal over the analysed individuals) is shown too: it differs from "
            "GEMMA's pve by at most "
            f"{max(r['abs_diff_pve_mean_diag_conversion'] for r in h2['rows']):.1e}. GEMMA "
            "prints 6 significant digits, so differences below about "
            f"{max(r['gemma_pve_print_halfunit'] for r in h2['rows']):.0e} in pve are rounding.",
            "",
            "REML log-likelihood, ours minus GEMMA, by sample size: "
            + "; ".join(
                f"n = {o['n']} (pheno {', '.join(map(str, o['phenos']))}): "
                + ", ".join(f"{d:+.4f}" for d in o["diffs"])
                + f" (GEMMA rounds to ±{o['gemma_print_halfunit']:g})"
                for o in offsets
            )
            + ". "
            + (
                "Every difference lies within GEMMA's print rounding: the two REML "
                "log-likelihoods use the same constant."
                if all(o["within_rounding"] for o in offsets)
                else "Not all differences lie within GEMMA's print rounding; see the JSON."
            ),
            "",
            "The intercept differs because the models differ in that respect: with the "
            "centred kinship, 1 lies in the null space of K, so GEMMA's β is the plain phenotype "
            "mean over the analysed individuals (max |β − mean| here "
            f"{max(abs(r['beta_gemma'] - r['pheno_mean']) for r in h2['rows']):.1e}, GEMMA "
            "prints 4 significant digits) with se = √(σe²/n) "
            f"(√(ve/n) = {se_centred}), "
            "while ours is the GLS estimate under the uncentred K (mean diagonal 1).",
            "",
            f"`lmmlasso fit-null` for the six phenotypes took {h2['fit_null_seconds']:.1f} s "
            f"(one run, peak RSS {h2['fit_null_max_rss_mb']:.0f} MB); GEMMA took "
            f"{sum(h2['gemma_seconds']):.1f} s for six runs (each also tests the "
            f"{h2.get('gemma_null_snps', LEGACY_GEMMA_NULL_SNPS)}-SNP list, its null model does "
            "not depend on it).",
            "",
        ]
    found = result["discrepancies"]
    lines += ["### Discrepancies found in this run", "", *notes.block("discrepancies")]
    lines += [f"- {d}" for d in found] if found else ["None."]
    commands = [r["command"] for r in result["timing"]]
    for r in result["agreement"]:
        if r.get("extract_returncode") not in (None, 0):
            commands.append(f"{r['extract_command']}   # failed, exit {r['extract_returncode']}")
        commands.append(r["ours_command"])
        if r.get("peer_command"):
            commands.append(r["peer_command"])
    if h2 is not None:
        commands.append(h2["fit_null_command"])
        commands += h2["gemma_commands"]
    lines += ["", "### Commands", "", "```", *dict.fromkeys(commands), "```", ""]
    lines += [
        "`ours_K.txt` is `K` from the .kinship.npz written by numpy (`%.17g`, tab-separated, "
        "rows in .fam order). Every command ran under `/usr/bin/time -v` (peak RSS); wall time "
        "is `time.perf_counter` around the process.",
    ]
    return "\n".join(lines)
