"""Start-up and first run (issue 15): from the shell to work, warm and after an install.

    .venv/bin/python bench/startup.py [--repeats N] [--lmmlasso PATH]

Data: GEMMA's example mouse set (Debian gemma-doc, gunzipped into bench/work/data): 1940 mice,
12226 SNPs, phenotype 1 (.fam column 6, 1410 mice with a value). Set-up, untimed: our kinship
(`lmmlasso kinship`, defaults), the ML null model (`lmmlasso fit-null --mpheno 1`, for the
recipe's δ) and GEMMA's relatedness (`gemma -gk 1`, its time recorded apart).

1. `lmmlasso --help` and `lmmlasso fit --help`, whole processes, beside `python -c pass`.
2. Shell to the first computation: from starting `lmmlasso fit --mpheno 1 --mu 46` to its first
   line on stderr, "PREFIX: 1940 individuals, 12226 SNPs", written once the .fam, .bim and
   phenotypes are read, i.e. after every import and version look-up before the first step.
   One more run with PYTHONPROFILEIMPORTTIME=1 lists what was imported by then.
3. Warm `lmmlasso fit --mpheno 1 --mu 46` (numba's cache filled by an untimed run) against
   bench/_lmm_lasso_recipe.py: numpy eigh + every SNP rotated + scikit-learn Lasso on the same
   individuals, SNPs, δ and μ (alpha = μ/n, the intercept projected out; see its docstring),
   whole processes, interleaved. The recipe reports its phases; the coefficients of both are
   compared (max |Δw| ≤ COEF_TOL, same support above SUPPORT_TOL). Our BLAS runs on one thread
   (cli.runner); the recipe runs with numpy's default threads and, again, with one.
4. First run after an install: `fit --mu 46` and `gwas --exact --reml --transform none` (as
   GEMMA's model) with NUMBA_CACHE_DIR a new empty folder each time, so that numba compiles
   every kernel the command uses; then the same gwas warm; against `gemma -lmm 1 -n 1` with the
   `-gk 1` matrix. The kernels compiled are counted from numba's cache files.

Timings: median of --repeats (3) for 3 and 4, interleaved tool by tool; HELP_REPEATS for 1,
FIRST_LINE_REPEATS for 2. Writes bench/results/startup.json (bench/report.py renders it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
from _common import (  # noqa: E402
    GEMMA,
    RESULTS,
    WORK,
    BenchError,
    ensure_tools,
    loadavg,
    machine,
    prepare_plink_set,
    run,
    show_command,
    time_round_robin,
    utc_timestamp,
    write_json,
)

RESULT_JSON = RESULTS / "startup.json"
OUT = WORK / "startup"
RECIPE = Path(__file__).resolve().parent / "_lmm_lasso_recipe.py"
MU = 46.0
PHENO = 1
HELP_REPEATS = 10
FIRST_LINE_REPEATS = 5
COEF_TOL = 1e-5  # max |Δw| (standardized scale) accepted between our fit and the recipe
SUPPORT_TOL = 1e-10  # |w| above which a SNP counts as selected (scikit-learn leaves 1e-16s)
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
FIRST_LINE = "individuals,"  # in our first log line: "PREFIX: 1940 individuals, 12226 SNPs"


def median(values) -> float:
    return float(statistics.median(values))


# ----------------------------------------------------------------------------- commands


def fit_argv(lmmlasso, prefix: Path, kinship: Path, out: Path, quiet: bool = True) -> list:
    argv = [lmmlasso, "fit", "--bfile", prefix, "--kinship", kinship, "--mpheno", str(PHENO)]
    return argv + ["--mu", f"{MU:g}", "--out", out] + (["--quiet"] if quiet else [])


def gwas_argv(lmmlasso, prefix: Path, kinship: Path, out: Path) -> list:
    argv = [lmmlasso, "gwas", "--bfile", prefix, "--kinship", kinship, "--mpheno", str(PHENO)]
    return argv + ["--exact", "--reml", "--transform", "none", "--out", out, "--quiet"]


def gemma_lmm_argv(prefix: Path, relatedness: Path, outdir: Path) -> list:
    return [GEMMA, "-bfile", prefix, "-k", relatedness, "-lmm", "1", "-n", str(PHENO)] + [
        "-o",
        "lmm",
        "-outdir",
        outdir,
    ]


def set_up(lmmlasso, prefix: Path) -> dict:
    """Our kinship and ML null model, GEMMA's relatedness (timed once)."""
    OUT.mkdir(parents=True, exist_ok=True)
    kinship = OUT / "mouse"
    run([lmmlasso, "kinship", "--bfile", prefix, "--out", kinship, "--quiet"], OUT / "kinship")
    null = OUT / "null"
    argv = [lmmlasso, "fit-null", "--bfile", prefix, "--kinship", f"{kinship}.kinship.npz"]
    run([*argv, "--mpheno", str(PHENO), "--out", null, "--quiet"], OUT / "fit_null")
    gk = run([GEMMA, "-bfile", prefix, "-gk", "1", "-o", "k", "-outdir", OUT / "gemma"], OUT / "gk")
    return {
        "kinship": Path(f"{kinship}.kinship.npz"),
        "null": Path(f"{null}.null.npz"),
        "relatedness": OUT / "gemma" / "k.cXX.txt",
        "gemma_gk_seconds": gk.seconds,
        "gemma_gk_command": show_command(gk.argv),
    }


