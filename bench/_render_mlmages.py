"""The section "ML-MAGES clusters and gene tests (issue 9)" from mlmages[_quick].json
(bench/mlmages.py).

Slots for notes: ``body`` and ``end`` only.
"""

from __future__ import annotations

from _render_markdown import markdown_table

ESTIMATES = (("shrunk", "shrink mlp"), ("marginal", "marginal"))


def _f(x) -> str:
    if x is None or x != x:
        return "–"
    return f"{x:.3f}"


def _gene_verdict(results: list[dict]) -> list[str]:
    """Counts of the traits where shrinkage did better than the marginal effects."""
    pairs = [
        (res["shrunk"]["genes"][t], res["marginal"]["genes"][t])
        for res in results
        for t in res["names"]
    ]
    n = len(pairs)

    def count(metric: str) -> int:
        return sum(1 for a, b in pairs if (a[metric] if a[metric] == a[metric] else 0) >
                   (b[metric] if b[metric] == b[metric] else 0))  # fmt: skip

    def ties(metric: str) -> int:
        return sum(1 for a, b in pairs if a[metric] == b[metric])

    return [
        f"Shrunk against marginal effects over the {n} trait tests: F1 higher in "
        f"{count('f1')} (equal in {ties('f1')}), recall higher in {count('recall')} (equal in "
        f"{ties('recall')}), precision higher in {count('precision')} (equal in "
        f"{ties('precision')}; an undefined precision, no discovery, counts as 0).",
        "",
    ]


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
        f"Measured by `.venv/bin/python bench/mlmages.py{flags}` on {r['date']} (raw numbers in "
        f"`{source}`), total {r['total_seconds']:.0f} s.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM; "
        f"{m['lmmlasso']} ({m['lmmlasso_source']}), numpy {m['numpy']}, scikit-learn "
        f"{m['sklearn']}; every command with --threads {s['threads']}. Load average "
        f"{r['loadavg_start']} at the start, {r['loadavg_end']} at the end (shared machine)."
        + changed,
        "",
        "Data and synthetic genes (one gene of GENE_BP every 2·GENE_BP along each chromosome):",
        "",
        markdown_table(
            [
                "data",
                "individuals × SNPs",
                "gene length",
                "genes",
                "with ≥ 2 SNPs",
                "median SNPs per gene (≥ 2)",
                "SNPs in genes",
            ],
            [
                [
                    name,
                    f"{d['n_samples']} × {d['n_snps']}",
                    f"{d['gene_bp'] / 1000:g} kb",
                    d["n_genes"],
                    d["n_genes_2plus_snps"],
                    d["median_snps_per_gene_2plus"],
                    d["n_snps_in_genes"],
                ]
                for name, d in r["datasets"].items()
            ],
        ),  # fmt: skip
        "",
        f"Design: {s['causal_gene_fraction']:.0%} of the genes with ≥ 2 SNPs causal, "
        f"{s['causal_snp_fraction']:.0%} of a causal gene's SNPs causal (at least one); causal "
        f"genes split evenly over the trait sets {s['trait_sets']['2']} (2 traits) and "
        f"{s['trait_sets']['3']} (3 traits); shared effects jointly normal with correlation "
        f"{s['shared_corr']:g}; h² = {s['h2']:g} per trait from the causal SNPs, no background; "
        f"seed {s['seed']}. One simulation per data set and number of traits. MLP "
        f"(--n-replicates {s['mlp']['n_replicates']} --n-models {s['mlp']['n_models']}) trained "
        f"{s['mlp_training']}. Cluster: {s['cluster']}. Gene test: {s['gene_test']}. "
        f"Baseline: {s['marginal_baseline']}.",
        "",
        "Planted truth:",
        "",
        markdown_table(
            ["data", "traits", "causal genes per set", "causal SNPs per set"],
            [
                [
                    res["data"],
                    res["n_traits"],
                    ", ".join(
                        f"{k}: {v}" for k, v in res["planted"]["causal_genes_per_set"].items()
                    ),
                    ", ".join(
                        f"{k}: {v}" for k, v in res["planted"]["n_causal_snps_per_set"].items()
                    ),
                ]
                for res in r["results"]
            ],
        ),  # fmt: skip
        "",
        "### Cluster types against the truth (per variant)",
        "",
        "A causal variant of trait set S should get `specific:T` (S = {T}) or `shared:` with the "
        "traits of S. Precision: share of the variants given the type that are causal with that "
        "set; recall: share of that set's causal variants given the type. *any*: a type other "
        "than `none` against causal for any trait. Variants in LD with a causal one count as "
        "false positives here, so precisions are low on strongly linked genotypes.",
        "",
    ]
    rows = []
    for res in r["results"]:
        for key, label in ESTIMATES:
            c = res[key]["clusters"]
            for typ in ["any", *sorted(k for k in c if k not in ("any", "type_counts"))]:
                x = c[typ]
                rows.append([res["data"], res["n_traits"], label, typ, _f(x["precision"]),
                             _f(x["recall"]), x["n_pred"], x["n_true"]])  # fmt: skip
    lines += [
        markdown_table(
            ["data", "traits", "effects", "type", "precision", "recall", "given type", "causal"],
            rows,
        ),  # fmt: skip
        "",
        f"### Genes at q < {s['q_level']:g}, per trait",
        "",
    ]
    rows = []
    for res in r["results"]:
        for key, label in ESTIMATES:
            g = res[key]["genes"]
            for t in res["names"]:
                x = g[t]
                rows.append([res["data"], res["n_traits"], t, label, _f(x["precision"]),
                             _f(x["recall"]), _f(x["f1"]), x["n_pred"], x["n_true"],
                             f"{x['epsilon']:.3g}"])  # fmt: skip
    lines += [
        markdown_table(
            [
                "data",
                "traits",
                "trait",
                "effects",
                "precision",
                "recall",
                "F1",
                "genes at q<0.05",
                "causal genes tested",
                "ε",
            ],
            rows,
        ),  # fmt: skip
        "",
        *_gene_verdict(r["results"]),
        "### Times (wall s / peak RSS MB)",
        "",
    ]
    rows = []
    for res in r["results"]:
        for step, t in res["times"].items():
            rows.append([res["data"], res["n_traits"], step,
                         f"{t['seconds']:.1f}", f"{t['max_rss_mb']:.0f}"])  # fmt: skip
    lines.append(markdown_table(["data", "traits", "step", "wall s", "peak RSS MB"], rows))
    return "\n".join(lines) + "\n"
