"""`herobm backmap` end to end with the shipped models: martinize2-written CG in,
simulation-ready all-atom out; trajectories; mixed protein-membrane systems; bad input."""

import inspect
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import pytest
from click.testing import CliRunner
from MDAnalysisTests.datafiles import GRO_MEMPROT, TPR_xvf, TRR_xvf

from herobm import InputError
from herobm.backmap import RAW_OUTPUT, backmap
from herobm.cli import main
from herobm.mapper import map_structure
from herobm.models import auto_models, available_models, resolve_model

VILLIN = Path(mda.__file__).parents[1] / "MDAnalysisTests" / "data" / "contacts" / "villin_folded.gro.bz2"


def martinize2() -> str:
    exe = shutil.which("martinize2") or str(Path(sys.executable).parent / "martinize2")
    if not Path(exe).exists():
        pytest.fail("martinize2 (from vermouth, a dependency) is not installed")
    return exe


@pytest.fixture(scope="module")
def villin(tmp_path_factory):
    """Villin headpiece (33 residues) and its Martini 3 CG as martinize2 writes it."""
    d = tmp_path_factory.mktemp("villin")
    u = mda.Universe(str(VILLIN))
    protein = u.select_atoms("protein")
    protein.write(str(d / "aa.pdb"))
    ss = "C" * len(protein.residues)
    subprocess.run([martinize2(), "-f", str(d / "aa.pdb"), "-x", str(d / "cg.pdb"), "-o", str(d / "topol.top"),
                    "-ff", "martini3001", "-ss", ss], check=True, capture_output=True, cwd=d)
    return d


def test_shipped_models_listed_and_resolved():
    names = [m.name for m in available_models()]
    assert "martini3-protein" in names
    assert resolve_model("martini3-protein").is_file()
    with pytest.raises(InputError, match="unknown model 'no-such-model'.*martini3-protein"):
        resolve_model("no-such-model")
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0 and "martini3-protein" in result.output


def test_martinize2_cg_to_amber_ready_pdb(villin):
    """martinize2 CG -> heavy atoms + hydrogens + minimisation -> OpenMM amber14-all accepts it unedited."""
    from openmm import app

    assert [Path(p).stem for p in auto_models(villin / "cg.pdb")] == ["martini3-protein"]
    out = villin / "aa_h.pdb"
    result = CliRunner().invoke(main, ["backmap", str(villin / "cg.pdb"), "-o", str(out), "--hydrogens", "--minimize"])
    assert result.exit_code == 0, result.output
    assert "heavy-atom RMSD raw -> refined" in result.output
    pdb = app.PDBFile(str(out))
    system = app.ForceField("amber14-all.xml").createSystem(pdb.topology)  # no edits
    ref = mda.Universe(str(villin / "aa.pdb"))
    assert system.getNumParticles() == len(ref.atoms)  # every atom of the original, hydrogens included
    # heavy atoms close to the original (a trained model, not noise)
    from herobm.evaluate import evaluate

    scores = evaluate(str(out), str(villin / "aa.pdb")).metrics
    assert scores["n_atoms_missing"] == 0
    assert scores["rmsd_heavy"] < 1.5 and scores["rmsd_backbone"] < 1.0


def _branch_angles(u) -> tuple[np.ndarray, np.ndarray]:
    """Angle (°) between the two branch atoms at each THR / VAL / ILE / LEU branch point, and the
    shorter of their two distances (Å) from it."""
    from herobm.refine.branches import BRANCHES

    angles, arms = [], []
    for res in u.residues:
        spec = BRANCHES.get(res.resname)
        if spec:
            x, _, b, c = (res.atoms.select_atoms(f"name {n}").positions[0].astype(float) for n in spec)
            v, w = b - x, c - x
            angles.append(np.degrees(np.arccos(np.dot(v, w) / np.linalg.norm(v) / np.linalg.norm(w))))
            arms.append(min(np.linalg.norm(v), np.linalg.norm(w)))
    return np.asarray(angles), np.asarray(arms)


