"""The run log: ``PREFIX.log`` holds the command line, versions, counts and the summary.

Messages also go to stderr unless ``--quiet``. Python warnings raised during a run (for example
a `ConvergenceWarning`) are written to the log and counted.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
import warnings

import click

from lmmlasso_cli import __version__


class RunLog:
    def __init__(self, out_prefix: str, quiet: bool = False, render=None):
        self.path = out_prefix + ".log"
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self.quiet = quiet
        self._render = render or (lambda text: text)  # e.g. parameter names shown as flags
        self.warnings: list[str] = []
        self._start = time.perf_counter()
        self._handle = open(self.path, "w")  # noqa: SIM115
        self._old_showwarning = warnings.showwarning
        warnings.showwarning = self._showwarning
        now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        self._write(f"lmmlasso-cli {__version__}  (python {platform.python_version()})")
        self._write(f"started {now} on {platform.node()}")
        self._write("command: " + " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]))

    def _write(self, text: str) -> None:
        self._handle.write(text + "\n")
        self._handle.flush()

    def info(self, text: str) -> None:
        text = self._render(text)
        self._write(text)
        if not self.quiet:
            click.echo(text, err=True)

    def warning(self, text: str) -> None:
        text = self._render(text)
        self.warnings.append(text)
        self._write("WARNING: " + text)
        click.echo("Warning: " + text, err=True)

    def _showwarning(self, message, category, filename, lineno, file=None, line=None):
        self.warning(str(message))

    def versions(self) -> None:
        from lmmlasso_cli.io.artifacts import library_versions

        self._write("versions: " + ", ".join(f"{k} {v}" for k, v in library_versions().items()))

    def blas(self) -> None:
        """The BLAS libraries loaded, with their kernels (`io.machine.blas_kernels`)."""
        from lmmlasso_cli.io.machine import blas_kernels

        self._write("BLAS: " + blas_kernels())

    def close(self, error: str | None = None) -> None:
        warnings.showwarning = self._old_showwarning
        elapsed = time.perf_counter() - self._start
        if error:
            self._write(f"ERROR: {error}")
        self._write(f"{len(self.warnings)} warning(s); finished in {elapsed:.1f} s")
        self._handle.close()
