"""Issue 9: the ML-MAGES multi-trait pipeline gwas → shrink → cluster → gene-test on 2- and
3-trait simulations over real genotypes, against the same pipeline on the marginal effects.

    .venv/bin/python bench/mlmages.py [--quick]

Design (the ML-MAGES gene-level simulation): a synthetic gene annotation tiles each chromosome
with genes of GENE_BP[data] bp, one every 2·GENE_BP (gene, gap, gene, ...), starting at the
chromosome's first SNP. HLC chromosome 1 gets 50-kb genes; the mouse set has one SNP per
~250 kb, so its genes are 2 Mb long (about 8 SNPs each). Among the genes with at least 2 SNPs,
5% are causal; in each causal gene 30% of its SNPs (at least one) are causal. Causal genes are
split evenly among trait sets: for 2 traits {A}, {B}, {A,B}; for 3 traits {A}, {B}, {C},
{A,B}, {A,B,C}. A shared gene's causal SNPs are causal for every trait of its set, with
standardized effects drawn jointly normal with correlation SHARED_CORR; trait-specific effects
are independent N(0, 1). Per trait y = Zb + e scaled so that the causal SNPs explain exactly
H2 of the sample variance (no polygenic background); seeded numpy code below.

Pipeline per simulation: `gwas --lm` (all traits), `shrink --method mlp` trained once per data
set on trait A of the 2-trait simulation (`--save-model`; its training simulations are
spread-matched to that trait's marginal effects) and applied with `--model` to every other
trait of both simulations; `cluster` of the traits' shrink files; `gene-test --clusters` with
the annotation (ε by the default rule, from the fitted mixture). The baseline runs the same
cluster and gene-test on shrink-shaped files whose BETA_SHRUNK_STD is the marginal BETA_STD
(written here), so ε is chosen by the same rule from the mixture of the marginal effects.

Scores. Cluster types, per variant: a causal variant of trait set S should get type
`specific:T` (|S| = 1) or `shared:T1+T2...` (the traits of S); for each type, precision = share
of the variants given that type that are causal with that set, recall = share of the causal
variants of that set given that type; plus "any association": non-`none` type against causal
for any trait. Genes, per trait: a gene is causal for trait t when t is in its set; discoveries
are the tested genes with Q_t < 0.05; precision, recall, F1. Times and peak RSS by GNU time.
Writes bench/results/mlmages.json (mlmages_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import _mlmages_data as md  # noqa: E402

WORK = _common.WORK / "mlmages"
GENE_BP = {"mouse": 2_000_000, "hlc": 50_000}
CAUSAL_GENE_FRACTION = 0.05
CAUSAL_SNP_FRACTION = 0.30
SHARED_CORR = 0.5
H2 = 0.5
Q_LEVEL = 0.05
SEED = 909
TRAIT_SETS = {
    2: [("A",), ("B",), ("A", "B")],
    3: [("A",), ("B",), ("C",), ("A", "B"), ("A", "B", "C")],
}
MLP_OPTIONS = {"n_replicates": 200, "n_models": 10}
QUICK_MLP_OPTIONS = {"n_replicates": 40, "n_models": 3}


def make_genes(geno: md.Genotypes, gene_bp: int) -> tuple[list, np.ndarray]:
    """Genes as (name, chrom, start, end) (1-based inclusive) and each SNP's gene index (-1
    for SNPs between genes)."""
    genes, of_snp = [], np.full(len(geno.snp), -1)
    for chrom in dict.fromkeys(geno.chrom):
        on = np.flatnonzero(geno.chrom == chrom)
        first, last = int(geno.bp[on].min()), int(geno.bp[on].max())
        for start in range(first, last + 1, 2 * gene_bp):
            end = start + gene_bp - 1
            inside = on[(geno.bp[on] >= start) & (geno.bp[on] <= end)]
            of_snp[inside] = len(genes)
            genes.append((f"G{len(genes) + 1:05d}", chrom, start, end))
    return genes, of_snp


def plant(geno, of_snp, n_genes, n_traits, rng) -> dict:
    """Causal genes, their trait sets and the standardized effects (n_snps, n_traits)."""
    sizes = np.bincount(of_snp[of_snp >= 0], minlength=n_genes)
    eligible = np.flatnonzero(sizes >= 2)
    n_causal = max(len(TRAIT_SETS[n_traits]), round(CAUSAL_GENE_FRACTION * len(eligible)))
    causal_genes = rng.choice(eligible, size=n_causal, replace=False)
    sets = TRAIT_SETS[n_traits]
    gene_set = {int(g): sets[i % len(sets)] for i, g in enumerate(causal_genes)}
    names = [chr(ord("A") + t) for t in range(n_traits)]
    effects = np.zeros((len(geno.snp), n_traits))
    snp_set: dict[int, tuple] = {}
    cov = np.full((n_traits, n_traits), SHARED_CORR) + (1 - SHARED_CORR) * np.eye(n_traits)
    for g, traits in gene_set.items():
        snps = np.flatnonzero(of_snp == g)
        k = max(1, round(CAUSAL_SNP_FRACTION * len(snps)))
        chosen = rng.choice(snps, size=k, replace=False)
        cols = [names.index(t) for t in traits]
        draw = rng.multivariate_normal(np.zeros(len(cols)), cov[np.ix_(cols, cols)], size=k)
        effects[np.ix_(chosen, cols)] = draw
        for j in chosen:
            snp_set[int(j)] = traits
    return {"gene_set": gene_set, "snp_set": snp_set, "effects": effects, "names": names}


def simulate_traits(Z: np.ndarray, effects: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Y (n, T) with the causal SNPs explaining exactly H2 of each trait's sample variance;
    the true effects per sd of SNP and of phenotype (n_snps, T)."""
    n, T = Z.shape[0], effects.shape[1]
    Y, truth = np.empty((n, T)), np.zeros_like(effects)
    for t in range(T):
        g = Z @ effects[:, t]
        g -= g.mean()
        e = rng.standard_normal(n)
        e -= e.mean()
        e -= g * (g @ e) / (g @ g)  # uncorrelated in the sample
        a, b = np.sqrt(H2 / g.var()), np.sqrt((1 - H2) / e.var())
        Y[:, t] = a * g + b * e
        truth[:, t] = a * effects[:, t] / Y[:, t].std()
    return Y, truth