def _collapsed(u) -> np.ndarray:
    """Which branch points are collapsed as herobm.refine.branches judges them: children closer
    than 60° at the centre, or one within MIN_ARM Å of it (no direction to measure by)."""
    from herobm.refine.branches import MIN_ARM

    angles, arms = _branch_angles(u)
    return (angles < 60.0) | (arms < MIN_ARM)


def test_backbone_optimisation_when_the_checkpoint_asks(villin, tmp_path):
    """A checkpoint whose info asks for backbone optimisation gets it from a plain backmap (here the
    shipped Cα model with that flag set, as it shipped until session 20); --no-optimize-backbone
    --no-relax-backbone --no-fix-side-chains gives the raw network output; no shipped model asks for it."""
    import torch

    from herobm.models import resolve_model
    from herobm.refine import backbone_indices, backbone_report
    from herobm.refine.backbone import BackboneGeometry

    ckpt = torch.load(resolve_model("ca-protein"), map_location="cpu", weights_only=False)
    assert ckpt["info"]["optimize_backbone"] is False
    ckpt["info"]["optimize_backbone"] = True
    asking = tmp_path / "ca-asking.pt"
    torch.save(ckpt, asking)
    map_structure(villin / "aa.pdb", "ca", tmp_path / "ca.pdb")
    default = backmap(tmp_path / "ca.pdb", str(asking), tmp_path / "default.pdb")
    assert default.refine_summary.startswith("backbone optimised")
    plain = backmap(tmp_path / "ca.pdb", None, tmp_path / "plain.pdb")
    assert plain.models == ["ca-protein"] and plain.refine_summary == ""
    assert any("backbone relaxed" in n for n in plain.notes)
    raw = backmap(tmp_path / "ca.pdb", "ca-protein", tmp_path / "raw.pdb", **RAW_OUTPUT)
    assert raw.refined_rmsd == [] and raw.refine_summary == ""
    # the shipped model inverts a centre of this trace (which one depends on the trained weights:
    # LYS 71 CA in session 11's model, THR 54 CB now); the raw run names it, the default run corrects it
    inverted = [n for n in raw.notes if "stereocentre(s) inverted in the network output" in n]
    assert len(inverted) == 1 and re.search(r"\(([A-Z]{3} \d+ C[AB](, )?)+\)", inverted[0]), inverted
    assert not any("stereocentre(s) inverted" in n for n in default.notes)
    result = CliRunner().invoke(main, ["backmap", str(tmp_path / "ca.pdb"), "--model", str(asking), "-o",
                                       str(tmp_path / "cli.pdb")])
    assert result.exit_code == 0, result.output
    ua, ub, uc = (mda.Universe(str(tmp_path / f)) for f in ("default.pdb", "raw.pdb", "cli.pdb"))
    np.testing.assert_allclose(ua.atoms.positions, uc.atoms.positions, atol=1e-3)
    assert np.abs(ua.atoms.positions - ub.atoms.positions).max() > 0.1
    # Cα stay where the trace put them, but for a stereocentre the chirality check corrected
    moved = np.linalg.norm(ua.select_atoms("name CA").positions - ub.select_atoms("name CA").positions, axis=1) > 2e-3
    corrected = re.search(r"(\d+) inverted stereocentre", default.refine_summary)
    assert moved.sum() <= (int(corrected.group(1)) if corrected else 0)
    # the optimised backbone has peptide bonds of the ideal length, within the optimiser's bounds
    atoms = ua.atoms
    idx = backbone_indices(atoms.names, atoms.resindices)
    resid = ua.residues.resids  # villin's trace skips residues 65 and 70 (Cα 5.5 Å apart): no bond there
    nxt = np.append(np.where(np.diff(resid) == 1, np.arange(1, len(resid)), -1), -1)
    report = backbone_report(atoms.positions.astype(np.float64), idx, nxt)
    gap = np.flatnonzero(nxt[:-1] < 0)
    assert len(gap) == 2  # and herobm did not pull the ends together into a bond
    assert np.all(np.linalg.norm(atoms.positions[idx[gap, 2]] - atoms.positions[idx[gap + 1, 0]], axis=1) > 2.5)
    ideal = BackboneGeometry().c_n
    assert np.nanmax(np.abs(report["c_n"] - ideal)) < 0.05
    # side-chain branches the network collapsed (children closer than 60° at the branch point, or one
    # on top of it) are opened by the default run, and only those: as many as the summary says
    collapsed = {name: _collapsed(u) for name, u in (("raw", ub), ("default", ua))}
    spread = re.search(r"(\d+) collapsed side-chain branch\(es\) spread", default.refine_summary)
    assert collapsed["raw"].any() and spread and int(spread.group(1)) == collapsed["raw"].sum()
    assert not collapsed["default"].any()
    named = [n for n in raw.notes if "side-chain branch(es) collapsed in the network output" in n]
    assert len(named) == 1 and named[0].startswith(f"{collapsed['raw'].sum()} side-chain branch(es)")
    assert re.search(r"\((THR|VAL|ILE|LEU) \d+ C[BG]", named[0]) and not any("collapsed" in n for n in default.notes)
    m3 = backmap(villin / "cg.pdb", None, tmp_path / "m3.pdb")
    assert m3.models == ["martini3-protein"] and m3.refined_rmsd == []
    listing = CliRunner().invoke(main, ["models"]).output.split("\n\n")[0]
    blocks = {b.split()[0]: b for b in listing.replace("\n    ", "\t").splitlines()}
    assert not any("optimize-backbone" in b for b in blocks.values())


