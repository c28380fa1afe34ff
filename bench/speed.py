"""Speed where users wait (issue 15): every row of the table against its peer, in one run.

    python bench/speed.py [--rows 1,2,...] [--repeats N] [--paper-reps N] [--quick]

Runs this checkout's code: bench/work/speed/bin/lmmlasso is a shell launcher for `python -m
lmmlasso_cli` (the interpreter running this script) with the repository on PYTHONPATH. Every
command is a whole process under /usr/bin/time -v; ours and the peer's run --repeats times,
interleaved (ours, peer, ours, peer, ...), and the table gives the median wall time. Before the
timed runs of a row, the same commands run once, untimed, on a 300 × 2000 `plink2 --dummy` set,
so that numba's cache holds every kernel they use (numba specializes on types, not sizes);
row 4 alone times compilation.

Data. GEMMA's HS1940 mice (Debian gemma-doc: 1940 × 12226; phenotype 1, .fam column 6, `--mpheno
1`; kinship from `lmmlasso kinship`, made once), and a `plink2 --dummy 5000 100000` set with
0.5–2% missing calls per SNP and a phenotype from `lmmlasso simulate` (bench/work/speed/data,
made once). --quick runs every row on the 300 × 2000 set instead (seconds each): for testing
this script, not for figures.

1. `lmmlasso cv --folds 5` (else defaults; the default is 10 folds) on HS1940 phenotype 1.
   Goal < 60 s; no peer.
2. `lmmlasso fit --n-mu 100 --mu-min-ratio 0.01`, the whole process, against R glmnet's solver
   alone: system.time of the glmnet() call in bench/_glmnet_path.R, on the problem that fit
   solves, pre-rotated: X̃ = P D Uᵀ X, ỹ = P D Uᵀ y (lmmlasso.py, lasso/design.py), written by
   `speed.py rotate`, which runs the same fit in-process and keeps what the Lasso solver was
   given (the standardized SNPs, y, the covariates, the eigendecomposition and δ), then builds
   X̃ with the package's RotatedDesign. SNPs identical to an earlier one, which the fit holds
   at w = 0, are left out (the optimum is the same). glmnet: λ = μ/n on the fit's own grid,
   standardize = FALSE, intercept = FALSE, thresh = 1e-10, no early end of the path. Both
   paths are scored by our objective ½‖ỹ − X̃w‖² + μ‖w‖₁ at every μ. R glmnet is Debian's
   r-cran-glmnet, installed with apt-get when `library(glmnet)` fails.
3. Warm `fit --mu 46` against numpy eigh + full rotation + scikit-learn Lasso, and
4. `fit --mu 46` and `gwas --exact` with an empty NUMBA_CACHE_DIR (the first run after an
   install) against GEMMA -lmm 1: bench/startup.py's items 3 and 4 (branch startup), called
   from here, with its recipe bench/_lmm_lasso_recipe.py. Without bench/startup.py in the
   checkout these rows record that they were left to it.
5. `stability --mu 46 --n-reps 20` on HS1940 phenotype 1, seconds per replicate =
   (wall of the 20 replicates − wall of replicate 0 alone, `--reps 0:1`) / 19: the start-up,
   reading and writing cancel. At --threads 1 (the table) and 2. Against the original
   procedure: bench/stability_vs_paper.py's paper worker (eigh, grid + Brent null model, full
   rotation, scikit-learn Lasso; one process, one BLAS thread) on replicates 0..--paper-reps−1
   of the same subsamples at the same μ: the median of its per-replicate timer (the first
   replicate also imports scikit-learn).
6. `kinship --threads 2` against `plink2 --make-rel square bin` (HS1940) and
   `plink2 --make-grm-bin` (5000 × 100,000), both --threads 2 (plink2 with --nonfounders:
   HS1940's mice have parents in the .fam).
7. `gwas --reml --transform none` (the null model's REML δ for every SNP) and `fit-null` on the
   5000 × 100,000 set, against FaST-LMM single_snp with our K (bench/gwas_vs_gemma.py's worker,
   in its environment bench/work/gwas/fastlmm-venv). Goals: gwas ≤ 100 s and faster than
   FaST-LMM; fit-null ≤ 30 s.

Rows 2–6 have no figure for a goal in issue 15: their goal here is ours no slower than the peer.
A row that fails is recorded with its error and the run goes on. Writes bench/results/speed.json
(with --quick: bench/work/speed/speed_quick.json), rewritten after every row (``complete``
false until the last); bench/report.py renders it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import shlex
import statistics
import subprocess
import sys
import traceback
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))  # this checkout's lmmlasso_cli, in this process too

import _common  # noqa: E402
from _common import (  # noqa: E402
    GEMMA,
    PLINK2,
    REPO,
    RESULTS,
    WORK,
    BenchError,
    apt_install,
    ensure_tools,
    git_head,
    loadavg,
    machine,
    prepare_plink_set,
    rel,
    run,
    show_command,
    time_round_robin,
    utc_timestamp,
    write_json,
)

RESULT_JSON = RESULTS / "speed.json"
OUT = WORK / "speed"
QUICK_JSON = OUT / "speed_quick.json"
LAUNCHER = OUT / "bin" / "lmmlasso"
PYTHON = ["/usr/bin/env", f"PYTHONPATH={REPO}", sys.executable]  # children that import us
R_SCRIPT = BENCH_DIR / "_glmnet_path.R"
PAPER_SCRIPT = BENCH_DIR / "stability_vs_paper.py"
GWAS_SCRIPT = BENCH_DIR / "gwas_vs_gemma.py"
ROWS = (1, 2, 3, 4, 5, 6, 7)
PHENO = 1
MU = 46.0
N_MU, MU_MIN_RATIO = 100, 0.01
N_REPS = 20
CV_FOLDS = 5  # issue 15's row; `lmmlasso cv` defaults to 10
THREADS = 2
SMALL = (300, 2000)
BIG = (5000, 100_000)
DUMMY_MISSING = "0.005,0.01,0.02"  # plink2 --dummy draws one missing-call rate per SNP
DUMMY_SEED = 15
SIMULATE = ("--n-causal", 20, "--h2-snps", 0.1, "--h2-background", 0.4, "--seed", 1)
GAP_AT = (0, 9, 24, 49, 74, 99)  # positions on the μ grid where objectives are listed


def lmmlasso(*args) -> list[str]:
    return [str(LAUNCHER), *map(str, args)]


def write_launcher() -> None:
    LAUNCHER.parent.mkdir(parents=True, exist_ok=True)
    LAUNCHER.write_text(
        "#!/bin/sh\n"
        f"export PYTHONPATH={shlex.quote(str(REPO))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        f'exec {shlex.quote(sys.executable)} -m lmmlasso_cli "$@"\n'
    )
    LAUNCHER.chmod(0o755)


# ----------------------------------------------------------------------------- goals and rows


@dataclass(frozen=True)
class Goal:
    """A row's goal: a wall-time limit, beating the peer, or both."""

    text: str
    limit: float | None = None
    strict: bool = False  # seconds < limit (else ≤)
    beat_peer: bool = False  # seconds ≤ the peer's

    def met(self, seconds: float | None, peer: float | None) -> bool | None:
        if seconds is None or (self.beat_peer and peer is None):
            return None
        ok = True
        if self.limit is not None:
            ok = seconds < self.limit if self.strict else seconds <= self.limit
        return ok and (not self.beat_peer or seconds <= peer)


