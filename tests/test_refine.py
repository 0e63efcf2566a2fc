"""Refinement: hydrogens (pdbfixer + force-field templates), minimisation (OpenMM Amber14),
backbone optimisation (torch), on real structures from MDAnalysisTests and OpenMM."""

import os
import time
import warnings

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysisTests.datafiles import PDB_helix, PDB_sub_dry

openmm = pytest.importorskip("openmm")
pytest.importorskip("pdbfixer")
from openmm import app  # noqa: E402

from herobm import InputError, load_mapping_set, map_structure  # noqa: E402
from herobm.backmap import aa_universe  # noqa: E402
from herobm.cg_system import map_beads  # noqa: E402
from herobm.refine import (  # noqa: E402
    RefinementWarning,
    add_hydrogens,
    backbone_indices,
    backbone_report,
    carbonyl_directions,
    minimize,
    optimize_backbone,
    read_structure,
    refine_frame,
    refine_structure,
    select_platform,
    write_structure,
)
from herobm.refine.openmm_platform import platform_order  # noqa: E402

LIPIDS = os.path.join(os.path.dirname(app.__file__), "data", "POPC.pdb")


def heavy_pdb(tmp_path, source, name, selection="protein and not name H*"):
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mda.Universe(source).select_atoms(selection).write(str(path))
    return path


def n_h(topology, residue=None):
    return sum(1 for a in topology.atoms() if a.element.symbol == "H" and (residue is None or a.residue is residue))


@pytest.fixture(scope="module")
def helix(tmp_path_factory):
    """PDB_helix (Ala6-Pro-Ala6) heavy atoms with its hydrogens added once."""
    tmp = tmp_path_factory.mktemp("helix")
    path = heavy_pdb(tmp, PDB_helix, "helix_heavy.pdb")
    t0 = time.perf_counter()
    prot = add_hydrogens(path)
    prot.seconds = time.perf_counter() - t0
    return path, prot


# ------------------------------------------------------------------ platform


def test_platform_order_prefers_gpu():
    assert platform_order(["Reference", "CPU", "OpenCL", "CUDA"]) == ["CUDA", "CPU", "Reference"]
    assert platform_order(["Reference", "CPU"]) == ["CPU", "Reference"]
    assert platform_order(["Reference", "CPU", "CUDA"], "cpu") == ["CPU"]
    with pytest.raises(InputError, match="CUDA"):
        platform_order(["Reference", "CPU"], "CUDA")


def test_auto_platform_is_cuda_when_usable_else_cpu():
    from herobm.refine.openmm_platform import _available, _usable

    expected = "CUDA" if "CUDA" in _available() and _usable("CUDA") else "CPU"
    assert select_platform("auto").getName() == expected


# ------------------------------------------------------------------ hydrogens + minimisation


def test_protein_hydrogens_accepted_by_amber14(helix):
    path, prot = helix
    original = mda.Universe(PDB_helix).select_atoms("protein")
    assert prot.topology.getNumAtoms() == len(original)  # 137: every hydrogen back, nothing else
    assert prot.n_hydrogens_added == len(original.select_atoms("name H*"))
    assert not prot.no_hydrogens and not prot.no_template and not prot.added_heavy
    app.ForceField("amber14-all.xml").createSystem(prot.topology)  # no edits needed
    # heavy atoms untouched
    heavy = read_structure(path).positions
    mask = np.array([a.element.symbol != "H" for a in prot.topology.atoms()])
    assert np.abs(prot.positions[mask] - heavy).max() < 1e-6
    # N-terminus NH3+, C-terminus COO-
    res = list(prot.topology.residues())
    assert {a.name for a in res[0].atoms()} >= {"H1", "H2", "H3"} or n_h(prot.topology, res[0]) == 3 + 1 + 3
    assert "OXT" in {a.name for a in res[-1].atoms()}


def test_minimize_protein_to_tolerance(helix):
    _, prot = helix
    m = minimize(prot.topology, prot.positions, tolerance=500.0)
    assert m.platform == select_platform().getName()
    assert np.isfinite(m.energy_after) and m.energy_after < m.energy_before
    assert m.rms_force <= 500.0 * 1.01
    assert m.heavy_rmsd < 0.3
    print(f"\nPDB_helix: H {prot.seconds:.2f} s; {m.summary()}")