def test_backmapped_structure_maps_back_onto_the_input_beads(villin):
    """Raw output with the bead fit, coarse-grained with the same mapping gives the martinize2 beads
    back (to PDB precision); without the fit the network's centres are off by tenths of Å."""
    cg = mda.Universe(str(villin / "cg.pdb")).atoms.positions
    off = {}
    for fit in (True, False):
        out = villin / f"raw_fit{fit}.pdb"
        backmap(str(villin / "cg.pdb"), "martini3-protein", str(out), bead_fit=fit)
        map_structure(str(out), "martini3", str(villin / f"remapped{fit}.pdb"))
        off[fit] = np.abs(mda.Universe(str(villin / f"remapped{fit}.pdb")).atoms.positions - cg).max()
    assert off[True] < 2e-3 and off[False] > 0.05


def test_backbone_relaxed_by_default(villin, tmp_path):
    """Plain backmap relaxes the network's backbone (and CB) toward ideal bonds and angles and moves
    nothing else; --no-relax-backbone writes the network's atoms; the Cα model's CA stay on the beads."""
    from herobm.refine.backbone import backbone_indices
    from herobm.refine.relax import backbone_restraints

    rep = backmap(villin / "cg.pdb", None, tmp_path / "default.pdb", fix_side_chains=False)
    backmap(villin / "cg.pdb", None, tmp_path / "raw.pdb", relax_backbone=False, fix_side_chains=False)
    a, b = (mda.Universe(str(tmp_path / f)).atoms for f in ("default.pdb", "raw.pdb"))
    assert list(a.names) == list(b.names)
    idx = backbone_indices(a.names, a.resindices, len(a.residues))
    nxt = np.append(np.arange(1, len(a.residues)), -1)
    pairs, d0, is_bond = backbone_restraints(idx, nxt, a.residues.resnames)

    def bond_rms(x):
        return np.sqrt(np.mean((np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1) - d0)[is_bond] ** 2))

    assert bond_rms(b.positions) > 0.05 and bond_rms(a.positions) < 0.02
    backbone = np.isin(a.names, ["N", "CA", "C", "O", "OXT", "CB"])
    assert np.array_equal(a.positions[~backbone], b.positions[~backbone])
    assert np.abs(a.positions[backbone] - b.positions[backbone]).max() > 0.05
    assert any("backbone relaxed" in n for n in rep.notes)
    map_structure(villin / "aa.pdb", "ca", tmp_path / "ca.pdb")
    ca = backmap(tmp_path / "ca.pdb", "ca-protein", tmp_path / "ca_relaxed.pdb", optimize_backbone=False)
    assert any("backbone relaxed" in n for n in ca.notes)
    trace = mda.Universe(str(tmp_path / "ca.pdb")).atoms.positions
    out = mda.Universe(str(tmp_path / "ca_relaxed.pdb")).select_atoms("name CA").positions
    assert np.abs(out - trace).max() < 2e-3