NOT_SLOWER = Goal("no slower than the peer", beat_peer=True)


def line(id_, what, ours, peer_label=None, peer=None, goal=NOT_SLOWER, note=None) -> dict:
    """One row of the table; ``ours`` and ``peer`` are wall seconds (None: not measured)."""
    return {
        "id": id_,
        "what": what,
        "seconds": ours,
        "peer": peer_label,
        "peer_seconds": peer,
        "goal": goal.text,
        "met": goal.met(ours, peer),
        "note": note,
    }


def timing(t) -> dict:
    """A `_common.Timing` (or a bench/startup.py row) as the JSON records it."""
    return asdict(t) if hasattr(t, "__dataclass_fields__") else dict(t)


# ----------------------------------------------------------------------------- data


def made(target: Path, argv: list, source: Path | None = None) -> None:
    """Run ``argv`` unless ``target`` exists and is newer than ``source`` (logs beside it)."""
    if target.exists() and (source is None or target.stat().st_mtime >= source.stat().st_mtime):
        return
    run(argv, target.parent / "logs" / target.name)


def fam_phenotype(prefix: Path, pheno: int) -> tuple[np.ndarray, np.ndarray]:
    """(.fam rows, mask of those with a value) for phenotype ``pheno`` (.fam column 5 + pheno)."""
    fam = np.loadtxt(f"{prefix}.fam", dtype=str, ndmin=2)
    column = fam[:, 4 + pheno]
    return fam, ~np.isin(column, ["NA", "-9", "nan", "NaN"])


