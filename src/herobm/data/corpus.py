"""A training corpus that can be built on this machine, offline.

Three sources of all-atom inputs (``herobm dataset corpus``, see ``docs/corpus.md``):

* ``mdatests``: protein structures and trajectories shipped by MDAnalysisTests, referred to
  by their ``MDAnalysisTests.datafiles`` names and resolved at run time (never copied);
* ``openmm-protein`` / ``openmm-lipid``: the villin test box and the all-atom lipid bilayer
  patches shipped in ``openmm/app/data``;
* ``peptide-md``: peptides of random sequence built with PeptideBuilder in varied secondary
  structure, completed with pdbfixer (hydrogens at pH 7, termini or ACE/NME caps) and run
  for a short Langevin MD with OpenMM (amber14-all, OBC2 implicit solvent or vacuum).

The benchmark systems (adenylate kinase in every form and the YiiP membrane system) are
never part of the corpus: :func:`is_benchmark` recognises them by file name, by
MDAnalysisTests name, by PDB id in the header and by sequence.

The corpus folder holds the generated peptides and ``corpus.json``, a list of
``{"topology", "trajectories", "kind", "split", ...}`` entries with absolute paths.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import math
import os
import random
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import InputError

__all__ = [
    "KINDS",
    "CorpusInput",
    "ADK_SEQUENCE",
    "YIIP_SEQUENCE",
    "BENCHMARK_DATAFILES",
    "is_benchmark",
    "benchmark_reason",
    "protein_sequences",
    "MDATESTS_SOURCES",
    "MDATESTS_NOT_USED",
    "mdatests_inputs",
    "OPENMM_LIPIDS",
    "openmm_inputs",
    "AMINO_ACIDS",
    "SS_MODES",
    "PeptidePlan",
    "plan_peptides",
    "build_peptide",
    "choose_platform",
    "make_peptide_system",
    "generate_peptides",
    "CorpusReport",
    "build_corpus",
    "write_manifest",
    "read_manifest",
    "build_corpus_dataset",
]

KINDS = ("mdatests", "openmm-protein", "openmm-lipid", "peptide-md")


@dataclass(frozen=True)
class CorpusInput:
    """One entry of ``corpus.json``: an input system for ``build_dataset``."""

    topology: str
    trajectories: tuple[str, ...] = ()
    kind: str = "mdatests"
    name: str = ""
    split: str | None = None
    info: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        out = {"topology": self.topology, "trajectories": list(self.trajectories), "kind": self.kind}
        if self.split:
            out["split"] = self.split
        out["name"] = self.name
        out.update(self.info)
        return out

    @classmethod
    def from_json(cls, d: dict) -> "CorpusInput":
        known = {"topology", "trajectories", "kind", "split", "name"}
        return cls(
            topology=str(d["topology"]), trajectories=tuple(str(t) for t in d.get("trajectories", ())),
            kind=str(d.get("kind", "")), name=str(d.get("name", "")), split=d.get("split"),
            info={k: v for k, v in d.items() if k not in known},
        )

    @property
    def files(self) -> tuple[str, ...]:
        return (self.topology, *self.trajectories)

    def spec(self):
        from .build import InputSpec

        return InputSpec(self.topology, self.trajectories)


# ---------------------------------------------------------------------------------------------
# The benchmark: never in the corpus
# ---------------------------------------------------------------------------------------------

#: E. coli adenylate kinase (4AKE/1AKE), as in MDAnalysisTests' adk files.
ADK_SEQUENCE = (
    "MRIILLGAPGAGKGTQAQFIMEKYGIPQISTGDMLRAAVKSGSELGKQAKDIMDAGKLVTDELVIALVKERIAQEDCRNGFLLDGFPRTIP"
    "QADAMKEAGINVDYVLEFDVPDELIVDRIVGRRVHAPSGRVYHVKFNPPKVEGKDDVTGEELTTRKDDQEETVRKRLVEYHQMTAPLIGYYSK"
    "EAEAGNTKYAKVDGTKPVAEVRADLEKILG"
)
#: One chain of the zinc transporter YiiP as in MDAnalysisTests' YiiP_lipids.gro.gz.
YIIP_SEQUENCE = (
    "YDFWVKLASRASVATALTLITIKLLAWLYSGSASMLASLTDSFADTLASIINFIAIRYAIVPADHDHRYGHGKAEPLAALAQSAFIMGSAF"
    "LLLFYGGERLLNPSPVENATLGVVVSVVAIVLTLALVLLQKRALAATNSTVVEADSLHYKSDLFLNAAVLLALVLSQYGWWWADGLFAVLI"
    "ACYIGQQAFDLGYRSIQALLDRELDEDTRQRIKLIAKEDPRVLGLHDLRTRQAGKTVFIQFHLELDGNLSLNEAHSITDTTGLRVKAAFEDA"
    "EVIIHQDP"
)
#: MDAnalysisTests.datafiles names of every benchmark file (adk in all forms, YiiP).
BENCHMARK_DATAFILES = (
    "PSF", "DCD", "DCD2", "CRD", "PSF_notop", "PSF_BAD", "PSF_NAMD_GBIS", "DCD_NAMD_GBIS",
    "PDB_small", "PDB_xsmall", "PDB_closed", "PDB", "GRO", "XTC", "TRR", "TPR", "PQR",
    "DMS", "DMS_DOMAINS", "DMS_NO_SEGID", "NAMDBIN", "legacy_DCD_ADK_coords", "rmsfArray",
    "DihedralArray", "DihedralsArray", "RamaArray", "GLYRamaArray", "JaninArray", "LYSJaninArray",
    "HELANAL_BENDING_MATRIX", "HELANAL_BENDING_MATRIX_SUBSET",
    "GRO_MEMPROT", "XTC_MEMPROT",
)
#: Lower-case pieces of a file name that mark a benchmark file.
BENCHMARK_NAME_MARKERS = ("adk", "yiip", "4ake", "1ake")
#: PDB ids in a file's first lines that mark a benchmark structure.
BENCHMARK_PDB_IDS = ("4AKE", "1AKE")
_KMER = 10


def _benchmark_kmers() -> frozenset[str]:
    return frozenset(s[i : i + _KMER] for s in (ADK_SEQUENCE, YIIP_SEQUENCE) for i in range(len(s) - _KMER + 1))


def _datafile_paths(names: Iterable[str]) -> dict[str, str]:
    try:
        import MDAnalysisTests.datafiles as df
    except ImportError:  # pragma: no cover - MDAnalysisTests is a test/corpus dependency
        return {}
    out = {}
    for n in names:
        p = getattr(df, n, None)
        if isinstance(p, str):
            out[os.path.realpath(p)] = n
    return out


def _head_text(path: Path, n: int = 8192) -> str:
    opener = gzip.open if path.suffix == ".gz" else bz2.open if path.suffix == ".bz2" else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(n).decode("latin-1")
    except Exception:
        return ""


def protein_sequences(path: str | os.PathLike) -> list[str]:
    """One-letter sequences of the protein segments of a structure/topology file (may be empty)."""
    import MDAnalysis as mda
    from MDAnalysis.lib.util import convert_aa_code

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(path))
    out = []
    for seg in u.select_atoms("protein").segments:
        s = []
        for r in seg.residues:
            name = str(r.resname)
            name = {"HSD": "HIS", "HSE": "HIS", "HSP": "HIS", "HID": "HIS", "HIE": "HIS", "HIP": "HIS"}.get(name, name)
            try:
                s.append(convert_aa_code(name[:3]))
            except (ValueError, KeyError):
                s.append("X")
        out.append("".join(s))
    return out


def benchmark_reason(path: str | os.PathLike, content: bool = True) -> str | None:
    """Why ``path`` is a benchmark file (adenylate kinase, YiiP), or None if it is not.

    Checks, in order: the file name (``adk``, ``yiip``, ``4ake``, ``1ake``), the
    MDAnalysisTests name it resolves to (:data:`BENCHMARK_DATAFILES`), and with
    ``content``: a 4AKE/1AKE id in its first 8 kB and any 10-residue stretch of the
    adenylate kinase or YiiP sequence in its protein (for files MDAnalysis can open as
    a structure; trajectories without topology are judged by name only).
    """
    p = Path(path)
    low = p.name.lower()
    for m in BENCHMARK_NAME_MARKERS:
        if m in low:
            return f"file name contains '{m}'"
    real = os.path.realpath(p)
    hit = _datafile_paths(BENCHMARK_DATAFILES).get(real)
    if hit:
        return f"MDAnalysisTests.datafiles.{hit}"
    if not content or not p.is_file():
        return None
    head = _head_text(p)
    for pid in BENCHMARK_PDB_IDS:
        if pid in head:
            return f"PDB id {pid} in the file header"
    try:
        seqs = protein_sequences(p)
    except Exception:
        return None
    kmers = _benchmark_kmers()
    for s in seqs:
        for i in range(len(s) - _KMER + 1):
            if s[i : i + _KMER] in kmers:
                which = "adenylate kinase" if s[i : i + _KMER] in ADK_SEQUENCE else "YiiP"
                return f"sequence stretch {s[i : i + _KMER]} of {which}"
    return None


def is_benchmark(path: str | os.PathLike, content: bool = True) -> bool:
    """True if ``path`` belongs to the benchmark (adenylate kinase or YiiP): see :func:`benchmark_reason`."""
    return benchmark_reason(path, content) is not None


# ---------------------------------------------------------------------------------------------
# Real structures: MDAnalysisTests and OpenMM
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    label: str
    topology: str  # MDAnalysisTests.datafiles name
    trajectories: tuple[str, ...] = ()
    pattern: str | None = None  # topology names a folder: glob inside it
    exclude: tuple[str, ...] = ()
    hydrogens: bool = True
    crystal: bool = False  # a single crystal/cryo-EM model without hydrogens
    note: str = ""


#: The MDAnalysisTests protein inputs of the corpus (trajectories first, then single models).
MDATESTS_SOURCES: tuple[_Source, ...] = (
    _Source("neopetrosiamide_nmr", "PDB_multiframe", note="24 NMR models; SME left out"),
    _Source("amber_ache", "PRM", ("TRJ",), note="14-residue peptide, 11 frames"),
    _Source("amber_capped_ala", "PRMpbc", ("TRJpbc_bz2",), note="ACE-ALA-NME in water, 11 frames"),
    _Source("amber_trpzip", "PRM7", ("NCDFtruncoct",), note="tz2, 10 frames; NHE cap left out"),
    _Source("amber_vev", "PRMncdf", ("NCDF",), note="VAL-GLU-VAL in water, 30 frames"),
    _Source("amber_posfor", "PFncdf_Top", ("PFncdf_Trj",), note="29 residues, 2 frames"),
    _Source("amber_cpptraj", "CPPTRAJ_TRAJ_TOP", ("CPPTRAJ_TRAJ",), note="5 residues, 3 frames"),
    _Source("kv_paddle", "XYZ_psf", ("XYZ",), note="2r9r fragment, 152 residues, 10 frames"),
    _Source("cobrotoxin", "TPR_xvf", ("TRR_xvf",), note="cobrotoxin in water, 3 frames"),
    _Source("lysozyme_water", "AUX_EDR_TPR", ("AUX_EDR_XTC",), note="lysozyme in water, 4 frames"),
    _Source("gromos_solv", "TRC_PDB_SOLV", ("TRC_TRAJ_SOLV",), note="GROMOS pentapeptide, 2 frames"),
    _Source("lysozyme", "TPR2024_4", note="2LYZ, one frame"),
    _Source("abeta42", "TPR460", note="ACE-capped amyloid-beta in water, one frame"),
    _Source("villin_folded", "contacts_villin_folded", note="HP35 (NLE left out)"),
    _Source("villin_unfolded", "contacts_villin_unfolded", note="HP35 (NLE left out)"),
    _Source("a6pa6_helix", "PDB_helix"),
    _Source("aaqaa", "capping_input"),
    _Source("aaqaa_capped", "capping_output", note="ACE cap; NMA left out"),
    _Source("namd_cgenff", "PSF_NAMD", ("PDB_NAMD",), note="tetrapeptide with ligands"),
    _Source("pqr_1a2c", "PQR_icodes", note="thrombin, with hydrogens"),
    _Source("hivpr_1hvr", "CONECT"),
    _Source("cryoem_5a7u", "PDB_CRYOEM_BOX"),
    # crystal structures: heavy atoms only
    _Source("hivpr_4e43", "PDB_full", hydrogens=False, crystal=True),
    _Source("2zmm", "merge_protein", hydrogens=False, crystal=True),
    _Source("1osm", "PDB_icodes", hydrogens=False, crystal=True),
    _Source("19hc", "PDB_rama", hydrogens=False, crystal=True),
    _Source("6msm", "PDB_CHECK_RIGHTHAND_PA", hydrogens=False, crystal=True),
    _Source("1ubq", "MMTF_skinny", hydrogens=False, crystal=True),
    _Source("3njw", "MMTF_skinny2", hydrogens=False, crystal=True),
    _Source("dssp", "DSSP", pattern="*.pdb.gz", exclude=("1mr1D_failing.pdb.gz", "wrong_hydrogens.pdb.gz"),
            hydrogens=False, crystal=True, note="one chain each"),
    _Source("mmcif", "MMCIF", pattern="*.pdb.gz", exclude=("1BD2_short.pdb.gz",), hydrogens=False, crystal=True),
)

#: Protein files of MDAnalysisTests that are not used, and why (besides the benchmark).
MDATESTS_NOT_USED = {
    "PDB_xvf/PDB_sub_sol/PDB_sub_dry/XTC_sub_sol/TRR_sub_sol/TPR_xvf_2024_4/H5MD_xvf":
        "cobrotoxin: same frames as TPR_xvf+TRR_xvf",
    "TPR400...TPR2026_0 (2lyz)": "lysozyme: one version (TPR2024_4) is used",
    "TPR461": "same system as TPR460",
    "TRJncdf": "same frames as NCDF",
    "PDB_HOLE/MULTIPDB_HOLE": "gramicidin: D-amino acids under L residue names",
    "PDB_janin (1a28)": "a residue with a whole bead missing makes the system unusable",
    "unordered_res/ALIGN_BOUND/ALIGN_UNBOUND/ENT/PDB_varying": "incomplete residues (C-alpha only)",
    "PSF_inscode": "topology without coordinates",
    "PRM_NCBOX/PRM7_ala2/PRM12": "no protein (ACE in water; unreadable coordinates; DNA)",
    "WIN_PDB_multiframe": "same file as PDB_multiframe",
    "MMTF_NOCRYST (6QYR)": "15 overlapping copies of a D-alanine-containing peptide in one frame "
                           "(the dataset check refuses them)",
    "PDB_charges/PDB_elements/TPR_NNPOT_*": "one or two residues",
    "LAMMPSdata2/TRZ_psf/GSD*/DLP*": "no residue names (LAMMPS, TRZ, HOOMD, DL_POLY)",
}


def _resolve_source(src: _Source) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, topology path, trajectory paths) of a source; [] if this MDAnalysisTests lacks it."""
    import MDAnalysisTests.datafiles as df

    top = getattr(df, src.topology, None)
    trajs = [getattr(df, t, None) for t in src.trajectories]
    if not isinstance(top, str) or any(not isinstance(t, str) for t in trajs):
        return []
    if src.pattern:
        folder = Path(top)
        if not folder.is_dir():
            return []
        return [
            (f"{src.label}_{p.name.split('.')[0]}", str(p), ())
            for p in sorted(folder.glob(src.pattern))
            if p.name not in src.exclude
        ]
    if not Path(top).exists() or any(not Path(t).exists() for t in trajs):
        return []
    return [(src.label, top, tuple(trajs))]


