import warnings

import pytest
from click.testing import CliRunner

warnings.filterwarnings("ignore", module="MDAnalysis")


@pytest.fixture
def cli():
    """Run ``herobm ...`` in-process; returns click's Result (exit_code, output)."""
    from herobm.cli import main

    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run
