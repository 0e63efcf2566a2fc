import importlib.util
import sys
import warnings
from pathlib import Path

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


@pytest.fixture(scope="session")
def load_script():
    """Import ``scripts/NAME.py`` (or ``FOLDER/NAME.py``) of the repository as a module:
    ``load_script("ship_model")``, ``load_script("lipid_regions", "benchmarks")``."""
    root = Path(__file__).resolve().parents[1]

    def load(name, folder="scripts"):
        spec = importlib.util.spec_from_file_location(name, root / folder / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses look their module up there
        spec.loader.exec_module(mod)
        return mod

    return load
