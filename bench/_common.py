"""Shared helpers for the bench/ scripts: tools, data, timed runs, machine facts, JSON results.

Every benchmark times lmmlasso and its peers in the same run, on the same machine, and writes
only figures it measured, to bench/results/<script>.json; bench/report.py renders
bench/README.md from those files. Peak memory comes from GNU time (``/usr/bin/time -v``:
maximum resident set size); wall time from ``time.perf_counter`` around the child process.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
WORK = BENCH / "work"  # git-ignored scratch space
DATA = WORK / "data"
RESULTS = BENCH / "results"
LMMLASSO = REPO / ".venv" / "bin" / "lmmlasso"
GNU_TIME = Path("/usr/bin/time")
PLINK2 = Path("/usr/bin/plink2")
PLINK19 = Path("/usr/bin/plink1.9")
GEMMA = Path("/usr/bin/gemma")
GEMMA_EXAMPLE = Path("/usr/share/doc/gemma/example")
APT_PACKAGES = ("gemma", "gemma-doc", "plink2", "plink1.9", "time")


class BenchError(RuntimeError):
    """A tool failed or produced something the benchmark cannot read."""


def rel(path: Path | str) -> str:
    """Path shown relative to the repository root when it lies inside it."""
    text = str(path)
    root = str(REPO) + os.sep
    return text.replace(root, "")


def show_command(argv: list[str]) -> str:
    """A command line as one would type it from the repository root."""
    return " ".join(shlex.quote(rel(a)) for a in argv)


def ensure_tools() -> None:
    """Install the reference tools and GEMMA's example data from Debian if any is missing."""
    needed = [GNU_TIME, PLINK2, PLINK19, GEMMA, GEMMA_EXAMPLE / "mouse_hs1940.bed.gz"]
    if all(p.exists() for p in needed):
        return
    print(f"installing {' '.join(APT_PACKAGES)} with apt-get", file=sys.stderr)
    if not apt_install(APT_PACKAGES):
        raise BenchError(f"`apt-get install -y {' '.join(APT_PACKAGES)}` failed")
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise BenchError(f"still missing after apt-get install: {', '.join(missing)}")
    if not LMMLASSO.exists():
        raise BenchError(
            f"{LMMLASSO} not found; install the project with `pip install -e .` in .venv first"
        )


def apt_install(packages, log: Path | None = None) -> bool:
    """`apt-get install -y PACKAGES`, once more after `apt-get update` if it fails; True when
    it succeeded. Its output goes to ``log`` when given, else to this process's."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", *packages]
    with open(log, "w") if log else contextlib.nullcontext() as out:
        try:
            if subprocess.run(install, env=env, stdout=out, stderr=out).returncode == 0:
                return True
            subprocess.run(["apt-get", "update"], env=env, stdout=out, stderr=out)
            return subprocess.run(install, env=env, stdout=out, stderr=out).returncode == 0
        except OSError:  # no apt-get here
            return False


def prepare_plink_set(name: str) -> Path:
    """Gunzip GEMMA's example PLINK set ``name`` into bench/work/data; return the prefix."""
    DATA.mkdir(parents=True, exist_ok=True)
    for ext in ("bed", "bim", "fam"):
        target = DATA / f"{name}.{ext}"
        source = GEMMA_EXAMPLE / f"{name}.{ext}.gz"
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            continue
        tmp = target.with_suffix(f".{ext}.part")
        with gzip.open(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        tmp.replace(target)
    return DATA / name


@dataclass(frozen=True)
class Run:
    """One finished child process: wall and CPU seconds, peak RSS and where its output went."""

    argv: list[str]
    seconds: float
    cpu_seconds: float  # user + system, from GNU time
    max_rss_mb: float
    returncode: int
    stdout_path: str
    stderr_tail: str


def run(
    argv: list[str],
    log_stem: Path,
    cwd: Path | None = None,
    check: bool = True,
    env: dict | None = None,
) -> Run:
    """Run ``argv`` under ``/usr/bin/time -v``; stdout to LOG.out, stderr to LOG.err; ``env``
    replaces the environment when given."""
    log_stem.parent.mkdir(parents=True, exist_ok=True)
    time_file = log_stem.with_suffix(".time")
    out_path, err_path = log_stem.with_suffix(".out"), log_stem.with_suffix(".err")
    full = [str(GNU_TIME), "-v", "-o", str(time_file), *map(str, argv)]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.run(full, stdout=out, stderr=err, cwd=cwd, env=env)
        seconds = time.perf_counter() - start
    usage = read_gnu_time(time_file)
    tail = "\n".join(err_path.read_text(errors="replace").strip().splitlines()[-3:])
    result = Run(
        [str(a) for a in argv],
        seconds,
        usage.cpu_seconds,
        usage.max_rss_mb,
        proc.returncode,
        str(out_path),
        tail,
    )
    if check and proc.returncode != 0:
        raise BenchError(f"`{show_command(result.argv)}` exited with {proc.returncode}: {tail}")
    return result


@dataclass(frozen=True)
class GnuTime:
    """What ``/usr/bin/time -v`` reported (NaN for a figure it did not write)."""

    max_rss_mb: float  # "Maximum resident set size": the largest single process of the tree
    cpu_seconds: float  # user + system
    wall_seconds: float  # "Elapsed (wall clock) time"


def read_gnu_time(time_file: Path) -> GnuTime:
    """Parse the report of ``/usr/bin/time -v -o time_file``."""
    text = time_file.read_text(errors="replace") if time_file.exists() else ""
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    rss_mb = int(match.group(1)) / 1024 if match else float("nan")
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text))
    match = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    wall = float("nan")
    if match:  # h:mm:ss or m:ss.ss
        wall = sum(float(x) * 60**i for i, x in enumerate(reversed(match.group(1).split(":"))))
    return GnuTime(rss_mb, cpu, wall)


