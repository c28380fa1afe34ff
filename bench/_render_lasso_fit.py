"""The LMM-Lasso part of the section "LMM-Lasso fit (issue 3)" from lasso_fit[_quick].json.

Renders what bench/lasso_fit.py measured; no slot for notes beyond ``body`` and ``end``.
"""

from __future__ import annotations

from _render_markdown import markdown_table

# The lasso_fit.py settings in runs that did not yet record them in the JSON
LEGACY_SETTINGS = {
    "n_causal": 20,
    "h2_snps": 0.2,
    "h2_background": 0.4,
    "max_epochs": 10_000,
    "target_active": 20,
    "long_run_seconds": 30.0,
    "scaling_n_mu": 20,
    "scaling_mu_min_ratio": 1e-1,
}


def _e(x: float) -> str:
    """1e-4, not 1e-04."""
    return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e+")


def render(r: dict, notes, source: str) -> str:
    """The LMM-Lasso part; ``notes`` is unused here, ``source`` is the JSON path."""
    m, d, p2 = r["machine"], r["data"], r["single"]
    s = r.get("settings", LEGACY_SETTINGS)
    admm = p2["admm_settings"]
    flags = " --quick" if r["quick"] else ""
    lines = [
        f"Measured by `.venv/bin/python bench/lasso_fit.py{flags}` on {r['date']}; every "
        f"figure below comes from that run (raw numbers in `{source}`).",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, Linux "
        f"{m['kernel']}, Python {m['python']}; {m['lmmlasso']}, scikit-learn "
        f"{r['sklearn_version']}, numpy {r['numpy_version']}"
        + (
            f" (package sources sha256 {r['lmmlasso_source_sha256'][:12]})"
            if r.get("lmmlasso_source_sha256")
            else ""
        )
        + ". BLAS threads in the bench: "
        f"{r['blas_threads']}. The machine was shared: 1/5/15-min load average at the start "
        f"{r['loadavg_start']}, at the end {r['loadavg_end']}; wall times carry that noise. "
        f"Timings are the best of {r['repeats']} runs, except runs longer than "
        f"{s['long_run_seconds']:g} s, timed once.",
        "",
        f"Data: GEMMA's mouse_hs1940 (`bench/work/data`), {d['n']} mice × {d['p']} SNPs "
        f"({d['n_monomorphic']} monomorphic SNPs dropped), standardized. K: our realized "
        f"relationship (mean diagonal 1). {simulation_sentence(d, s)} Null model (ours, ML, "
        "intercept): "
        f"log δ = {d['log_delta']:.4f}, h² = {d['h2']:.4f}, on the grid boundary: "
        f"{d['null_at_boundary']}. Objective everywhere: ½‖ỹ − X̃w‖² + μ‖w‖₁, μ absolute.",
        "",
        *render_path(r, s),
        "### 2. One μ: ours against the original LMM-Lasso code's cost",
        "",
        f"μ = {p2['mu']:.4g} = {p2['mu_over_mu_max']:.3g}·μ_max (first μ of the path with "
        f"≥ {s['target_active']} SNPs). The original (BorgwardtLab/LMM-Lasso `lmm_lasso.py`, "
        f"re-implemented in the bench for timing): eigh, null model, rotation of all SNPs, then "
        f"Boyd's ADMM (Cholesky of I + X̃X̃ᵀ/ρ, ρ = {admm['rho']:g}, α = {admm['alpha']:g}, "
        f"max_iter {admm['max_iter']}, abstol {_e(admm['abstol'])}, reltol "
        f"{_e(admm['reltol'])}, zero_threshold {_e(admm['zero_threshold'])}, objective "
        f"monitored every iteration, stopping test "
        f"as written: r_norm < eps_pri and r_norm < eps_dual). The ADMM gets the same X̃ "
        f"(intercept projected out, which the original lacks; O(np)) so that the objectives "
        f"compare. eigh and the null model are the same code on both sides.",
        "",
        markdown_table(
            ["step", "ours s", "original s"],
            [
                [f"eigh of K (n = {d['n']})", p2["eigh_seconds"], p2["eigh_seconds"]],
                ["null model (ML grid + Brent)", p2["null_seconds"], p2["null_seconds"]],
                [f"rotation of all {d['p']} SNPs", "–", p2["full_rotation_seconds"]],
                ["Lasso at μ", p2["ours_fit_seconds"], p2["admm_seconds"]],
                ["**total**", p2["ours_total_seconds"], p2["original_total_seconds"]],
            ],
        ),
        "",
        f"Original / ours = **{p2['ratio_original_over_ours']:.3g}**. Ours rotated "
        f"{p2['ours_n_rotated']} columns, made {p2['ours_n_correlations']} X̃ᵀv products and "
        f"{p2['ours_n_epochs']} epochs; the ADMM ran {p2['admm_iterations']} iterations.",
        "",
        markdown_table(
            ["solver", "objective", "(obj − ours) / ‖ỹ‖²", "gap / ‖ỹ‖²", "SNPs selected"],
            [
                [
                    "ours",
                    p2["objective_ours"],
                    0.0,
                    p2["ours_gap"] / p2["y_rot_norm2"],
                    p2["ours_n_active"],
                ],
                [
                    "original ADMM (w, thresholded at 1e-3)",
                    p2["objective_admm"],
                    p2["objective_diff_rel"],
                    p2["admm_gap"] / p2["y_rot_norm2"],
                    p2["admm_n_active"],
                ],
            ],
        ),
        "",
        f"max |w_ours − w_ADMM| = {p2['max_abs_dw']:.3g} (largest |w| {p2['max_abs_w']:.3g}); "
        f"selected by ours only: {p2['support_ours_not_admm']}, by the ADMM only: "
        f"{p2['support_admm_not_ours']}. The ADMM stops on loose residual tolerances and "
        f"returns the un-thresholded primal iterate w with entries below 1e-3 zeroed, so it "
        f"is not an exact Lasso solution.",
        "",
        f"### 3. Scaling of fit_lmm_lasso (one μ = {p2['mu_over_mu_max']:.3g}·μ_max of each "
        f"subset; path of {s['scaling_n_mu']} μ down to {s['scaling_mu_min_ratio']:g}·μ_max)",
        "",
        "Random subsets of individuals (SNPs re-standardized, monomorphic ones dropped, K and "
        "null model recomputed on the subset) and of SNPs (p = "
        f"{max(c['p_requested'] for c in r['scaling'])} means all available).",
        "",
        markdown_table(
            [
                "n",
                "p",
                "eigh s",
                "one μ s",
                "SNPs",
                "rotated",
                "X̃ᵀv",
                "epochs",
                "path s",
                "SNPs at end",
                "rotated",
                "X̃ᵀv",
                "epochs",
            ],
            [
                [
                    c["n"],
                    c["p"],
                    c["eigh_seconds"],
                    c["one_mu_seconds"],
                    c["one_mu_n_active"],
                    c["one_mu_n_rotated"],
                    c["one_mu_n_correlations"],
                    c["one_mu_n_epochs"],
                    c["path_seconds"],
                    c["path_n_active_last"],
                    c["path_n_rotated"],
                    c["path_n_correlations"],
                    c["path_n_epochs_total"],
                ]
                for c in r["scaling"]
            ],
        ),
        "",
        *scaling_notes(r["scaling"]),
        "",
        "### 4. Peak memory of the CLI",
        "",
        markdown_table(
            [
                "run",
                "n × p analysed",
                "one n×p float64 (MB)",
                "wall s",
                "peak RSS (MB)",
                "RSS / matrix",
            ],
            [
                [
                    "`lmmlasso fit --mpheno 1` (command below)",
                    f"{r['memory']['n_analysed']} × {r['memory']['p_analysed']}",
                    r["memory"]["one_matrix_mb"],
                    r["memory"]["fit_seconds"],
                    r["memory"]["fit_max_rss_mb"],
                    r["memory"]["rss_over_matrix"],
                ],
            ],
        ),
        "",
        f"Fit log: `{r['memory']['fit_log_path_line']}`. Peak RSS from `/usr/bin/time -v`. "
        f"(`lmmlasso kinship` beforehand: {r['memory']['kinship_max_rss_mb']:.0f} MB.)",
        "",
        "### Commands",
        "",
        "```",
        f".venv/bin/python bench/lasso_fit.py{flags}",
        r["memory"]["kinship_command"],
        r["memory"]["fit_command"],
        "```",
    ]
    return "\n".join(lines)


