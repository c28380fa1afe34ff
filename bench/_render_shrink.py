"""The section "ML-MAGES shrinkage (issue 8)" from shrink[_quick].json (bench/shrink.py).

Slots for notes: ``body`` and ``end`` only.
"""

from __future__ import annotations

from _render_markdown import markdown_table

LABELS = {
    "zero": "zero predictor",
    "marginal": "marginal (gwas --lm)",
    "enet": "shrink --method enet",
    "mlp": "shrink --method mlp",
    "lmm_lasso": "LMM-Lasso fit --no-kinship --n-active K",
}


def _pm(mean: float, sd: float) -> str:
    if mean != mean:  # nan
        return "–"
    return f"{mean:.4g} ± {sd:.2g}"


def _sec_mb(t: dict | None) -> str:
    return "–" if t is None else f"{t['seconds']:.1f} / {t['max_rss_mb']:.0f}"


def _setting(s: dict) -> str:
    return f"{s['causal_fraction']:g} ({s['n_causal']}), h² {s['h2']:g}"


def verdicts(results: list[dict]) -> list[str]:
    """Sentences on whether the network beat the marginal effects, zero and the enet."""
    n = len(results)

    def count(pred) -> tuple[int, list[str]]:
        bad = [f"{r['data']} {_setting(r)}" for r in results if not pred(r)]
        return n - len(bad), bad

    # (what, metric, other estimate, True if higher is better, True if a tie counts)
    checks = [
        ("RMSE below the marginal effects'", "rmse", "marginal", False, False),
        ("RMSE below the zero predictor's", "rmse", "zero", False, False),
        ("RMSE at or below the enet's", "rmse", "enet", False, True),
        ("correlation above the marginal effects'", "corr", "marginal", True, False),
        ("correlation at or above the enet's", "corr", "enet", True, True),
        ("average precision above the marginal effects'", "ap", "marginal", True, False),
        ("average precision at or above the enet's", "ap", "enet", True, True),
    ]

    def better(r, metric, other, higher, tie) -> bool:
        a, b = r["mean"]["mlp"][metric], r["mean"][other][metric]
        if higher:
            a, b = -a, -b
        return a <= b if tie else a < b

    lines = []
    for what, metric, other, higher, tie in checks:
        k, bad = count(lambda r: better(r, metric, other, higher, tie))  # noqa: B023
        tail = f" (not in: {'; '.join(bad)})" if bad else ""
        lines.append(f"- mean {what}: {k} of {n} settings{tail}.")
    return lines


def render(r: dict, notes, source: str) -> str:
    m, s = r["machine"], r["settings"]
    flags = " --quick" if r["quick"] else ""
    end = r.get("lmmlasso_source_end")
    changed = (
        f" The package sources changed during the run: at its end they were {end}."
        if end and end != m["lmmlasso_source"]
        else ""
    )
    lines = [
        f"Measured by `.venv/bin/python bench/shrink.py{flags}` on {r['date']} (raw numbers in "
        f"`{source}`), total {r['total_seconds']:.0f} s.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, Linux "
        f"{m['kernel']}, Python {m['python']}; {m['lmmlasso']} ({m['lmmlasso_source']}), "
        f"numpy {m['numpy']}, scikit-learn {m['sklearn']}; every command with --threads "
        f"{s['threads']}. The machine was shared: load average {r['loadavg_start']} at the "
        f"start, {r['loadavg_end']} at the end; wall times carry that noise." + changed,
        "",
        "Data: "
        + "; ".join(
            f"{name}: {d['description']}, {d['n_samples']} individuals × {d['n_snps']} SNPs, "
            f"{d['n_blocks']} LD blocks (`lmmlasso ld-blocks`, {d['ld_blocks']['seconds']:.1f} "
            f"s, passed to every shrink with --blocks)"
            for name, d in r["datasets"].items()
        )
        + ".",
        "",
        f"Simulation: `{s['effects']}`, {s['replicates']} replicates per setting (seed "
        f"{s['seed']} + offset), causal fraction × h² grid below. Estimates and truth on the "
        "standardized scale (per sd of SNP and of phenotype; truth = simulate's BETA_STD / sd "
        "of the phenotype). Marginal = BETA_STD of the shrink file (from `gwas --lm`); "
        f"LMM-Lasso: {s['lmm_lasso']}. MLP: --n-replicates {s['mlp']['n_replicates']} "
        f"--n-models {s['mlp']['n_models']}, trained {s['mlp_training']}. RMSE and the "
        "correlation over all analysed SNPs; AP = average precision of |estimate| for truth ≠ 0 "
        "(the zero predictor's AP is the share of causal SNPs). Mean ± sd over the replicates.",
        "",
    ]
    for data in r["datasets"]:
        rows = []
        for res in (x for x in r["results"] if x["data"] == data):
            for k, label in LABELS.items():
                mean, sd = res["mean"][k], res["sd"][k]
                rows.append(
                    [
                        _setting(res),
                        label,
                        _pm(mean["rmse"], sd["rmse"]),
                        _pm(mean["corr"], sd["corr"]),
                        _pm(mean["ap"], sd["ap"]),
                    ]
                )
        lines += [
            f"### {data}",
            "",
            markdown_table(
                ["causal fraction (K), h²", "estimate", "RMSE", "correlation", "AP"], rows
            ),
            "",
        ]
    lines += [
        "### Did the network do what the paper reports?",
        "",
        "Counted from the means above (shrink --method mlp against the others):",
        "",
        *verdicts(r["results"]),
        "",
        "### Times (wall s, peak RSS MB)",
        "",
        "MLP training = the one run per data set that trains (simulating the training data, "
        "training the ensemble, then shrinking that replicate); MLP inference = a run with "
        "--model (median over the setting's other replicates); enet and LMM-Lasso: median over "
        "the replicates; gwas: one run for all replicates of the setting.",
        "",
    ]
    rows = []
    for res in r["results"]:
        t = res["times"]
        rows.append(
            [
                res["data"],
                _setting(res),
                f"{res['gwas_seconds_all_replicates']:.1f} / {res['gwas_max_rss_mb']:.0f}",
                _sec_mb(t["mlp_train_and_infer"]),
                _sec_mb(t["mlp_infer"]) + f" ({t['mlp_infer']['n_runs']} runs)",
                f"{t['enet']['seconds']:.1f} / {t['enet']['max_rss_mb']:.0f}",
                f"{t['lmm_lasso_fit']['seconds']:.1f} / {t['lmm_lasso_fit']['max_rss_mb']:.0f}",
            ]
        )
    lines.append(
        markdown_table(
            ["data", "setting", "gwas", "MLP training", "MLP inference", "enet", "LMM-Lasso"],
            rows,
        )
    )
    return "\n".join(lines) + "\n"