def test_minimisation_that_stops_early_is_restarted_then_reported(helix):
    """Three L-BFGS iterations cannot reach 100 kJ/mol/nm from a shaken structure: the
    minimiser starts again (heavy atoms restrained first), and when that stops early too the
    user is told the RMS force reached, not handed a silently strained structure."""
    from herobm.refine.minimize import RefinementWarning

    _, prot = helix
    shaken = prot.positions + np.random.default_rng(0).normal(scale=0.3, size=prot.positions.shape)
    with pytest.warns(RefinementWarning, match=r"minimisation stopped at RMS force [\d.e+]+ kJ/mol/nm \(asked: 100\)"):
        m = minimize(prot.topology, shaken, tolerance=100.0, max_iterations=3)
    assert m.rms_force > 200.0 and np.isfinite(m.energy_after)


def test_restrained_minimum_is_converged_though_the_force_field_pulls(helix):
    """Heavy atoms shaken by 0.3 Å and held near there (1e5 kJ/mol/nm², as `herobm backmap
    --minimize` does): the minimiser reaches the tolerance on the force it sees (force field +
    restraint), while the force field alone still pulls at more than twice the tolerance against
    the restraint. That is a converged minimisation: no restart, no warning; both forces reported."""
    import warnings as w

    from herobm.refine.minimize import RefinementWarning

    _, prot = helix
    heavy = np.array([a.element.symbol != "H" for a in prot.topology.atoms()])
    x = prot.positions.copy()
    x[heavy] += np.random.default_rng(1).normal(scale=0.3, size=(heavy.sum(), 3))
    with w.catch_warnings():
        w.simplefilter("error", RefinementWarning)
        m = minimize(prot.topology, x, tolerance=500.0, restraint=1e5)
    assert m.rms_force_restrained <= 500.0 * 1.01 and m.rms_force > 2 * 500.0
    assert f"({m.rms_force_restrained:.3g} with the heavy-atom restraint)" in m.summary()
    assert minimize(prot.topology, x, tolerance=500.0).rms_force_restrained is None