def prf(pred: np.ndarray, true: np.ndarray) -> dict:
    tp = int((pred & true).sum())
    precision = tp / pred.sum() if pred.sum() else float("nan")
    recall = tp / true.sum() if true.sum() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "n_pred": int(pred.sum()),
        "n_true": int(true.sum()),
        "tp": tp,
    }


def expected_type(traits: tuple) -> str:
    return f"specific:{traits[0]}" if len(traits) == 1 else "shared:" + "+".join(traits)


def score_clusters(clusters, geno, planted) -> dict:
    ids = clusters["ID"].astype(str).to_numpy()
    pos = {s: j for j, s in enumerate(geno.snp)}
    j_of = np.array([pos[s] for s in ids])
    truth_type = np.array(
        [expected_type(planted["snp_set"][j]) if j in planted["snp_set"] else "none" for j in j_of]
    )
    got = clusters["TYPE"].astype(str).to_numpy()
    out = {"any": prf(got != "none", truth_type != "none")}
    for tp in sorted(set(truth_type) - {"none"}):
        out[tp] = prf(got == tp, truth_type == tp)
    out["type_counts"] = {t: int((got == t).sum()) for t in sorted(set(got))}
    return out


def score_genes(genes_table, genes, planted) -> dict:
    name_to_index = {g[0]: i for i, g in enumerate(genes)}
    idx = np.array([name_to_index[g] for g in genes_table["GENE"].astype(str)])
    out = {}
    for t in planted["names"]:
        col = f"Q_{t}" if f"Q_{t}" in genes_table else "Q"
        q = genes_table[col].to_numpy()
        true = np.array([t in planted["gene_set"].get(int(i), ()) for i in idx])
        out[t] = prf(q < Q_LEVEL, true)
        eps_col = f"EPSILON_{t}" if f"EPSILON_{t}" in genes_table else "EPSILON"
        out[t]["epsilon"] = float(genes_table[eps_col].iloc[0])
    out["n_tested"] = len(idx)
    out["n_causal_tested"] = int(sum(int(i) in planted["gene_set"] for i in idx))
    return out