def mdatests_inputs(crystal: bool = True, check_benchmark: bool = True) -> list[CorpusInput]:
    """The MDAnalysisTests protein inputs (:data:`MDATESTS_SOURCES`), resolved to paths.

    ``crystal=False`` leaves out the heavy-atom-only crystal structures. Every file is
    checked with :func:`is_benchmark` (name, header and sequence) and a hit raises.
    """
    out = []
    for src in MDATESTS_SOURCES:
        if src.crystal and not crystal:
            continue
        for name, top, trajs in _resolve_source(src):
            entry = CorpusInput(
                os.path.realpath(top), tuple(os.path.realpath(t) for t in trajs), "mdatests", name, "train",
                {"datafile": src.topology, "datafile_trajectories": list(src.trajectories),
                 "hydrogens": src.hydrogens, "note": src.note},
            )
            if check_benchmark:
                for f in entry.files:
                    why = benchmark_reason(f, content=(f == entry.topology))
                    if why:
                        raise InputError(f"corpus source {name}: {f} is a benchmark file ({why})")
            out.append(entry)
    return out


#: The all-atom lipid bilayer patches in openmm/app/data (water is left out by the mapping).
OPENMM_LIPIDS = ("POPC", "POPE", "DOPC", "DPPC", "DMPC", "DLPC", "DLPE")