class Inputs:
    """The data sets, each made on first use (and kept in bench/work for later runs)."""

    def __init__(self, quick: bool):
        self.quick = quick
        self.folder = OUT / "data"

    def dummy(self, n: int, p: int) -> Path:
        prefix = self.folder / f"dummy{n}x{p}"
        argv = [PLINK2, "--dummy", n, p, DUMMY_MISSING, "scalar-pheno", "--seed", DUMMY_SEED]
        argv += ["--threads", THREADS, "--make-bed", "--out", prefix]
        made(Path(f"{prefix}.bed"), argv)
        return prefix

    def kinship(self, prefix: Path) -> Path:
        out = self.folder / prefix.name
        argv = lmmlasso("kinship", "--bfile", prefix, "--threads", THREADS, "--out", out)
        made(Path(f"{out}.kinship.npz"), [*argv, "--quiet"], Path(f"{prefix}.bed"))
        return Path(f"{out}.kinship.npz")

    @cached_property
    def small(self) -> dict:
        """The 300 × 2000 set: numba's warm-up, and every row with --quick."""
        prefix = self.dummy(*SMALL)
        return {"prefix": prefix, "kinship": self.kinship(prefix)}

    @cached_property
    def mouse(self) -> dict:
        """HS1940 (or the small set): prefix, kinship, a phenotype table for the paper worker."""
        if self.quick:
            prefix, label = self.small["prefix"], f"plink2 --dummy {SMALL[0]} {SMALL[1]}"
        else:
            prefix, label = prepare_plink_set("mouse_hs1940"), "HS1940"
        fam, observed = fam_phenotype(prefix, PHENO)
        table = self.folder / f"{prefix.name}.pheno{PHENO}.txt"
        table.write_text(
            "FID IID pheno\n" + "".join(f"{r[0]} {r[1]} {r[4 + PHENO]}\n" for r in fam[observed])
        )
        return {
            "label": label,
            "prefix": prefix,
            "kinship": self.kinship(prefix),
            "pheno_table": table,
            "n_samples": len(fam),
            "n_analysed": int(observed.sum()),
            "n_snps": count_lines(f"{prefix}.bim"),
        }

    @cached_property
    def big(self) -> dict:
        """The 5000 × 100,000 set (or the small one): prefix, kinship, simulated phenotype."""
        n, p = SMALL if self.quick else BIG
        prefix = self.small["prefix"] if self.quick else self.dummy(n, p)
        kinship = self.kinship(prefix)
        sim = self.folder / f"{prefix.name}.sim"
        argv = lmmlasso("simulate", "--bfile", prefix, "--kinship", kinship, *SIMULATE)
        made(Path(f"{sim}.pheno"), [*argv, "--out", sim, "--quiet"], kinship)
        rows = [ln.split() for ln in Path(f"{sim}.pheno").read_text().splitlines()[1:]]
        headerless = self.folder / f"{prefix.name}.sim1.txt"  # for FaST-LMM
        headerless.write_text("".join(f"{r[0]} {r[1]} {r[2]}\n" for r in rows))
        return {
            "label": f"plink2 --dummy {n} {p}",
            "prefix": prefix,
            "kinship": kinship,
            "pheno": Path(f"{sim}.pheno"),
            "fastlmm_pheno": headerless,
            "n_samples": n,
            "n_snps": p,
            "missing_rates": DUMMY_MISSING,
            "simulate": " ".join(map(str, SIMULATE)),
        }

    def describe(self) -> dict:
        """What the rows used, for the JSON (the sets made so far)."""
        keep = ("label", "prefix", "n_samples", "n_analysed", "n_snps", "missing_rates",
                "simulate")  # fmt: skip
        sets = {k: self.__dict__[k] for k in ("mouse", "big") if k in self.__dict__}
        return {
            name: {k: rel(v) if isinstance(v, Path) else v for k, v in d.items() if k in keep}
            for name, d in sets.items()
        }


def count_lines(path) -> int:
    with open(path) as handle:
        return sum(1 for _ in handle)


