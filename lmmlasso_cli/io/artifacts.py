"""NPZ and TSV artifacts that chain the subcommands, and GCTA binary GRMs.

Every NPZ artifact holds a JSON ``__meta__`` entry (kind, format version, tool and library
versions, command line, parameters) and the sample IDs (``fid``, ``iid``); most also hold SNP
IDs. `load_npz` checks the kind and the required arrays. All writes go to a temporary file in
the destination folder and are renamed into place, so an interrupted run never leaves a
half-written output.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import os
import platform
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli import __version__
from lmmlasso_cli.errors import ArtifactError, InputError

FORMAT_VERSION = 1


TEMP_MARK = ".lmmlasso-tmp-"  # in every temporary name: .OUTPUT.lmmlasso-tmp-PID-RANDOM


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp's 0600 is for the temporary only


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temporaries(path: str) -> list[str]:
    """Delete the temporary files of ``path`` left by runs that were killed (their process is
    gone); return their names. A running writer's temporary file is left alone."""
    folder = os.path.dirname(os.path.abspath(path))
    stem = "." + os.path.basename(path) + TEMP_MARK
    removed = []
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        if not name.startswith(stem):
            continue
        pid_text = name[len(stem) :].split("-", 1)[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, name))
            removed.append(name)
    return removed


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name is hidden, ends in neither the output's suffix nor a known one, and
    carries the writer's PID, so that a run killed with SIGKILL leaves nothing a later run could
    take for a result, and the next write of ``path`` deletes what a killed run left.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(path)
    prefix = "." + os.path.basename(path) + TEMP_MARK + f"{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


LIBRARIES = ("numpy", "scipy", "numba")  # whose versions every log and artifact records


@functools.cache
def library_versions() -> dict[str, str]:
    """The installed versions of `LIBRARIES`, read from their package metadata: recording them
    imports none of them (numba alone takes a fifth of a second to import). A library without
    metadata (a source build on ``sys.path``) is imported for its ``__version__``."""
    from importlib import import_module, metadata

    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = import_module(name).__version__
    return versions


def provenance(command: str, params: dict) -> dict:
    """What produced an artifact: versions, time, command line and parameters."""
    return {
        "tool": "lmmlasso-cli",
        "tool_version": __version__,
        "python": platform.python_version(),
        **library_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "params": params,
    }


def fingerprint(strings=(), arrays=(), params: dict | None = None) -> str:
    """sha256 of ID columns (``strings``: sequences of str), numeric ``arrays`` (as float64 or
    their own integer type) and JSON ``params``: what job-array parts compare before merging."""
    import hashlib

    h = hashlib.sha256()
    for values in strings:
        h.update("\t".join(map(str, values)).encode())
        h.update(b"\n")
    for values in arrays:
        values = np.ascontiguousarray(values)
        h.update(f"{values.dtype.str}{values.shape}".encode())
        h.update(values.data)
    h.update(json.dumps(params or {}, sort_keys=True, default=_json_default).encode())
    return h.hexdigest()


def save_npz(path: str, kind: str, meta: dict, arrays: dict) -> None:
    """Write arrays plus JSON metadata atomically (uncompressed NPZ)."""
    meta = {"kind": kind, "format_version": FORMAT_VERSION, **meta}
    payload = {"__meta__": np.array(json.dumps(meta, default=_json_default))}
    for name, value in arrays.items():
        payload[name] = np.asarray(value)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **payload)  # genotype-derived floats barely compress; speed wins


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


@dataclass(frozen=True)
class Artifact:
    path: str
    kind: str
    meta: dict
    arrays: dict

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


def load_npz(path: str, kind: str, required: tuple[str, ...] = ("fid", "iid")) -> Artifact:
    """Load an artifact and check its kind, version and required arrays."""
    if not os.path.exists(path):
        raise ArtifactError(f"{path}: file not found")
    if os.path.isdir(path):
        raise ArtifactError(f"{path}: is a directory, not an .npz artifact; give the file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        why = "not an .npz file" if "pickle" in str(exc) else str(exc)  # numpy's text on text
        raise ArtifactError(f"{path}: not a readable .npz artifact ({why}); re-create it") from None
    if "__meta__" not in arrays:
        raise ArtifactError(f"{path}: no lmmlasso metadata; it was not written by lmmlasso-cli")
    meta = json.loads(str(arrays.pop("__meta__")))
    if meta.get("kind") != kind:
        raise ArtifactError(
            f"{path}: is a {meta.get('kind')!r} artifact but a {kind!r} one is needed here"
        )
    version = meta.get("format_version", 0)
    if version > FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: written by a newer lmmlasso-cli (format {version}); upgrade lmmlasso-cli"
        )
    if version < FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: written by an older lmmlasso-cli (format {version}, this version reads "
            f"{FORMAT_VERSION}); re-create it with this version"
        )
    absent = [name for name in required if name not in arrays]
    if absent:
        raise ArtifactError(f"{path}: lacks {', '.join(absent)}; re-create it with this version")
    return Artifact(path=path, kind=kind, meta=meta, arrays=arrays)