def openmm_inputs(proteins: bool = True, lipids: bool = True) -> list[CorpusInput]:
    """OpenMM's villin test box (``test.pdb``) and its lipid patches (:data:`OPENMM_LIPIDS`)."""
    import openmm.app

    data = Path(openmm.app.__file__).parent / "data"
    out = []
    if proteins and (data / "test.pdb").exists():
        out.append(CorpusInput(str(data / "test.pdb"), (), "openmm-protein", "openmm_villin", "train",
                               {"hydrogens": True, "note": "villin N68H in water"}))
    if lipids:
        for name in OPENMM_LIPIDS:
            p = data / f"{name}.pdb"
            if p.exists():
                out.append(CorpusInput(str(p), (), "openmm-lipid", f"openmm_{name.lower()}", "train",
                                       {"hydrogens": True, "note": f"{name} bilayer patch"}))
    return out


# ---------------------------------------------------------------------------------------------
# Generated peptides
# ---------------------------------------------------------------------------------------------

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
SS_MODES = ("helix", "strand", "ppii", "coil", "mixed")
# (phi, psi) centres of the backbone basins, degrees
_BASINS = {"alpha": (-63.0, -42.0), "beta": (-120.0, 130.0), "ppii": (-75.0, 145.0), "alphaL": (60.0, 45.0)}
_HIS_VARIANTS = ("HID", "HIE", "HIP")
_HIS_P = (0.4, 0.4, 0.2)
# chi1 rotamers (g-, t, g+) and their weights; g+ is rare in helices (it meets the i-3/i-4 carbonyl)
_CHI1 = (-60.0, 180.0, 60.0)
_CHI1_P = {"alpha": (0.55, 0.40, 0.05), "other": (0.50, 0.33, 0.17)}
_CHI2_SP3 = "EKRMQLI"  # chi2 among three staggered positions
_CHI2_PLANAR = "DNFYHW"  # chi2 of a planar group
_BACKBONE = frozenset({"N", "CA", "C", "O", "OXT", "CB"})


@dataclass(frozen=True)
class PeptidePlan:
    """Everything random about one peptide, drawn from the seed before anything is built.

    ``phi``/``psi``/``basins``/``chi1``/``chi2`` have one entry per residue of ``sequence``
    (caps not included); ``chi*`` is None where the residue has no such angle.
    """

    index: int
    sequence: str
    mode: str
    basins: tuple[str, ...]
    phi: tuple[float, ...]
    psi: tuple[float, ...]
    chi1: tuple[float | None, ...]
    chi2: tuple[float | None, ...]
    his: tuple[str, ...]  # HID/HIE/HIP for each H of the sequence, in order
    n_cap: bool
    c_cap: bool
    temperature: float
    md_seed: int
    attempt: int = 0

    @property
    def n_residues(self) -> int:
        return len(self.sequence) + int(self.n_cap) + int(self.c_cap)