def warm_up(inputs: Inputs, names: tuple[str, ...]) -> None:
    """Our commands ``names`` once on the small set, untimed: numba compiles and caches."""
    s = inputs.small
    data = ["--bfile", s["prefix"], "--kinship", s["kinship"]]
    fit = [*data, "--mpheno", PHENO]
    args = {
        "kinship": ["kinship", "--bfile", s["prefix"]],
        "fit_mu": ["fit", *fit, "--mu", f"{MU:g}"],
        "fit_path": ["fit", *fit, "--n-mu", 10],
        "cv": ["cv", *fit, "--folds", CV_FOLDS],
        "stability": ["stability", *fit, "--mu", f"{MU:g}", "--n-reps", 4],
        "gwas": ["gwas", *fit, "--reml", "--transform", "none"],
        "fit_null": ["fit-null", *fit],
    }
    folder = OUT / "warmup"
    for name in names:
        print(f"  warm-up: lmmlasso {args[name][0]}", file=sys.stderr)
        run(lmmlasso(*args[name], "--out", folder / name, "--quiet"), folder / name)


# ----------------------------------------------------------------------------- row 1: cv


def row_cv(inputs: Inputs, args) -> tuple[list, dict]:
    m, folder = inputs.mouse, OUT / "cv"
    warm_up(inputs, ("cv",))
    argv = lmmlasso("cv", "--bfile", m["prefix"], "--kinship", m["kinship"], "--mpheno", PHENO)
    commands = {"cv": [*argv, "--folds", CV_FOLDS, "--out", folder / "cv", "--quiet"]}
    (ours,) = time_round_robin(commands, folder, args.repeats)
    what = f"`lmmlasso cv --folds {CV_FOLDS}`, {m['label']} phenotype {PHENO}"
    lines = [line("1", what, ours.seconds, goal=Goal("< 60 s", limit=60.0, strict=True))]
    return lines, {"ours": timing(ours), "chosen": log_lines(folder / "cv.log", "rule")}


def log_lines(path: Path, word: str) -> list[str]:
    """The lines of one of our PREFIX.log files that contain ``word``."""
    if not path.exists():
        return []
    return [ln.strip() for ln in path.read_text().splitlines() if word in ln]


# ----------------------------------------------------------------------------- row 2: glmnet


def rotate_worker(folder: Path, fit_args: list[str]) -> int:
    """`lmmlasso fit FIT_ARGS` in this process, keeping what its Lasso solver was handed; write
    that problem pre-rotated for bench/_glmnet_path.R, with our path on it (see row 2)."""
    import lmmlasso_cli.cli.pipeline as pipeline
    from lmmlasso_cli.cli import main as lmmlasso_main
    from lmmlasso_cli.compact import as_genotypes
    from lmmlasso_cli.lasso.design import RotatedDesign

    seen: dict = {}
    solve = pipeline.fit_lasso_batch

    def keep_inputs(log, backend, X, items, *rest):
        fits = solve(log, backend, X, items, *rest)
        seen.update(X=X, items=items, fits=fits)
        return fits

    pipeline.fit_lasso_batch = keep_inputs  # looked up by `fit` when it runs
    try:
        lmmlasso_main(["fit", *fit_args], standalone_mode=False)
    finally:
        pipeline.fit_lasso_batch = solve
    if len(seen.get("items", ())) != 1:
        raise BenchError(f"`lmmlasso fit {' '.join(fit_args)}` did not fit one phenotype")
    X = as_genotypes(seen["X"])
    (y, covariates, eig, log_delta), fit = seen["items"][0], seen["fits"][0]
    keep = np.flatnonzero(~X.duplicate_columns())
    design = RotatedDesign(X, eig.eigvecs, eig.eigvals, float(np.exp(log_delta)), covariates)
    X_rot, y_rot = np.asfortranarray(design.columns(keep)), design.rotate_target(y)
    n, p = X_rot.shape
    mus = fit.path.mus
    folder.mkdir(parents=True, exist_ok=True)
    X_rot.T.tofile(folder / "x.f64")  # the rows of X̃ᵀ: X̃ column-major, as R reads it
    y_rot.tofile(folder / "y.f64")
    (mus / n).tofile(folder / "lambda.f64")
    (folder / "dims.txt").write_text(f"{n} {p} {len(mus)}\n")
    np.savez(
        folder / "ours.npz",
        coefs=fit.path.coefs.toarray()[:, keep],
        mus=mus,
        objectives=fit.path.objectives,
        gaps=fit.path.gaps,
        converged=fit.path.converged,
    )
    facts = {"n_samples": n, "n_snps": p, "n_duplicates_left_out": int(X.shape[1] - p),
             "log_delta": float(log_delta), "n_covariates": int(covariates.shape[1]),
             "n_mu": len(mus), "mu_max": float(mus[0]), "mu_min": float(mus[-1])}  # fmt: skip
    (folder / "problem.json").write_text(json.dumps(facts) + "\n")
    return 0