def simulation_sentence(d: dict, s: dict) -> str:
    """How the phenotype was simulated: by lmmlasso_cli.simulate, or (older runs) by the bench."""
    sim = d.get("simulation")
    if sim is None:
        h2s, h2b = s["h2_snps"], s["h2_background"]
        return (
            f"Phenotype simulated (seed {d['seed']}): {s['n_causal']} causal SNPs ({h2s:.0%} of "
            f"the variance), polygenic N(0, K) ({h2b:.0%}), noise ({1 - h2s - h2b:.0%})."
        )
    h2s, h2b = sim["h2_snps"], sim["h2_background"]
    return (
        f"Phenotype simulated as `lmmlasso simulate --seed {d['seed']}` draws its first one "
        f"(`lmmlasso_cli.simulate`): {sim['n_causal']} causal SNPs ({h2s:.0%} of the variance, "
        f"{sim['effect_dist']} effects), a background N(0, K) ({h2b:.0%}) and noise "
        f"({1 - h2s - h2b:.0%}), uncorrelated in the sample so that the shares are exact."
    )


def render_path(r: dict, s: dict) -> list[str]:
    """Part 1: the path against scikit-learn."""
    p1, d = r["path"], r["data"]
    done = p1["n_mu_sklearn_done"]
    y2 = p1["y_rot_norm2"]
    lines = [
        f"### 1. {p1['n_mu']}-μ path against scikit-learn {r['sklearn_version']} `lasso_path`",
        "",
        f"μ from μ_max = {p1['mu_max']:.4g} down to {p1['mus'][-1] / p1['mu_max']:.3g}·μ_max, "
        f"{p1['n_mu']} values, tol = {p1['tol']:g}; ours ends with {p1['ours_n_active'][-1]} SNPs "
        f"active. Both solvers stop on the duality gap of the same objective: ours when gap ≤ "
        f"tol·‖ỹ‖²; scikit-learn's kernel computes its gap on ½‖ỹ − X̃w‖² + nα‖w‖₁ with "
        f"α = μ/n (our objective) and stops when it is ≤ tol·‖ỹ‖², so it gets the same "
        f"tol = {p1['sklearn_tol']:g}, with max_iter = {p1['sklearn_max_iter']} epochs per μ "
        f"(our max_epochs is {s['max_epochs']}, shared by the working-set rounds of one μ). "
        f"scikit-learn evaluates its gap only after an epoch whose largest relative "
        f"coefficient change is ≤ tol (not tol·‖ỹ‖²), so it can run past the gap it needs. The "
        f"bench runs lasso_path one μ per call, warm-started as lasso_path does internally, "
        f"to time each μ",
    ]
    if p1["sklearn_complete"]:
        lines[-1] += "."
    else:
        lines[-1] += (
            f"; it stopped after the μ that exceeded the budget of "
            f"{p1['sklearn_budget_seconds']:g} s: scikit-learn finished {done} of "
            f"{p1['n_mu']} μ, and every comparison below is on those {done} μ."
        )
    lines[-1] += (
        f" Both gaps are recomputed by the bench on the full X̃ (max |recomputed − reported| "
        f"/ ‖ỹ‖²: ours {p1['ours_gap_check_rel']:.1e}, scikit-learn "
        f"{p1['sklearn_gap_check_rel']:.1e})."
    )
    lines += [
        "",
        markdown_table(
            [
                "solver",
                "μ done",
                "seconds",
                "ratio to ours (same μ)",
                "max gap / ‖ỹ‖²",
                "μ with gap > tol·‖ỹ‖²",
                "epochs (sum)",
                "epochs (max at one μ)",
                "columns rotated",
                "X̃ᵀv products",
            ],
            [
                [
                    "fit_lmm_lasso (rotates its working set)",
                    p1["n_mu"],
                    p1["ours_seconds"],
                    "–",
                    max(p1["gap_ours"]) / y2 if done == p1["n_mu"] else "–",
                    p1["ours_n_not_converged"],
                    sum(p1["ours_n_epochs"]),
                    max(p1["ours_n_epochs"]),
                    p1["ours_n_rotated"],
                    p1["ours_n_correlations"],
                ],
                [
                    f"fit_lmm_lasso, first {done} μ",
                    done,
                    p1["ours_seconds_common"],
                    1.0,
                    p1["max_gap_ours_rel"],
                    sum(g > p1["tol_gap"] for g in p1["gap_ours"]),
                    sum(p1["ours_n_epochs"][:done]),
                    max(p1["ours_n_epochs"][:done]),
                    "–",
                    "–",
                ],
                [
                    "full rotation P D Uᵀ X (for sklearn)",
                    "–",
                    p1["rotation_seconds"],
                    p1["rotation_seconds"] / p1["ours_seconds_common"],
                    "–",
                    "–",
                    "–",
                    "–",
                    d["p"],
                    "–",
                ],
                [
                    "sklearn lasso_path on X̃",
                    done,
                    p1["sklearn_seconds"],
                    p1["ratio_sklearn_over_ours"],
                    p1["max_gap_sklearn_rel"],
                    p1["n_mu_sklearn_gap_above_tol"],
                    sum(p1["sklearn_n_iter"]),
                    max(p1["sklearn_n_iter"]),
                    "–",
                    "–",
                ],
                [
                    "sklearn + rotation (end to end)",
                    done,
                    p1["sklearn_seconds"] + p1["rotation_seconds"],
                    p1["ratio_sklearn_plus_rotation_over_ours"],
                    "–",
                    "–",
                    "–",
                    "–",
                    "–",
                    "–",
                ],
            ],
        ),
        "",
        f"scikit-learn reached max_iter at {p1['sklearn_n_at_max_iter']} μ and raised "
        f"{len(p1['sklearn_warnings'])} warnings. Cumulative seconds along the path:",
        "",
    ]
    marks = [k for k in (9, 24, 49, 74, p1["n_mu"] - 1) if k < p1["n_mu"]]
    lines.append(
        markdown_table(
            [
                "μ index",
                "μ/μ_max",
                "SNPs (ours)",
                "epochs at this μ (ours / sklearn)",
                "ours s",
                "sklearn s",
            ],
            [
                [
                    k,
                    p1["mus"][k] / p1["mu_max"],
                    p1["ours_n_active"][k],
                    f"{p1['ours_n_epochs'][k]} / "
                    + (str(p1["sklearn_n_iter"][k]) if k < done else "–"),
                    p1["ours_cumulative_seconds"][k],
                    p1["sklearn_cumulative_seconds"][k] if k < done else "–",
                ]
                for k in marks
            ],
        )
    )
    lines += [
        "",
        f"Agreement on the {done} μ: max over μ of max_j |w_ours − w_sklearn| = "
        f"{p1['max_abs_dw']:.2e} (at μ index {p1['argmax_abs_dw']}; largest |w| "
        f"{p1['max_abs_w']:.3g}); max |objective difference| / ‖ỹ‖² = "
        f"{p1['max_objective_diff_rel']:.1e}; SNPs in one support but not the other, summed "
        f"over μ: {sum(p1['support_differences'])}. A duality gap bounds the "
        f"objective's distance to the optimum, not |Δw|; with SNPs in strong LD the Lasso "
        f"solution is poorly conditioned, so the measured |Δw| is the figure to read.",
        "",
    ]
    return lines


