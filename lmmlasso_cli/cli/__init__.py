"""The ``lmmlasso`` command group. Subcommand modules import heavy libraries lazily."""

import click

from lmmlasso_cli import __version__
from lmmlasso_cli.cli import fit, fit_null, kinship


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="lmmlasso")
def main():
    """lmmlasso: sparse linear mixed models (LMM-Lasso) and LMM scans for PLINK data.

    Typical chain: kinship -> fit-null -> fit -> predict. Run `lmmlasso COMMAND --help`.
    """


main.add_command(kinship.kinship)
main.add_command(fit_null.fit_null)
main.add_command(fit.fit)