def ensure_glmnet(log: Path) -> str | None:
    """None when `library(glmnet)` loads in Rscript (after apt-get if needed), else why not."""
    probe = ["Rscript", "-e", "library(glmnet)"]

    def loads() -> bool:
        try:
            return subprocess.run(probe, capture_output=True).returncode == 0
        except OSError:
            return False

    if loads():
        return None
    print("  installing r-cran-glmnet with apt-get", file=sys.stderr)
    installed = apt_install(["r-cran-glmnet"], log)
    if loads():
        return None
    if not installed:
        return f"`apt-get install -y r-cran-glmnet` failed (see {rel(log)})"
    return f"r-cran-glmnet is installed but `Rscript -e 'library(glmnet)'` fails (see {rel(log)})"


def objective_gaps(folder: Path) -> dict:
    """Our objective ½‖ỹ − X̃w‖² + μ‖w‖₁ for our path and glmnet's, at every μ of both."""
    n, p, _ = (int(v) for v in (folder / "dims.txt").read_text().split())
    X = np.fromfile(folder / "x.f64").reshape(p, n).T
    y = np.fromfile(folder / "y.f64")
    with np.load(folder / "ours.npz") as z:
        ours, mus = z["coefs"], z["mus"]
    theirs = np.fromfile(folder / "beta.f64").reshape(-1, p)
    k = min(len(ours), len(theirs))

    def objective(W):
        resid = y[:, None] - X @ W[:k].T
        return 0.5 * np.sum(resid**2, axis=0) + mus[:k] * np.abs(W[:k]).sum(axis=1)

    mine, glm = objective(ours), objective(theirs)
    diff = glm - mine
    listed = [
        {"index": i, "mu": float(mus[i]), "ours": float(mine[i]), "glmnet": float(glm[i]),
         "relative": float(diff[i] / mine[i]), "over_y2": float(diff[i] / (y @ y)),
         "active_ours": int(np.count_nonzero(ours[i])),
         "active_glmnet": int(np.count_nonzero(theirs[i]))}
        for i in GAP_AT if i < k
    ]  # fmt: skip
    return {
        "n_compared": k,
        "n_ours": len(ours),
        "n_glmnet": len(theirs),
        "at": listed,
        "max_abs_relative": float(np.max(np.abs(diff / mine))),
        "over_y2_range": [float(diff.min() / (y @ y)), float(diff.max() / (y @ y))],
        "n_glmnet_lower": int(np.sum(diff < 0)),
        "max_abs_diff_coef": float(np.max(np.abs(ours[:k] - theirs[:k]))),
    }


def row_glmnet(inputs: Inputs, args) -> tuple[list, dict]:
    m, folder = inputs.mouse, OUT / "glmnet"
    warm_up(inputs, ("fit_path",))
    fit = ["--bfile", m["prefix"], "--kinship", m["kinship"], "--mpheno", PHENO]
    fit += ["--n-mu", N_MU, "--mu-min-ratio", MU_MIN_RATIO, "--quiet"]
    fit = list(map(str, fit))
    problem = folder / "problem"
    worker = [*PYTHON, Path(__file__).resolve(), "rotate", problem, *fit, "--out", problem / "fit"]
    run(worker, folder / "rotate")
    commands = {"fit": lmmlasso("fit", *fit, "--out", folder / "ours")}
    why_not = ensure_glmnet(folder / "glmnet_install.log")
    if why_not is None:
        commands["glmnet"] = ["Rscript", R_SCRIPT, problem]
    timings = {t.label: t for t in time_round_robin(commands, folder, args.repeats)}
    what = f"`lmmlasso fit --n-mu {N_MU} --mu-min-ratio {MU_MIN_RATIO:g}`, {m['label']}"
    details = {
        "ours": timing(timings["fit"]),
        "problem": json.loads((problem / "problem.json").read_text()),
        "glmnet_problem": why_not,
    }
    if why_not is not None:
        return [line("2", what, timings["fit"].seconds, note=why_not)], details
    inner = [json.loads((folder / f"glmnet_r{i}.out").read_text()) for i in range(args.repeats)]
    solver = statistics.median(r["elapsed"] for r in inner)
    details |= {
        "glmnet": timing(timings["glmnet"]),
        "glmnet_inner": inner,
        "glmnet_solver_seconds": solver,
        "objectives": objective_gaps(problem),
    }
    peer = "R glmnet, solver alone (same X̃, ỹ, grid)"
    return [line("2", what, timings["fit"].seconds, peer, solver)], details