def test_protonation_names_disulfides_and_missing_atoms(tmp_path):
    """Cobrotoxin (62 residues, 4 S-S bonds): HSE keeps its tautomer, ASPP its proton,
    a removed side-chain atom comes back, and Amber14 takes the result as it is."""
    u = mda.Universe(PDB_sub_dry)
    prot_atoms = u.select_atoms("protein and not name H*")
    his = [r for r in prot_atoms.residues if r.resname == "HIS"]
    asp = [r for r in prot_atoms.residues if r.resname == "ASP"]
    his[0].resname = "HSE"
    asp[0].resname = "ASPP"
    keep = prot_atoms.select_atoms(f"not (resid {int(asp[0].resid)} and name CG)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keep.write(str(tmp_path / "cbt.pdb"))
    t0 = time.perf_counter()
    prot = add_hydrogens(tmp_path / "cbt.pdb")
    t_h = time.perf_counter() - t0
    res = list(prot.topology.residues())
    names = {r.index: {a.name for a in r.atoms()} for r in res}
    h = next(r for r in res if r.id == str(his[0].resid))
    assert "HE2" in names[h.index] and "HD1" not in names[h.index]
    a = next(r for r in res if r.id == str(asp[0].resid))
    assert "CG" in names[a.index] and "HD2" in names[a.index]
    assert any("CG" in names for _, names in prot.added_heavy)
    ss = [b for b in prot.topology.bonds() if b[0].name == "SG" and b[1].name == "SG"]
    assert len(ss) == 4
    assert prot.variants.count("CYX") == 8
    app.ForceField("amber14-all.xml").createSystem(prot.topology)
    m = minimize(prot.topology, prot.positions)
    assert m.energy_after < m.energy_before and m.heavy_rmsd < 0.3
    print(f"\ncobrotoxin: H {t_h:.2f} s; {m.summary()}")


def test_chain_break_gets_two_termini(tmp_path):
    """A residue removed from the middle of the helix: two chains, each with its own
    termini (OXT added, NH3+), not a 6 Å peptide bond."""
    path = heavy_pdb(tmp_path, PDB_helix, "gap.pdb", "protein and not name H* and not resid 7")
    prot = add_hydrogens(path)
    assert prot.topology.getNumChains() == 2 and prot.chain_breaks
    assert sum(names.count("OXT") for _, names in prot.added_heavy) == 1  # on the residue before the gap
    app.ForceField("amber14-all.xml").createSystem(prot.topology)


def lipid_patch(tmp_path, n=2):
    """The first ``n`` lipids of OpenMM's POPC patch as heavy atoms, 4-letter names, no CONECT."""
    pdb = app.PDBFile(LIPIDS)
    m = app.Modeller(pdb.topology, pdb.positions)
    res = list(m.topology.residues())
    m.delete(res[n:])
    n_all = m.topology.getNumAtoms()
    m.delete([a for a in m.topology.atoms() if a.element.symbol == "H"])
    for k, r in enumerate(m.topology.residues()):
        r.name = "POPC" if k else "POP"  # the alias CHARMM-GUI/GROMACS files use, and the template name
    from herobm.refine.topology import to_angstrom

    write_structure(tmp_path / "tmp.pdb", m.topology, to_angstrom(m.positions))
    text = "\n".join(line for line in open(tmp_path / "tmp.pdb").read().splitlines() if not line.startswith("CONECT"))
    return text + "\n", n_all


def test_hydrogens_are_the_same_every_run(tmp_path):
    """Modeller minimises the hydrogens it adds; on the multithreaded CPU platform that gave
    hydrogens up to 0.5 Å apart from run to run (adenylate kinase). Same input, same output."""
    from MDAnalysisTests.datafiles import PDB_small

    path = heavy_pdb(tmp_path, PDB_small, "adk_heavy.pdb")
    a, b = (add_hydrogens(path).positions for _ in range(2))
    assert a.shape == b.shape and np.array_equal(a, b)


def test_lipid_hydrogens_and_minimisation(tmp_path):
    text, n_all = lipid_patch(tmp_path)
    t0 = time.perf_counter()
    prot = add_hydrogens(text)
    t_h = time.perf_counter() - t0
    assert prot.topology.getNumAtoms() == n_all  # 2 x 134: every hydrogen back
    assert all(n_h(prot.topology, r) == 82 for r in prot.topology.residues())
    assert [r.name for r in prot.topology.residues()] == ["POP", "POPC"]
    m = minimize(prot.topology, prot.positions)
    assert np.isfinite(m.energy_after) and m.energy_after < m.energy_before
    assert m.heavy_rmsd < 0.3 and not m.fixed
    print(f"\nPOPC x2: H {t_h:.2f} s; {m.summary()}")


def _two_waters(gap: float):
    """Two TIP3P waters in a 30 Å cubic box whose oxygens are ``gap`` Å apart across the x
    boundary (and 30 - ``gap`` Å apart in plain space)."""
    from openmm.app.element import hydrogen, oxygen

    top = app.Topology()
    chain = top.addChain()
    pos = []
    for k, ox in enumerate((0.5, 30.5 - gap)):
        res = top.addResidue("HOH", chain)
        o = top.addAtom("O", oxygen, res)
        top.addBond(o, top.addAtom("H1", hydrogen, res))
        top.addBond(o, top.addAtom("H2", hydrogen, res))
        hy = 0.9572 * np.sin(np.radians(104.52 / 2))
        hz = 0.9572 * np.cos(np.radians(104.52 / 2))
        pos += [[ox, 15.0, 15.0], [ox, 15.0 + hy, 15.0 + hz], [ox, 15.0 - hy, 15.0 + hz]]
    return top, np.array(pos)


def test_minimisation_with_a_box_separates_molecules_across_the_boundary():
    """Molecules that touch only through the periodic boundary (lipids at the edge of a
    membrane patch) are pushed apart when the input's box is given, not without it."""
    top, x = _two_waters(1.6)
    free = minimize(top, x, tolerance=10.0)
    assert np.abs(free.positions - x).max() < 0.05  # 28.4 Å apart: nothing to do
    top, x = _two_waters(1.6)
    m = minimize(top, x, tolerance=10.0, box=[30.0, 30.0, 30.0, 90.0, 90.0, 90.0])
    gap = 30.0 - (m.positions[3, 0] - m.positions[0, 0])
    assert gap > 2.4 and top.getPeriodicBoxVectors() is not None


@pytest.mark.parametrize("box, widths", [
    ([102.845, 102.845, 132.187, 90.0, 90.0, 120.0], (10.2845, 8.9066, 13.2187)),  # hexagonal membrane box
    ([80.017, 80.017, 80.017, 60.0, 60.0, 90.0], (8.0017, 8.0017, 5.6580)),  # rhombic dodecahedron (adk_open.pdb)
])
def test_periodic_box_vectors_are_openmm_reduced(box, widths):
    from herobm.refine.minimize import periodic_box_vectors

    v = periodic_box_vectors(box, 1.0)
    assert np.allclose(np.diag(v), widths, atol=1e-3) and v[0, 1] == v[0, 2] == v[1, 2] == 0
    assert v[0, 0] >= 2 * abs(v[1, 0]) - 1e-9 and v[0, 0] >= 2 * abs(v[2, 0]) - 1e-9 and v[1, 1] >= 2 * abs(v[2, 1]) - 1e-9
    assert periodic_box_vectors([1.0, 1.0, 1.0, 90.0, 90.0, 90.0], 1.0) is None  # PDB placeholder cell
    assert periodic_box_vectors([15.0, 40.0, 40.0, 90.0, 90.0, 90.0], 1.0) is None  # narrower than 2 cutoffs
    assert periodic_box_vectors(None, 1.0) is None


LIGAND = (
    "HETATM 9001  C1  XYZ X 900      20.000  20.000  20.000  1.00  0.00           C\n"
    "HETATM 9002  O1  XYZ X 900      21.200  20.000  20.000  1.00  0.00           O\n"
    "HETATM 9003  N1  XYZ X 900      19.300  21.100  20.000  1.00  0.00           N\n"
)


def test_residue_without_template_is_kept_in_place_and_named(tmp_path):
    path = heavy_pdb(tmp_path, PDB_helix, "h.pdb")
    text = open(path).read().replace("END", LIGAND + "END")
    with pytest.warns(RefinementWarning, match=r"XYZ 900"):
        prot = add_hydrogens(text)
    assert prot.no_template == ["XYZ 900 (chain X)"] and prot.no_hydrogens == ["XYZ 900 (chain X)"]
    lig = [a.index for a in prot.topology.atoms() if a.residue.name == "XYZ"]
    assert len(lig) == 3
    with pytest.warns(RefinementWarning, match=r"held fixed in place: XYZ 900"):
        m = minimize(prot.topology, prot.positions)
    assert m.fixed == ["XYZ 900 (chain X)"]
    assert np.abs(m.positions[lig] - prot.positions[lig]).max() < 1e-6
    assert np.isfinite(m.energy_after) and m.energy_after < m.energy_before
    write_structure(tmp_path / "out.pdb", prot.topology, m.positions)
    assert "XYZ" in open(tmp_path / "out.pdb").read()
    with pytest.raises(InputError, match="XYZ 900"):
        add_hydrogens(text, strict=True)


def test_four_letter_residue_names_survive_writing(tmp_path):
    text, _ = lipid_patch(tmp_path, n=1)
    st = read_structure(text)
    write_structure(tmp_path / "o.pdb", st.topology, st.positions)
    assert [r.name for r in app.PDBFile(str(tmp_path / "o.pdb")).topology.residues()] == ["POP"]
    for r in st.topology.residues():
        r.name = "POPC"
    write_structure(tmp_path / "o.pdb", st.topology, st.positions)
    assert [r.name for r in app.PDBFile(str(tmp_path / "o.pdb")).topology.residues()] == ["POPC"]
    write_structure(tmp_path / "o.cif", st.topology, st.positions)
    assert [r.name for r in app.PDBxFile(str(tmp_path / "o.cif")).topology.residues()] == ["POPC"]


# ------------------------------------------------------------------ backbone


def helix_backbone():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        heavy = mda.Universe(PDB_helix).select_atoms("protein and not name H*")
    x = heavy.positions.astype(np.float64)
    idx = backbone_indices(heavy.names, heavy.resindices - heavy.resindices.min())
    nxt = np.r_[np.arange(1, len(idx)), -1]
    return x, idx, nxt, heavy.residues.resnames


def geometry_errors(rep):
    ideal_b = {"n_ca": 1.458, "ca_c": 1.525, "c_o": 1.231, "c_n": 1.329}
    ideal_a = {"n_ca_c": 111.2, "ca_c_n": 116.2, "c_n_ca": 121.7, "ca_c_o": 120.1, "o_c_n": 122.7}
    bond = max(np.nanmax(np.abs(rep[k] - v)) for k, v in ideal_b.items())
    angle = max(np.nanmax(np.abs(rep[k] - v)) for k, v in ideal_a.items())
    omega = np.nanmax(180 - np.abs(rep["omega"]))
    return bond, angle, omega


def dihedral_rms(rep, true):
    out = []
    for k in ("phi", "psi"):
        d = (rep[k] - true[k] + 180) % 360 - 180
        out.append(np.sqrt(np.nanmean(d**2)))
    return max(out)


def test_backbone_geometry_and_targets_from_noisy_atoms():
    x, idx, nxt, names = helix_backbone()
    true = backbone_report(x, idx, nxt)
    rng = np.random.default_rng(0)
    noisy = x.copy()
    moved = np.concatenate([idx[idx[:, k] >= 0, k] for k in (0, 2, 3, 4)])
    noisy[moved] += rng.normal(0.0, 0.3, (len(moved), 3))
    b0, a0, w0 = geometry_errors(backbone_report(noisy, idx, nxt))
    assert b0 > 0.4 and a0 > 20 and w0 > 30  # the noise is real
    t0 = time.perf_counter()
    y = optimize_backbone(noisy, idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3], nxt, oxt=idx[:, 4], resnames=names)
    t_geo = time.perf_counter() - t0
    b1, a1, w1 = geometry_errors(backbone_report(y, idx, nxt))
    assert b1 < 0.03 and a1 < 3.5 and w1 < 8.0
    fixed = np.setdiff1d(np.arange(len(x)), moved)  # Cα and side chains never move
    assert np.array_equal(y[fixed], noisy[fixed])
    # with the true φ/ψ as targets, φ/ψ come back
    t0 = time.perf_counter()
    z = optimize_backbone(
        noisy, idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3], nxt, np.radians(true["phi"]), np.radians(true["psi"]),
        oxt=idx[:, 4], resnames=names,
    )
    t_dih = time.perf_counter() - t0
    rep = backbone_report(z, idx, nxt)
    b2, a2, w2 = geometry_errors(rep)
    e0, e1, e2 = dihedral_rms(backbone_report(noisy, idx, nxt), true), dihedral_rms(backbone_report(y, idx, nxt), true), dihedral_rms(rep, true)
    assert e2 < 5.0 and e2 < e1 < e0
    assert b2 < 0.03 and a2 < 3.5 and w2 < 8.0
    print(f"\nbackbone (13 res): geometry {t_geo:.2f} s, with targets {t_dih:.2f} s; "
          f"phi/psi RMS error noisy {e0:.1f}, geometry only {e1:.1f}, targets {e2:.1f} deg")


