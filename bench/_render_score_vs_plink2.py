"""The plink2 score part of the section "LMM-Lasso fit (issue 3)" from score_vs_plink2.json.

Renders what bench/score_vs_plink2.py measured; no slot for notes beyond ``body`` and ``end``.
"""

from __future__ import annotations

# The score_vs_plink2.py setting in runs that did not yet record it in the JSON
LEGACY_N_ACTIVE = 15


def render(result: dict, notes, source: str) -> str:
    """The score part; ``notes`` is unused here, ``source`` is the JSON path."""
    c = result["comparison"]
    n_active = result.get("settings", {}).get("n_active", LEGACY_N_ACTIVE)

    def fmt(v, spec):
        return "–" if v is None else format(v, spec)

    lines = [
        "### plink2 --score reproduces `lmmlasso predict`",
        "",
        f"Measured by `.venv/bin/python bench/score_vs_plink2.py` on {result['date']} "
        f"(raw numbers in `{source}`), {result['plink2']}.",
        "",
        f"data/toy: fit on toy (600 individuals, q1, intercept only, `--n-active {n_active}`), "
        f"predict on new ({c['n_individuals']} individuals, {c['n_founders']} founders). The "
        f"score file holds {c['n_scored_snps']} SNPs: {c['n_fixed_snps']} with fixed effects "
        f"and the BLUP weights of {c['n_background_snps']} kinship SNPs, per copy of A1. Offset "
        f"stated by the fit log: {c['offset_log']:.10g}; in the model's 'score_offsets': "
        f"{c['offset_meta']:.10g} (abs Δ {c['offset_abs_diff']:.1e}, the log prints 10 "
        f"digits). Individuals without a missing call among the scored SNPs: "
        f"**{c['n_complete']}** of {c['n_individuals']} ({c['n_missing_calls']} missing calls, "
        f"up to {c['max_missing_per_individual']} per individual), so the plain identity "
        f"can only be checked on all individuals; a second plink2 run with `--read-freq` of "
        f"the training frequencies makes plink2 impute as lmmlasso does.",
        "",
        "| individuals | n | plink2 as is | plink2 --read-freq training | rounding bound "
        "(max) | ratio to bound (--read-freq) | float64 sum, founder-frequency imputation | "
        "float64 sum, training-mean imputation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, text in (("complete", "without missing calls"), ("all", "all")):
        st = c["stats"][label]
        lines.append(
            f"| {text} | {st['n']} | {fmt(st['max_abs_delta_plink2'], '.2e')} | "
            f"{fmt(st['max_abs_delta_plink2_trainfreq'], '.2e')} | "
            f"{fmt(st['max_rounding_bound_plink2_trainfreq'], '.1e')} | "
            f"{fmt(st['max_ratio_to_bound_plink2_trainfreq'], '.2f')} | "
            f"{fmt(st['max_abs_delta_float64_founder_imputation'], '.2e')} | "
            f"{fmt(st['max_abs_delta_float64_train_imputation'], '.2e')} |"
        )
    lines += [
        "",
        "Cells are max abs(PRED − SUM − offset). plink2 prints SCORE1_SUM with 6 significant "
        "digits; the bound is half a unit in the 6th digit. The float64 columns recompute "
        "Σ weight × A1 count from the score file and new.bed, imputing a missing call with the "
        "mean count of the new set's founders (what plink2 does without --read-freq; it "
        f"matches plink2's sums to {c['plink2_sum_minus_float64_founder_sum_max']:.1e}) or with "
        "the training mean (what `lmmlasso predict` does). The score file therefore "
        "reproduces PRED exactly once missing calls are imputed the same way; with plink2's "
        "default imputation the difference is the imputation alone.",
    ]
    if c["null_model_at_boundary"]:
        lines += [
            "",
            f"Note: on this toy set the ML null model of `fit` ends on the grid boundary "
            f"(`{c['fit_log_null_line']}`); it does not affect the identity checked here.",
        ]
    lines += ["", "```", *result["commands"], "```"]
    return "\n".join(lines)