# ----------------------------------------------------------------------------- 1. help


def time_help(lmmlasso) -> list[dict]:
    python = Path(lmmlasso).parent / "python"
    commands = {
        "python -c pass": [python if python.exists() else sys.executable, "-c", "pass"],
        "lmmlasso --help": [lmmlasso, "--help"],
        "lmmlasso fit --help": [lmmlasso, "fit", "--help"],
    }
    timings = time_round_robin(commands, OUT / "help", HELP_REPEATS)
    return [{"label": t.label, "command": t.command, "seconds": t.seconds,
             "all_seconds": t.all_seconds} for t in timings]  # fmt: skip


# ----------------------------------------------------------------------------- 2. first line


def first_line(argv: list, env: dict | None = None) -> tuple[float, float, str]:
    """Seconds from starting ``argv`` to its first stderr line and to its exit; the stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(a) for a in argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=env,
    )  # fmt: skip
    lines = []
    first = None
    for line in proc.stderr:
        lines.append(line)
        if first is None and not line.startswith("import time:"):
            first = time.perf_counter() - start
    proc.wait()
    total = time.perf_counter() - start
    if proc.returncode != 0 or first is None:
        raise BenchError(f"`{show_command(argv)}` exited with {proc.returncode}: {lines[-3:]}")
    return first, total, "".join(lines)


def import_summary(stderr: str) -> dict:
    """What PYTHONPROFILEIMPORTTIME reported before the first log line: the total and the
    packages that took longest (the self time of each of their modules, summed)."""
    packages: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            break
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| +(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            packages[package] = packages.get(package, 0) + int(match.group(1))
    ranked = sorted(packages.items(), key=lambda kv: -kv[1])
    return {
        "total_seconds": sum(packages.values()) / 1e6,
        "top": [{"package": k, "seconds": v / 1e6} for k, v in ranked[:10]],
    }


def time_first_line(lmmlasso, prefix: Path, kinship: Path) -> dict:
    argv = fit_argv(lmmlasso, prefix, kinship, OUT / "first_line" / "fit", quiet=False)
    (OUT / "first_line").mkdir(parents=True, exist_ok=True)
    run(fit_argv(lmmlasso, prefix, kinship, OUT / "first_line" / "warmup"), OUT / "warmup")
    firsts, totals = [], []
    for _ in range(FIRST_LINE_REPEATS):
        first, total, stderr = first_line(argv)
        firsts.append(first)
        totals.append(total)
    text = stderr.splitlines()[0]
    if FIRST_LINE not in text:
        raise BenchError(f"unexpected first log line of `{show_command(argv)}`: {text!r}")
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    _, _, profiled = first_line(argv, env)
    return {
        "command": show_command(argv),
        "first_line": text,
        "seconds": median(firsts),
        "all_seconds": firsts,
        "process_seconds": median(totals),
        "imports": import_summary(profiled),
    }


# ----------------------------------------------------------------------------- 3. warm fit


def our_coefs(model: Path) -> dict[str, float]:
    with np.load(model) as z:
        return dict(zip(z["fixed_snp"].astype(str), z["fixed_coefs"][0], strict=True))


def finished_seconds(log: Path) -> float:
    """The in-process time our log reports (from opening the log to closing it)."""
    match = re.search(r"finished in ([\d.]+) s", log.read_text())
    if match is None:
        raise BenchError(f"{log}: no 'finished in' line")
    return float(match.group(1))


def row(label: str, done: list) -> dict:
    """Repeated runs (`_common.Run`) of one command: median wall and CPU seconds, peak RSS."""
    return {
        "label": label,
        "command": show_command(done[0].argv),
        "seconds": median(r.seconds for r in done),
        "all_seconds": [r.seconds for r in done],
        "cpu_seconds": median(r.cpu_seconds for r in done),
        "max_rss_mb": max(r.max_rss_mb for r in done),
    }


def time_warm_fit(lmmlasso, prefix: Path, setup: dict, repeats: int) -> dict:
    """Ours and the recipe, interleaved; the recipe with numpy's default BLAS threads and with
    one, as ours runs (its phases and coefficients come from the default-thread runs)."""
    folder = OUT / "warm"
    folder.mkdir(parents=True, exist_ok=True)
    python = Path(lmmlasso).parent / "python"
    python = python if python.exists() else Path(sys.executable)
    recipe_npz = folder / "recipe.npz"
    recipe = [python, RECIPE, prefix, setup["kinship"], setup["null"], f"{MU:g}", recipe_npz]
    one_thread = dict(os.environ, **{v: "1" for v in BLAS_THREAD_VARIABLES})
    commands = {
        "ours": (fit_argv(lmmlasso, prefix, setup["kinship"], folder / "ours"), None),
        "recipe": (recipe, None),
        "recipe_1t": (recipe, one_thread),
    }
    runs: dict[str, list] = {key: [] for key in commands}
    load_before = loadavg()
    for i in range(repeats):  # interleaved: load from other jobs falls on all alike
        for key, (argv, env) in commands.items():
            runs[key].append(run(argv, folder / f"{key}_r{i}", env=env))
    load_after = loadavg()
    phases = [json.loads(Path(r.stdout_path).read_text()) for r in runs["recipe"]]
    phases_1t = [json.loads(Path(r.stdout_path).read_text()) for r in runs["recipe_1t"]]
    with np.load(recipe_npz) as z:
        snp, theirs = z["snp"].astype(str), z["coefs"]
    ours = our_coefs(folder / "ours.model.npz")
    w = np.array([ours.get(s, 0.0) for s in snp])
    diff = float(np.max(np.abs(w - theirs)))
    same_support = bool(np.array_equal(np.abs(w) > SUPPORT_TOL, np.abs(theirs) > SUPPORT_TOL))
    rows = [
        row("lmmlasso fit --mu 46", runs["ours"]),
        row("numpy eigh + rotation + scikit-learn Lasso", runs["recipe"]),
        row("the same, one BLAS thread", runs["recipe_1t"]),
    ]
    return {
        "rows": rows,
        "ours_in_process_seconds": finished_seconds(folder / "ours.log"),
        "recipe_phases": {k: median(p[k] for p in phases) for k in phases[0]},
        "recipe_phases_one_thread": {k: median(p[k] for p in phases_1t) for k in phases_1t[0]},
        "speedup": rows[1]["seconds"] / rows[0]["seconds"],
        "speedup_one_thread": rows[2]["seconds"] / rows[0]["seconds"],
        "blas_thread_variables": list(BLAS_THREAD_VARIABLES),
        "agreement": {
            "max_abs_diff_coef": diff,
            "n_selected_ours": int(np.sum(np.abs(w) > SUPPORT_TOL)),
            "n_selected_recipe": int(np.sum(np.abs(theirs) > SUPPORT_TOL)),
            "same_support": same_support,
            "coef_tol": COEF_TOL,
            "support_tol": SUPPORT_TOL,
            "ok": bool(diff <= COEF_TOL and same_support),
        },
        "loadavg_before_after": [load_before[0], load_after[0]],
    }


# ----------------------------------------------------------------------------- 4. first run


def kernels_compiled(cache: Path) -> dict:
    """numba's cache after a run: kernels (index files) and specializations (data files)."""
    return {
        "kernels": len(list(cache.rglob("*.nbi"))),
        "specializations": len(list(cache.rglob("*.nbc"))),
    }