def test_side_chains_fixed_by_default(villin, tmp_path):
    """Plain backmap of a Cα trace without the backbone optimisation opens the branches the network
    collapsed, corrects the centres it inverted and turns side chains out of clashes, as many as the
    note says; nothing else moves but those centres, branch atoms and side chains;
    --no-fix-side-chains leaves them and names them."""
    from herobm.refine.chirality import inverted_stereocentres
    from herobm.refine.clashes import clashing_side_chains

    map_structure(villin / "aa.pdb", "ca", tmp_path / "ca.pdb")
    kw = dict(optimize_backbone=False, relax_backbone=False)
    fixed = backmap(tmp_path / "ca.pdb", "ca-protein", tmp_path / "fixed.pdb", **kw)
    left = backmap(tmp_path / "ca.pdb", "ca-protein", tmp_path / "left.pdb", fix_side_chains=False, **kw)
    a, b = (mda.Universe(str(tmp_path / f)).atoms for f in ("fixed.pdb", "left.pdb"))
    assert list(a.names) == list(b.names)
    collapsed = {k: _collapsed(u.universe) for k, u in (("fixed", a), ("left", b))}
    inverted = {k: inverted_stereocentres(u.names, u.resindices, u.residues.resnames, u.positions.astype(float))
                for k, u in (("fixed", a), ("left", b))}
    assert collapsed["left"].any() and inverted["left"]  # this trace has both (see the test above)
    assert not collapsed["fixed"].any() and not inverted["fixed"]
    note = [n for n in fixed.notes if n.startswith("side chains of the network output")]
    assert len(note) == 1, fixed.notes
    assert f"{collapsed['left'].sum()} collapsed side-chain branch(es) opened" in note[0]
    # a collapsed THR / ILE Cβ may be inverted too: opening it at tetrahedral geometry rights it first
    corrected = re.search(r"(\d+) inverted stereocentre\(s\) corrected", note[0])
    assert (int(corrected.group(1)) if corrected else 0) <= len(inverted["left"])
    assert not any("collapsed in the network output" in n or "inverted in the network output" in n
                   for n in fixed.notes)
    assert any("collapsed in the network output" in n for n in left.notes)
    turned = re.search(r"(\d+) side chain\(s\) turned out of clashes", note[0])
    n_turned = int(turned.group(1)) if turned else 0
    # the unfixed run names the side chains in clashes (a note of its own), the fixed one none
    ref = mda.Universe(str(villin / "aa.pdb"))
    ref.guess_TopologyAttrs(to_guess=["bonds"])  # the real structure's bonds, onto the output's atoms by name
    index = {(a.resid, "CD1" if (a.resname, a.name) == ("ILE", "CD") else a.name): k for k, a in enumerate(b)}
    bonds = [(index[(p.resid, p.name)], index[(q.resid, q.name)]) for p, q in ref.bonds
             if (p.resid, p.name) in index and (q.resid, q.name) in index]
    # the trace has gaps (residues 65, 70 missing): the output ends chains in OXT where the reference goes on
    bonds += [(index[(a.resid, "OXT")], index[(a.resid, "C")]) for a in b if a.name == "OXT"]
    clashing = clashing_side_chains(b.names, b.resindices, b.residues.resnames, b.positions.astype(float), bonds,
                                    residue_id=b.residues.resids)
    clash_note = [n for n in left.notes if "in clashes (heavy atoms closer than 2 Å) in the network output" in n]
    assert clashing and n_turned >= 1  # this trace has some (Trp 64, Gln 66, Lys 73 in session 21)
    assert len(clash_note) == 1 and clash_note[0].startswith(f"{len(clashing)} side chain(s)"), (clashing, clash_note)
    assert clashing[0] in clash_note[0]
    assert not any("in clashes" in n for n in fixed.notes)
    moved = np.linalg.norm(a.positions - b.positions, axis=1) > 2e-3
    # at most the two children of each opened branch and each corrected centre, and the side chains
    # (beyond CB) the note says were turned out of clashes; no clash < 2 Å is left among them
    side = ~np.isin(a.names, ["N", "CA", "C", "O", "OXT", "CB"])
    assert 0 < moved.sum() <= 2 * collapsed["left"].sum() + len(inverted["left"]) + 10 * n_turned
    assert (moved & ~side).sum() <= len(inverted["left"])


