"""Serial versus a 2-worker Dask LocalCluster on this machine, task overhead, and a 100-node
estimate (issue 11).

    python bench/distributed.py [--n-reps 100] [--n-snps 100000]

Runs the worktree's code (``python -m lmmlasso_cli`` with this repository on PYTHONPATH).

1. Data (bench/work/, git-ignored): ``plink2 --dummy 5000 N_SNPS`` as a PLINK 1 set, and
   GEMMA's example mouse set (1940 mice x 12226 SNPs).
2. Whole commands, wall time from the process (reading included), each once, serial first:
   - kinship at 5000 x N_SNPS: this process (--threads 2: BLAS syrk on both cores, as today)
     versus ``--scheduler local --threads 2`` (2 single-threaded workers);
   - gwas of 10 simulated phenotypes (one eigendecomposition, one pass over the SNPs) at
     5000 x N_SNPS, the same two ways;
   - stability, N_REPS replicates (--n-active 20) on the mouse set: --threads 1 (this process),
     --threads 2 (the process pool) and --scheduler local --threads 2; the TSVs must match.
3. ``overhead`` child: per-task cost of an empty unit on each backend, start-up times, and the
   time to bring a 5000 x 5000 float64 result back from a worker.
4. ``units`` child: per-unit costs with one BLAS thread at n = 5000 (a kinship unit of 16384
   SNPs, adding two kinship parts, the eigendecomposition, a null model, a gwas unit of 8192
   SNPs for 1 and for 10 phenotypes; fewer SNPs if the set has fewer), from which the paper
   estimate of a 100-node run of 100 phenotypes on 50,000 x 500,000 is computed (assumptions
   recorded in the JSON).
5. Writes bench/results/distributed.json; bench/report.py renders it into bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = str(Path(__file__).resolve().parent)
sys.path.insert(0, BENCH_DIR)

from _common import (  # noqa: E402
    PLINK2,
    REPO,
    RESULTS,
    WORK,
    BenchError,
    loadavg,
    prepare_plink_set,
    rel,
    run,
    show_command,
    utc_timestamp,
    write_json,
)

# this file is named like the dask.distributed package: keep its folder off the import path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != BENCH_DIR]

RESULT_JSON = RESULTS / "distributed.json"
HERE = WORK / "distributed"
N_SAMPLES = 5000
N_PHENO = 10
WORKERS = 2
LMMLASSO = [sys.executable, "-m", "lmmlasso_cli"]

# the paper estimate: what is assumed, not measured
TARGET = {"n_samples": 50_000, "n_snps": 500_000, "n_pheno": 100, "nodes": 100}
ASSUMED = {
    "workers_per_node": 2,  # single-threaded workers, like this 2-core machine
    "network_gb_per_s": 1.25,  # 10 Gb/s between nodes
    "kinship_block_size": 256,  # units of 8 x 256 = 2048 SNPs: 245 units for 200 workers
    "gwas_block_size": 512,  # units of 4 x 512 = 2048 SNPs: 245 units
}


def lmmlasso(*args) -> list[str]:
    return [*LMMLASSO, *map(str, args)]


def make_dummy(n_snps: int) -> Path:
    """plink2 --dummy N_SAMPLES n_snps as a PLINK 1 set (made once)."""
    prefix = WORK / "data" / f"dummy{N_SAMPLES}x{n_snps}"
    if not Path(str(prefix) + ".bed").exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        cmd = [PLINK2, "--dummy", N_SAMPLES, n_snps, "acgt", "--make-bed", "--out", prefix]
        cmd += ["--threads", "2", "--seed", "11"]
        run(cmd, HERE / "logs" / "dummy")
    return prefix


def timed(label: str, argv: list[str]) -> dict:
    done = run(argv, HERE / "logs" / label)
    print(f"  {label}: {done.seconds:.1f} s", file=sys.stderr)
    return {
        "label": label,
        "command": show_command(argv),
        "seconds": done.seconds,
        "cpu_seconds": done.cpu_seconds,
        "max_rss_mb": done.max_rss_mb,
        "loadavg_after": loadavg(),
    }


def same_files(a: str, b: str) -> bool:
    return Path(a).read_bytes() == Path(b).read_bytes()


def child(mode: str, *args) -> dict:
    """Run this script's ``mode`` in a fresh process; its JSON comes back on stdout."""
    out = HERE / f"{mode}.json"
    argv = [sys.executable, __file__, mode, *map(str, args), "--json", out]
    run(argv, HERE / "logs" / mode)
    return json.loads(out.read_text())


