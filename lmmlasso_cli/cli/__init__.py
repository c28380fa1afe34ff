"""The ``lmmlasso`` command group.

Subcommands live one per module and are imported only when listed or run, so `lmmlasso --help`
stays fast and numba is imported only by commands that fit models.
"""

import gc
import importlib
import sys

import click

from lmmlasso_cli import __version__

EXIT_USAGE = 1  # bad options exit like bad inputs (click's own default would be 2)

COMMANDS = {
    "kinship": "lmmlasso_cli.cli.kinship:kinship",
    "fit-null": "lmmlasso_cli.cli.fit_null:fit_null",
    "fit": "lmmlasso_cli.cli.fit:fit",
    "predict": "lmmlasso_cli.cli.predict:predict",
    "cv": "lmmlasso_cli.cli.cv:cv",
    "stability": "lmmlasso_cli.cli.stability:stability",
    "gwas": "lmmlasso_cli.cli.gwas:gwas",
    "simulate": "lmmlasso_cli.cli.simulate:simulate",
    "evaluate": "lmmlasso_cli.cli.evaluate:evaluate",
    "ld-blocks": "lmmlasso_cli.cli.ld_blocks:ld_blocks",
    "shrink": "lmmlasso_cli.cli.shrink:shrink",
    "cluster": "lmmlasso_cli.cli.cluster:cluster",
    "gene-test": "lmmlasso_cli.cli.gene_test:gene_test",
    "pca": "lmmlasso_cli.cli.pca:pca",
}


# The garbage collector of the lmmlasso process. Imports and numba's compiler make a few hundred
# thousand long-lived objects, and Python's default (700, 10, 10) walks them again and again
# (0.2 s of a warm HS1940 `fit`, 0.35 s of a first one); the young generation is collected after
# 10,000 allocations instead, which keeps cyclic garbage small. At exit the collector is frozen:
# that spares the collections over every object the run made (0.2–0.4 s). Outputs and the log
# are closed by then and atexit handlers still run; only objects caught in reference cycles go
# unfinalized, which Python never promises at exit. Only for the process's own command line: a
# caller such as a test's CliRunner keeps its collector as it is.
PROCESS_GC_THRESHOLDS = (10_000, 10, 10)


class LazyGroup(click.Group):
    """Subcommands imported on first use; usage errors as one ``Error:`` line, exit code 1."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        from lmmlasso_cli._numba import configure_cache

        configure_cache()  # before any kernel module imports numba
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        own_process = args is None  # the process's command line: the interpreter exits next
        if own_process:
            gc.set_threshold(*PROCESS_GC_THRESHOLDS)
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = f"lmmlasso {ctx.command.name}" if ctx and ctx.parent else "lmmlasso"
            click.echo(f"Error: {exc.format_message()} (see `{where} --help`)", err=True)
            sys.exit(EXIT_USAGE)
        except click.Abort:
            click.echo("Error: aborted", err=True)
            sys.exit(EXIT_USAGE)
        finally:
            if own_process:
                gc.freeze()

    def list_commands(self, ctx):
        return [name for name in COMMANDS if self.get_command(ctx, name) is not None]

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # a subcommand not built yet
                return None
            raise


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="lmmlasso")
def main():
    """lmmlasso: sparse linear mixed models (LMM-Lasso) and LMM scans for PLINK data.

    Typical chain: kinship -> fit-null -> fit -> predict. Run `lmmlasso COMMAND --help`.
    """