# ----------------------------------------------------------------------------- rows 3, 4


class Startup:
    """bench/startup.py's set-up and items 3 and 4, run once for both rows (module: None when
    it is not in this checkout)."""

    def __init__(self):
        try:
            import startup
        except ImportError as err:
            self.module = None
            self.why_not = f"left to bench/startup.py (branch startup): {err}"
            return
        self.module, self.why_not = startup, None
        startup.OUT = OUT / "startup"  # its outputs beside ours

    def set_up(self, inputs: Inputs) -> dict:
        if not hasattr(self, "_setup"):
            self._setup = self.module.set_up(str(LAUNCHER), inputs.mouse["prefix"])
        return self._setup


def row_warm_fit(inputs: Inputs, args, startup: Startup) -> tuple[list, dict]:
    what = f"`lmmlasso fit --mu {MU:g}`, warm, {inputs.mouse['label']}"
    if startup.module is None:
        return [line("3", what, None, note=startup.why_not)], {"left_to": startup.why_not}
    warm_up(inputs, ("fit_mu",))
    result = startup.module.time_warm_fit(
        str(LAUNCHER), inputs.mouse["prefix"], startup.set_up(inputs), args.repeats
    )
    ours, recipe = result["rows"]
    peer = "numpy eigh + full rotation + scikit-learn Lasso"
    return [line("3", what, ours["seconds"], peer, recipe["seconds"])], result


def row_first_run(inputs: Inputs, args, startup: Startup) -> tuple[list, dict]:
    label = inputs.mouse["label"]
    what = {  # row: (bench/startup.py's key, what)
        "4a": ("fit", f"first `lmmlasso fit --mu {MU:g}` after install, {label}"),
        "4b": ("gwas", f"first `lmmlasso gwas --exact` after install, {label}"),
    }
    if startup.module is None:
        lines = [line(id_, w, None, note=startup.why_not) for id_, (_, w) in what.items()]
        return lines, {"left_to": startup.why_not}
    result = startup.module.time_first_runs(
        str(LAUNCHER), inputs.mouse["prefix"], startup.set_up(inputs), args.repeats
    )
    rows = result["rows"]
    gemma = rows["gemma"]["seconds"]
    lines = [
        line(id_, w, rows[key]["seconds"], "GEMMA -lmm 1", gemma) for id_, (key, w) in what.items()
    ]
    return lines, result


# ----------------------------------------------------------------------------- row 5


def row_stability(inputs: Inputs, args) -> tuple[list, dict]:
    m, folder = inputs.mouse, OUT / "stability"
    warm_up(inputs, ("stability",))
    base = lmmlasso("stability", "--bfile", m["prefix"], "--kinship", m["kinship"], "--mpheno",
                    PHENO, "--mu", f"{MU:g}", "--n-reps", N_REPS, "--quiet")  # fmt: skip
    commands = {}
    for threads in (1, THREADS):
        for reps, label in ((f"0:{N_REPS}", "all"), ("0:1", "one")):
            key = f"t{threads}_{label}"
            commands[key] = [*base, "--threads", threads, "--reps", reps, "--out", folder / key]
    timings = {t.label: t for t in time_round_robin(commands, folder, args.repeats)}
    per_rep = {
        t: (timings[f"t{t}_all"].seconds - timings[f"t{t}_one"].seconds) / (N_REPS - 1)
        for t in (1, THREADS)
    }
    paper_json = folder / "paper.json"
    worker = [*PYTHON, PAPER_SCRIPT, "paper", "--bfile", m["prefix"],
              "--pheno", m["pheno_table"], "--kinship", m["kinship"],
              "--ours", folder / "t1_all.stability.npz", "--reps", f"0:{args.paper_reps}",
              "--out", paper_json, "--blas-threads", 1]  # fmt: skip
    paper_run = run(worker, folder / "paper")
    records = json.loads(paper_json.read_text())
    paper = float(np.median([r["seconds"] for r in records]))  # the first imports sklearn
    what = f"`lmmlasso stability --mu {MU:g}`, seconds per replicate (--threads 1), {m['label']}"
    peer = "original procedure (bench/stability_vs_paper.py), per replicate"
    details = {
        "runs": {k: timing(t) for k, t in timings.items()},
        "per_replicate": {str(t): s for t, s in per_rep.items()},
        "paper_seconds": [r["seconds"] for r in records],
        "paper_worker": {"command": show_command(paper_run.argv), "seconds": paper_run.seconds},
        "paper_same_selection": sum(r["same_as_stability_run"] for r in records),
        "paper_max_abs_diff_log_delta": float(
            max(abs(r["log_delta"] - r["ours_log_delta"]) for r in records)
        ),
        "n_reps": N_REPS,
        "paper_reps": args.paper_reps,
    }
    return [line("5", what, per_rep[1], peer, paper)], details