def _balanced_sequences(n: int, length_range: tuple[int, int], rng: np.random.Generator) -> list[str]:
    lo, hi = length_range
    lengths = rng.integers(lo, hi + 1, size=n)
    total = int(lengths.sum())
    # every amino acid ceil(total/20) times, shuffled, cut to length: each appears total/20 (+-1) times
    pool = rng.permutation(np.array(list(AMINO_ACIDS * math.ceil(total / len(AMINO_ACIDS)))))[:total]
    out, i = [], 0
    for L in lengths:
        out.append("".join(pool[i : i + L]))
        i += L
    return out


def _basins(seq: str, mode: str, rng: np.random.Generator) -> list[str]:
    n = len(seq)
    if mode in ("helix", "strand", "ppii"):
        basins = [{"helix": "alpha", "strand": "beta", "ppii": "ppii"}[mode]] * n
    elif mode == "coil":
        basins = []
        for aa in seq:
            p = (0.25, 0.25, 0.2, 0.3) if aa == "G" else (0.3, 0.3, 0.3, 0.1)
            basins.append(str(rng.choice(["alpha", "beta", "ppii", "alphaL"], p=p)))
    else:  # mixed: segments of 3-6 residues, each helix, strand or PPII
        basins = []
        while len(basins) < n:
            basins += [str(rng.choice(["alpha", "beta", "ppii"]))] * int(rng.integers(3, 7))
        basins = basins[:n]
    # a proline cannot sit inside a helix (its ring meets the i-4 carbonyl): the residue
    # before it takes an extended psi, as pre-proline residues mostly do
    for i in range(n - 1):
        if seq[i + 1] == "P" and basins[i] in ("alpha", "alphaL"):
            basins[i] = "ppii"
    return basins


def _backbone(seq: str, basins: list[str], rng: np.random.Generator) -> tuple[list[float], list[float]]:
    phi, psi = [], []
    for aa, b in zip(seq, basins):
        f, s = _BASINS[b]
        sd = 8.0 if b == "alpha" else 12.0
        f, s = f + rng.normal(0, sd), s + rng.normal(0, sd)
        if aa == "P":
            f = -65.0 + rng.normal(0, 6.0)
        phi.append(round(float(f), 3))
        psi.append(round(float(s), 3))
    return phi, psi


def _draw_chi(aa: str, basin: str, rng: np.random.Generator) -> tuple[float | None, float | None]:
    c1 = c2 = None
    if aa not in "AGP":
        p = _CHI1_P["alpha" if basin == "alpha" else "other"]
        c1 = round(float(rng.choice(_CHI1, p=p) + rng.normal(0, 10.0)), 3)
    if aa in _CHI2_SP3:
        c2 = round(float(rng.choice([180.0, 60.0, -60.0], p=[0.6, 0.2, 0.2]) + rng.normal(0, 10.0)), 3)
    elif aa in _CHI2_PLANAR:
        c2 = round(float(rng.choice([90.0, -90.0]) + rng.normal(0, 20.0)), 3)
    return c1, c2


def _plan_one(index: int, sequence: str, seed: int, cap_fraction: float, temperature_range,
              attempt: int = 0, mode: str | None = None) -> PeptidePlan:
    rng = np.random.default_rng([seed, 1, index, attempt])
    mode = mode or SS_MODES[index % len(SS_MODES)]
    basins = _basins(sequence, mode, rng)
    phi, psi = _backbone(sequence, basins, rng)
    chis = [_draw_chi(aa, b, rng) for aa, b in zip(sequence, basins)]
    his = tuple(str(rng.choice(_HIS_VARIANTS, p=_HIS_P)) for aa in sequence if aa == "H")
    n_cap, c_cap = bool(rng.random() < cap_fraction), bool(rng.random() < cap_fraction)
    t_lo, t_hi = temperature_range
    temperature = round(float(rng.uniform(t_lo, t_hi)), 2)
    md_seed = int(rng.integers(1, 2**31 - 1))
    return PeptidePlan(index, sequence, mode, tuple(basins), tuple(phi), tuple(psi), tuple(c[0] for c in chis),
                       tuple(c[1] for c in chis), his, n_cap, c_cap, temperature, md_seed, attempt)


def plan_peptides(
    n_peptides: int,
    length_range: tuple[int, int] = (8, 16),
    seed: int = 0,
    cap_fraction: float = 0.3,
    temperature_range: tuple[float, float] = (300.0, 350.0),
) -> list[PeptidePlan]:
    """Sequences, conformations, protonation and MD seeds of ``n_peptides`` peptides.

    Sequences are cut from a shuffled pool holding every amino acid equally often, so over
    the set each of the 20 appears ``total/20`` times (±1). Secondary structure cycles through
    :data:`SS_MODES` (helix, strand, PPII, random coil from four basins, mixed segments; a
    residue before a proline is never helical); side-chain chi1/chi2 are drawn from the
    staggered rotamers; histidines are HID/HIE/HIP (0.4/0.4/0.2); each terminus is capped
    (ACE/NME) with probability ``cap_fraction``. The same arguments give the same plans.
    """
    lo, hi = length_range
    if n_peptides < 0 or lo < 1 or hi < lo:
        raise InputError(f"bad peptide count {n_peptides} or length range {length_range}")
    seqs = _balanced_sequences(n_peptides, (lo, hi), np.random.default_rng([seed, 0]))
    return [_plan_one(i, s, seed, cap_fraction, temperature_range) for i, s in enumerate(seqs)]


def _set_chi(geo, prefix_re: str, target: float) -> None:
    """Rotate a side-chain dihedral of a PeptideBuilder geometry: shift every attribute of
    the torsion family (e.g. all ``N_CA_CB_*_diangle``) so the first one hits ``target``."""
    import re

    keys = sorted(k for k in vars(geo) if re.fullmatch(prefix_re, k))
    if not keys:
        return
    primary = next((k for k in keys if re.search(r"_(CG|OG|SG|CG1|OG1|CD|SD|CD1|OD1|ND1)_diangle$", k)), keys[0])
    delta = target - getattr(geo, primary)
    for k in keys:
        setattr(geo, k, getattr(geo, k) + delta)


def _rename_atom(residue, old: str, new: str) -> None:
    atom = residue[old]
    residue.detach_child(old)
    atom.name, atom.id, atom.fullname = new, new, f" {new:<3s}"
    residue.add(atom)