@pytest.fixture(scope="module")
def cg_traj(tmp_path_factory):
    """Cobrotoxin (3 frames, all-atom TPR/TRR) mapped to a Martini 3 CG PDB + XTC."""
    d = tmp_path_factory.mktemp("traj")
    map_structure(TPR_xvf, "martini3", d / "cg.pdb", traj=[TRR_xvf], traj_out=d / "cg.xtc", selection="protein")
    return d


def test_cg_trajectory_to_multiframe_xtc(cg_traj):
    d = cg_traj
    rep = backmap(d / "cg.pdb", "martini3-protein", d / "aa.pdb", traj=str(d / "cg.xtc"), traj_out=d / "aa.xtc")
    u = mda.Universe(str(d / "aa.pdb"), str(d / "aa.xtc"))
    cg = mda.Universe(str(d / "cg.pdb"), str(d / "cg.xtc"))
    assert len(u.trajectory) == len(cg.trajectory) == rep.n_frames >= 2
    assert len(u.atoms) == rep.n_atoms
    firsts = [u.atoms.positions.copy() for _ in u.trajectory]
    assert not np.allclose(firsts[0], firsts[-1], atol=0.1)  # frames follow the CG frames
    # frame by frame close to the all-atom frames they came from
    aa = mda.Universe(TPR_xvf, TRR_xvf).select_atoms("protein and not name H*")
    for ts_aa, ts in zip(aa.universe.trajectory, u.trajectory):
        d_ca = aa.select_atoms("name CA").positions - u.select_atoms("name CA").positions
        assert np.sqrt((d_ca ** 2).sum(1).mean()) < 1.0


def test_workers_give_the_same_trajectory(cg_traj):
    d = cg_traj
    backmap(d / "cg.pdb", "martini3-protein", d / "w1.pdb", traj=str(d / "cg.xtc"), traj_out=d / "w1.dcd")
    backmap(d / "cg.pdb", "martini3-protein", d / "w2.pdb", traj=str(d / "cg.xtc"), traj_out=d / "w2.dcd", workers=2)
    a = mda.Universe(str(d / "w1.pdb"), str(d / "w1.dcd"))
    b = mda.Universe(str(d / "w2.pdb"), str(d / "w2.dcd"))
    for _ in zip(a.trajectory, b.trajectory):
        assert np.abs(a.atoms.positions - b.atoms.positions).max() < 1e-3


def test_yiip_membrane_keeps_every_molecule_and_atom(tmp_path):
    """YiiP (protein, POPE, POPG, zinc) mapped to Martini 3 and backmapped with the
    shipped models chosen automatically: same residues, same heavy atoms."""
    map_structure(GRO_MEMPROT, "martini3", tmp_path / "cg.gro")
    rep = backmap(tmp_path / "cg.gro", None, tmp_path / "aa.gro", strict=True)
    assert set(rep.models) == {"martini3-protein", "martini3-lipids"}
    ref = mda.Universe(GRO_MEMPROT)
    out = mda.Universe(str(tmp_path / "aa.gro"))
    heavy = ref.select_atoms("not name H* and not name DM*")  # ZNM's massless dummy sites are not atoms
    assert Counter(out.residues.resnames.tolist()) == Counter(
        ["ZN" if r == "ZNM" else r for r in ref.residues.resnames.tolist()])
    assert len(out.atoms) == len(heavy)
    # the ions keep their input residue ids (289-296)
    assert out.select_atoms("resname ZN").resids.tolist() == ref.select_atoms("name ZND").resids.tolist()
    for resname in ("POPE", "POPG"):
        assert len(out.select_atoms(f"resname {resname}")) == len(heavy.select_atoms(f"resname {resname}"))
    # lipids in place: every lipid's P within 1 Å of the original P
    p_out = out.select_atoms("name P").positions
    p_ref = heavy.select_atoms("name P").positions
    assert np.linalg.norm(p_out - p_ref, axis=1).max() < 1.0


