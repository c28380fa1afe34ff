"""Biobank scale (issue 10): the lmmlasso chain end to end on synthetic data, per step wall time,
peak memory and the command's own memory estimate.

    python bench/scale.py [--sizes 10000x500000 ...] [--fit-path 1400x800000|none]
        [--growth] [--growth-n 1000,2000,4000] [--growth-p 50000,100000,200000]
        [--growth-fixed-n 2000] [--growth-fixed-p 100000]
        [--steps kinship,fit-null,fit,gwas,stability,predict] [--timeout SECONDS]
        [--threads 2] [--seed 1] [--missing 0.01] [--results bench/results/scale.json]
        [--blas-env native|keep]

Runs the worktree's code (``python -m lmmlasso_cli`` with this repository on PYTHONPATH).

1. Data: `bench/scale_data.py` (families, two populations, LD; phenotypes pheno1, pheno2 with
   100 causal SNPs each) into bench/work/scale/data/, git-ignored; a set is reused when its
   PREFIX.json records the same settings, else made again (timed, as the row ``generate``).
2. Cases. *chain*: for each --sizes N×P, the steps
       kinship    lmmlasso kinship
       fit-null   lmmlasso fit-null   (pheno1)
       fit        lmmlasso fit --null ... --n-active 100
       gwas       lmmlasso gwas --null ...   (fit-null's eigendecomposition and δ)
       stability  lmmlasso stability --n-active 100 --n-reps 20 --seed 1
       predict    lmmlasso predict --model <fit's model>   (the same individuals)
   each with --threads T. *fit-path* (--fit-path N×P): kinship, fit-null, then
   ``fit --n-mu 100`` (a whole 100-μ path) alone. *growth* (--growth): the chain's steps on
   a grid, n in --growth-n at p = --growth-fixed-p and p in --growth-p at n = --growth-fixed-n,
   with the exponents of wall time and peak RSS in n and in p (least squares on log-log).
   --steps restricts the chain and growth cases; a step whose input is missing (its earlier
   step failed, was not asked for and has no output from an earlier run) is skipped and said so.
3. Every step runs under ``/usr/bin/time -v`` in its own process group: wall time (GNU time's
   elapsed, and ``time.perf_counter`` around it), CPU time, "Maximum resident set size" (the
   largest single process: for stability's worker processes, not their sum), and the summed
   PSS of the whole process tree sampled every SAMPLE_S seconds. If the step's PREFIX.log has
   a line starting with "memory plan", its "estimated peak X GB" is recorded next to them.
   A step that runs past --timeout is killed (its process group) and recorded as such.
   The steps run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (``--blas-env native``), which
   some machines here set to older kernels: OpenBLAS then picks its own, as on a user's machine;
   each row records the "BLAS:" line of the step's log (the kernels that ran).
4. Writes --results (bench/results/scale.json) after every step, "complete": false until the
   end; `python bench/report.py` renders it into bench/README.md.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import scale_data  # noqa: E402
from _common import (  # noqa: E402
    GNU_TIME,
    REPO,
    RESULTS,
    WORK,
    git_head,
    loadavg,
    read_gnu_time,
    rel,
    show_command,
    utc_timestamp,
    write_json,
)

RESULT_JSON = RESULTS / "scale.json"
HERE = WORK / "scale"
LMMLASSO = [sys.executable, "-m", "lmmlasso_cli"]
PHENO = "pheno1"
N_ACTIVE = 100
N_REPS = 20
N_MU = 100
STABILITY_SEED = 1
SAMPLE_S = 0.5  # seconds between two samples of the process tree's memory
# Set on some machines of this workplace to older kernels (/work/.library/env/README.md); they
# slow a current numpy. `--blas-env native` (the default) runs the steps without both.
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
KILL_GRACE_S = 30  # after SIGTERM, before SIGKILL
CHAIN = ("kinship", "fit-null", "fit", "gwas", "stability", "predict")
FIT_PATH = ("kinship", "fit-null", "fit-path")
NEEDS = {
    "fit-null": ("kinship",),
    "fit": ("kinship", "fit-null"),
    "gwas": ("kinship", "fit-null"),
    "stability": ("kinship",),
    "predict": ("fit",),
    "fit-path": ("kinship", "fit-null"),
}
OUT_NAME = {  # step -> its --out prefix in the case's folder
    "kinship": "kinship",
    "fit-null": "null",
    "fit": "fit",
    "gwas": "gwas",
    "stability": "stability",
    "predict": "predict",
    "fit-path": "fitpath",
}
PRODUCES = {  # step -> the file later steps read
    "kinship": "kinship.kinship.npz",
    "fit-null": "null.null.npz",
    "fit": "fit.model.npz",
    "gwas": "gwas.gwas.tsv",
    "stability": "stability.stability.tsv",
    "predict": "predict.pred.tsv",
    "fit-path": "fitpath.model.npz",
}
MEMORY_PLAN = re.compile(r"estimated peak\D*?([\d.]+)\s*(GB|GiB)")


@dataclass(frozen=True)
class Case:
    kind: str  # "chain", "growth" or "fit-path"
    n: int
    p: int
    steps: tuple[str, ...]
    rank: int = 0  # kinship --rank (0: the full n x n kinship)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.n}x{self.p}" + (f" rank {self.rank}" if self.rank else "")

    @property
    def folder(self) -> str:
        return self.kind + (f"-rank{self.rank}" if self.rank else "")


# ----------------------------------------------------------------------------- measuring


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _memory_kb(pid: int) -> int:
    """PSS of a process (shared pages divided among their users), else its RSS; 0 if gone."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as handle:
                for line in handle:
                    if line.startswith(key):
                        return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