# ----------------------------------------------------------------------------- children


def overhead_child(n_tasks: int) -> dict:
    import numpy as np

    from lmmlasso_cli.parallel import open_backend

    result = {"n_tasks": n_tasks}
    for name, kwargs in (
        ("serial", {}),
        ("processes", {"processes": True, "n_tasks": n_tasks}),
        ("dask", {"scheduler": "local"}),
    ):
        start = time.perf_counter()
        with open_backend(WORKERS, **kwargs) as backend:
            up = time.perf_counter()
            list(backend.map(int, range(n_tasks)))
            mapped = time.perf_counter()
            if name == "dask":
                big = backend.client.submit(np.ones, (N_SAMPLES, N_SAMPLES), pure=False)
                big.result()  # made and brought back once, to warm the connection
                t0 = time.perf_counter()
                again = backend.client.submit(np.ones, (N_SAMPLES, N_SAMPLES), pure=False)
                again.result()
                result["dask_5000x5000_result_s"] = time.perf_counter() - t0
        closed = time.perf_counter()
        result[name] = {
            "startup_s": up - start,
            "per_task_ms": 1000 * (mapped - up) / n_tasks,
            "shutdown_s": closed - mapped,
        }
    return result


def units_child(prefix: str, kinship: str, pheno: str) -> dict:
    import functools

    import numpy as np
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    from lmmlasso_cli.gwas import prepare_scan
    from lmmlasso_cli.io.kinship_file import load_kinship
    from lmmlasso_cli.io.plink import read_plink
    from lmmlasso_cli.io.tables import read_table
    from lmmlasso_cli.io.work_units import GenotypeSource, gwas_unit, kinship_unit
    from lmmlasso_cli.kinship import add_parts, fixed_point_bits
    from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model

    def clock(fn):
        start = time.perf_counter()
        value = fn()
        return value, time.perf_counter() - start

    out = {}
    with threadpool_limits(limits=1):
        plink = read_plink(prefix)
        source = GenotypeSource.of(plink, np.arange(plink.n_samples), 1)
        out["kinship_unit_snps"] = k_snps = min(16384, plink.n_snps)
        out["gwas_unit_snps"] = g_snps = min(8192, plink.n_snps)
        bits = fixed_point_bits(plink.n_samples, plink.n_snps)
        part, out["kinship_unit_s"] = clock(
            lambda: kinship_unit(source, 2048, 0.0, "empirical", "float32", bits, np.arange(k_snps))
        )
        _, out["kinship_add_s"] = clock(lambda: add_parts(part, part))
        K = load_kinship(kinship).matrix
        eig, out["eigh_s"] = clock(lambda: eigendecompose(K))
        table = read_table(pheno, "phenotype")
        C = np.ones((plink.n_samples, 1))
        ys = [(v - v.mean()) / v.std() for v in table.values.T[:N_PHENO]]
        null, out["null_model_s"] = clock(lambda: fit_null_model(ys[0], eig, C))
        models = [prepare_scan(y, C, eig, null.log_delta) for y in ys]
        for k in (1, N_PHENO):
            unit = functools.partial(gwas_unit, source, 2048, 0.0, eig, models[:k], "fixed")
            _, out[f"gwas_unit_{k}pheno_s"] = clock(
                lambda u=unit: u((-5, 5), "float32", np.arange(g_snps))
            )
    return out


# ----------------------------------------------------------------------------- estimate