def scaling_notes(cells: list[dict]) -> list[str]:
    """Measured growth factors between grid points (no modelled numbers)."""
    by = {(c["n"], c["p_requested"]): c for c in cells}
    ns = sorted({c["n"] for c in cells})
    ps = sorted({c["p_requested"] for c in cells})
    out = []
    if len(ps) > 1:
        lo, hi = ps[0], ps[-1]
        parts = []
        for n in ns:
            a, b = by.get((n, lo)), by.get((n, hi))
            if a and b:
                parts.append(
                    f"n = {n}: one μ ×{b['one_mu_seconds'] / a['one_mu_seconds']:.2g}, path "
                    f"×{b['path_seconds'] / a['path_seconds']:.2g}"
                )
        p_lo, p_hi = by[(ns[-1], lo)]["p"], by[(ns[-1], hi)]["p"]
        out.append(f"From p = {p_lo} to {p_hi} (×{p_hi / p_lo:.2g}): " + "; ".join(parts) + ".")
    if len(ns) > 1:
        lo, hi = ns[0], ns[-1]
        parts = []
        for p in ps:
            a, b = by.get((lo, p)), by.get((hi, p))
            if a and b:
                parts.append(
                    f"p = {b['p']}: eigh ×{b['eigh_seconds'] / a['eigh_seconds']:.2g}, one μ "
                    f"×{b['one_mu_seconds'] / a['one_mu_seconds']:.2g}, path "
                    f"×{b['path_seconds'] / a['path_seconds']:.2g}"
                )
        out.append(f"From n = {lo} to {hi} (×{hi / lo:.2g}): " + "; ".join(parts) + ".")
    out.append(
        "Cost model: eigh O(n³) once per data set; each rotated column O(n²) (so "
        "O(n²·|W|) per fit, |W| = columns rotated); each X̃ᵀv product (one per KKT check, "
        "plus μ_max) O(n² + np); each CD epoch O(n·|W|) plus the gap, O(n·|W|) again. "
        "The columns 'rotated', 'X̃ᵀv' and 'epochs' give the counts measured in each cell."
    )
    return out