def test_planes_fitted_to_the_input_break_ties_with_the_targets():
    """φ/ψ targets 60° off the true ones, atoms at the truth: the result lies between the two,
    nearer the truth the more the fitted planes weigh (0: the targets alone)."""
    x, idx, nxt, names = helix_backbone()
    true = backbone_report(x, idx, nxt)
    off = np.radians(60.0)
    phi, psi = np.radians(true["phi"]) + off, np.radians(true["psi"]) - off
    y = optimize_backbone(x, idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3], nxt, oxt=idx[:, 4], resnames=names)
    err = {"no targets": dihedral_rms(backbone_report(y, idx, nxt), true)}  # ideal geometry alone moves φ/ψ a little
    for w in (0.0, 3.0, 1000.0):
        y = optimize_backbone(x, idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3], nxt, phi, psi, oxt=idx[:, 4],
                              resnames=names, plane_fit_weight=w)
        err[w] = dihedral_rms(backbone_report(y, idx, nxt), true)
        assert geometry_errors(backbone_report(y, idx, nxt))[0] < 0.03
    assert err[1000.0] < err["no targets"] + 1.0 < err[3.0] < err[0.0]
    assert err[0.0] > 40.0  # the targets alone win
    print(f"\nphi/psi RMS error from the truth, targets 60 deg off: {err}")