# ----------------------------------------------------------------------------- row 6


def row_kinship(inputs: Inputs, args) -> tuple[list, dict]:
    from kinship_null import parse_plink2_snps

    warm_up(inputs, ("kinship",))
    lines, details = [], {}
    for id_, data, plink_args in (
        ("6a", inputs.mouse, ["--make-rel", "square", "bin"]),
        ("6b", inputs.big, ["--make-grm-bin"]),
    ):
        folder = OUT / "kinship" / id_
        prefix = data["prefix"]
        commands = {
            "ours": lmmlasso("kinship", "--bfile", prefix, "--threads", THREADS,
                             "--out", folder / "ours", "--quiet"),
            "plink2": [PLINK2, "--bfile", prefix, *plink_args, "--nonfounders",
                       "--threads", THREADS, "--out", folder / "plink2"],
        }  # fmt: skip
        ours, plink2 = time_round_robin(commands, folder, args.repeats)
        what = f"`lmmlasso kinship --threads {THREADS}`, {data['label']}"
        peer = f"plink2 {' '.join(plink_args)} --threads {THREADS}"
        lines.append(line(id_, what, ours.seconds, peer, plink2.seconds))
        details[id_] = {
            "ours": timing(ours),
            "plink2": timing(plink2),
            "snps_ours": log_lines(folder / "ours.log", "SNPs:"),
            "snps_plink2": parse_plink2_snps(folder / "plink2.log"),
        }
    return lines, details


# ----------------------------------------------------------------------------- row 7


def row_gwas(inputs: Inputs, args) -> tuple[list, dict]:
    from gwas_vs_gemma import FASTLMM_PYTHON, compare_fastlmm, ensure_fastlmm, fastlmm_version

    b, folder = inputs.big, OUT / "gwas"
    warm_up(inputs, ("gwas", "fit_null"))
    data = ["--bfile", b["prefix"], "--kinship", b["kinship"], "--pheno", b["pheno"]]
    commands = {
        "gwas": lmmlasso("gwas", *data, "--reml", "--transform", "none", "--out",
                         folder / "gwas", "--quiet"),
        "fit_null": lmmlasso("fit-null", *data, "--out", folder / "null", "--quiet"),
    }  # fmt: skip
    why_not = ensure_fastlmm()
    fl_out, fl_timing = folder / "fastlmm.tsv", folder / "fastlmm_timing.json"
    if why_not is None:
        commands["fastlmm"] = [FASTLMM_PYTHON, GWAS_SCRIPT, "--fastlmm-worker", b["kinship"],
                               b["prefix"], b["fastlmm_pheno"], fl_out, fl_timing]  # fmt: skip
    timings = {t.label: t for t in time_round_robin(commands, folder, args.repeats)}
    details = {k: timing(t) for k, t in timings.items()} | {"fastlmm_problem": why_not}
    fastlmm = None
    if why_not is None:
        fastlmm = timings["fastlmm"].seconds
        details["fastlmm_version"] = fastlmm_version()
        details["fastlmm_inner"] = json.loads(fl_timing.read_text())
        details["agreement"] = compare_fastlmm(Path(f"{folder / 'gwas'}.gwas.tsv"), fl_out)
    details["null_model_line"] = next(iter(log_lines(folder / "null.log", "log δ=")), "")
    label = b["label"]
    peer = "FaST-LMM single_snp (same K, null REML δ)"
    goal = Goal("≤ 100 s and faster than FaST-LMM", limit=100.0, beat_peer=True)
    lines = [
        line("7a", f"`lmmlasso gwas --reml`, {label}", timings["gwas"].seconds, peer, fastlmm,
             goal, note=why_not),
        line("7b", f"`lmmlasso fit-null`, {label}", timings["fit_null"].seconds,
             goal=Goal("≤ 30 s", limit=30.0)),
    ]  # fmt: skip
    return lines, details