def test_water_and_ions_by_rule(tmp_path):
    """Martini water beads become 4 waters, ion beads the ion; order follows the input."""
    u = mda.Universe.empty(5, n_residues=5, atom_resindex=np.arange(5), trajectory=True)
    u.add_TopologyAttr("names", ["W", "NA", "W", "CL", "SW"])
    u.add_TopologyAttr("resnames", ["W", "ION", "W", "CL", "SW"])
    u.add_TopologyAttr("resids", np.arange(1, 6))
    u.atoms.positions = np.array([[0, 0, 0], [10, 0, 0], [20, 0, 0], [30, 0, 0], [40, 0, 0]], dtype=float)
    u.dimensions = [60, 60, 60, 90, 90, 90]
    u.atoms.write(str(tmp_path / "solvent.gro"))
    rep = backmap(tmp_path / "solvent.gro", "martini3-protein", tmp_path / "aa.pdb")
    out = mda.Universe(str(tmp_path / "aa.pdb"))
    assert out.residues.resnames.tolist() == ["HOH"] * 4 + ["NA"] + ["HOH"] * 4 + ["CL"] + ["HOH"] * 3
    # ions keep their input residue ids, waters are numbered through
    assert out.residues.resids.tolist() == [1, 2, 3, 4, 2, 5, 6, 7, 8, 4, 9, 10, 11]
    o = out.select_atoms("resname HOH").positions[:4]
    d = np.linalg.norm(o[:, None] - o[None], axis=-1)[np.triu_indices(4, 1)]
    assert np.allclose(d, 2.8, atol=2e-3) and np.allclose(o.mean(0), 0, atol=2e-3)
    assert np.allclose(out.select_atoms("resname NA").positions, [[10, 0, 0]], atol=1e-3)
    assert rep.n_atoms == 13


# --- bad input: each a clear error naming what is wrong ------------------------------


def test_model_for_another_mapping_is_refused(villin, tmp_path):
    """Martini 3 beads given to the Cα model: an error naming the model and the input's beads."""
    with pytest.raises(InputError, match=r"no residue is covered by the model\(s\) ca-protein \(mapping set ca\).*BB"):
        backmap(villin / "cg.pdb", "ca-protein", tmp_path / "out.pdb")


def test_uncovered_molecule_strict_and_skipped(villin, tmp_path):
    """A protein CG given only the lipid model ... and a mixed input with one type uncovered."""
    cg = mda.Universe(str(villin / "cg.pdb"))
    ion = mda.Universe.empty(1, n_residues=1, atom_resindex=[0], trajectory=True)
    ion.add_TopologyAttr("names", ["XX1"])
    ion.add_TopologyAttr("resnames", ["LIG"])
    ion.add_TopologyAttr("resids", [99])
    ion.atoms.positions = [[0, 0, 0]]
    merged = mda.Merge(cg.atoms, ion.atoms)
    merged.atoms.write(str(tmp_path / "mixed.pdb"))
    with pytest.raises(InputError, match="no model covers: LIG \\(1 residue\\)"):
        backmap(tmp_path / "mixed.pdb", "martini3-protein", tmp_path / "out.pdb", strict=True)
    with pytest.warns(UserWarning, match="skipped molecule type\\(s\\) no model covers: LIG"):
        rep = backmap(tmp_path / "mixed.pdb", "martini3-protein", tmp_path / "out.pdb")
    assert len(mda.Universe(str(tmp_path / "out.pdb")).residues) == len(cg.residues)
    assert any("LIG" in n for n in rep.notes)