@dataclass(frozen=True)
class Timing:
    """Repeated runs of one command: median wall and CPU seconds, largest peak RSS."""

    label: str
    command: str
    seconds: float
    cpu_seconds: float
    max_rss_mb: float
    all_seconds: list[float] = field(default_factory=list)


def time_round_robin(
    commands: dict[str, list], log_dir: Path, repeats: int, cwd: Path | None = None
) -> list[Timing]:
    """Run every command ``repeats`` times, interleaved (A B C A B C ...), so that load from
    other processes on the machine falls on all tools alike; median wall and CPU seconds."""
    runs: dict[str, list[Run]] = {label: [] for label in commands}
    for i in range(repeats):
        for label, argv in commands.items():
            slug = re.sub(r"\W+", "_", label)
            stem = log_dir / f"{slug}_r{i}"  # not .r{i}: run() replaces a suffix
            runs[label].append(run(argv, stem, cwd))
    return [
        Timing(
            label,
            show_command(commands[label]),
            statistics.median(r.seconds for r in done),
            statistics.median(r.cpu_seconds for r in done),
            max(r.max_rss_mb for r in done),
            [r.seconds for r in done],
        )
        for label, done in runs.items()
    ]


def machine() -> dict:
    """nproc, RAM, CPU model and tool versions, for the record."""
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    model = ""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in lscpu.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()

    def first_line(argv: list[str]) -> str:
        try:
            proc = subprocess.run(argv, capture_output=True, text=True)
        except FileNotFoundError:
            return f"{Path(argv[0]).name}: not installed"
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        return lines[0] if lines else ""

    return {
        "nproc": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024**2, 1),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "lmmlasso": first_line([str(LMMLASSO), "--version"]),
        "plink2": first_line([str(PLINK2), "--version"]),
        "plink1.9": first_line([str(PLINK19), "--version"]),
        "gemma": first_line([str(GEMMA), "-h"]).split(" by ")[0],
    }


def git_head() -> str:
    """The lmmlasso_cli that runs: its checkout, last commit and whether it has local changes."""
    import lmmlasso_cli

    src = Path(lmmlasso_cli.__file__).resolve().parent.parent
    proc = subprocess.run(
        ["git", "-C", str(src), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(src), "status", "--porcelain", "lmmlasso_cli"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{src}: {proc.stdout.strip()}" + (" (uncommitted changes)" if dirty else "")


def loadavg() -> list[float]:
    """The 1-, 5- and 15-minute load averages, to 2 decimals (the machine is shared)."""
    return [round(x, 2) for x in os.getloadavg()]


def utc_timestamp() -> str:
    """Now, as every result file records its run: ``YYYY-MM-DD HH:MM UTC``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def write_json(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    tmp.replace(path)


def _jsonable(obj):
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")
