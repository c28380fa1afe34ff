"""Issue 8: `lmmlasso shrink` (ML-MAGES network and elastic net) against the marginal effects,
our LMM-Lasso and the zero predictor, on simulated traits over real genotypes.

    .venv/bin/python bench/shrink.py [--quick]

Per data set (bench/_mlmages_data.py: mouse HS1940 with positions, HLC chromosome 1) and per
setting (causal fraction × h²), `lmmlasso simulate --h2-background 0` draws REPLICATES
phenotypes with sparse normal standardized effects (seeded). Then, per replicate:

- marginal effects: `lmmlasso gwas --lm` on the same individuals (BETA_STD of the shrink file);
- `lmmlasso shrink --method enet`;
- `lmmlasso shrink --method mlp` with the CLI's default training size: trained once per data
  set, on replicate 1 of the first setting (`--save-model`; the training simulations are
  spread-matched to that replicate's marginal effects), and applied with `--model` to every
  other replicate of every setting (inference only), the "train once per genotypes" workflow
  (training per setting did not fit the time budget);
- `lmmlasso fit --no-kinship --n-active K` with K the true number of causal SNPs (an oracle
  choice of K; the phenotypes have no polygenic background, so no kinship);
- the zero predictor.

Every estimate is on the standardized scale: per sd of the SNP and of the (standardized)
phenotype; the truth is simulate's BETA_STD divided by the sample sd of the phenotype (ddof 0,
as `gwas` and `fit` standardize it). Scores over all analysed SNPs: RMSE, Pearson correlation,
average precision of |estimate| for truth ≠ 0 (sklearn). LD blocks come from one
`lmmlasso ld-blocks` run per data set, passed to every shrink run with --blocks. Wall time and
peak RSS by GNU time. Writes bench/results/shrink.json (shrink_quick.json with --quick).
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

WORK = _common.WORK / "shrink"
SETTINGS = [  # (causal fraction, h² of the causal SNPs)
    (0.001, 0.3),
    (0.001, 0.7),
    (0.01, 0.3),
    (0.01, 0.7),
]
REPLICATES = 3
SEED = 2025
# shrink training size: the CLI defaults are --n-replicates 200 --n-models 10
MLP_OPTIONS = {"n_replicates": 200, "n_models": 10}
QUICK_MLP_OPTIONS = {"n_replicates": 40, "n_models": 3}
METHODS = ("zero", "marginal", "enet", "mlp", "lmm_lasso")


def scores(estimate: np.ndarray, truth: np.ndarray) -> dict:
    from sklearn.metrics import average_precision_score

    causal = truth != 0
    rmse = float(np.sqrt(np.mean((estimate - truth) ** 2)))
    corr = float(np.corrcoef(estimate, truth)[0, 1]) if np.std(estimate) > 0 else float("nan")
    ap = float(average_precision_score(causal, np.abs(estimate)))
    return {"rmse": rmse, "corr": corr, "ap": ap}


def run_setting(
    ds: md.DataSet,
    blocks: Path,
    frac: float,
    h2: float,
    n_snps: int,
    seed: int,
    model: Path,
    mlp_opts: dict,
    log: list,
) -> dict:
    tag = f"{ds.name}_f{frac:g}_h{h2:g}"
    out = WORK / tag
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    n_causal = max(1, round(frac * n_snps))
    bfile = ["--bfile", ds.prefix, *ds.filters]

    def step(name: str, argv: list) -> _common.Run:
        r = _common.run(argv, logs / name)
        log.append(md.timing(r) | {"step": f"{tag} {name}"})
        return r

    sim = out / "sim"
    step(
        "simulate",
        md.lmm(
            "simulate",
            *bfile,
            "--n-causal",
            n_causal,
            "--h2-snps",
            h2,
            "--h2-background",
            0,
            "--n-pheno",
            REPLICATES,
            "--seed",
            seed,
            "--out",
            sim,
        ),
    )
    gwas = step(
        "gwas",
        md.lmm(
            "gwas", "--lm", *bfile, "--pheno", f"{sim}.pheno", "--all-pheno", "--out", out / "m"
        ),
    )
    pheno = md.read_table(Path(f"{sim}.pheno"))
    truth_table = md.read_table(Path(f"{sim}.truth.tsv"))
    mlp_args = ["--n-replicates", mlp_opts["n_replicates"], "--n-models", mlp_opts["n_models"]]
    reps = []
    for i in range(1, REPLICATES + 1):
        name = f"sim{i}"
        g = out / f"m.{name}.gwas.tsv"
        common = ["shrink", "--bfile", ds.prefix, *ds.filters, "--gwas", g, "--blocks", blocks]
        enet = step(
            f"{name}_enet", md.lmm(*common, "--method", "enet", "--out", out / f"{name}.enet")
        )
        trains = not model.exists()
        if trains:
            mlp = step(
                f"{name}_mlp_train",
                md.lmm(
                    *common,
                    "--method",
                    "mlp",
                    *mlp_args,
                    "--seed",
                    seed,
                    "--save-model",
                    model,
                    "--out",
                    out / f"{name}.mlp",
                ),
            )
        else:
            mlp = step(
                f"{name}_mlp_model",
                md.lmm(*common, "--method", "mlp", "--model", model, "--out", out / f"{name}.mlp"),
            )
        fit = step(
            f"{name}_fit",
            md.lmm(
                "fit",
                "--no-kinship",
                *bfile,
                "--pheno",
                f"{sim}.pheno",
                "--pheno-name",
                name,
                "--n-active",
                n_causal,
                "--out",
                out / f"{name}.fit",
            ),
        )
        e = md.read_shrink(out / f"{name}.enet.shrink.tsv").set_index("ID")
        m = md.read_shrink(out / f"{name}.mlp.shrink.tsv").set_index("ID")
        ids = e.index.to_numpy()
        if not np.array_equal(ids, m.index.to_numpy()):
            raise _common.BenchError(f"{tag} {name}: enet and mlp shrink files list other SNPs")
        sd_y = float(np.std(pheno[name].to_numpy(), ddof=0))
        t = truth_table[truth_table.PHENO == name].set_index("SNP")
        truth = np.zeros(len(ids))
        where = np.searchsorted(ids, t.index.to_numpy(), sorter=np.argsort(ids))
        order = np.argsort(ids)[where]
        if not np.array_equal(ids[order], t.index.to_numpy()):
            raise _common.BenchError(f"{tag} {name}: a causal SNP is not among the analysed SNPs")
        truth[order] = t.BETA_STD.to_numpy() / sd_y
        weights = md.read_table(Path(f"{out / name}.fit.weights.tsv"))
        lasso = np.zeros(len(ids))
        pos = {snp: j for j, snp in enumerate(ids)}
        for snp, b in zip(weights.SNP, weights.BETA_STD, strict=True):
            lasso[pos[snp]] = b
        estimates = {
            "zero": np.zeros(len(ids)),
            "marginal": e.BETA_STD.to_numpy(),
            "enet": e.BETA_SHRUNK_STD.to_numpy(),
            "mlp": m.BETA_SHRUNK_STD.to_numpy(),
            "lmm_lasso": lasso,
        }
        reps.append(
            {
                "replicate": i,
                "n_snps": len(ids),
                "n_causal": int((truth != 0).sum()),
                "pheno_sd": sd_y,
                "n_lasso_selected": int((lasso != 0).sum()),
                "mlp_trained": trains,
                "scores": {k: scores(v, truth) for k, v in estimates.items()},
                "seconds": {"enet": enet.seconds, "mlp": mlp.seconds, "fit": fit.seconds},
                "max_rss_mb": {
                    "enet": enet.max_rss_mb,
                    "mlp": mlp.max_rss_mb,
                    "fit": fit.max_rss_mb,
                },
            }
        )
        print(
            f"{tag} {name}: "
            + ", ".join(
                f"{k} rmse {v['rmse']:.4g} corr {v['corr']:.3f} ap {v['ap']:.3f}"
                for k, v in reps[-1]["scores"].items()
            ),
            file=sys.stderr,
        )
    summary = {
        k: {s: float(np.mean([r["scores"][k][s] for r in reps])) for s in ("rmse", "corr", "ap")}
        for k in METHODS
    }
    spread = {
        k: {
            s: float(np.std([r["scores"][k][s] for r in reps], ddof=1)) if len(reps) > 1 else 0.0
            for s in ("rmse", "corr", "ap")
        }
        for k in METHODS
    }
    return {
        "data": ds.name,
        "causal_fraction": frac,
        "h2": h2,
        "n_causal": n_causal,
        "seed": seed,
        "replicates": reps,
        "mean": summary,
        "sd": spread,
        "gwas_seconds_all_replicates": gwas.seconds,
        "gwas_max_rss_mb": gwas.max_rss_mb,
        "times": {
            "mlp_train_and_infer": next(
                (
                    {"seconds": r["seconds"]["mlp"], "max_rss_mb": r["max_rss_mb"]["mlp"]}
                    for r in reps
                    if r["mlp_trained"]
                ),
                None,
            ),
            "mlp_infer": {
                "seconds": float(
                    np.median(
                        inferred := [r["seconds"]["mlp"] for r in reps if not r["mlp_trained"]]
                    )
                ),
                "max_rss_mb": max(r["max_rss_mb"]["mlp"] for r in reps if not r["mlp_trained"]),
                "n_runs": len(inferred),
            },
            "enet": {
                "seconds": float(np.median([r["seconds"]["enet"] for r in reps])),
                "max_rss_mb": max(r["max_rss_mb"]["enet"] for r in reps),
            },
            "lmm_lasso_fit": {
                "seconds": float(np.median([r["seconds"]["fit"] for r in reps])),
                "max_rss_mb": max(r["max_rss_mb"]["fit"] for r in reps),
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one setting per data set and a small network ensemble (a smoke run)",
    )
    parser.add_argument("--data", default="mouse,hlc", help="data sets to run (default: both)")
    args = parser.parse_args(argv)
    md.wait_for_other_benchmarks()
    started = time.perf_counter()
    result = {
        "date": _common.utc_timestamp(),
        "quick": args.quick,
        "machine": md.machine(),
        "loadavg_start": _common.loadavg(),
        "settings": {
            "grid": [{"causal_fraction": f, "h2": h} for f, h in SETTINGS],
            "replicates": REPLICATES,
            "seed": SEED,
            "mlp": QUICK_MLP_OPTIONS if args.quick else MLP_OPTIONS,
            "threads": md.THREADS,
            "effects": "lmmlasso simulate --h2-background 0 --effect-dist normal",
            "lmm_lasso": "fit --no-kinship --n-active K, K = the true number of causal SNPs",
            "mlp_training": "once per data set, on replicate 1 of the first setting "
            "(--save-model; training simulations spread-matched to that replicate's marginal "
            "effects); every other replicate of every setting uses --model",
        },
        "datasets": {},
        "results": [],
        "steps": [],
    }
    chosen = args.data.split(",")
    grid = SETTINGS[:1] if args.quick else SETTINGS
    for k, ds in enumerate(d for d in md.datasets() if d.name in chosen):
        blocks_prefix = WORK / f"{ds.name}"
        WORK.mkdir(parents=True, exist_ok=True)
        r = _common.run(
            md.lmm("ld-blocks", "--bfile", ds.prefix, *ds.filters, "--out", blocks_prefix),
            WORK / f"{ds.name}.ld_blocks",
        )
        blocks = Path(f"{blocks_prefix}.blocks.tsv")
        n_blocks = sum(1 for _ in open(blocks)) - 1
        n_snps = len(md.load_genotypes(ds).snp)
        model = WORK / f"{ds.name}.mlp.model.npz"
        model.unlink(missing_ok=True)
        result["datasets"][ds.name] = {
            "description": ds.description,
            "n_samples": sum(1 for _ in open(f"{ds.prefix}.fam")),
            "n_snps": n_snps,
            "n_blocks": n_blocks,
            "ld_blocks": md.timing(r),
        }
        for j, (frac, h2) in enumerate(grid):
            seed = SEED + 100 * k + j
            result["results"].append(
                run_setting(
                    ds,
                    blocks,
                    frac,
                    h2,
                    n_snps,
                    seed,
                    model,
                    QUICK_MLP_OPTIONS if args.quick else MLP_OPTIONS,
                    result["steps"],
                )
            )
            _common.write_json(_common.RESULTS / "shrink.partial.json", result)
    result["loadavg_end"] = _common.loadavg()
    result["lmmlasso_source_end"] = md.git_head()  # the package is editable: did it change?
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    name = "shrink_quick.json" if args.quick else "shrink.json"
    _common.write_json(_common.RESULTS / name, result)
    (_common.RESULTS / "shrink.partial.json").unlink(missing_ok=True)
    print(f"wrote bench/results/{name} in {result['total_seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