def marginal_as_shrink(src: Path, dst: Path) -> None:
    """A shrink.tsv whose BETA_SHRUNK(_STD) are the marginal BETA(_STD) (the no-shrinkage case)."""
    lines = src.read_text().splitlines(keepends=True)
    k = next(i for i, line in enumerate(lines) if line.startswith("#CHROM"))
    header = lines[k].rstrip("\n").split("\t")
    b, bs, bstd, bsstd = (
        header.index(c) for c in ("BETA", "BETA_SHRUNK", "BETA_STD", "BETA_SHRUNK_STD")
    )
    body = []
    for line in lines[k + 1 :]:
        f = line.rstrip("\n").split("\t")
        f[bs], f[bsstd] = f[b], f[bstd]
        body.append("\t".join(f) + "\n")
    dst.write_text("".join(lines[: k + 1] + body))


def run_simulation(
    ds, geno, genes, of_snp, genes_path, blocks, n_traits, seed, model, mlp_opts, steps
) -> dict:
    tag = f"{ds.name}_{n_traits}traits"
    out = WORK / tag
    logs = out / "logs"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    planted = plant(geno, of_snp, len(genes), n_traits, rng)
    Y, truth = simulate_traits(geno.Z, planted["effects"], rng)
    names = planted["names"]
    md.write_pheno(out / "traits.pheno", geno, names, Y)
    times = {}

    def step(name, argv):
        r = _common.run(argv, logs / name)
        steps.append(md.timing(r) | {"step": f"{tag} {name}"})
        times[name] = {"seconds": round(r.seconds, 2), "max_rss_mb": round(r.max_rss_mb, 1)}
        return r

    bfile = ["--bfile", ds.prefix, *ds.filters]
    step(
        "gwas",
        md.lmm(
            "gwas",
            "--lm",
            *bfile,
            "--pheno",
            out / "traits.pheno",
            "--all-pheno",
            "--out",
            out / "m",
        ),
    )
    mlp_args = ["--n-replicates", mlp_opts["n_replicates"], "--n-models", mlp_opts["n_models"]]
    shrunk, marginal = [], []
    for t in names:
        common = [
            "shrink",
            *bfile,
            "--gwas",
            out / f"m.{t}.gwas.tsv",
            "--blocks",
            blocks,
            "--method",
            "mlp",
            "--out",
            out / f"{t}",
        ]
        if not model.exists():
            step(
                f"shrink_{t}_train",
                md.lmm(*common, "--seed", seed, *mlp_args, "--save-model", model),
            )
        else:
            step(f"shrink_{t}", md.lmm(*common, "--model", model))
        shrunk.append(out / f"{t}.shrink.tsv")
        (out / "marginal").mkdir(exist_ok=True)
        marginal.append(out / "marginal" / f"{t}.shrink.tsv")
        marginal_as_shrink(shrunk[-1], marginal[-1])
    result = {"n_traits": n_traits, "seed": seed, "names": names}
    for label, files, prefix in (
        ("shrunk", shrunk, out / "shrunk"),
        ("marginal", marginal, out / "marginal" / "marginal"),
    ):
        step(
            f"cluster_{label}",
            md.lmm(
                "cluster",
                "--shrink",
                *files,
                "--names",
                ",".join(names),
                "--seed",
                seed,
                "--out",
                prefix,
            ),
        )
        step(
            f"gene_test_{label}",
            md.lmm(
                "gene-test",
                "--bfile",
                ds.prefix,
                "--clusters",
                f"{prefix}.clusters.tsv",
                "--genes",
                genes_path,
                "--out",
                prefix,
            ),
        )
        clusters = md.read_table(Path(f"{prefix}.clusters.tsv"))
        genes_table = md.read_table(Path(f"{prefix}.genes.tsv"))
        comps = md.read_table(Path(f"{prefix}.components.tsv"))
        result[label] = {
            "clusters": score_clusters(clusters, geno, planted),
            "genes": score_genes(genes_table, genes, planted),
            "components": comps.to_dict(orient="list"),
        }
        print(
            f"{tag} {label}: any {result[label]['clusters']['any']}; genes "
            + "; ".join(f"{t} {result[label]['genes'][t]}" for t in names),
            file=sys.stderr,
        )
    result["planted"] = {
        "n_causal_genes": len(planted["gene_set"]),
        "causal_genes_per_set": {
            "+".join(s): sum(1 for v in planted["gene_set"].values() if v == s)
            for s in TRAIT_SETS[n_traits]
        },
        "n_causal_snps_per_set": {
            "+".join(s): sum(1 for v in planted["snp_set"].values() if v == s)
            for s in TRAIT_SETS[n_traits]
        },
        "n_causal_snps_per_trait": {t: int((truth[:, i] != 0).sum()) for i, t in enumerate(names)},
    }
    result["times"] = times
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the 2-trait simulation only and a small network ensemble",
    )
    parser.add_argument("--data", default="mouse,hlc", help="data sets to run (default: both)")
    args = parser.parse_args(argv)
    md.wait_for_other_benchmarks()
    started = time.perf_counter()
    mlp_opts = QUICK_MLP_OPTIONS if args.quick else MLP_OPTIONS
    result = {
        "date": _common.utc_timestamp(),
        "quick": args.quick,
        "machine": md.machine(),
        "loadavg_start": _common.loadavg(),
        "settings": {
            "gene_bp": GENE_BP,
            "causal_gene_fraction": CAUSAL_GENE_FRACTION,
            "causal_snp_fraction": CAUSAL_SNP_FRACTION,
            "shared_corr": SHARED_CORR,
            "h2": H2,
            "q_level": Q_LEVEL,
            "seed": SEED,
            "trait_sets": {str(k): ["+".join(s) for s in v] for k, v in TRAIT_SETS.items()},
            "mlp": mlp_opts,
            "threads": md.THREADS,
            "mlp_training": "once per data set, on trait A of the 2-trait simulation "
            "(--save-model); all other traits use --model",
            "cluster": "lmmlasso cluster defaults (--max-components 20, --restarts 25)",
            "gene_test": "lmmlasso gene-test --clusters defaults (ε: smallest-nonnull rule, "
            "--pvalue liu, --window-bp 0, --min-snps 2)",
            "marginal_baseline": "the same cluster and gene-test on shrink files whose "
            "BETA_SHRUNK_STD is the marginal BETA_STD",
        },
        "datasets": {},
        "results": [],
        "steps": [],
    }
    chosen = args.data.split(",")
    trait_counts = (2,) if args.quick else (2, 3)
    for k, ds in enumerate(d for d in md.datasets() if d.name in chosen):
        geno = md.load_genotypes(ds)
        genes, of_snp = make_genes(geno, GENE_BP[ds.name])
        WORK.mkdir(parents=True, exist_ok=True)
        genes_path = WORK / f"{ds.name}.genes.tsv"
        with open(genes_path, "w") as fh:
            fh.write("CHR\tSTART\tEND\tGENE\n")
            for name, chrom, start, end in genes:
                fh.write(f"{chrom}\t{start}\t{end}\t{name}\n")
        sizes = np.bincount(of_snp[of_snp >= 0], minlength=len(genes))
        result["datasets"][ds.name] = {
            "description": ds.description,
            "n_samples": int(geno.Z.shape[0]),
            "n_snps": int(geno.Z.shape[1]),
            "gene_bp": GENE_BP[ds.name],
            "n_genes": len(genes),
            "n_genes_2plus_snps": int((sizes >= 2).sum()),
            "median_snps_per_gene_2plus": float(np.median(sizes[sizes >= 2])),
            "n_snps_in_genes": int((of_snp >= 0).sum()),
        }
        blocks_run = _common.run(
            md.lmm("ld-blocks", "--bfile", ds.prefix, *ds.filters, "--out", WORK / ds.name),
            WORK / f"{ds.name}.ld_blocks",
        )
        blocks = WORK / f"{ds.name}.blocks.tsv"
        result["datasets"][ds.name]["ld_blocks"] = md.timing(blocks_run)
        model = WORK / f"{ds.name}.mlp.model.npz"
        model.unlink(missing_ok=True)
        for j, T in enumerate(trait_counts):
            res = run_simulation(
                ds,
                geno,
                genes,
                of_snp,
                genes_path,
                blocks,
                T,
                SEED + 10 * k + j,
                model,
                mlp_opts,
                result["steps"],
            )
            res["data"] = ds.name
            result["results"].append(res)
            _common.write_json(_common.RESULTS / "mlmages.partial.json", result)
        del geno
    result["loadavg_end"] = _common.loadavg()
    result["lmmlasso_source_end"] = md.git_head()  # the package is editable: did it change?
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    name = "mlmages_quick.json" if args.quick else "mlmages.json"
    _common.write_json(_common.RESULTS / name, result)
    (_common.RESULTS / "mlmages.partial.json").unlink(missing_ok=True)
    print(f"wrote bench/results/{name} in {result['total_seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