def test_carbonyl_direction_from_ca_trace():
    for source, min_cos in ((PDB_helix, 0.9), (PDB_sub_dry, 0.6)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            heavy = mda.Universe(source).select_atoms("protein and not name H*")
        x = heavy.positions.astype(np.float64)
        idx = backbone_indices(heavy.names, heavy.resindices - heavy.resindices.min())
        nxt = np.r_[np.arange(1, len(idx)), -1]
        d = carbonyl_directions(x[idx[:, 1]], nxt)
        ok = np.isfinite(d).all(1) & (idx[:, 3] >= 0)
        co = x[idx[ok, 3]] - x[idx[ok, 2]]
        axis = x[idx[nxt[ok], 1]] - x[idx[ok, 1]]
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        co -= (co * axis).sum(1, keepdims=True) * axis
        co /= np.linalg.norm(co, axis=1, keepdims=True)
        assert (co * d[ok]).sum(1).mean() > min_cos
    # a missing O is placed from its peptide plane, and the plane stays ideal
    x, idx, nxt, names = helix_backbone()
    gone = x.copy()
    gone[idx[:-1, 3]] = np.nan
    y = optimize_backbone(gone, idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3], nxt, oxt=idx[:, 4])
    assert np.isfinite(y).all()
    assert np.median(np.linalg.norm(y[idx[:-1, 3]] - x[idx[:-1, 3]], axis=1)) < 0.4
    # o_init="ca": every unit turned so that its C=O lies along the Cα-trace direction
    y = optimize_backbone(x, idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3], nxt, oxt=idx[:, 4], o_init="ca")
    d = carbonyl_directions(x[idx[:, 1]], nxt)
    ok = np.isfinite(d).all(1)
    co = y[idx[ok, 3]] - y[idx[ok, 2]]
    axis = x[idx[nxt[ok], 1]] - x[idx[ok, 1]]
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    co -= (co * axis).sum(1, keepdims=True) * axis
    assert np.median((co / np.linalg.norm(co, axis=1, keepdims=True) * d[ok]).sum(1)) > 0.95