def tree_memory_kb(root: int) -> int:
    """Summed PSS of ``root`` and all its descendants."""
    kids, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        total += _memory_kb(pid)
        todo += kids.get(pid, [])
    return total


class TreeSampler(threading.Thread):
    """Samples `tree_memory_kb(root)` every SAMPLE_S seconds until stopped; keeps the peak."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root = root
        self.peak_kb = 0
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while True:
            self.peak_kb = max(self.peak_kb, tree_memory_kb(self.root))
            self.samples += 1
            if self._done.wait(SAMPLE_S):
                return

    def stop(self) -> None:
        self._done.set()
        self.join()


def _kill_group(proc: subprocess.Popen) -> int:
    """SIGTERM the process group of ``proc`` (started with its own session), then SIGKILL."""
    with_signal = signal.SIGTERM
    for _ in range(2):
        try:
            os.killpg(proc.pid, with_signal)
        except ProcessLookupError:
            break
        try:
            return proc.wait(KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            with_signal = signal.SIGKILL
    return proc.wait()


def memory_plan(log_path: Path) -> tuple[str | None, float | None]:
    """The first line of PREFIX.log starting with "memory plan", and its estimated peak in GB."""
    if not log_path.exists():
        return None, None
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("memory plan"):
            match = MEMORY_PLAN.search(line)
            if match is None:
                return line, None
            value = float(match.group(1))
            return line, value * (1.073741824 if match.group(2) == "GiB" else 1.0)
    return None, None


def log_line(log_path: Path, start: str) -> str | None:
    """The first line of PREFIX.log starting with ``start`` (without it), or None."""
    if not log_path.exists():
        return None
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith(start):
            return line[len(start) :].strip()
    return None


def blas_environment(mode: str) -> dict:
    """With ``mode`` "native", remove `BLAS_ENV` from this process's environment (the steps
    inherit it), so OpenBLAS runs the kernels it picks for this CPU, as on a user's machine;
    "keep" leaves them. Returns what was set before and what the steps get."""
    before = {name: os.environ.get(name) for name in BLAS_ENV}
    if mode == "native":
        for name in BLAS_ENV:
            os.environ.pop(name, None)
    return {"mode": mode, "before": before, "steps": {n: os.environ.get(n) for n in BLAS_ENV}}


def run_step(argv: list, log_stem: Path, timeout: float | None) -> dict:
    """Run ``argv`` under GNU time in its own process group; the measured figures."""
    log_stem.parent.mkdir(parents=True, exist_ok=True)
    time_file = log_stem.with_suffix(".time")
    time_file.unlink(missing_ok=True)
    full = [str(GNU_TIME), "-v", "-o", str(time_file), *map(str, argv)]
    before = loadavg()
    with (
        open(log_stem.with_suffix(".out"), "wb") as out,
        open(log_stem.with_suffix(".err"), "wb") as err,
    ):
        start = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=err, start_new_session=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        timed_out = False
        try:
            returncode = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            returncode = _kill_group(proc)
        except BaseException:  # Ctrl-C: the child has its own session and would live on
            _kill_group(proc)
            raise
        finally:
            seconds = time.perf_counter() - start
            sampler.stop()
    usage = read_gnu_time(time_file)
    stderr = log_stem.with_suffix(".err").read_text(errors="replace").strip().splitlines()
    return {
        "command": show_command([str(a) for a in argv]),
        "status": "timeout" if timed_out else ("ok" if returncode == 0 else "failed"),
        "returncode": returncode,
        "wall_s": _finite(usage.wall_seconds, seconds),
        "wall_s_perf_counter": round(seconds, 3),
        "cpu_s": _finite(usage.cpu_seconds),
        "peak_rss_gb": _finite(usage.max_rss_mb / 1024),
        "tree_peak_pss_gb": round(sampler.peak_kb / 1024**2, 4),
        "tree_samples": sampler.samples,
        "loadavg_before": before,
        "loadavg_after": loadavg(),
        "stderr_tail": "\n".join(stderr[-3:]),
    }


def _finite(value: float, fallback: float | None = None) -> float | None:
    """``value`` rounded, or ``fallback`` (rounded) where GNU time wrote nothing."""
    if value is None or math.isnan(value):
        value = fallback
    return None if value is None else round(value, 4)


# ----------------------------------------------------------------------------- the runs


def data_config(n: int, p: int, args) -> scale_data.ScaleConfig:
    return scale_data.ScaleConfig(n_samples=n, n_snps=p, seed=args.seed, missing=args.missing)


def data_prefix(cfg: scale_data.ScaleConfig) -> Path:
    name = f"{cfg.n_samples}x{cfg.n_snps}_seed{cfg.seed}_missing{cfg.missing:g}"
    return HERE / "data" / name / "sim"


def ensure_data(cfg: scale_data.ScaleConfig, args) -> tuple[Path, dict]:
    """The data set of ``cfg``: reused if complete with the same settings, else generated."""
    prefix = data_prefix(cfg)
    summary = scale_data.read_summary(prefix)
    wanted = scale_data.config_dict(cfg)
    if summary and summary.get("config") == wanted:
        row = {"step": "generate", "status": "reused", "generator_seconds": summary["seconds"]}
        return prefix, row | {"data": summary}
    argv = [sys.executable, Path(scale_data.__file__), "--n", cfg.n_samples, "--p", cfg.n_snps,
            "--seed", cfg.seed, "--missing", cfg.missing, "--out", prefix,
            "--threads", args.threads]  # fmt: skip
    say(f"generating {cfg.n_samples:,} × {cfg.n_snps:,} into {rel(prefix)}")
    row = {"step": "generate"} | run_step(argv, prefix.parent / "generate", args.timeout)
    return prefix, row | {"data": scale_data.read_summary(prefix)}


def step_argv(step: str, data: Path, out: Path, threads: int, rank: int = 0) -> list:
    bfile = ["--bfile", data]
    pheno = ["--pheno", f"{data}.pheno", "--pheno-name", PHENO]
    kinship = ["--kinship", out / PRODUCES["kinship"]]
    null = ["--null", out / PRODUCES["fit-null"]]
    args = {
        "kinship": ["kinship", *bfile, *(["--rank", rank] if rank else [])],
        "fit-null": ["fit-null", *bfile, *kinship, *pheno],
        "fit": ["fit", *bfile, *kinship, *null, *pheno, "--n-active", N_ACTIVE],
        "gwas": ["gwas", *bfile, *kinship, *null, *pheno],
        "stability": ["stability", *bfile, *kinship, *pheno, "--n-active", N_ACTIVE,
                      "--n-reps", N_REPS, "--seed", STABILITY_SEED],
        "predict": ["predict", *bfile, "--model", out / PRODUCES["fit"],
                    "--pheno", f"{data}.pheno"],
        "fit-path": ["fit", *bfile, *kinship, *null, *pheno, "--n-mu", N_MU],
    }[step]  # fmt: skip
    return [*LMMLASSO, *args, "--out", out / OUT_NAME[step], "--threads", threads, "--quiet"]


def run_case(case: Case, args, record, paths) -> None:
    """Generate (or reuse) the data, then run the case's steps in order; ``record(row)`` each,
    ``paths(data_prefix, run_folder)`` once known."""
    cfg = data_config(case.n, case.p, args)
    prefix, gen = ensure_data(cfg, args)
    record(gen)
    if gen["status"] not in ("ok", "reused"):
        for step in case.steps:
            record({"step": step, "status": "skipped", "reason": "data generation failed"})
        return
    out = HERE / "runs" / case.folder / prefix.parent.name
    paths(rel(prefix), rel(out))
    failed: set[str] = set()
    for step in case.steps:
        missing = [
            s
            for s in NEEDS.get(step, ())
            if s in failed or (s not in case.steps and not (out / PRODUCES[s]).exists())
        ]
        if missing:
            failed.add(step)
            record({"step": step, "status": "skipped",
                    "reason": "needs " + ", ".join(missing) + " (failed, or not run and "
                    "no output from an earlier run)"})  # fmt: skip
            continue
        say(f"{case.label}: {step}")
        (out / PRODUCES[step]).unlink(missing_ok=True)
        row = run_step(step_argv(step, prefix, out, args.threads, case.rank),
                       out / "logs" / step, args.timeout)  # fmt: skip
        line, estimate = memory_plan(Path(f"{out / OUT_NAME[step]}.log"))
        blas = log_line(Path(f"{out / OUT_NAME[step]}.log"), "BLAS:")
        row |= {"step": step, "memory_plan": line, "estimated_peak_gb": estimate, "blas": blas}
        if estimate is not None and row["peak_rss_gb"]:
            row["estimate_over_measured"] = round(estimate / row["peak_rss_gb"], 3)
        if row["status"] != "ok":
            failed.add(step)
        rss = "–" if row["peak_rss_gb"] is None else f"{row['peak_rss_gb']:.2f} GB"
        say(f"  {row['status']}: {row['wall_s']:.1f} s, peak RSS {rss}, "
            f"tree {row['tree_peak_pss_gb']:.2f} GB"
            + (f", estimated {estimate:.2f} GB" if estimate is not None else ""))  # fmt: skip
        record(row)


def against_full(case: Case, run_folder: str) -> dict:
    """A low-rank chain's results against the full chain's of the same data (when it ran):
    h², the correlation of −log10 P and λ_GC of gwas, the SNPs fit selected, and the overlap
    of the 100 SNPs stability selects most often."""
    import numpy as np
    import pandas as pd

    low = REPO / run_folder
    full = HERE / "runs" / case.kind / low.name
    out: dict = {"rank": case.rank, "full_run_folder": rel(full)}

    def read(folder, name):
        path = folder / name
        return pd.read_csv(path, sep="\t", comment="#") if path.exists() else None

    def gwas(folder):
        path = folder / PRODUCES["gwas"]
        return pd.read_csv(path, sep="\t") if path.exists() else None

    nulls = [read(f, PRODUCES["fit-null"].replace(".npz", ".tsv")) for f in (low, full)]
    if all(x is not None for x in nulls):
        out["h2_low_rank"], out["h2_full"] = (float(x["H2"].iloc[0]) for x in nulls)
    scans = [gwas(f) for f in (low, full)]
    if all(x is not None for x in scans):
        a, b = (-np.log10(x["P"].to_numpy()) for x in scans)
        out["gwas_corr_log10p"] = float(np.corrcoef(a, b)[0, 1])
        chi2 = [x["T_STAT"].to_numpy() ** 2 for x in scans]
        out["lambda_gc_low_rank"], out["lambda_gc_full"] = (
            float(np.median(c) / 0.454936423119572) for c in chi2
        )
        top = [set(x.nsmallest(100, "P")["ID"]) for x in scans]
        out["gwas_top100_shared"] = len(top[0] & top[1])
    fits = [read(f, "fit.weights.tsv") for f in (low, full)]
    if all(x is not None for x in fits):
        out["fit_shared_snps"] = len(set(fits[0]["SNP"]) & set(fits[1]["SNP"]))
        out["fit_n_snps"] = [len(x) for x in fits]
    stab = [read(f, PRODUCES["stability"]) for f in (low, full)]
    if all(x is not None for x in stab):
        top = [set(x.nlargest(100, "FREQ")["SNP"]) for x in stab]
        out["stability_top100_shared"] = len(top[0] & top[1])
    return out


def growth_exponents(cases: list[dict], settings: dict) -> dict:
    """Per step, the slope of log(wall) and log(peak RSS) on log(n) at the fixed p, and on
    log(p) at the fixed n, over the growth cases whose step ran to the end."""
    out: dict[str, dict] = {}
    series = (("n", "p", settings["fixed_p"]), ("p", "n", settings["fixed_n"]))
    for step in CHAIN:
        for axis, other, fixed in series:
            points = [
                (c[axis], r)
                for c in cases
                if c["kind"] == "growth" and c[other] == fixed
                for r in c["rows"]
                if r["step"] == step and r["status"] == "ok"
            ]
            for measure in ("wall_s", "peak_rss_gb"):
                xy = [(math.log(x), math.log(r[measure])) for x, r in points if r.get(measure)]
                if len({x for x, _ in xy}) >= 2:
                    out.setdefault(step, {})[f"{measure}_vs_{axis}"] = {
                        "exponent": round(_slope(xy), 3),
                        "points": len(xy),
                    }
    return out


def _slope(xy: list[tuple[float, float]]) -> float:
    mx = sum(x for x, _ in xy) / len(xy)
    my = sum(y for _, y in xy) / len(xy)
    return sum((x - mx) * (y - my) for x, y in xy) / sum((x - mx) ** 2 for x, _ in xy)


def say(text: str) -> None:
    print(f"scale: {text}", file=sys.stderr, flush=True)


def parse_size(text: str) -> tuple[int, int]:
    try:
        n, p = (int(x.replace(",", "").replace("_", "")) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write a size as NxP, e.g. 10000x500000"
        ) from None
    return n, p


def parse_ints(text: str) -> list[int]:
    return [int(x) for x in text.replace("_", "").split(",") if x]


def make_cases(args) -> list[Case]:
    steps = tuple(s for s in CHAIN if s in args.steps)
    cases = [Case("chain", n, p, steps, rank) for n, p in args.sizes for rank in args.ranks]
    if args.fit_path is not None:
        cases.append(Case("fit-path", *args.fit_path, FIT_PATH))
    if args.growth:
        grid = [(n, args.growth_fixed_p) for n in args.growth_n]
        grid += [(args.growth_fixed_n, p) for p in args.growth_p]
        cases += [Case("growth", n, p, steps) for n, p in dict.fromkeys(grid)]
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=parse_size,
        nargs="*",
        default=[(10_000, 500_000)],
        metavar="NxP",
        help="chain cases (default 10000x500000; none: --sizes)",
    )
    parser.add_argument(
        "--fit-path",
        type=lambda t: None if t == "none" else parse_size(t),
        default=(1400, 800_000),
        metavar="NxP|none",
        help="the fit --n-mu 100 case (default 1400x800000)",
    )
    parser.add_argument(
        "--ranks",
        type=parse_ints,
        default=[0],
        metavar="R,...",
        help="chain cases per kinship rank: 0 the full kinship, R > 0 `kinship --rank R`, "
        "compared with the full chain of the same size when it ran (default 0)",
    )
    parser.add_argument("--growth", action="store_true", help="also run the growth grid")
    parser.add_argument("--growth-n", type=parse_ints, default=[1000, 2000, 4000])
    parser.add_argument("--growth-p", type=parse_ints, default=[50_000, 100_000, 200_000])
    parser.add_argument("--growth-fixed-n", type=int, default=2000)
    parser.add_argument("--growth-fixed-p", type=int, default=100_000)
    parser.add_argument(
        "--steps",
        type=lambda t: t.split(","),
        default=list(CHAIN),
        help=f"chain and growth steps, from {','.join(CHAIN)}",
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per step")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1, help="of the data")
    parser.add_argument("--missing", type=float, default=0.01, help="missing-call rate of the data")
    parser.add_argument("--results", type=Path, default=RESULT_JSON)
    parser.add_argument(
        "--blas-env",
        choices=("native", "keep"),
        default="native",
        help=f"native: run the steps without {' and '.join(BLAS_ENV)} (OpenBLAS picks its "
        "kernels for this CPU, as on a user's machine); keep: with this shell's values",
    )
    args = parser.parse_args(argv)  # fmt: skip
    unknown = sorted(set(args.steps) - set(CHAIN))
    if unknown:
        parser.error(f"unknown --steps {', '.join(unknown)}; choose from {', '.join(CHAIN)}")
    os.environ["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    _common.LMMLASSO = Path(sys.executable).parent / "lmmlasso"  # for machine()'s version line
    blas_env = blas_environment(args.blas_env)
    cases = make_cases(args)
    result = {
        "date": utc_timestamp(),
        "finished": None,
        "complete": False,
        "machine": _common.machine() | {"lmmlasso_source": git_head()},
        "loadavg_before": loadavg(),
        "settings": {
            "threads": args.threads, "seed": args.seed, "missing": args.missing,
            "timeout_s": args.timeout, "pheno": PHENO, "n_active": N_ACTIVE, "n_reps": N_REPS,
            "n_mu": N_MU, "stability_seed": STABILITY_SEED, "sample_s": SAMPLE_S,
            "steps": [s for s in CHAIN if s in args.steps], "ranks": args.ranks,
            "growth": {"n": args.growth_n, "fixed_p": args.growth_fixed_p, "p": args.growth_p,
                       "fixed_n": args.growth_fixed_n} if args.growth else None,
            "data_defaults": scale_data.config_dict(data_config(2, 1, args)),
            "blas_env": blas_env,
        },
        "cases": [],
    }  # fmt: skip
    for case in cases:
        entry = {"kind": case.kind, "n": case.n, "p": case.p, "rank": case.rank,
                 "label": case.label, "rows": []}  # fmt: skip
        result["cases"].append(entry)

        def record(row: dict, entry=entry) -> None:
            entry["rows"].append(row)
            write_json(args.results, result)

        def paths(data: str, out: str, entry=entry) -> None:
            entry |= {"data_prefix": data, "run_folder": out}

        run_case(case, args, record, paths)
        if case.rank:
            entry["against_full"] = against_full(case, entry["run_folder"])
            write_json(args.results, result)
    if args.growth:
        result["growth_exponents"] = growth_exponents(result["cases"], result["settings"]["growth"])
    result |= {"finished": utc_timestamp(), "complete": True, "loadavg_after": loadavg()}
    write_json(args.results, result)
    say(f"wrote {rel(args.results)}; `python bench/report.py` renders it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
