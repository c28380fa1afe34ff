"""A command killed with SIGKILL leaves no output, and nothing a later run could take for one.

Outputs are written to a hidden temporary name carrying the writer's PID and renamed into place;
the next write of the same output deletes the temporary files of dead writers. The first tests
kill the process exactly between writing and renaming (``os.replace`` replaced by a SIGKILL), the
others kill long runs at several moments.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from lmmlasso_cli.io.artifacts import TEMP_MARK, load_npz

KILL_AFTER_S = (0.5, 2.0, 4.0)  # moments at which a long run is killed
KILL_AT_RENAME = (
    "import os, signal, sys\n"
    "from lmmlasso_cli.cli import main\n"
    "os.replace = lambda a, b: os.kill(os.getpid(), signal.SIGKILL)\n"
    "sys.argv = ['lmmlasso', *sys.argv[1:]]\n"
    "main()\n"
)


@pytest.fixture(scope="module")
def toy_kinship(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("kin") / "toy"
    assert (
        _lmmlasso(["kinship", "--bfile", str(toy / "toy"), "--out", str(out), "--quiet"]).wait()
        == 0
    )
    return str(out) + ".kinship.npz"


def _lmmlasso(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "lmmlasso_cli", *args], **kw)


def _leftovers(folder):
    """(finished outputs besides logs, temporary files)."""
    names = sorted(os.listdir(folder))
    temps = [n for n in names if TEMP_MARK in n]
    outputs = [n for n in names if TEMP_MARK not in n and not n.endswith(".log")]
    return outputs, temps


def test_killed_between_write_and_rename_leaves_only_a_temporary_that_a_rerun_removes(
    toy, tmp_path
):
    out = tmp_path / "k"
    args = ["kinship", "--bfile", str(toy / "toy"), "--out", str(out), "--quiet"]
    done = subprocess.run([sys.executable, "-c", KILL_AT_RENAME, *args], capture_output=True)
    assert done.returncode == -signal.SIGKILL
    outputs, temps = _leftovers(tmp_path)
    assert outputs == [] and len(temps) == 1 and temps[0].startswith(".k.kinship.npz" + TEMP_MARK)
    assert _lmmlasso(args).wait() == 0
    outputs, temps = _leftovers(tmp_path)
    assert outputs == ["k.kinship.npz"] and temps == []


def _kill_at(args, folder, after_s):
    proc = _lmmlasso(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after_s)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


@pytest.mark.parametrize("after_s", KILL_AFTER_S)
def test_long_kinship_killed_at_any_moment(toy, tmp_path, after_s):
    out = tmp_path / "k"
    args = [
        "kinship",
        "--bfile",
        str(toy / "toy"),
        "--block-size",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    code = _kill_at(args, tmp_path, after_s)
    outputs, _ = _leftovers(tmp_path)
    assert code in (0, -signal.SIGKILL) and outputs in ([], ["k.kinship.npz"])
    if outputs:  # finished, or killed after the rename: then the output is whole
        assert load_npz(str(out) + ".kinship.npz", "kinship", ("K",))["K"].shape == (600, 600)
    if code == 0:
        assert outputs == ["k.kinship.npz"]


@pytest.mark.parametrize("after_s", KILL_AFTER_S)
def test_long_stability_killed_at_any_moment(toy, toy_kinship, tmp_path, after_s):
    out = tmp_path / "s"
    pheno = ["--pheno", str(toy / "toy.pheno"), "--pheno-name", "q1"]
    args = ["stability", "--bfile", str(toy / "toy"), "--kinship", toy_kinship, *pheno]
    args += ["--n-reps", "40", "--n-active", "5", "--threads", "1", "--out", str(out), "--quiet"]
    code = _kill_at(args, tmp_path, after_s)
    outputs, _ = _leftovers(tmp_path)
    assert code in (0, -signal.SIGKILL)
    # killed or not, what exists is whole: the npz is renamed before the table, and the kill
    # may also come after both were written
    assert outputs in ([], ["s.stability.npz"], ["s.stability.npz", "s.stability.tsv"])
    if outputs:
        art = load_npz(str(out) + ".stability.npz", "stability", ("reps",))
        np.testing.assert_array_equal(art["reps"], np.arange(40))
    if "s.stability.tsv" in outputs:
        table = pd.read_csv(str(out) + ".stability.tsv", sep="\t", comment="#")
        assert len(table) == len(art["snp"])
    if code == 0:
        assert len(outputs) == 2


def test_outputs_get_the_usual_permissions_not_the_temporary_files(tiny, tmp_path):
    """The temporary file is private (0600) while written; the output, like any file the user
    creates, follows the umask (group members can read results)."""
    mask = os.umask(0o022)
    try:
        out = tmp_path / "k"
        assert (
            _lmmlasso(["kinship", "--bfile", tiny["prefix"], "--out", str(out), "--quiet"]).wait()
            == 0
        )
    finally:
        os.umask(mask)
    assert (os.stat(str(out) + ".kinship.npz").st_mode & 0o777) == 0o644
