"""Start-up (issue 15): what the command group imports, how versions are read, and the shortcuts
taken for speed giving the same numbers. Imports are checked in a fresh interpreter, since this
test process has long imported everything."""

import gc
import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import PROCESS_GC_THRESHOLDS, main
from lmmlasso_cli.io.artifacts import library_versions, provenance

HEAVY = ("numba", "scipy", "pandas", "sklearn", "matplotlib", "dask", "bed_reader", "pgenlib")


def imported_after(code: str, packages=HEAVY) -> list[str]:
    """Those of ``packages`` that a fresh interpreter has imported after running ``code``."""
    report = f"import json, sys\nprint(json.dumps([m for m in {packages!r} if m in sys.modules]))"
    probe = f"{code}\n{report}"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_command_group_and_every_help_import_no_science():
    code = """
import click
from lmmlasso_cli.cli import main
ctx = click.Context(main, info_name="lmmlasso")
main.get_help(ctx)  # lists every command with its short help
for name in main.list_commands(ctx):
    command = main.get_command(ctx, name)
    command.get_help(click.Context(command, info_name=name, parent=ctx))
"""
    assert imported_after(code, ("numpy", *HEAVY)) == []


def test_library_versions_are_the_imported_ones_and_import_nothing():
    assert (
        imported_after("from lmmlasso_cli.io.artifacts import library_versions\nlibrary_versions()")
        == []
    )
    import numba
    import scipy

    versions = library_versions()
    assert versions == {
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
    }
    meta = provenance("fit", {})
    assert {k: meta[k] for k in versions} == versions


def test_artifacts_and_log_record_the_installed_versions(tiny, tmp_path):
    import numba
    import scipy

    from lmmlasso_cli.io.artifacts import load_npz

    out = tmp_path / "k"
    args = ["kinship", "--bfile", tiny["prefix"], "--out", str(out), "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    meta = load_npz(str(out) + ".kinship.npz", "kinship").meta
    assert (meta["numpy"], meta["scipy"], meta["numba"]) == (
        np.__version__,
        scipy.__version__,
        numba.__version__,
    )
    line = f"versions: numpy {np.__version__}, scipy {scipy.__version__}, numba {numba.__version__}"
    assert line in (tmp_path / "k.log").read_text().splitlines()


def test_the_process_command_line_tunes_and_at_exit_freezes_the_collector():
    code = """
import gc, sys
from lmmlasso_cli.cli import main
sys.argv = ["lmmlasso", "--version"]
main()
print(gc.get_threshold()[0], gc.get_freeze_count())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    threshold, frozen = map(int, done.stdout.split()[-2:])
    assert threshold == PROCESS_GC_THRESHOLDS[0] and frozen > 0


def test_an_in_process_caller_keeps_its_collector(tiny, tmp_path):
    before = gc.get_threshold(), gc.get_freeze_count()
    args = ["kinship", "--bfile", tiny["prefix"], "--out", str(tmp_path / "k"), "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


@pytest.mark.parametrize("command", ["fit", "gwas"])
def test_a_first_run_compiles_one_specialization_per_kernel(tiny, tmp_path, command):
    """numba compiles a kernel once per argument types. The kernels are compiled in a thread
    on tiny arguments (`lasso.prepare`, `gwas.prepare_exact_kernels`) while the data are read:
    those must have the types of the real calls, and `_wdot` gets every column as a C array,
    so an empty cache ends with one specialization (one .nbc file) per kernel."""
    kin = tmp_path / "k"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    lmmlasso = [sys.executable, "-m", "lmmlasso_cli"]
    # the kinship compiles into a cache of its own: only the command under test is counted
    kinship = ["kinship", "--bfile", tiny["prefix"], "--out", str(kin), "--quiet"]
    kin_env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-kinship")}
    subprocess.run([*lmmlasso, *kinship], env=kin_env, check=True)
    args = [command, "--bfile", tiny["prefix"], "--kinship", str(kin) + ".kinship.npz"]
    args += ["--pheno", tiny["pheno"], "--pheno-name", "q"]
    args += ["--exact"] if command == "gwas" else ["--n-active", "3"]
    subprocess.run([*lmmlasso, *args, "--out", str(tmp_path / "o"), "--quiet"], env=env, check=True)
    compiled = Counter(p.name.split("-")[0] for p in (tmp_path / "numba").rglob("*.nbc"))
    assert compiled and set(compiled.values()) == {1}, compiled


BLAS_LINE = """
import sys
from lmmlasso_cli.cli import main
sys.argv = ["lmmlasso", "kinship", "--bfile", sys.argv[1], "--out", sys.argv[2], "--quiet"]
main()
"""


@pytest.mark.parametrize("coretype", [None, "Haswell"])
def test_the_log_records_the_blas_kernels_that_ran(tiny, tmp_path, coretype):
    """In a fresh process (OpenBLAS picks its kernels when it loads): the log's BLAS line names
    what threadpoolctl reports there, and an OPENBLAS_CORETYPE set in the environment."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    out = tmp_path / "k"
    cmd = [sys.executable, "-c", BLAS_LINE, tiny["prefix"], str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    probe = (
        "import json, numpy, scipy.linalg\nfrom threadpoolctl import threadpool_info\n"
        "print(json.dumps(sorted({i['architecture'] for i in threadpool_info()})))"
    )
    arch = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    [line] = [ln for ln in (tmp_path / "k.log").read_text().splitlines() if ln.startswith("BLAS:")]
    for name in json.loads(arch.stdout):
        assert f"({name} kernels)" in line
    assert ("OPENBLAS_CORETYPE=Haswell" in line) == (coretype == "Haswell")
    if coretype:
        assert "(Haswell kernels)" in line