# ------------------------------------------------------------------ a backmapped frame


def test_refine_frame_from_bead_system(tmp_path):
    """CG file -> BeadSystem -> (true heavy positions) -> backbone, hydrogens, minimisation."""
    mset = load_mapping_set("martini3")
    path = heavy_pdb(tmp_path, PDB_helix, "aa.pdb")
    map_structure(path, mset, tmp_path / "cg.pdb")
    system, _ = map_beads(mda.Universe(str(tmp_path / "cg.pdb")).atoms, mset)
    aa = mda.Universe(str(path))
    pos = np.zeros((system.n_atoms, 3))
    for k, (r, name) in enumerate(zip(system.atom_residue, system.atom_name)):
        m = next(x for x in mset.molecules if x.name == system.residue_molecule[r])
        names = m.atoms[m.atom_index(name)].names
        pos[k] = next(a.position for a in aa.residues[r].atoms if a.name in names)
    idx = backbone_indices(system.atom_name, system.atom_residue)
    true = backbone_report(pos, idx, system.residue_next)
    phi_psi = np.radians(np.stack([true["phi"], true["psi"]], 1))
    report = refine_frame(system, pos, phi_psi, output=tmp_path / "refined.pdb")
    assert report.minimized.energy_after < report.minimized.energy_before
    assert report.minimized.heavy_rmsd < 0.3
    # heavy atoms restrained (herobm backmap's default, 1e5 kJ/mol/nm²): they move less
    held = refine_frame(system, pos, phi_psi, restraint=1e5)
    assert held.minimized.energy_after < held.minimized.energy_before
    assert held.minimized.heavy_rmsd < 0.8 * report.minimized.heavy_rmsd  # measured 0.032 vs 0.051 Å
    out = app.PDBFile(str(tmp_path / "refined.pdb"))
    assert out.topology.getNumAtoms() == 137
    app.ForceField("amber14-all.xml").createSystem(out.topology)
    print("\n" + report.summary())
    # the same frame as `herobm backmap` writes it (MDAnalysis PDB), refined from the file
    u = aa_universe(system)
    u.atoms.positions = pos
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.atoms.write(str(tmp_path / "backmapped.pdb"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefinementWarning)
        again = refine_structure(tmp_path / "backmapped.pdb", tmp_path / "refined2.pdb")
    assert again.topology.getNumAtoms() == 137 and again.minimized.heavy_rmsd < 0.3
