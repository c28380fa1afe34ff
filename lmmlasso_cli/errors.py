"""Exceptions and warnings shared by the whole package.

Every user-facing error names the file or value at fault and what to do about it. The CLI turns
``LmmLassoError`` subclasses into a one-line message and a non-zero exit code.
"""


class LmmLassoError(Exception):
    """Base class of errors that the CLI reports as one line without a traceback."""


class InputError(LmmLassoError):
    """A user-supplied file or option is unusable (missing, malformed, inconsistent)."""


class SampleMismatchError(InputError):
    """Sample IDs of two inputs do not line up (no overlap, uncovered individuals, duplicates)."""


class ArtifactError(InputError):
    """An artifact written by an earlier subcommand is missing, corrupt or does not match."""


class ConvergenceError(LmmLassoError):
    """A solver did not converge and the user asked for that to be an error."""


class ConvergenceWarning(UserWarning):
    """A solver stopped before its certificate (duality gap, optimiser tolerance) was met."""


def parameter_names_as(text: str, names: dict[str, str]) -> str:
    """Replace each backquoted parameter name in ``text`` (`` `n_folds` ``) by ``names[name]``.

    Core messages name parameters as the Python API spells them, in backquotes; the CLI renders
    them as its flags. Backquoted words that are not in ``names`` stay as they are.
    """
    import re

    return re.sub(r"`([a-z_0-9]+)`", lambda m: names.get(m.group(1), m.group(0)), text)
