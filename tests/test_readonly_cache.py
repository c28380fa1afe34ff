"""numba's cache on a read-only install: a per-user folder, said in the log, never beside the
package. ``os.access`` cannot simulate read-only for root, so unwritable places here are paths
below a regular file (nobody can create them)."""

import glob
import os
import subprocess
import sys

from lmmlasso_cli._numba import configure_cache, user_cache_dir


def test_unwritable_numba_cache_dir_falls_back_to_the_user_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"NUMBA_CACHE_DIR": str(blocker / "cache"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    note = configure_cache(env, package_dir=str(tmp_path))
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "xdg" / "lmmlasso-cli" / "numba")
    assert "is not writable" in note and env["NUMBA_CACHE_DIR"] in note


def test_read_only_package_uses_the_user_cache_and_writable_one_is_kept(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    note = configure_cache(env, package_dir=str(blocker / "pkg"))
    assert "read-only" in note and env["NUMBA_CACHE_DIR"] == user_cache_dir(env)
    env = {}
    assert configure_cache(env, package_dir=str(tmp_path / "pkg")) is None and env == {}


def test_nothing_writable_still_runs_with_a_temporary_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"NUMBA_CACHE_DIR": str(blocker / "a"), "XDG_CACHE_HOME": str(blocker / "b")}
    note = configure_cache(env, package_dir=str(blocker / "pkg"))
    assert "compiled anew" in note and os.path.isdir(env["NUMBA_CACHE_DIR"])


def test_cli_compiles_into_the_user_cache_when_numba_cache_dir_is_unwritable(tiny, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(blocker / "cache")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    kin = tmp_path / "k"
    lmmlasso = [sys.executable, "-m", "lmmlasso_cli"]
    kinship = ["kinship", "--bfile", tiny["prefix"], "--out", str(kin), "--quiet"]
    subprocess.run([*lmmlasso, *kinship], env=env, check=True)
    args = ["gwas", "--bfile", tiny["prefix"], "--kinship", str(kin) + ".kinship.npz"]
    args += ["--pheno", tiny["pheno"], "--pheno-name", "q", "--exact"]  # the numba kernels
    args += ["--out", str(tmp_path / "g"), "--quiet"]
    done = subprocess.run([*lmmlasso, *args], env=env)
    assert done.returncode == 0
    cache = tmp_path / "xdg" / "lmmlasso-cli" / "numba"
    assert glob.glob(str(cache / "**" / "*.nbi"), recursive=True)  # numba's index files
    assert "numba cache: NUMBA_CACHE_DIR=" in (tmp_path / "g.log").read_text()
