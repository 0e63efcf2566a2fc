"""The HEroBM network: strictly local, E(3)-equivariant, on e3nn.

Features live on directed edges i→j (Allegro): an invariant latent ``h_ij`` and
equivariant features ``V_ij``. Each layer pools the neighbourhood of the
centre bead i into a node density ``A_i`` (weights from ``h_ij``), expands it
into a body-ordered product basis ``B_i`` (MACE-style symmetric contractions
of correlation order up to 3, channel-wise), and updates every edge centred on
i with a tensor product of ``V_ij`` and ``B_i`` (residual, gated by ``h``).
Only the centre's neighbourhood ever enters an edge, so a bead's output
depends only on beads within one cutoff, however many layers there are.

Outputs per bead: ``n_vectors`` vectors (1o), and (cos, sin) of φ and ψ, with
cos an invariant (0e) and sin a pseudo-scalar (0o), so a mirror image gets
mirrored dihedrals. With ``symmetry="SE3"`` the head reads the hidden irreps
without parity (pseudo-vectors such as cross products may become output
vectors, sin becomes 0e): equivariant under rotations and translations only,
so handedness (L-amino acids) can be learned from any neighbourhood. With
``typed_head`` each bead type mixes the vector channels with its own weights. With
``chain_geometry`` (SE3) each bead also reads the virtual angles and dihedrals of the chain
of single-bead residues around it (a Cα trace) as invariant inputs.
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import nn

from .config import ModelConfig
from .graph import Graph, n_edge_flags, sequence_flag

__all__ = ["HEroBMNet", "hidden_irreps", "rotation_only", "chain_geometry", "N_CHAIN_FEATURES"]

N_CHAIN_FEATURES = 12  # 3 angle cosines, 2 x (cos, sin) dihedrals, 5 "is defined" flags


def hidden_irreps(mul: int, lmax: int) -> o3.Irreps:
    """``mul`` channels of every l <= lmax with both parities, sorted."""
    return o3.Irreps([(mul, (l, p)) for l in range(lmax + 1) for p in (1, -1)]).sort().irreps.simplify()


def rotation_only(irreps: o3.Irreps) -> o3.Irreps:
    """The same data read as SO(3) irreps: every l gets parity (-1)^l (so 1e -> 1o, 0o -> 0e)."""
    return o3.Irreps([(mul, (ir.l, (-1) ** ir.l)) for mul, ir in irreps])


class BesselBasis(nn.Module):
    """sin(nπr/rc)/r radial functions times a smooth polynomial envelope (0 at the cutoff)."""

    def __init__(self, cutoff: float, num_basis: int, p: int):
        super().__init__()
        self.cutoff, self.p = cutoff, p
        self.register_buffer("freq", torch.arange(1, num_basis + 1) * math.pi / cutoff)

    def envelope(self, r: torch.Tensor) -> torch.Tensor:
        x = r / self.cutoff
        p = self.p
        env = 1 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2)
        return env * (x < 1)

    def forward(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rr = r.clamp_min(1e-6)[:, None]
        basis = math.sqrt(2 / self.cutoff) * torch.sin(self.freq * rr) / rr
        env = self.envelope(r)
        return basis * env[:, None], env


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def _cos_angle(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """cos of the angle a-b-c (vertex b)."""
    return (_unit(a - b) * _unit(c - b)).sum(-1)


def _dihedral_cos_sin(a, b, c, d) -> torch.Tensor:
    """(cos, sin) of the dihedral a-b-c-d (IUPAC sign), (..., 2); (0, 0) if degenerate."""
    b1, b2, b3 = b - a, c - b, d - c
    n1, n2 = torch.cross(b1, b2, dim=-1), torch.cross(b2, b3, dim=-1)
    x = (n1 * n2).sum(-1)
    y = (torch.cross(n1, n2, dim=-1) * _unit(b2)).sum(-1)
    return _unit(torch.stack([x, y], dim=-1))


def chain_geometry(vec: torch.Tensor, center: torch.Tensor, edge_flag: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """Shape of the chain around each bead i, from the edge vectors (Å) centred on it to the
    beads of residues i-2 .. i+2 (edge flags 5, 3, 2, 4): cos of the virtual bond angles at
    i-1, i, i+1, (cos, sin) of the dihedrals (i-2, i-1, i, i+1) and (i-1, i, i+1, i+2), and one
    0/1 flag per quantity saying whether its beads are there (chain ends, gaps, residues of more
    than one bead: 0, with the quantity 0). Invariant under rotations and translations; the sines
    change sign in a mirror. Uses only edges centred on i, so chunked evaluation is exact."""
    rel = []  # position of residue i+s relative to bead i, and whether exactly one bead has that flag
    for flag in map(sequence_flag, (-2, -1, 1, 2)):  # i-2, i-1, i+1, i+2
        sel = edge_flag == flag
        c = center[sel]
        count = torch.zeros(n_nodes, dtype=vec.dtype, device=vec.device).index_add(0, c, torch.ones_like(c, dtype=vec.dtype))
        r = torch.zeros((n_nodes, 3), dtype=vec.dtype, device=vec.device).index_add(0, c, vec[sel])
        ok = count == 1
        rel.append((r * ok[:, None], ok))
    (m2, ok_m2), (m1, ok_m1), (p1, ok_p1), (p2, ok_p2) = rel
    zero = torch.zeros_like(m1)
    parts = [
        (_cos_angle(m2, m1, zero)[:, None], ok_m2 & ok_m1),
        (_cos_angle(m1, zero, p1)[:, None], ok_m1 & ok_p1),
        (_cos_angle(zero, p1, p2)[:, None], ok_p1 & ok_p2),
        (_dihedral_cos_sin(m2, m1, zero, p1), ok_m2 & ok_m1 & ok_p1),
        (_dihedral_cos_sin(m1, zero, p1, p2), ok_m1 & ok_p1 & ok_p2),
    ]
    values = torch.cat([x * ok[:, None].to(x.dtype) for x, ok in parts], dim=-1)
    defined = torch.stack([ok for _, ok in parts], dim=-1).to(vec.dtype)
    return torch.cat([values, defined], dim=-1)


def mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.SiLU()]
    return nn.Sequential(*layers[:-1])


def channelwise_tp(irreps1: o3.Irreps, irreps2: o3.Irreps, irreps_out: o3.Irreps) -> o3.TensorProduct:
    """Channel-wise ('uuu') tensor product with one weight per channel and path."""
    out_list = list(irreps_out)
    instr = []
    for i1, (m1, ir1) in enumerate(irreps1):
        for i2, (m2, ir2) in enumerate(irreps2):
            for io, (mo, iro) in enumerate(out_list):
                if iro in ir1 * ir2 and m1 == m2 == mo:
                    instr.append((i1, i2, io, "uuu", True))
    return o3.TensorProduct(irreps1, irreps2, irreps_out, instr, internal_weights=True, shared_weights=True)


class ProductBasis(nn.Module):
    """ACE product basis of a node density A: [A, A⊗A, (A⊗A)⊗A] (up to ``correlation``),
    channel-wise, mixed by a linear layer. Correlation order = body order - 1."""

    def __init__(self, irreps: o3.Irreps, correlation: int):
        super().__init__()
        self.correlation = correlation
        self.tp2 = channelwise_tp(irreps, irreps, irreps) if correlation >= 2 else None
        self.tp3 = channelwise_tp(irreps, irreps, irreps) if correlation >= 3 else None
        self.mix = o3.Linear(irreps * correlation, irreps)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        parts = [a]
        if self.tp2 is not None:
            a2 = self.tp2(a, a)
            parts.append(a2)
            if self.tp3 is not None:
                parts.append(self.tp3(a2, a))
        return self.mix(torch.cat(parts, dim=-1))


class ScalarGate(nn.Module):
    """Equivariant nonlinearity: every irrep channel times sigmoid(invariant weight)."""

    def __init__(self, irreps: o3.Irreps, latent_dim: int):
        super().__init__()
        self.irreps = irreps
        self.weights = nn.Linear(latent_dim, irreps.num_irreps)
        # gate k of every irrep instance, repeated over its 2l+1 components (flat layout)
        expand = [torch.full((ir.dim,), k) for k, ir in enumerate(ir for mul, ir in irreps for _ in range(mul))]
        self.register_buffer("expand", torch.cat(expand))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.weights(h))
        return x * g[:, self.expand]


class Layer(nn.Module):
    """One Allegro/MACE layer: pool → product basis → edge tensor product → gated residual."""

    def __init__(self, cfg: ModelConfig, irreps_sh: o3.Irreps, irreps: o3.Irreps):
        super().__init__()
        self.cfg = cfg
        self.irreps = irreps
        self.n_sh = irreps_sh.num_irreps  # one weight per l of the spherical harmonics
        self.env_weights = nn.Linear(cfg.latent_dim, cfg.mul * self.n_sh)
        self.env_linear = o3.Linear(o3.Irreps([(cfg.mul, ir) for _, ir in irreps_sh]), irreps)
        self.product = ProductBasis(irreps, cfg.correlation)
        self.edge_tp = channelwise_tp(irreps, irreps, irreps)
        self.edge_linear = o3.Linear(irreps, irreps)
        self.gate = ScalarGate(irreps, cfg.latent_dim)
        latent_irreps = ["0e", "0o"] if cfg.chiral_latent else ["0e"]
        self.register_buffer("scalar_index", torch.cat([
            torch.arange(s.start, s.stop) for (_, ir), s in zip(irreps, irreps.slices()) if str(ir) in latent_irreps
        ]), persistent=False)
        self.latent_update = mlp([cfg.latent_dim + len(self.scalar_index), cfg.latent_dim, cfg.latent_dim])

    def forward(self, h, v, sh_blocks, env, center, n_nodes):
        # node density of each centre: sum_j w_l(h_ij) Y_l(r_ij), channel-wise per l
        w = self.env_weights(h).view(-1, self.cfg.mul, self.n_sh)
        dens = torch.cat([(w[:, :, l, None] * y[:, None, :]).reshape(len(h), -1) for l, y in enumerate(sh_blocks)], dim=-1)
        dens = dens * env[:, None]
        a = torch.zeros((n_nodes, dens.shape[1]), dtype=dens.dtype, device=dens.device)
        a = a.index_add(0, center, dens) / math.sqrt(self.cfg.avg_num_neighbors)
        b = self.product(self.env_linear(a))  # (B, irreps)
        # edge update from the centre's basis only (keeps the receptive field = cutoff)
        dv = self.edge_linear(self.edge_tp(v, b[center]))
        v = v + self.gate(dv, h)
        scal = v[:, self.scalar_index]
        h = h + self.latent_update(torch.cat([h, scal], dim=-1)) * env[:, None]
        return h, v, b


class HEroBMNet(nn.Module):
    """Bead graph -> per-bead vectors (Å) and backbone dihedral encodings."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.irreps_sh = o3.Irreps.spherical_harmonics(cfg.lmax)
        self.irreps = hidden_irreps(cfg.mul, cfg.lmax)
        self.sh = o3.SphericalHarmonics(self.irreps_sh, normalize=True, normalization="component")
        self.radial = BesselBasis(cfg.cutoff, cfg.num_basis, cfg.envelope_p)
        self.type_embed = nn.Embedding(cfg.n_bead_types, cfg.type_embed_dim)
        self.flag_embed = nn.Embedding(n_edge_flags(cfg.sequence_range), cfg.type_embed_dim)
        n_chain = N_CHAIN_FEATURES if cfg.chain_geometry else 0
        self.latent0 = mlp([3 * cfg.type_embed_dim + cfg.num_basis + n_chain, cfg.latent_dim, cfg.latent_dim])
        self.v0_weights = nn.Linear(cfg.latent_dim, cfg.mul * self.irreps_sh.num_irreps)
        self.v0_linear = o3.Linear(o3.Irreps([(cfg.mul, ir) for _, ir in self.irreps_sh]), self.irreps)
        self.layers = nn.ModuleList([Layer(cfg, self.irreps_sh, self.irreps) for _ in range(cfg.num_layers)])
        n = cfg.n_vectors
        head_in = self.irreps + self.irreps
        sin_parity = "0o"
        if cfg.symmetry == "SE3":  # forget parity: pseudo-vectors feed the vectors, pseudo-scalars the scalars
            head_in = rotation_only(head_in)
            sin_parity = "0e"
        self.irreps_out = o3.Irreps(f"{n}x0e + 2x0e + 2x{sin_parity} + {n}x1o")
        self.head = o3.Linear(head_in, self.irreps_out)
        if cfg.typed_head:
            # l=1 channels of the head input that may become output vectors (both parities for SE3)
            self.register_buffer("vector_channels", torch.cat([
                torch.arange(s.start, s.stop) for (mul, ir), s in zip(head_in, head_in.slices()) if ir == o3.Irrep("1o")
            ]), persistent=False)
            c = len(self.vector_channels) // 3
            self.type_mix = nn.Parameter(torch.zeros(cfg.n_bead_types, n, c))
        self.node_self = nn.Embedding(cfg.n_bead_types, cfg.mul)  # bead-type bias on the node scalars
        self.chain_self = nn.Linear(N_CHAIN_FEATURES, cfg.mul) if cfg.chain_geometry else None
        self.scalar_slice = self.irreps.slices()[[ir for _, ir in self.irreps].index(o3.Irrep("0e"))]
        self.log_length = nn.Parameter(torch.zeros(cfg.n_bead_types, n))

    def forward(self, graph: Graph) -> dict[str, torch.Tensor]:
        """Returns ``vectors`` (B, n_vectors, 3) in Å and ``dihedrals`` (B, 2, 2):
        (cos, sin) of φ and ψ on the unit circle."""
        pos, types = graph.pos, graph.bead_type
        center, nbr = graph.edge_index[0], graph.edge_index[1]
        n_nodes = pos.shape[0]
        vec = pos[nbr] - pos[center] + graph.edge_shift.to(pos.dtype)
        r = vec.norm(dim=-1)
        rbf, env = self.radial(r)
        y = self.sh(vec)
        sh_blocks = [y[:, s] for s in self.irreps_sh.slices()]
        edge_in = [self.type_embed(types[center]), self.type_embed(types[nbr]), self.flag_embed(graph.edge_flag), rbf]
        chain = None
        if self.chain_self is not None:  # invariant shape of the chain around the centre bead
            chain = chain_geometry(vec, center, graph.edge_flag, n_nodes)
            edge_in.append(chain[center])
        h = self.latent0(torch.cat(edge_in, -1)) * env[:, None]
        w = self.v0_weights(h).view(-1, self.cfg.mul, self.irreps_sh.num_irreps)
        v0 = torch.cat([(w[:, :, l, None] * yl[:, None, :]).reshape(len(h), -1) for l, yl in enumerate(sh_blocks)], -1)
        v = self.v0_linear(v0 * env[:, None])
        b = None
        for layer in self.layers:
            h, v, b = layer(h, v, sh_blocks, env, center, n_nodes)
        pooled = torch.zeros((n_nodes, v.shape[1]), dtype=v.dtype, device=v.device)
        pooled = pooled.index_add(0, center, v * env[:, None]) / math.sqrt(self.cfg.avg_num_neighbors)
        if b is None:  # pragma: no cover - num_layers >= 1
            b = torch.zeros_like(pooled)
        sl = self.scalar_slice
        bias = self.node_self(types) if chain is None else self.node_self(types) + self.chain_self(chain)
        b = torch.cat([b[:, : sl.start], b[:, sl] + bias, b[:, sl.stop :]], dim=-1)
        out = self.head(torch.cat([pooled, b], dim=-1))
        n = self.cfg.n_vectors
        scale = out[:, :n]
        cos = out[:, n : n + 2]
        sin = out[:, n + 2 : n + 4]
        vectors = out[:, n + 4 :].reshape(n_nodes, n, 3)
        if self.cfg.typed_head:  # each bead type mixes the vector channels its own way
            v1 = torch.cat([pooled, b], dim=-1)[:, self.vector_channels].reshape(n_nodes, -1, 3)
            mix = self.type_mix[types] / math.sqrt(v1.shape[1])
            vectors = vectors + torch.einsum("bkc,bcx->bkx", mix, v1)
        if self.cfg.vector_length == "learned":
            length = torch.exp(self.log_length[types]) * (1 + 0.5 * torch.tanh(scale))
            vectors = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-6) * length[..., None]
        dih = torch.stack([cos, sin], dim=-1)  # (B, 2, 2): [φ|ψ] x [cos|sin]
        dih = dih / dih.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return {"vectors": vectors, "dihedrals": dih}