# ----------------------------------------------------------------------------- main


def versions() -> dict:
    """Versions of what this interpreter runs and of R glmnet (tools: `_common.machine`)."""

    def dist(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    found = {name: dist(name) for name in ("numpy", "scipy", "numba", "scikit-learn")}
    argv = ["Rscript", "-e", 'cat(R.version.string, as.character(packageVersion("glmnet")))']
    try:
        proc = subprocess.run(argv, capture_output=True, text=True)
        found["R glmnet"] = proc.stdout.strip() if proc.returncode == 0 else "not installed"
    except OSError:
        found["R glmnet"] = "not installed"
    return found


def parse_rows(text: str) -> list[int]:
    rows = sorted({int(v) for v in text.split(",") if v.strip()})
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"--rows: no row {unknown[0]}; rows are {', '.join(map(str, ROWS))}")
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "rotate":
        return rotate_worker(Path(argv[1]), argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=parse_rows, default=list(ROWS), help="e.g. 1,2,5")
    parser.add_argument("--repeats", type=int, help="timed runs per command (default 3; 1 quick)")
    parser.add_argument("--paper-reps", type=int, help="replicates of the paper worker (5; 2)")
    parser.add_argument("--quick", action="store_true", help="every row on a 300 × 2000 set")
    parser.add_argument("--results", type=Path, help="the JSON to write")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.paper_reps = args.paper_reps or (2 if args.quick else 5)
    results = args.results or (QUICK_JSON if args.quick else RESULT_JSON)
    write_launcher()
    _common.LMMLASSO = LAUNCHER  # what ensure_tools checks and machine() asks for --version
    ensure_tools()
    inputs, startup = Inputs(args.quick), Startup()
    table = {
        1: lambda: row_cv(inputs, args),
        2: lambda: row_glmnet(inputs, args),
        3: lambda: row_warm_fit(inputs, args, startup),
        4: lambda: row_first_run(inputs, args, startup),
        5: lambda: row_stability(inputs, args),
        6: lambda: row_kinship(inputs, args),
        7: lambda: row_gwas(inputs, args),
    }
    result = {
        "date": utc_timestamp(),
        "complete": False,
        "quick": args.quick,
        "rows_run": args.rows,
        "repeats": args.repeats,
        "machine": machine(),
        "versions": versions(),
        "source": git_head(),
        "gemma": str(GEMMA),
        "launcher": LAUNCHER.read_text(),
        "loadavg_before": loadavg(),
        "settings": {
            "pheno": PHENO,
            "mu": MU,
            "n_mu": N_MU,
            "mu_min_ratio": MU_MIN_RATIO,
            "n_reps": N_REPS,
            "cv_folds": CV_FOLDS,
            "paper_reps": args.paper_reps,
            "threads": THREADS,
            "dummy_seed": DUMMY_SEED,
        },
        "lines": [],
        "details": {},
        "failed": {},
    }
    for row in args.rows:
        print(f"[speed] row {row}", file=sys.stderr)
        load = loadavg()[0]
        try:
            lines, details = table[row]()
        except Exception as err:  # a failed row is recorded; the others still run
            traceback.print_exc()
            result["failed"][str(row)] = f"{type(err).__name__}: {err}"
            lines, details = [], {}
        result["lines"] += lines
        result["details"][str(row)] = details | {"loadavg_1min": [load, loadavg()[0]]}
        result["data"] = inputs.describe()
        write_json(results, result)
    result["versions"] = versions()  # R glmnet may have been installed by row 2
    result |= {"complete": True, "loadavg_after": loadavg()}
    write_json(results, result)
    print(f"wrote {rel(results)}; `python bench/report.py` renders it", file=sys.stderr)
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
