"""The part "dense-end path, solver alone" of the speed section, from path_variants.json."""

from __future__ import annotations


def render(result: dict, notes, source: str) -> str:
    prob, glm = result["problem"], result["glmnet"]
    inner = glm.get("inner") or {}
    lines = [
        "### Dense-end path, solver alone: each form of ours against glmnet",
        "",
        f"Measured by `python bench/path_variants.py` on {result['date']} (raw numbers in "
        f"`{source}`), median of {result['repeats']} interleaved runs, one BLAS thread; 1-minute "
        f"load average {result['loadavg_before'][0]} before, {result['loadavg_after'][0]} after. "
        f"The problem of row 2 ({prob['n_samples']} × {prob['n_snps']:,}, {prob['n_mu']} μ), as "
        f"our fit's Lasso solver received it, in a `DenseDesign`; glmnet "
        f"{inner.get('glmnet', '?')} on the same matrix in the speed run of {glm['speed_run']}: "
        f"{glm['solver_seconds']} s for its `glmnet()` call ({inner.get('npasses', '?')} passes, "
        f"thresh {inner.get('thresh', '?')}).",
        "",
        "| variant | solver s | × faster than glmnet | epochs | μ fitted | max relative "
        "objective difference from glmnet | converged |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["variants"]:
        ratio = glm["solver_seconds"] / row["seconds"] if glm.get("solver_seconds") else None
        lines.append(
            f"| {row['variant']} | {row['seconds']:.2f} | "
            f"{f'{ratio:.1f}' if ratio else '—'} | {row['epochs']:,} | {row['n_mu']} | "
            f"{row['max_rel_objective_vs_glmnet']:.1e} | {'yes' if row['converged'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"
