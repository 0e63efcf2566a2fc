"""Hyperparameters of the network, as a frozen dataclass loadable from YAML."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from ..errors import InputError

__all__ = ["ModelConfig"]


@dataclass(frozen=True)
class ModelConfig:
    """Network hyperparameters (lengths in Å).

    ``n_bead_types`` and ``n_vectors`` come from the mapping set (number of
    bead types, most rebuilt atoms in any bead); the rest shapes the network.
    """

    n_bead_types: int
    n_vectors: int
    cutoff: float = 8.0
    num_layers: int = 2
    latent_dim: int = 64  # invariant edge latent
    mul: int = 12  # channels of every equivariant irrep
    lmax: int = 2
    correlation: int = 3  # body order of the node product basis (2 or 3)
    num_basis: int = 8  # Bessel radial functions
    envelope_p: int = 6  # polynomial cutoff envelope
    type_embed_dim: int = 16
    avg_num_neighbors: float = 30.0  # normaliser of neighbourhood sums
    vector_length: str = "free"  # "free" | "learned" (length per (type, slot), modulated ±50%)
    # "E3": a mirror image of the input gives the mirror image of the output, so handedness
    # (L-amino acids) can only come from chiral bead arrangements. "SE3": rotations and
    # translations only; the output head also reads pseudo-vector features (cross products),
    # so the model learns handedness even from mirror-symmetric neighbourhoods (a Cα trace).
    symmetry: str = "E3"
    typed_head: bool = False  # per-bead-type mixing of the vector channels into the output vectors
    # SE3 only: the invariant edge latent (radial weights, gates) also reads the pseudo-scalar
    # channels (e.g. the sign of a dihedral), which are invariant under rotations
    chiral_latent: bool = False
    # edge flags mark residues up to this many bonds along/back the chain (1: the bonded
    # neighbours only); a Cα trace gains from knowing which nearby bead is i±2, i±3
    sequence_range: int = 1
    # SE3, sequence_range >= 2: each bead also reads the shape of the chain around it, from its
    # edges to the beads of residues i-2 .. i+2 (one bead per residue): the virtual bond angles
    # at i-1, i, i+1 and (cos, sin) of the virtual dihedrals (i-2, i-1, i, i+1), (i-1, i, i+1, i+2)
    chain_geometry: bool = False

    def __post_init__(self) -> None:
        if self.vector_length not in ("free", "learned"):
            raise InputError(f"vector_length must be 'free' or 'learned', got '{self.vector_length}'")
        if self.symmetry not in ("E3", "SE3"):
            raise InputError(f"symmetry must be 'E3' or 'SE3', got '{self.symmetry}'")
        if self.chiral_latent and self.symmetry != "SE3":
            raise InputError("chiral_latent needs symmetry: SE3 (pseudo-scalars are not invariant under reflections)")
        if self.correlation not in (1, 2, 3):
            raise InputError(f"correlation must be 1, 2 or 3, got {self.correlation}")
        if self.sequence_range < 1:
            raise InputError(f"sequence_range must be >= 1, got {self.sequence_range}")
        if self.chain_geometry and (self.symmetry != "SE3" or self.sequence_range < 2):
            raise InputError("chain_geometry needs symmetry: SE3 (the sine of a dihedral changes sign in a mirror) "
                             f"and sequence_range >= 2 (it reads residues i±2), got {self.symmetry} and {self.sequence_range}")
        if self.cutoff <= 0 or self.num_layers < 1 or self.mul < 1 or self.lmax < 1:
            raise InputError("cutoff, num_layers, mul and lmax must be positive (lmax >= 1)")

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        types = {f.name: f.type for f in fields(cls)}
        unknown = set(d) - set(types)
        if unknown:
            raise InputError(f"unknown model option(s): {', '.join(sorted(unknown))}")
        out = {}
        for k, v in d.items():  # YAML reads 1e1 as a string: coerce numbers, name the bad ones
            kind = {"int": int, "float": float}.get(str(types[k]))
            if str(types[k]) == "bool" and not isinstance(v, bool):
                raise InputError(f"model option {k}: '{v}' is not true/false")
            try:
                out[k] = kind(v) if kind is not None and not isinstance(v, bool) else v
            except (TypeError, ValueError):
                raise InputError(f"model option {k}: '{v}' is not a number") from None
        return cls(**out)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> "ModelConfig":
        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls.from_dict({**data, **overrides})

    def to_dict(self) -> dict:
        return asdict(self)