def _heavy_structure(plan: PeptidePlan):
    """Bio.PDB structure of the heavy atoms of ``plan``, caps included.

    A cap is built as a glycine continuing the backbone and then cut down: ACE keeps the
    C, O and CA (renamed CH3) of a glycine before the first residue, NME the N and CA
    (renamed C) of one after the last, so caps follow the planned phi/psi/omega.
    """
    import PeptideBuilder
    from PeptideBuilder import Geometry

    seq = ("G" if plan.n_cap else "") + plan.sequence + ("G" if plan.c_cap else "")
    off = int(plan.n_cap)
    n = len(plan.sequence)
    geos = []
    for k, aa in enumerate(seq):
        i = k - off  # index in plan.sequence (-1: ACE, n: NME)
        g = Geometry.geometry(aa)
        if k > 0:
            g.phi = plan.phi[min(i, n - 1)]
            g.psi_im1 = plan.psi[i - 1] if i >= 1 else plan.psi[0]
            g.omega = 180.0
        if 0 <= i < n:
            if plan.chi1[i] is not None:
                _set_chi(g, r"N_CA_CB_\w+_diangle", plan.chi1[i])
            if plan.chi2[i] is not None:
                _set_chi(g, r"CA_CB_CG1?_\w+_diangle", plan.chi2[i])
        geos.append(g)
    structure = PeptideBuilder.make_structure_from_geos(geos)
    residues = list(structure[0]["A"])
    if plan.n_cap:
        ace = residues[0]
        ace.detach_child("N")
        _rename_atom(ace, "CA", "CH3")
        ace.resname = "ACE"
    if plan.c_cap:
        nme = residues[-1]
        nme.detach_child("C")
        nme.detach_child("O")
        _rename_atom(nme, "CA", "C")
        nme.resname = "NME"
    else:
        with np.errstate(invalid="ignore"):  # the last O is built at exactly 180°: a 0/0 in Bio's sign test
            PeptideBuilder.add_terminal_OXT(structure)
    return structure


def _side_chain_clashes(structure, cutoff: float = 2.5) -> set[int]:
    """Indices (in the plan's sequence) of residues whose side chain (beyond CB) comes
    closer than ``cutoff`` Å to a heavy atom of another residue."""
    from scipy.spatial import cKDTree

    atoms = [(k, a) for k, r in enumerate(structure[0]["A"]) for a in r]
    x = np.array([a.coord for _, a in atoms], dtype=float)
    res = np.array([k for k, _ in atoms])
    side = np.array([a.get_parent().resname not in ("ACE", "NME") and a.name not in _BACKBONE
                     and a.get_parent().resname != "PRO" for _, a in atoms])
    bad: set[int] = set()
    for i, j in cKDTree(x).query_pairs(cutoff):
        if res[i] == res[j]:
            continue
        if side[i]:
            bad.add(int(res[i]))
        if side[j]:
            bad.add(int(res[j]))
    return bad


def _repack(plan: PeptidePlan, rounds: int = 25) -> PeptidePlan:
    """Redraw chi1/chi2 of side chains that clash in the built model, round by round
    (deterministic: the draws come from ``plan.md_seed``). Returns the repacked plan."""
    from dataclasses import replace

    rng = np.random.default_rng([plan.md_seed, 7])
    off = int(plan.n_cap)
    for _ in range(rounds):
        bad = sorted(k - off for k in _side_chain_clashes(_heavy_structure(plan)) if 0 <= k - off < len(plan.sequence))
        if not bad:
            break
        chi1, chi2 = list(plan.chi1), list(plan.chi2)
        for i in bad:
            chi1[i], chi2[i] = _draw_chi(plan.sequence[i], plan.basins[i], rng)
        plan = replace(plan, chi1=tuple(chi1), chi2=tuple(chi2))
    return plan


_FORCEFIELD = None


def _forcefield():
    global _FORCEFIELD
    if _FORCEFIELD is None:
        from openmm.app import ForceField

        _FORCEFIELD = ForceField("amber14-all.xml")
    return _FORCEFIELD


def build_peptide(plan: PeptidePlan):
    """The all-atom peptide of ``plan``: (openmm Topology, positions in nm as an (N, 3) array).

    PeptideBuilder places the heavy atoms at the planned phi/psi/chi (caps included, see
    :func:`_heavy_structure`); pdbfixer and OpenMM's Modeller add the hydrogens at pH 7
    with the planned histidine variants; histidines are renamed HID/HIE/HIP.
    """
    from Bio.PDB import PDBIO
    from openmm import unit

    buf = io.StringIO()
    writer = PDBIO()
    writer.set_structure(_heavy_structure(plan))
    writer.save(buf)
    # pdbfixer and Modeller place new atoms at random (Python's global ``random``) and relax them
    # with a short minimisation: seed it from the plan and run on the Reference platform, so the
    # structure depends on the plan only
    import openmm

    reference = openmm.Platform.getPlatformByName("Reference")
    state = random.getstate()
    random.seed(plan.md_seed)
    try:
        modeller = _complete(plan, buf.getvalue(), reference)
    finally:
        random.setstate(state)
    his = iter(plan.his)
    for r in modeller.topology.residues():
        if r.name == "HIS":
            names = {a.name for a in r.atoms()}
            r.name = "HIP" if {"HD1", "HE2"} <= names else "HID" if "HD1" in names else "HIE"
            expected = next(his)
            if r.name != expected:  # pragma: no cover - Modeller honours variants
                raise InputError(f"peptide {plan.index}: HIS built as {r.name}, planned {expected}")
    pos = np.asarray(modeller.positions.value_in_unit(unit.nanometer), dtype=np.float64)
    return modeller.topology, pos


def _complete(plan: PeptidePlan, pdb_text: str, platform):
    """pdbfixer (missing terminal atoms) and Modeller (hydrogens, planned HIS variants)."""
    from openmm.app import Modeller
    from pdbfixer import PDBFixer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixer = PDBFixer(pdbfile=io.StringIO(pdb_text), platform=platform)
        fixer.findMissingResidues()
        fixer.missingResidues = {}
        fixer.findMissingAtoms()
        if fixer.missingAtoms:  # pragma: no cover - PeptideBuilder writes every heavy atom
            raise InputError(f"peptide {plan.index}: heavy atoms missing after building: {fixer.missingAtoms}")
        fixer.addMissingAtoms(seed=plan.md_seed % 2**31)
        modeller = Modeller(fixer.topology, fixer.positions)
        his = iter(plan.his)
        variants = [next(his) if r.name == "HIS" else None for r in modeller.topology.residues()]
        modeller.addHydrogens(_forcefield(), pH=7.0, variants=variants, platform=platform)
    return modeller


