"""``herobm`` command line: thin wrappers that parse, call the library, print."""

from __future__ import annotations

import functools

import click

from .. import __version__
from ..errors import HerobmError

__all__ = ["main", "handle_errors"]


def handle_errors(func):
    """Turn herobm's input/mapping errors into a one-line 'Error: ...' and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except HerobmError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="herobm")
def main() -> None:
    """herobm: backmap coarse-grained (CG) structures to all-atom ones.

    \b
      herobm map            all-atom structure/trajectory -> CG structure/trajectory
      herobm mapping ...    check, label, import-vermouth, list mapping files
      herobm dataset ...    corpus, build, info: training data
      herobm train          train the network from a YAML config
      herobm backmap        CG structure/trajectory -> all-atom, with trained models
      herobm models         the shipped pretrained models
      herobm evaluate       compare a backmapped structure with the reference
    """
    import logging
    import warnings

    log = logging.getLogger("herobm")  # herobm's own messages (e.g. the training time budget) on stderr;
    if not log.handlers:                # other libraries' logging is left as it is
        log.addHandler(logging.StreamHandler())
    log.setLevel(logging.INFO)
    # MDAnalysis notes the placeholder box of every PDB without a unit cell, each time a frame
    # is read; herobm treats such files as non-periodic anyway
    warnings.filterwarnings("ignore", message="1 A\\^3 CRYST1 record", category=UserWarning)


from . import backmap as _backmap  # noqa: E402,F401  (registers commands)
from . import dataset as _dataset  # noqa: E402,F401
from . import corpus as _corpus  # noqa: E402,F401
from . import evaluate as _evaluate  # noqa: E402,F401
from . import map as _map  # noqa: E402,F401
from . import mapping as _mapping  # noqa: E402,F401
from . import models as _models  # noqa: E402,F401
from . import train as _train  # noqa: E402,F401