def estimate(units: dict, overhead: dict) -> dict:
    """A 100-node run of 100 phenotypes on 50,000 x 500,000 from the per-unit costs at 5000."""
    n, p, k = TARGET["n_samples"], TARGET["n_snps"], TARGET["n_pheno"]
    ratio = n / N_SAMPLES
    workers = TARGET["nodes"] * ASSUMED["workers_per_node"]
    bandwidth = ASSUMED["network_gb_per_s"] * 1e9
    matrix_bytes = 8.0 * n * n
    # kinship: syrk cost per SNP ~ n², one n x n partial per unit, a tree of adds
    per_snp = units["kinship_unit_s"] / units["kinship_unit_snps"] * ratio**2
    unit_snps = 8 * ASSUMED["kinship_block_size"]
    n_units = math.ceil(p / unit_snps)
    rounds = math.ceil(n_units / workers)
    depth = math.ceil(math.log2(n_units))
    add = units["kinship_add_s"] * ratio**2
    transfer = matrix_bytes / bandwidth
    kinship = rounds * unit_snps * per_snp + depth * (add + transfer)
    # eigendecomposition ~ n³, in the command's own process with one BLAS thread
    eigh = units["eigh_s"] * ratio**3
    null_rounds = math.ceil(k / workers)
    nulls = null_rounds * units["null_model_s"] * ratio**2  # its Uᵀy is n²: an upper bound
    # gwas: per SNP a (rotation, ~ n²) + b per phenotype (tests, ~ n)
    t1 = units["gwas_unit_1pheno_s"] / units["gwas_unit_snps"]
    tk = units[f"gwas_unit_{N_PHENO}pheno_s"] / units["gwas_unit_snps"]
    b = max((tk - t1) / (N_PHENO - 1), 0.0)
    a = max(t1 - b, 0.0)
    per_snp_gwas = a * ratio**2 + b * ratio * k
    gwas_unit_snps = 4 * ASSUMED["gwas_block_size"]
    gwas_units = math.ceil(p / gwas_unit_snps)
    gwas = math.ceil(gwas_units / workers) * gwas_unit_snps * per_snp_gwas
    eigvecs_to_nodes = matrix_bytes / bandwidth  # each node maps the shared eigenvectors once
    tasks = n_units + n_units - 1 + k + gwas_units
    task_overhead = tasks * overhead["dask"]["per_task_ms"] / 1000 / workers
    total = kinship + eigh + nulls + eigvecs_to_nodes + gwas + task_overhead
    serial_core_s = p * per_snp + eigh + k * units["null_model_s"] * ratio**2 + p * per_snp_gwas
    return {
        "target": TARGET,
        "assumed": ASSUMED,
        "workers": workers,
        "kinship": {
            "units": n_units,
            "rounds": rounds,
            "tree_depth": depth,
            "unit_s": unit_snps * per_snp,
            "add_s": add,
            "transfer_s": transfer,
            "partial_gb": matrix_bytes / 1e9,
            "wall_s": kinship,
        },
        "eigh_wall_s": eigh,
        "null_models_wall_s": nulls,
        "gwas": {
            "rotation_s_per_snp": a * ratio**2,
            "tests_s_per_snp_per_pheno": b * ratio,
            "units": gwas_units,
            "rounds": math.ceil(gwas_units / workers),
            "eigvecs_gb": matrix_bytes / 1e9,
            "eigvecs_to_nodes_s": eigvecs_to_nodes,
            "wall_s": gwas,
        },
        "tasks": tasks,
        "task_overhead_s": task_overhead,
        "total_wall_s": total,
        "one_core_s": serial_core_s,
    }


# ----------------------------------------------------------------------------- main


