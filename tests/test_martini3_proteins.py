"""The protein part of the shipped ``martini3`` set (scripts/make_martini3_proteins.py).

* Bead positions agree with martinize2's (tests/data/adk_open_martinize2.pdb, made by
  scripts/make_martinize2_reference.sh) bead by bead. The remaining difference is PDB
  rounding and the masses: martinize2 weighs H/C/N/O/S as 1/12/14/16/32, herobm uses
  MDAnalysis's masses (measured: RMS 0.0008 Å, max 0.0017 Å).
* ``check_mapping`` passes (nothing unmapped, nothing missing, exact oracle round trip)
  on every protein structure of MDAnalysisTests whose heavy atoms are complete.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import MDAnalysis as mda
import MDAnalysisTests.datafiles as data
import numpy as np
import pytest

from herobm import check_mapping, load_mapping_set, map_structure
from herobm.mapping import bead_key

REFERENCE = Path(__file__).parent / "data" / "adk_open_martinize2.pdb"

AMINO_ACIDS = (
    "ALA ARG ASN ASP CYS GLN GLU GLY HSD ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL "
    "HSE HSP CYX ASPP GLUP LYN ACE NME"
).split()
VARIANTS = {"HSE": "HSD", "HSP": "HSD", "CYX": "CYS", "ASPP": "ASP", "GLUP": "GLU", "LYN": "LYS"}


@pytest.fixture(scope="module")
def martini3():
    return load_mapping_set("martini3")


# --------------------------------------------------------------------- martinize2
def test_beads_match_martinize2(tmp_path, martini3):
    out = tmp_path / "adk_cg.pdb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = map_structure(data.PDB_small, martini3, out, strict=True)
        ours, ref = mda.Universe(str(out)), mda.Universe(str(REFERENCE))
    assert not report.issues
    assert len(ours.atoms) == len(ref.atoms) == 476
    assert list(ours.atoms.names) == list(ref.atoms.names)
    assert list(ours.atoms.resnames) == list(ref.atoms.resnames)
    assert list(ours.atoms.resids) == list(ref.atoms.resids)
    d = np.linalg.norm(ours.atoms.positions - ref.atoms.positions, axis=1)
    rms = float(np.sqrt(np.mean(d**2)))
    assert rms < 0.005, f"RMS {rms:.4f} A, worst bead {ref.atoms[int(np.argmax(d))]}"
    assert d.max() < 0.01, f"max {d.max():.4f} A at {ref.atoms[int(np.argmax(d))]}"


# ------------------------------------------------------------------ the set itself
def test_protein_molecules_and_shared_types(martini3):
    by_name = {m.name: m for m in martini3.molecules}
    assert set(AMINO_ACIDS) <= set(by_name)
    for variant, parent in VARIANTS.items():
        v, p = by_name[variant], by_name[parent]
        assert v.beads == p.beads
        for bead in v.beads:
            assert martini3.bead_types[bead_key(variant, bead)] == martini3.bead_types[bead_key(parent, bead)]
            # a shared type means the same network outputs: the same atom in every slot
            assert [(v.atoms[s.atom].names, s.level, s.anchor) for s in v.slots[bead]] == [
                (p.atoms[s.atom].names, s.level, s.anchor) for s in p.slots[bead]
            ], (variant, bead)
    assert martini3.weighting == "mass"


@pytest.mark.parametrize("name", AMINO_ACIDS[:-2])
def test_backbone_hierarchy(martini3, name):
    m = next(m for m in martini3.molecules if m.name == name)
    index = {line.names[0]: i for i, line in enumerate(m.atoms)}
    lab = {a: m.label(index[a], "BB") for a in ("CA", "N", "C", "O", "OXT")}
    assert lab["CA"].level == 1
    assert (lab["N"].level, lab["N"].anchor) == (2, lab["CA"].id)
    assert (lab["C"].level, lab["C"].anchor) == (2, lab["CA"].id)
    assert (lab["O"].level, lab["O"].anchor) == (3, lab["C"].id)
    assert (lab["OXT"].level, lab["OXT"].anchor) == (3, lab["C"].id)
    assert m.atoms[index["OXT"]].optional and not m.atoms[index["O"]].optional
    for line in m.atoms:  # heavy atoms rebuilt in every bead they are in, hydrogens never
        heavy = not line.names[0].lstrip("0123456789").startswith("H")
        assert all((b.label is not None) == heavy for b in line.beads), line


HIS_BASE = "N H CA HA CB HB2 HB3 CG ND1 CE1 NE2 CD2 HD2 HE1 C O".split()


@pytest.mark.parametrize(
    "extra, expected", [([], "HSD"), (["HD1"], "HSD"), (["HE2"], "HSE"), (["HD1", "HE2"], "HSP")]
)
def test_histidine_protonation_by_atoms(martini3, extra, expected):
    match = martini3.match("HIS", HIS_BASE + extra)
    assert match.molecule.name == expected
    assert not match.unmapped and not match.missing_required


@pytest.mark.parametrize(
    "resname, names, expected",
    [
        ("ASP", "N H CA HA CB HB2 HB3 CG OD1 OD2 HD2 C O", "ASPP"),  # protonated, named ASP
        ("ASP", "N H CA HA CB HB2 HB3 CG OD1 OD2 C O", "ASP"),
        ("GLU", "N H CA CB CG CD OE1 OE2 HE2 C O", "GLUP"),
        ("CYS", "N HN CA CB SG C OT1 OT2", "CYS"),  # CHARMM C terminus
        ("CYS2", "N H CA CB SG C O1 O2", "CYX"),  # GROMACS C terminus
        ("PRO", "N H2 H3 CD CA CB CG C O", "PRO"),  # AMBER N-terminal proline
        ("PRO", "N HN1 HN2 CD CA CB CG C O", "PRO"),  # CHARMM PROP
        ("ILE", "N H CA CB CG1 CG2 CD1 HD11 HD12 HD13 HG12 HG13 C O", "ILE"),  # AMBER
        ("ILE", "N HN CA CB CG1 CG2 CD HD1 HD2 HD3 HG11 HG12 C O", "ILE"),  # CHARMM
        ("LEU", "N H1 H2 H3 CA CB CG CD1 CD2 1HD1 2HD1 3HD1 HB1 HB2 C O", "LEU"),  # GROMACS PDB
    ],
)
def test_naming_conventions(martini3, resname, names, expected):
    match = martini3.match(resname, names.split())
    assert match.molecule.name == expected
    assert not match.unmapped, match.unmapped
    assert not match.missing_required, match.missing_required


# ---------------------------------------------------------- real structures (check)
FIRST_ALTLOC = "protein and not altloc B C D"


# (topology, trajectory or None, selection); all from MDAnalysisTests, first frame
STRUCTURES = {
    # adenylate kinase, CHARMM (HSD / HSE), several readers
    "PDB_small": ("PDB_small", None, "protein"),
    "PDB_closed": ("PDB_closed", None, "protein"),
    "PSF+DCD": ("PSF", "DCD", "protein"),
    "PSF_NAMD_GBIS+DCD": ("PSF_NAMD_GBIS", "DCD_NAMD_GBIS", "protein"),
    "CRD": ("CRD", None, "protein"),
    "PQR": ("PQR", None, "protein"),
    "DMS": ("DMS", None, "protein"),
    # adenylate kinase, OPLS-AA names (H, HB1/HB2, O1/O2) in water
    "GRO": ("GRO", None, "protein"),
    # lysozyme 2lyz, GROMACS (LYSH, HISA, CYS2, O1/O2) and a newer run (HIS, CYS)
    "TPR2016": ("TPR2016", None, "protein"),
    "AUX_EDR_TPR": ("AUX_EDR_TPR", None, "protein"),
    # cobrotoxin: GROMACS run (TPR) and its PDB export with old-PDB names (1HD1, 1HG2)
    "TPR_xvf": ("TPR_xvf", None, "protein"),
    "PDB_sub_sol": ("PDB_sub_sol", None, "protein"),
    "PDB_sub_dry": ("PDB_sub_dry", None, "protein"),
    # amyloid-beta with an ACE cap (GROMACS)
    "TPR460": ("TPR460", None, "protein"),
    "TPR_NNPOT_2025_0": ("TPR_NNPOT_2025_0", None, "protein"),
    # AMBER (LEaP names: HB2/HB3, H1-H3, OXT; HIE; ACE/NME caps)
    "PRM+TRJ": ("PRM", "TRJ", "protein"),
    "PRMncdf+NCDF": ("PRMncdf", "NCDF", "protein"),
    "PRMpbc+TRJpbc": ("PRMpbc", "TRJpbc_bz2", "protein"),
    "PFncdf": ("PFncdf_Top", "PFncdf_Trj", "protein"),
    "PRM7+NCDFtruncoct": ("PRM7", "NCDFtruncoct", "protein"),
    "CPPTRAJ": ("CPPTRAJ_TRAJ_TOP", "CPPTRAJ_TRAJ", "protein"),
    "PRM_NCBOX": ("PRM_NCBOX", "TRJ_NCBOX", "protein"),
    # CHARMM-GUI / GROMACS CHARMM36: YiiP in a membrane, villin (HSP), a capped peptide
    "GRO_MEMPROT": ("GRO_MEMPROT", None, "protein"),
    "villin": ("contacts_villin_folded", None, "protein"),
    "capping_input": ("capping_input", None, "protein"),
    "PSF_NAMD+PDB_NAMD": ("PSF_NAMD", "PDB_NAMD", "protein"),
    # PDB files: NMR ensemble, helix, caps, crystal structures with complete heavy atoms
    "PDB_multiframe": ("PDB_multiframe", None, "protein"),
    "PDB_helix": ("PDB_helix", None, "protein"),
    "capping_output": ("capping_output", None, "protein"),
    "capping_ace": ("capping_ace", None, "protein"),
    "PDB_xsmall": ("PDB_xsmall", None, "protein"),
    "PDB_charges": ("PDB_charges", None, "protein"),
    "PDB_elements": ("PDB_elements", None, "protein"),
    "PQR_icodes": ("PQR_icodes", None, "protein"),
    "PDB_icodes": ("PDB_icodes", None, "protein"),
    "CONECT": ("CONECT", None, "protein"),
    "CONECT_ERROR": ("CONECT_ERROR", None, "protein"),
    "merge_protein": ("merge_protein", None, "protein"),
    "PDB_CHECK_RIGHTHAND_PA": ("PDB_CHECK_RIGHTHAND_PA", None, "protein"),
    "PDB_HOLE": ("PDB_HOLE", None, "protein"),
    "PDB_full": ("PDB_full", None, FIRST_ALTLOC),  # 4E43, alternate locations
    "PDB_rama": ("PDB_rama", None, FIRST_ALTLOC),  # 19hc, alternate locations
    "GRO_residwrap": ("GRO_residwrap", None, "protein"),
    "TRC_PDB_VAC": ("TRC_PDB_VAC", None, "protein"),  # GROMOS united atoms (LYSH, H1-H3, O1/O2)
    "MMTF": ("MMTF", None, "protein"),
    "MMTF_NOCRYST": ("MMTF_NOCRYST", None, "protein"),
    "MMTF_skinny": ("MMTF_skinny", None, "protein"),
}
# Left out:
#   same structure and names as one above: PDB and TPR (adk_oplsaa, = GRO), PDB_xvf (= PDB_sub_sol),
#     TPR400 ... TPR2026_0 (= TPR2016), WIN_PDB_multiframe, contacts_villin_unfolded,
#     GRO_residwrap_0base, DMS_DOMAINS, DMS_NO_SEGID, TRC_PDB_SOLV, MULTIPDB_HOLE, PDB_NAMD alone;
#   heavy atoms incomplete: PDB_CRYOEM_BOX (CYS 11 has no SG), MMTF_skinny2 (ASP 9 has no OD2),
#     PDB_janin (LYS 707 side chain), PDB_chainidnewres/PDB_chainidrepeat (GLU side chains),
#     PDBQT_input, capping_nma (backbone only), ALIGN/ALIGN_BOUND/ALIGN_UNBOUND, COORDINATES_GRO,
#     COORDINATES_TOPOLOGY, GRO_sameresid_diffresname, PDB_sameresid_diffresname, PDB_conect,
#     PDB_varying, INC_PDB, ENT (fragments or Cα only);
#   unordered_res: each residue's hydrogens come after all heavy atoms (residues are not
#     contiguous, so a residue is read as two pieces);
#   XYZ_psf+XYZ (2r9r): C-terminal amide NT (CHARMM CT2 patch), which vermouth's martini3001
#     data do not map;
#   PDBX, MMCIF: not readable by MDAnalysis without extra packages.


@pytest.mark.parametrize("key", list(STRUCTURES))
def test_check_mapping_on_mdanalysis_tests_structures(martini3, key):
    top, traj, selection = STRUCTURES[key]
    if not hasattr(data, top) or (traj and not hasattr(data, traj)):
        pytest.skip(f"this MDAnalysisTests has no {top}/{traj}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = check_mapping(
            getattr(data, top), martini3, selection=selection, traj=getattr(data, traj) if traj else None
        )
    assert report.ok, report.summary()
    assert report.max_error < 1e-4  # issue #3: exact rebuild from true vectors
    assert all(m.n_mapped == m.n_atoms for m in report.molecules)