def test_nan_coordinates_name_the_frame_and_bead(cg_traj, tmp_path):
    u = mda.Universe(str(cg_traj / "cg.pdb"), str(cg_traj / "cg.xtc"))
    with mda.Writer(str(tmp_path / "nan.dcd"), len(u.atoms)) as w:
        for ts in u.trajectory:
            if ts.frame == 1:
                u.atoms[7].position = [np.nan, 0, 0]
            w.write(u.atoms)
    bead = u.atoms[7]
    with pytest.raises(InputError, match=f"frame 1: atom {bead.name} of residue {bead.resname} {bead.resid}"):
        backmap(cg_traj / "cg.pdb", "martini3-protein", tmp_path / "o.pdb", traj=str(tmp_path / "nan.dcd"),
                traj_out=tmp_path / "o.xtc")
    assert not (tmp_path / "o.xtc").exists()  # nothing half-written


def test_empty_trajectory_and_unknown_model(cg_traj, tmp_path):
    (tmp_path / "empty.xtc").write_bytes(b"")
    with pytest.raises(InputError, match="empty.xtc: file is empty"):
        backmap(cg_traj / "cg.pdb", "martini3-protein", tmp_path / "o.pdb", traj=str(tmp_path / "empty.xtc"))
    result = CliRunner().invoke(main, ["backmap", str(cg_traj / "cg.pdb"), "-o", str(tmp_path / "o.pdb"),
                                       "--model", "no-such.pt"])
    assert result.exit_code != 0 and "no-such.pt: no such checkpoint file" in result.output
    assert "Traceback" not in result.output


def test_residue_split_across_the_box_is_made_whole(villin, tmp_path):
    """A side-chain bead wrapped to the other side of the box gives the same atoms."""
    u = mda.Universe(str(villin / "cg.pdb"))
    u.dimensions = [80, 80, 80, 90, 90, 90]
    u.atoms.write(str(tmp_path / "whole.pdb"))
    sc = u.select_atoms("name SC1")[5]
    sc.position = sc.position + np.array([80.0, 0.0, 0.0])
    u.atoms.write(str(tmp_path / "split.pdb"))
    backmap(tmp_path / "whole.pdb", "martini3-protein", tmp_path / "a.pdb")
    backmap(tmp_path / "split.pdb", "martini3-protein", tmp_path / "b.pdb")
    a = mda.Universe(str(tmp_path / "a.pdb")).atoms.positions
    b = mda.Universe(str(tmp_path / "b.pdb")).atoms.positions
    assert np.abs(a - b).max() < 2e-3


def test_chain_split_across_the_box_stays_one_chain(villin, tmp_path):
    """Half of the chain wrapped to the other side of the box: still linked (no extra
    termini) and rebuilt as one whole chain, equal to the unwrapped input's output."""
    u = mda.Universe(str(villin / "cg.pdb"))
    u.dimensions = [80, 80, 80, 90, 90, 90]
    u.atoms.write(str(tmp_path / "whole.pdb"))
    half = u.residues[len(u.residues) // 2:].atoms
    half.positions = half.positions + np.array([0.0, 80.0, 0.0])
    u.atoms.write(str(tmp_path / "split.pdb"))
    backmap(tmp_path / "whole.pdb", "martini3-protein", tmp_path / "a.pdb")
    backmap(tmp_path / "split.pdb", "martini3-protein", tmp_path / "b.pdb")
    a = mda.Universe(str(tmp_path / "a.pdb")).atoms
    b = mda.Universe(str(tmp_path / "b.pdb")).atoms
    assert len(a) == len(b) and "OXT" not in a.names[:-20] and list(b.names) == list(a.names)
    assert np.abs(a.positions - b.positions).max() < 2e-3


def test_cli_defaults_are_the_library_defaults():
    """The CLI keeps torch out of its imports, so it repeats library defaults as literals:
    they must stay the library's."""
    from herobm.backmap import DEFAULT_RESTRAINT, RefineOptions

    params = {p.name: p.default for p in main.commands["backmap"].params}
    for flag in ("relax_backbone", "fix_side_chains"):
        assert params[flag] is inspect.signature(backmap).parameters[flag].default
    # RAW_OUTPUT turns off exactly the steps a plain run takes after the network
    sig = inspect.signature(backmap).parameters
    assert all(sig[k].default is not False and v is False for k, v in RAW_OUTPUT.items())
    assert params["restraint"] == DEFAULT_RESTRAINT
    assert params["tolerance"] == RefineOptions().tolerance and params["ph"] == RefineOptions().ph