def time_first_runs(lmmlasso, prefix: Path, setup: dict, repeats: int) -> dict:
    folder = OUT / "first_run"
    caches = folder / "numba"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    kinship = setup["kinship"]
    labels = {
        "fit": "lmmlasso fit --mu 46, first run",
        "gwas": "lmmlasso gwas --exact, first run",
        "gwas_warm": "lmmlasso gwas --exact, warm",
        "gemma": "gemma -lmm 1",
    }
    runs: dict[str, list] = {k: [] for k in labels}
    compiled = {}
    load_before = loadavg()
    for i in range(repeats):
        for key, argv in (
            ("fit", fit_argv(lmmlasso, prefix, kinship, folder / "fit")),
            ("gwas", gwas_argv(lmmlasso, prefix, kinship, folder / "gwas")),
        ):
            cache = caches / f"{key}{i}"
            env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
            runs[key].append(run(argv, folder / f"{key}_r{i}", env=env))
            compiled[key] = kernels_compiled(cache)
            if key == "gwas":  # the same command again: numba's cache is now filled
                runs["gwas_warm"].append(run(argv, folder / f"gwas_warm_r{i}", env=env))
        argv = gemma_lmm_argv(prefix, setup["relatedness"], folder / "gemma")
        runs["gemma"].append(run(argv, folder / f"gemma_r{i}"))
    load_after = loadavg()
    rows = {key: row(labels[key], done) for key, done in runs.items()}
    return {
        "rows": rows,
        "compiled": compiled,
        "gemma_vs_first_gwas": rows["gemma"]["seconds"] / rows["gwas"]["seconds"],
        "gemma_vs_warm_gwas": rows["gemma"]["seconds"] / rows["gwas_warm"]["seconds"],
        "numba_cache_dirs": show_command([caches]),
        "loadavg_before_after": [load_before[0], load_after[0]],
    }


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--lmmlasso", type=Path, default=_common.LMMLASSO,
        help="the lmmlasso console script (default .venv/bin/lmmlasso)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULT_JSON, help="the JSON to write")
    args = parser.parse_args(argv)
    _common.LMMLASSO = lmmlasso = args.lmmlasso  # machine() reports this one's version
    ensure_tools()
    prefix = prepare_plink_set("mouse_hs1940")
    setup = set_up(lmmlasso, prefix)
    result = {
        "date": utc_timestamp(),
        "repeats": args.repeats,
        "help_repeats": HELP_REPEATS,
        "first_line_repeats": FIRST_LINE_REPEATS,
        "mu": MU,
        "pheno": PHENO,
        "machine": machine(),
        "loadavg_start": loadavg(),
        "help": time_help(lmmlasso),
        "first_line": time_first_line(lmmlasso, prefix, setup["kinship"]),
        "warm_fit": time_warm_fit(lmmlasso, prefix, setup, args.repeats),
        "first_run": time_first_runs(lmmlasso, prefix, setup, args.repeats),
        "gemma_gk_seconds": setup["gemma_gk_seconds"],
        "gemma_gk_command": setup["gemma_gk_command"],
        "pythonpath": os.environ.get("PYTHONPATH", ""),
    }
    write_json(args.out, result)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