def main_run(args) -> None:
    os.environ["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    HERE.mkdir(parents=True, exist_ok=True)
    started = utc_timestamp()
    load_before = loadavg()
    big = make_dummy(args.n_snps)
    mouse = prepare_plink_set("mouse_hs1940")
    out = HERE / "out"
    runs: dict[str, list] = {}
    print("kinship", file=sys.stderr)
    kin = {
        "serial": out / "kin_serial",
        "dask": out / "kin_dask",
    }
    runs["kinship"] = [
        timed("kinship_serial", lmmlasso("kinship", "--bfile", big, "--threads", 2,
                                         "--out", kin["serial"], "--quiet")),
        timed("kinship_dask", lmmlasso("kinship", "--bfile", big, "--threads", 2, "--scheduler",
                                       "local", "--out", kin["dask"], "--quiet")),
    ]  # fmt: skip
    kinship = f"{kin['serial']}.kinship.npz"
    sim = out / "sim"
    run(
        lmmlasso("simulate", "--bfile", big, "--kinship", kinship, "--n-pheno", N_PHENO,
                 "--n-causal", 20, "--seed", 3, "--threads", 2, "--out", sim, "--quiet"),
        HERE / "logs" / "simulate",
    )  # fmt: skip
    print("gwas", file=sys.stderr)
    gwas = ["gwas", "--bfile", big, "--kinship", kinship, "--pheno", f"{sim}.pheno", "--all-pheno"]
    runs["gwas"] = [
        timed("gwas_serial", lmmlasso(*gwas, "--threads", 2, "--out", out / "g_serial", "--quiet")),
        timed("gwas_dask", lmmlasso(*gwas, "--threads", 2, "--scheduler", "local",
                                    "--out", out / "g_dask", "--quiet")),
    ]  # fmt: skip
    gwas_same = all(
        same_files(f"{out}/g_serial.sim{i}.gwas.tsv", f"{out}/g_dask.sim{i}.gwas.tsv")
        for i in range(1, N_PHENO + 1)
    )
    print("stability", file=sys.stderr)
    run(lmmlasso("kinship", "--bfile", mouse, "--out", out / "mouse", "--quiet"),
        HERE / "logs" / "mouse_kinship")  # fmt: skip
    mouse_kin = f"{out}/mouse.kinship.npz"
    msim = lmmlasso("simulate", "--bfile", mouse, "--kinship", mouse_kin, "--n-causal", 20,
                    "--seed", 5, "--out", out / "msim", "--quiet")  # fmt: skip
    run(msim, HERE / "logs" / "mouse_sim")
    stab = ["stability", "--bfile", mouse, "--kinship", mouse_kin, "--pheno", f"{out}/msim.pheno"]
    stab += ["--n-reps", args.n_reps, "--n-active", 20, "--quiet"]
    runs["stability"] = [
        timed("stability_serial", lmmlasso(*stab, "--threads", 1, "--out", out / "s_serial")),
        timed("stability_pool", lmmlasso(*stab, "--threads", 2, "--out", out / "s_pool")),
        timed("stability_dask", lmmlasso(*stab, "--threads", 2, "--scheduler", "local",
                                         "--out", out / "s_dask")),
    ]  # fmt: skip
    stab_same = same_files(f"{out}/s_serial.stability.tsv", f"{out}/s_dask.stability.tsv")
    stab_same = stab_same and same_files(
        f"{out}/s_serial.stability.tsv", f"{out}/s_pool.stability.tsv"
    )
    print("overhead and per-unit costs", file=sys.stderr)
    overhead = child("overhead", 500)
    units = child("units", big, kinship, f"{sim}.pheno")
    import numpy as np

    with np.load(kinship) as a, np.load(f"{kin['dask']}.kinship.npz") as b:
        kinship_same = a["K"].tobytes() == b["K"].tobytes()
        kinship_max_diff = float(np.max(np.abs(a["K"] - b["K"])))
    import dask

    write_json(
        args.results,
        {
            "date": started,
            "finished": utc_timestamp(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
            "machine": {
                "nproc": os.cpu_count(),
                "python": sys.version.split()[0],
                "dask": dask.__version__,
            },  # fmt: skip
            "data": {
                "dummy": {"prefix": rel(big), "n_samples": N_SAMPLES, "n_snps": args.n_snps},
                "mouse": {"prefix": rel(mouse), "n_samples": 1940, "n_snps": 12226},
            },
            "settings": {"n_reps": args.n_reps, "n_pheno": N_PHENO, "workers": WORKERS},
            "runs": runs,
            "identical": {
                "kinship": kinship_same,
                "kinship_serial_threads2_vs_dask_max_abs_diff": kinship_max_diff,
                "gwas": gwas_same,
                "stability": stab_same,
            },
            "overhead": overhead,
            "units": units,
            "estimate": estimate(units, overhead),
        },
    )
    print(f"wrote {rel(args.results)}", file=sys.stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    parser.add_argument("--n-reps", type=int, default=100)
    parser.add_argument("--n-snps", type=int, default=100_000)
    parser.add_argument("--results", type=Path, default=RESULT_JSON, help="the JSON written")
    over = sub.add_parser("overhead")
    over.add_argument("n_tasks", type=int)
    over.add_argument("--json", type=Path, required=True)
    unit = sub.add_parser("units")
    unit.add_argument("prefix")
    unit.add_argument("kinship")
    unit.add_argument("pheno")
    unit.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.mode == "overhead":
        args.json.write_text(json.dumps(overhead_child(args.n_tasks)))
    elif args.mode == "units":
        args.json.write_text(json.dumps(units_child(args.prefix, args.kinship, args.pheno)))
    else:
        try:
            main_run(args)
        except (BenchError, subprocess.CalledProcessError) as exc:
            print(f"distributed.py: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