def write_tsv(path: str, frame, header_lines: list[str] = (), float_format: str = "%.10g") -> None:
    """Write a pandas DataFrame as TSV (optionally gzip by suffix), atomically.

    ``header_lines`` become ``## key=value`` comment lines before the column header.
    """
    suffix = ".gz" if path.endswith(".gz") else ""
    with atomic_path(path) as tmp:
        if suffix:
            import gzip

            handle = gzip.open(tmp, "wt")
        else:
            handle = open(tmp, "w")  # noqa: SIM115
        with handle:
            for line in header_lines:
                handle.write(f"## {line}\n")
            text = _tsv_text(frame, float_format)
            if text is None:  # a type or a character that needs pandas' quoting rules
                frame.to_csv(handle, sep="\t", index=False, float_format=float_format, na_rep="NA")
            else:
                handle.write(text)


_NEEDS_QUOTES = ("\t", '"', "\n", "\r")


def _tsv_text(frame, float_format: str) -> str | None:
    """The text ``frame.to_csv(sep="\t", index=False, float_format=..., na_rep="NA")`` writes,
    formatted column by column (5× faster than pandas' per-value formatter on the 57-column
    score file of a path); None when a column holds what this does not format (pandas then
    writes the file)."""
    columns = [str(c) for c in frame.columns]
    if not columns or any(ch in name for name in columns for ch in _NEEDS_QUOTES):
        return None
    texts = []
    for name in frame.columns:
        values = frame[name].to_numpy()
        kind = values.dtype.kind
        if kind == "f":
            text = [float_format % v for v in values.tolist()]
            for i in np.flatnonzero(np.isnan(values)):
                text[i] = "NA"
        elif kind in "iub":
            text = [str(v) for v in values.tolist()]
        elif kind in "OU" and all(isinstance(v, str) for v in values.tolist()):
            text = values.tolist()
            if any(ch in v for v in text for ch in _NEEDS_QUOTES):
                return None
        else:
            return None
        texts.append(text)
    rows = ["\t".join(row) for row in zip(*texts, strict=True)] if texts else []
    return "\n".join(["\t".join(columns), *rows]) + "\n"


def read_tsv(path: str):
    """Read a TSV written by `write_tsv` (``##`` comment lines skipped)."""
    import pandas as pd

    if not os.path.exists(path):
        raise InputError(f"{path}: file not found")
    return pd.read_csv(path, sep="\t", comment=None, skiprows=_n_comment_lines(path))


def read_header(path: str) -> dict:
    """The ``## key=value`` lines at the top of a TSV written by `write_tsv`, as a dict."""
    import gzip

    opener = gzip.open if path.endswith(".gz") else open
    header = {}
    with opener(path, "rt") as handle:
        for line in handle:
            if not line.startswith("##"):
                break
            key, _, value = line[2:].strip().partition("=")
            header[key] = value
    return header


def _n_comment_lines(path: str) -> int:
    import gzip

    opener = gzip.open if path.endswith(".gz") else open
    n = 0
    with opener(path, "rt") as handle:
        for line in handle:
            if not line.startswith("##"):
                break
            n += 1
    return n


# --- GCTA binary GRM -------------------------------------------------------------------------


def write_gcta_grm(prefix: str, matrix: np.ndarray, fid, iid, n_snps: int) -> None:
    """GCTA format: lower triangle with diagonal, row by row, float32 (.grm.bin), the number of
    SNPs per pair (.grm.N.bin, float32) and ``FID<TAB>IID`` lines (.grm.id)."""
    rows, cols = np.tril_indices(matrix.shape[0])
    with atomic_path(prefix + ".grm.bin") as tmp:
        matrix[rows, cols].astype("<f4").tofile(tmp)
    with atomic_path(prefix + ".grm.N.bin") as tmp:
        np.full(len(rows), n_snps, dtype="<f4").tofile(tmp)
    with atomic_path(prefix + ".grm.id") as tmp, open(tmp, "w") as handle:
        for f, i in zip(fid, iid, strict=True):
            handle.write(f"{f}\t{i}\n")


def read_gcta_grm(prefix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a GCTA binary GRM; return (matrix float64, fid, iid)."""
    id_path, bin_path = prefix + ".grm.id", prefix + ".grm.bin"
    for path in (id_path, bin_path):
        if not os.path.exists(path):
            raise InputError(f"{path}: file not found (a GCTA GRM needs .grm.bin and .grm.id)")
    with open(id_path) as handle:
        ids = [line.split() for line in handle if line.strip()]
    n = len(ids)
    values = np.fromfile(bin_path, dtype="<f4")
    if len(values) != n * (n + 1) // 2:
        raise InputError(
            f"{bin_path}: holds {len(values)} values but {id_path} lists {n} individuals "
            f"(needs {n * (n + 1) // 2}); the GRM files do not belong together"
        )
    matrix = np.zeros((n, n))
    rows, cols = np.tril_indices(n)
    matrix[rows, cols] = values
    matrix[cols, rows] = values
    fid = np.array([r[0] for r in ids], dtype=str)
    iid = np.array([r[1] for r in ids], dtype=str)
    return matrix, fid, iid
