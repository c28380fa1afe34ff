"""Start-up (issue 15): what the command group imports, how versions are read, and the shortcuts
taken for speed giving the same numbers. Imports are checked in a fresh interpreter, since this
test process has long imported everything."""

import json
import subprocess
import sys

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
