"""The shipped checkpoints agree with the shipped mapping sets they were trained on and with
their recipes in configs/.

``herobm map`` uses the mapping set in the package; ``herobm backmap`` uses the copy stored
in the checkpoint. If a mapping file changes (bead members, weights, centre weighting) and its
model is not retrained, CG made by one is read by the other with other bead centres: a silently
worse structure. This test names the model and molecule where that happens.
"""

from pathlib import Path

import pytest

from herobm.mapping import load_mapping_set, shipped_sets
from herobm.model.config import ModelConfig
from herobm.models import available_models
from herobm.train.checkpoint import load_checkpoint, restore_mapping
from herobm.train.config import RunConfig

MODELS = [m for m in available_models() if m.mapping in shipped_sets()]


def test_some_models_are_checked():
    assert {m.name for m in MODELS} >= {"martini3-protein", "ca-protein", "martini3-lipids"}


@pytest.mark.parametrize("info", MODELS, ids=lambda m: m.name)
def test_checkpoint_mapping_matches_shipped_set(info):
    stored = restore_mapping(load_checkpoint(info.path))
    shipped = load_mapping_set(info.mapping)
    by_name = {m.name: m for m in shipped.molecules}
    covered = set(info.covers)
    for m in stored.molecules:
        if not covered & set(m.resnames):
            continue
        assert m.name in by_name, f"{info.name}: molecule {m.name} is no longer in the shipped set '{info.mapping}'"
        s = by_name[m.name]
        where = f"{info.name}: molecule {m.name} differs from the shipped set '{info.mapping}'"
        assert stored.weighting_of(m) == shipped.weighting_of(s), f"{where}: bead centre weighting"
        assert m.centre_weights == s.centre_weights and m.beads == s.beads, f"{where}: bead members or weights"
        assert [stored.bead_type(m, b) for b in m.beads] == [shipped.bead_type(s, b) for b in s.beads], (
            f"{where}: bead types")


RECIPES = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["martini3-protein", "ca-protein", "martini3-lipids", "example-ligand"])
def test_recipe_builds_the_shipped_network(name):
    """configs/NAME.yaml (with what it extends) describes the network the shipped checkpoint
    holds: a change to configs/default.yaml that would silently change a recipe fails here."""
    ckpt = load_checkpoint(next(m for m in available_models() if m.name == name).path)
    shipped = ModelConfig.from_dict(ckpt["model_config"])
    recipe = RunConfig.from_yaml(RECIPES / f"{name}.yaml").model_config(shipped.n_bead_types, shipped.n_vectors)
    assert recipe == shipped