def choose_platform(name: str | None = None):
    """The OpenMM platform to run on: ``name`` if given, else the fastest one that works here
    (by ``Platform.getSpeed``, each tried on a one-particle system: CUDA/HIP/OpenCL when a
    device exists, else CPU)."""
    import openmm

    if name and name.lower() != "auto":
        try:
            return openmm.Platform.getPlatformByName(name)
        except Exception:
            names = [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]
            raise InputError(f"OpenMM platform '{name}' is not available (available: {', '.join(names)})") from None
    platforms = [openmm.Platform.getPlatform(i) for i in range(openmm.Platform.getNumPlatforms())]
    for p in sorted(platforms, key=lambda p: -p.getSpeed()):
        try:
            s = openmm.System()
            s.addParticle(1.0)
            openmm.Context(s, openmm.VerletIntegrator(0.001), p)
            return p
        except Exception:
            continue
    raise InputError("no OpenMM platform works on this machine")  # pragma: no cover


def make_peptide_system(topology, solvent: str = "obc2"):
    """amber14-all, no cutoff, HBonds constraints, plus OBC2 implicit solvent (``obc2``) or nothing
    (``vacuum``).

    The OBC2 term is OpenMM's native ``GBSAOBCForce`` with the parameters of
    ``implicit/obc2.xml`` (mbondi2 radii, OBC2 screening, ACE surface term): the same energy
    and forces as ``ForceField('amber14-all.xml', 'implicit/obc2.xml')`` (to 1e-6 relative),
    about five times faster than that file's CustomGBForce on a CPU.
    """
    import openmm
    from openmm.app import HBonds, NoCutoff
    from openmm.app.internal.customgbforces import GBSAOBC2Force

    if solvent not in ("obc2", "vacuum"):
        raise InputError(f"solvent '{solvent}': expected obc2 or vacuum")
    system = _forcefield().createSystem(topology, nonbondedMethod=NoCutoff, constraints=HBonds)
    if solvent == "obc2":
        nb = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
        gb = openmm.GBSAOBCForce()
        gb.setNonbondedMethod(openmm.GBSAOBCForce.NoCutoff)
        gb.setSoluteDielectric(1.0)
        gb.setSolventDielectric(78.5)
        for i, (radius, scale) in enumerate(GBSAOBC2Force.getStandardParameters(topology)):
            charge = nb.getParticleParameters(i)[0]
            gb.addParticle(charge, float(radius), float(scale))
        system.addForce(gb)
    return system


def _write_pdb(path: Path, topology, positions_nm: np.ndarray) -> None:
    """PDB with CONECT records for every bond, so readers get the force field's bonds."""
    from openmm import unit
    from openmm.app import PDBFile

    buf = io.StringIO()
    PDBFile.writeHeader(topology, buf)
    PDBFile.writeModel(topology, positions_nm * unit.nanometer, buf)
    serial = {a.index: a.index + 1 for a in topology.atoms()}  # one chain: TER comes last
    partners: dict[int, list[int]] = {}
    for a, b in topology.bonds():
        partners.setdefault(serial[a.index], []).append(serial[b.index])
        partners.setdefault(serial[b.index], []).append(serial[a.index])
    for i in sorted(partners):
        js = sorted(partners[i])
        for k in range(0, len(js), 4):
            buf.write("CONECT%5d" % i + "".join("%5d" % j for j in js[k : k + 4]) + "\n")
    buf.write("END\n")
    path.write_text(buf.getvalue())


