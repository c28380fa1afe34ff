"""The section "Start-up and first run (issue 15)" from bench/results/startup.json.

Renders what bench/startup.py measured. Slots for notes: ``before`` (figures of the code
before the start-up work, measured by the same script), placed after the goals, plus ``body``
and ``end``.
"""

from __future__ import annotations

from _render_markdown import markdown_table

GOAL_FIRST_LINE = 0.5  # seconds from the shell to the first computation
GOAL_FIRST_FIT = 6.0  # seconds of a first `fit --mu 46`
GOAL_GEMMA_RATIO = 2.0  # GEMMA -lmm 1 time over a first `gwas --exact`
PHASES = ("imports", "read", "eigh", "rotation", "lasso")  # of the recipe


def _spread(values) -> str:
    return f"{min(values):.2f}–{max(values):.2f}"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _timing_table(rows: list[dict], repeats: int) -> str:
    return markdown_table(
        ["whole process", f"wall s (median of {repeats})", "range", "CPU s", "max RSS MB"],
        [
            [
                t["label"],
                round(t["seconds"], 2),
                _spread(t["all_seconds"]),
                round(t["cpu_seconds"], 2),
                round(t["max_rss_mb"]),
            ]
            for t in rows
        ],
    )


def render(r: dict, notes, source: str) -> str:
    m, help_rows = r["machine"], r["help"]
    first, warm, fr = r["first_line"], r["warm_fit"], r["first_run"]
    rows, agree = fr["rows"], warm["agreement"]
    phases = warm["recipe_phases"]
    ratio = fr["gemma_vs_first_gwas"]
    lines = [
        f"Measured by `.venv/bin/python bench/startup.py --repeats {r['repeats']}` on "
        f"{r['date']}; every figure below comes from that run (raw numbers in `{source}`).",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, Linux "
        f"{m['kernel']}, Python {m['python']}; {m['lmmlasso']}, {m['gemma']}. 1-minute load "
        f"average at the start {r['loadavg_start'][0]:.2f}, around the warm fits "
        f"{warm['loadavg_before_after'][0]:.2f}/{warm['loadavg_before_after'][1]:.2f}, around "
        f"the first runs {fr['loadavg_before_after'][0]:.2f}/"
        f"{fr['loadavg_before_after'][1]:.2f} (the machine is shared).",
        "",
        f"Data: GEMMA's mouse_hs1940 example (1940 mice, 12226 SNPs), phenotype {r['pheno']} "
        f"(.fam column {5 + r['pheno']}), {phases['n_samples']:.0f} mice with a value, "
        f"{phases['n_snps']:.0f} polymorphic SNPs; our kinship (`lmmlasso kinship`, defaults); "
        f"μ = {r['mu']:g}.",
        "",
        "### Goals",
        "",
        markdown_table(
            ["goal", "measured", ""],
            [
                [
                    f"shell to the first computation < {GOAL_FIRST_LINE} s",
                    f"{first['seconds']:.2f} s",
                    _met(first["seconds"] < GOAL_FIRST_LINE),
                ],
                [
                    f"first `fit --mu {r['mu']:g}` (empty numba cache) ≤ {GOAL_FIRST_FIT:g} s",
                    f"{rows['fit']['seconds']:.2f} s",
                    _met(rows["fit"]["seconds"] <= GOAL_FIRST_FIT),
                ],
                [
                    f"first `gwas --exact` ≥ {GOAL_GEMMA_RATIO:g}× faster than `gemma -lmm 1`",
                    f"{ratio:.2f}× ({rows['gwas']['seconds']:.2f} s vs "
                    f"{rows['gemma']['seconds']:.2f} s)",
                    _met(ratio >= GOAL_GEMMA_RATIO),
                ],
            ],
        ),
        "",
        *notes.block("before"),
        "### From the shell",
        "",
        markdown_table(
            ["what", f"wall s (median of {r['help_repeats']})", "range"],
            [[h["label"], round(h["seconds"], 3), _spread(h["all_seconds"])] for h in help_rows],
        ),
        "",
        f"Shell to the first computation: {first['seconds']:.2f} s (median of "
        f"{r['first_line_repeats']}, range {_spread(first['all_seconds'])}) from starting "
        f"`lmmlasso fit --mpheno {r['pheno']} --mu {r['mu']:g}` to its first log line on "
        f"stderr (`{first['first_line'].split(': ', 1)[-1]}`: the .fam, .bim and phenotype "
        "read, after every import and version look-up that precedes them); the whole process "
        f"took {first['process_seconds']:.2f} s. Imports by then, as "
        "PYTHONPROFILEIMPORTTIME counts them (it slows them down; each package's modules "
        f"summed): {first['imports']['total_seconds']:.2f} s, of which "
        + ", ".join(f"{t['package']} {t['seconds']:.3f}" for t in first["imports"]["top"][:6])
        + ".",
        "",
        f"### Warm `fit --mu {r['mu']:g}` against numpy + scikit-learn",
        "",
        _timing_table(warm["rows"], r["repeats"]),
        "",
        f"Ours is {warm['speedup']:.1f}× faster than the recipe with numpy's default threads "
        f"and {warm['speedup_one_thread']:.1f}× faster than it on one BLAS thread (as ours runs; "
        f"{', '.join(warm['blas_thread_variables'])} = 1); "
        f"{warm['ours_in_process_seconds']:.1f} s of ours "
        "ran inside the command (from opening PREFIX.log to closing it), the rest is start-up "
        "and exit. The recipe (`bench/_lmm_lasso_recipe.py`, default threads) spends "
        + ", ".join(f"{k} {phases[k]:.2f} s" for k in PHASES)
        + " (median phases; on one thread "
        + ", ".join(f"{k} {warm['recipe_phases_one_thread'][k]:.2f} s" for k in PHASES)
        + f"); scikit-learn took {phases['n_iter']:.0f} epochs. Both solve "
        "½‖ỹ − X̃w‖² + μ‖w‖₁ on the same rotated data (scikit-learn's objective divided by n, "
        "α = μ/n, the intercept projected out), stopping at a duality gap ≤ 1e-7·‖ỹ‖². "
        f"Coefficients: max |Δw| = {agree['max_abs_diff_coef']:.2e} (tolerance "
        f"{agree['coef_tol']:g}), {agree['n_selected_ours']} SNPs selected by ours and "
        f"{agree['n_selected_recipe']} by the recipe (|w| > {agree['support_tol']:g}), "
        + ("the same SNPs." if agree["same_support"] else "**not the same SNPs**.")
        + " Ours rotates only the SNPs that enter its working set; the recipe rotates them all.",
        "",
        "### First run after an install",
        "",
        _timing_table(list(rows.values()), r["repeats"]),
        "",
        "A first run has an empty numba cache (NUMBA_CACHE_DIR a new folder per run, "
        f"`{fr['numba_cache_dirs']}`): numba compiles every kernel the command uses, "
        f"{fr['compiled']['fit']['kernels']} for `fit` "
        f"({fr['compiled']['fit']['specializations']} specializations) and "
        f"{fr['compiled']['gwas']['kernels']} for `gwas --exact` "
        f"({fr['compiled']['gwas']['specializations']}); the warm gwas ran right after, with "
        "that cache. `gwas --exact --reml --transform none` fits GEMMA's model (per-SNP REML "
        f"δ, Wald test). GEMMA's time is its `-lmm 1` run alone, {ratio:.2f}× our first run "
        f"and {fr['gemma_vs_warm_gwas']:.2f}× our warm one; its relatedness (`-gk 1`, "
        f"{r['gemma_gk_seconds']:.1f} s) was made beforehand, as our kinship was.",
        "",
        "### Commands",
        "",
        "```",
        *dict.fromkeys(
            [
                *[h["command"] for h in help_rows],
                first["command"],
                *[t["command"] for t in warm["rows"]],
                *[t["command"] for t in rows.values()],
                r["gemma_gk_command"],
            ]
        ),
        "```",
        "",
        "Every timed command ran under `/usr/bin/time -v` (CPU, peak RSS) but the first-line "
        "runs, read through a pipe; wall time is `time.perf_counter` around the process.",
    ]
    return "\n".join(lines)