def _dihedrals(x: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Dihedral angles (radians) of atom quadruples ``quads`` (Q, 4) in frames ``x`` (F, N, 3)."""
    p0, p1, p2, p3 = (x[:, quads[:, k]] for k in range(4))
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1 = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - np.sum(b0 * b1, axis=-1, keepdims=True) * b1
    w = b2 - np.sum(b2 * b1, axis=-1, keepdims=True) * b1
    return np.arctan2(np.sum(np.cross(b1, v) * w, axis=-1), np.sum(v * w, axis=-1))


def _geometry_problem(topology, frames_nm: np.ndarray, ref_nm: np.ndarray) -> str | None:
    """A reason to reject a trajectory: non-finite positions, a flipped C-alpha or a cis peptide
    bond that was built trans (not before proline), a stretched bond; else None."""
    if not np.isfinite(frames_nm).all():
        return "non-finite positions"
    res = list(topology.residues())
    idx = [{a.name: a.index for a in r.atoms()} for r in res]
    chiral = [(d["N"], d["CA"], d["C"], d["CB"]) for d in idx if all(k in d for k in ("N", "CA", "C", "CB"))]
    if chiral:
        c = np.array(chiral)

        def vol(x):
            n, ca, cc, cb = (x[..., c[:, k], :] for k in range(4))
            return np.einsum("...i,...i->...", n - ca, np.cross(cc - ca, cb - ca))

        if (np.sign(vol(frames_nm)) != np.sign(vol(ref_nm))[None]).any():
            return "a C-alpha changed chirality"
    omegas = [
        (idx[k]["CA"], idx[k]["C"], idx[k + 1]["N"], idx[k + 1]["CA"])
        for k in range(len(res) - 1)
        if {"CA", "C"} <= idx[k].keys() and {"N", "CA"} <= idx[k + 1].keys() and res[k + 1].name != "PRO"
    ]
    if omegas:
        o = np.array(omegas)
        if (np.abs(_dihedrals(frames_nm, o)) < np.pi / 2).any():
            return "a cis peptide bond"
    bonds = np.array([(a.index, b.index) for a, b in topology.bonds()])
    if len(bonds):
        d = np.linalg.norm(frames_nm[:, bonds[:, 0]] - frames_nm[:, bonds[:, 1]], axis=-1)
        if (d > 0.2).any():
            return "a bond longer than 2 Å"
    return None


def _clash(topology, pos_nm: np.ndarray, cutoff_nm: float = 0.12) -> bool:
    """Heavy atoms of residues two or more apart closer than ``cutoff_nm``."""
    from scipy.spatial import cKDTree

    heavy = [a for a in topology.atoms() if a.element is None or a.element.symbol != "H"]
    x = pos_nm[[a.index for a in heavy]]
    ri = np.array([a.residue.index for a in heavy])
    pairs = cKDTree(x).query_pairs(cutoff_nm, output_type="ndarray")
    return bool(len(pairs) and (np.abs(ri[pairs[:, 0]] - ri[pairs[:, 1]]) >= 2).any())


@dataclass
class _PeptideJob:
    plan: PeptidePlan
    out_dir: str
    md_steps: int
    frames: int
    equilibration_steps: int
    platform: str
    solvent: str
    threads: int | None
    seed: int
    cap_fraction: float
    temperature_range: tuple[float, float]
    max_attempts: int = 10


def _stem(plan: PeptidePlan) -> str:
    return f"pep{plan.index:04d}"


def _job_key(job: _PeptideJob) -> dict:
    key = {"plan": asdict(job.plan), "md_steps": job.md_steps, "frames": job.frames,
           "equilibration_steps": job.equilibration_steps, "solvent": job.solvent}
    return json.loads(json.dumps(key))  # as it reads back from the json sidecar


def _simulate(job: _PeptideJob) -> dict:
    """Build, minimise, equilibrate and run one peptide; write PDB + DCD; return its record."""
    import openmm
    from openmm import unit
    from openmm.app import DCDFile, Simulation

    t0 = time.perf_counter()
    out = Path(job.out_dir)
    stem = _stem(job.plan)
    pdb_path, dcd_path, meta_path = out / f"{stem}.pdb", out / f"{stem}.dcd", out / f"{stem}.json"
    key = _job_key(job)
    if pdb_path.exists() and dcd_path.exists() and meta_path.exists():
        old = json.loads(meta_path.read_text())
        if old.get("key") == key:
            old["reused"] = True
            return old
    platform = choose_platform(job.platform)
    props = {}
    if platform.getName() == "CPU" and job.threads:
        props["Threads"] = str(job.threads)
    plan, rejected = job.plan, []
    for attempt in range(job.max_attempts):
        if attempt:  # a new draw; the last three attempts fall back to the open PPII chain
            mode = job.plan.mode if attempt < job.max_attempts - 3 else "ppii"
            plan = _plan_one(job.plan.index, job.plan.sequence, job.seed, job.cap_fraction,
                             job.temperature_range, attempt, mode)
        plan = _repack(plan)
        topology, pos = build_peptide(plan)
        if _clash(topology, pos):
            rejected.append("clash in the built structure")
            continue
        system = make_peptide_system(topology, job.solvent)
        T = plan.temperature * unit.kelvin
        integrator = openmm.LangevinMiddleIntegrator(T, 1.0 / unit.picosecond, 2.0 * unit.femtosecond)
        integrator.setRandomNumberSeed(plan.md_seed)
        sim = Simulation(topology, system, integrator, platform, props)
        sim.context.setPositions(pos * unit.nanometer)
        sim.minimizeEnergy(maxIterations=2000)
        sim.context.setVelocitiesToTemperature(T, plan.md_seed)
        if job.equilibration_steps:
            sim.step(job.equilibration_steps)
        start = sim.context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        interval = max(1, job.md_steps // max(job.frames, 1))
        frames = np.empty((job.frames, topology.getNumAtoms(), 3))
        for k in range(job.frames):
            sim.step(interval)
            frames[k] = sim.context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        problem = _geometry_problem(topology, np.concatenate([start[None], frames]), pos)
        if problem:
            rejected.append(problem)
            continue
        break
    else:
        return {"name": stem, "failed": f"peptide {job.plan.index} ({job.plan.sequence}): no usable run in "
                                         f"{job.max_attempts} attempts ({'; '.join(rejected)})"}
    _write_pdb(pdb_path, topology, np.asarray(start))
    with open(dcd_path, "wb") as fh:
        dcd = DCDFile(fh, topology, 2.0 * unit.femtosecond, firstStep=job.equilibration_steps,
                      interval=interval)
        for x in frames:
            dcd.writeModel(x * unit.nanometer)
    record = {
        "key": key, "topology": str(pdb_path.resolve()), "trajectories": [str(dcd_path.resolve())],
        "name": stem, "sequence": plan.sequence, "mode": plan.mode, "residues": plan.n_residues,
        "residue_names": [r.name for r in topology.residues()], "atoms": topology.getNumAtoms(),
        "frames": job.frames, "temperature_K": plan.temperature, "attempt": plan.attempt,
        "rejected": rejected, "platform": platform.getName(), "solvent": job.solvent,
        "time_ps": round(job.md_steps * 0.002, 3), "seconds": round(time.perf_counter() - t0, 2),
        "plan": asdict(plan),
    }
    meta_path.write_text(json.dumps(record, indent=1))
    return record


def generate_peptides(
    out_dir: str | os.PathLike,
    n_peptides: int = 60,
    length_range: tuple[int, int] = (8, 16),
    seed: int = 0,
    md_steps: int = 10000,
    frames: int = 20,
    platform: str | None = None,
    *,
    equilibration_steps: int = 2000,
    solvent: str = "obc2",
    cap_fraction: float = 0.3,
    temperature_range: tuple[float, float] = (300.0, 350.0),
    workers: int | None = None,
    val_fraction: float = 0.0,
    progress: bool = False,
    notes: list[str] | None = None,
) -> list[CorpusInput]:
    """Generate ``n_peptides`` peptides (:func:`plan_peptides`) and run short MD for each.

    Per peptide: minimisation, ``equilibration_steps`` of Langevin dynamics (2 fs, 1/ps
    friction, HBonds constraints, temperature drawn in ``temperature_range``), then
    ``md_steps`` more with ``frames`` frames saved evenly; writes ``pepNNNN.pdb`` (the
    start of the production run, with CONECT records for every bond), ``pepNNNN.dcd`` and
    ``pepNNNN.json`` (plan and timings). A run with a flipped chirality, a new cis peptide
    bond or a clash in the built model is redone from a new draw (recorded in the json).
    Existing outputs of an identical job are reused.

    ``platform``: an OpenMM platform name, or None/'auto' for the fastest available.
    Sequences and starting structures depend only on the arguments; trajectories also on the
    platform (MD is not bitwise reproducible across platforms or thread counts).
    ``workers`` > 1 runs peptides in that many processes (one CPU thread each); None: one
    process per CPU core on the CPU platform (faster than one process with several threads
    for systems this small, and robust on a busy machine), else one.
    ``val_fraction``: share of the peptides marked ``split: val`` (drawn from ``seed``).
    A peptide without a usable run after 10 draws is left out and reported in ``notes``.
    """
    if md_steps < 1 or frames < 1 or md_steps < frames:
        raise InputError(f"need md_steps >= frames >= 1 (got {md_steps} steps, {frames} frames)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plans = plan_peptides(n_peptides, length_range, seed, cap_fraction, temperature_range)
    pname = choose_platform(platform).getName()
    if workers is None:
        workers = (os.cpu_count() or 1) if pname == "CPU" else 1
    workers = max(1, min(workers, len(plans)))
    threads = 1 if workers > 1 else None
    jobs = [_PeptideJob(p, str(out), md_steps, frames, equilibration_steps, pname, solvent, threads, seed,
                        cap_fraction, tuple(temperature_range)) for p in plans]
    from tqdm.auto import tqdm

    if workers > 1 and len(jobs) > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            records = list(tqdm(pool.imap(_simulate, jobs), total=len(jobs), desc="peptides", disable=not progress))
    else:
        records = [_simulate(j) for j in tqdm(jobs, desc="peptides", disable=not progress)]
    for r in records:
        if "failed" in r:
            warnings.warn(r["failed"])
            if notes is not None:
                notes.append(r["failed"])
    records = [r for r in records if "failed" not in r]
    n_val = int(round(val_fraction * len(records)))
    val = set(np.random.default_rng([seed, 2]).permutation(len(records))[:n_val].tolist())
    entries = []
    for k, r in enumerate(records):
        info = {k2: v for k2, v in r.items() if k2 not in ("key", "topology", "trajectories", "name", "plan")}
        info["hydrogens"] = True
        entries.append(CorpusInput(r["topology"], tuple(r["trajectories"]), "peptide-md", r["name"],
                                   "val" if k in val else "train", info))
    return entries


# ---------------------------------------------------------------------------------------------
# The recipe
# ---------------------------------------------------------------------------------------------


def write_manifest(entries: Sequence[CorpusInput], path: str | os.PathLike) -> None:
    """``corpus.json``: a list of ``{"topology", "trajectories", "kind", "split", "name", ...}``."""
    Path(path).write_text(json.dumps([e.to_json() for e in entries], indent=1) + "\n")


def read_manifest(path: str | os.PathLike) -> list[CorpusInput]:
    """The entries of a ``corpus.json`` (or of the ``corpus.json`` in a folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / "corpus.json"
    if not p.exists():
        raise InputError(f"{p}: no such file")
    data = json.loads(p.read_text())
    if not isinstance(data, list):
        raise InputError(f"{p}: expected a list of inputs")
    return [CorpusInput.from_json(d) for d in data]


def _describe(entry: CorpusInput) -> dict:
    """Protein/lipid residue count and frame count of an input, via MDAnalysis."""
    import MDAnalysis as mda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(entry.topology, *entry.trajectories)
        protein = len(u.select_atoms("protein").residues)
    water = {"HOH", "WAT", "SOL", "TIP3", "SOLV", "TIP3P"}
    other = sum(1 for r in u.residues if r.resname not in water) - protein
    return {"residues": protein, "other_residues": int(other), "frames": len(u.trajectory), "atoms": len(u.atoms)}


@dataclass
class CorpusReport:
    """What :func:`build_corpus` wrote and how long each part took."""

    folder: str
    entries: list[CorpusInput]
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for e in self.entries:
            c = out.setdefault(e.kind, {"inputs": 0, "frames": 0, "residues": 0, "residue_frames": 0,
                                        "other_residue_frames": 0})
            f, r = int(e.info.get("frames", 1)), int(e.info.get("residues", 0))
            c["inputs"] += 1
            c["frames"] += f
            c["residues"] += r
            c["residue_frames"] += r * f
            c["other_residue_frames"] += int(e.info.get("other_residues", 0)) * f
        return out

    def summary(self) -> str:
        head = f"{'kind':16s} {'inputs':>6s} {'frames':>7s} {'residues':>8s} {'res-frames':>10s} {'other r-f':>9s}"
        lines = list(self.notes) + [head]
        tot = [0, 0, 0, 0, 0]
        for kind, c in self.counts().items():
            vals = [c["inputs"], c["frames"], c["residues"], c["residue_frames"], c["other_residue_frames"]]
            tot = [a + b for a, b in zip(tot, vals)]
            lines.append(f"{kind:16s} {vals[0]:6d} {vals[1]:7d} {vals[2]:8d} {vals[3]:10d} {vals[4]:9d}")
        lines.append(f"{'total':16s} {tot[0]:6d} {tot[1]:7d} {tot[2]:8d} {tot[3]:10d} {tot[4]:9d}")
        lines.append("(residues: protein residues; other: lipids, caps the protein selection misses, ions, ligands)")
        lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        lines.append(f"wrote {Path(self.folder) / 'corpus.json'}")
        return "\n".join(lines)


def build_corpus(
    output: str | os.PathLike,
    peptides: int = 60,
    length_range: tuple[int, int] = (8, 16),
    seed: int = 0,
    md_steps: int = 10000,
    frames: int = 20,
    platform: str | None = None,
    *,
    equilibration_steps: int = 2000,
    solvent: str = "obc2",
    cap_fraction: float = 0.3,
    workers: int | None = None,
    val_fraction: float = 0.1,
    mdatests: bool = True,
    crystal: bool = True,
    openmm_structures: bool = True,
    lipids: bool = True,
    progress: bool = False,
) -> CorpusReport:
    """Collect the real inputs, generate the peptides into ``output/peptides`` and write
    ``output/corpus.json``. Real structures are all ``train``; ``val_fraction`` of the
    peptides are ``val`` (the benchmark, adk and YiiP, is the test set and never included)."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    entries: list[CorpusInput] = []
    notes: list[str] = []
    t = time.perf_counter()
    real = (mdatests_inputs(crystal=crystal) if mdatests else []) + openmm_inputs(openmm_structures, lipids)
    real = [CorpusInput(e.topology, e.trajectories, e.kind, e.name, e.split, {**e.info, **_describe(e)}) for e in real]
    entries += real
    seconds["real structures"] = time.perf_counter() - t
    if peptides:
        t = time.perf_counter()
        entries += generate_peptides(
            out / "peptides", peptides, length_range, seed, md_steps, frames, platform,
            equilibration_steps=equilibration_steps, solvent=solvent, cap_fraction=cap_fraction,
            workers=workers, val_fraction=val_fraction, progress=progress, notes=notes,
        )
        seconds["peptides"] = time.perf_counter() - t
    for e in entries:
        for f in e.files:
            why = benchmark_reason(f, content=False)
            if why:  # pragma: no cover - guarded above
                raise InputError(f"{f} is a benchmark file ({why})")
    write_manifest(entries, out / "corpus.json")
    return CorpusReport(str(out), entries, seconds, notes)


def build_corpus_dataset(
    corpus: str | os.PathLike | Sequence[CorpusInput],
    mapping,
    output: str | os.PathLike,
    frames: str | None = None,
    selection: str = "all",
    workers: int = 1,
    progress: bool = False,
):
    """``build_dataset`` on a corpus: every input with its manifest split (``train`` if none)."""
    from .build import build_dataset

    entries = list(corpus) if not isinstance(corpus, (str, os.PathLike)) else read_manifest(corpus)
    if not entries:
        raise InputError("the corpus is empty")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    split_file = out / "corpus_splits.json"
    split_file.write_text(json.dumps({e.topology: e.split or "train" for e in entries}, indent=1))
    return build_dataset([e.spec() for e in entries], mapping, out, frames=frames, selection=selection,
                         split_file=split_file, workers=workers, progress=progress)
