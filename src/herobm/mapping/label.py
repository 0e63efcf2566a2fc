"""Automatic hierarchy labels for a mapping that only assigns atoms to beads.

For every bead, the heavy atoms it contains are split into connected pieces
of the bond graph. Each piece is rooted at the atom nearest the bead centre
(or, without coordinates, at the centre of the bond graph); the root goes to
level 1 (level 0 when it is the bead's CM atom) and the rest follows
breadth-first, each atom anchored on the atom it was reached from.
"""

from __future__ import annotations

import re
import string
from collections import deque
from dataclasses import replace
from itertools import product
from typing import Collection, Iterable, Mapping

import numpy as np

from .grammar import HierarchyLabel
from .molecule import MoleculeMapping
from .validate import MappingError

__all__ = ["auto_label", "is_hydrogen_name", "label_ids", "with_template_bonds"]


def is_hydrogen_name(name: str) -> bool:
    """Hydrogen by name: first letter after leading digits is H (``HA``, ``1HB``, ``H2'``)."""
    stripped = re.sub(r"^\d+", "", name)
    return stripped[:1].upper() == "H"


def label_ids(n: int) -> list[str]:
    """``A, B, ..., Z, AA, AB, ...``: ``n`` hierarchy ids in order."""
    out: list[str] = []
    width = 1
    while len(out) < n:
        for letters in product(string.ascii_uppercase, repeat=width):
            out.append("".join(letters))
            if len(out) == n:
                break
        width += 1
    return out


def _graph_centre(nodes: list[int], adj: dict[int, set[int]]) -> int:
    """Node with the smallest eccentricity, then smallest distance sum, then first."""
    best = None
    for s in nodes:
        dist = {s: 0}
        q = deque([s])
        while q:
            u = q.popleft()
            for v in adj[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    q.append(v)
        key = (max(dist.values()), sum(dist.values()))
        if best is None or key < best[0]:
            best = (key, s)
    return best[1]


def auto_label(
    m: MoleculeMapping,
    bonds: Iterable[tuple[str, str]],
    *,
    positions: Mapping[str, np.ndarray] | None = None,
    masses: Mapping[str, float] | None = None,
    hydrogens: Collection[str] | None = None,
    roots: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> MoleculeMapping:
    """Return ``m`` with hierarchy labels on every heavy atom of every bead.

    ``bonds``: pairs of atom names (any naming column of ``m``). ``positions``
    (Å) and ``masses``, when given, choose each piece's root as the atom nearest
    the bead centre; ``roots`` forces a root per bead name (e.g. ``{"BB": "CA"}``).
    ``hydrogens``: names treated as hydrogens (default: by name). Beads that
    already have labels are kept unless ``overwrite``.
    """
    index: dict[str, int] = {}
    for c in range(m.n_columns):
        for i, name in enumerate(m.names_in_column(c)):
            if name is not None:
                index.setdefault(name, i)
    adj: dict[int, set[int]] = {i: set() for i in range(len(m.atoms))}
    for a, b in bonds:
        if a in index and b in index and index[a] != index[b]:
            adj[index[a]].add(index[b])
            adj[index[b]].add(index[a])

    def is_h(i: int) -> bool:
        names = m.atoms[i].names
        if hydrogens is not None:
            return any(n in hydrogens for n in names)
        return is_hydrogen_name(names[0])

    pos = None
    if positions is not None:
        pos = {}
        for name, xyz in positions.items():
            if name in index:
                pos.setdefault(index[name], np.asarray(xyz, dtype=float))
    mass = {}
    if masses is not None:
        for name, value in masses.items():
            if name in index:
                mass.setdefault(index[name], float(value))

    new_labels: dict[tuple[int, str], HierarchyLabel | None] = {}
    for bead, members in m.members.items():
        if not overwrite and any(m.atoms[a].beads[k].label for a, k in members):
            continue
        heavy = [a for a, _ in members if not is_h(a)]
        cm = [a for a, k in members if m.atoms[a].beads[k].is_cm]
        for a, _ in members:
            new_labels[(a, bead)] = None
        if not heavy:
            continue
        centre = None
        if pos is not None:
            w = [(a, wt) for a, wt in m.centre_weights[bead] if wt > 0 and a in pos]
            if w:
                ws = np.array([wt * mass.get(a, 1.0) for a, wt in w])
                xs = np.stack([pos[a] for a, _ in w])
                centre = (ws[:, None] * xs).sum(0) / ws.sum()
        sub = {a: adj[a] & set(heavy) for a in heavy}
        seen: set[int] = set()
        pieces = []
        for start in heavy:
            if start in seen:
                continue
            comp, q = [], deque([start])
            seen.add(start)
            while q:
                u = q.popleft()
                comp.append(u)
                for v in sorted(sub[u]):
                    if v not in seen:
                        seen.add(v)
                        q.append(v)
            pieces.append(sorted(comp))
        forced = None
        if roots and bead in roots:
            if roots[bead] not in index:
                raise MappingError(f"{m.source}: root atom {roots[bead]} of bead {bead} is not in {m.name}")
            forced = index[roots[bead]]
        tree: list[tuple[int, int, int]] = []  # (atom, level, parent atom or -1)
        for comp in pieces:
            if cm and cm[0] in comp:
                root, level0 = cm[0], 0
            elif forced is not None and forced in comp:
                root, level0 = forced, 1
            elif centre is not None and all(a in pos for a in comp):
                root = min(comp, key=lambda a: float(np.linalg.norm(pos[a] - centre)))
                level0 = 1
            else:
                root, level0 = _graph_centre(comp, sub), 1
            tree.append((root, level0, -1))
            depth = {root: level0}
            q = deque([root])
            while q:
                u = q.popleft()
                for v in sorted(sub[u]):
                    if v not in depth:
                        depth[v] = depth[u] + 1
                        tree.append((v, depth[v], u))
                        q.append(v)
        by_level: dict[int, list[tuple[int, int]]] = {}
        for atom, level, parent in tree:
            by_level.setdefault(level, []).append((atom, parent))
        # a level-0 root and level-1 roots share no ids; ids restart per level
        ident: dict[int, str] = {}
        for level in sorted(by_level):
            for (atom, parent), lid in zip(by_level[level], label_ids(len(by_level[level]))):
                ident[atom] = lid
                anchor = None if level <= 1 or parent < 0 else ident[parent]
                if level >= 2 and parent < 0:
                    raise MappingError(f"{m.source}: internal labelling error in bead {bead}")
                new_labels[(atom, bead)] = HierarchyLabel(level=level, id=lid, anchor=anchor)
    atoms = []
    for i, line in enumerate(m.atoms):
        beads = tuple(
            replace(mem, label=new_labels[(i, mem.bead)]) if (i, mem.bead) in new_labels else mem
            for mem in line.beads
        )
        atoms.append(replace(line, beads=beads))
    return replace(m, atoms=tuple(atoms))


def with_template_bonds(
    m: MoleculeMapping,
    bonds: Iterable[tuple[str, str]],
    links: Iterable[tuple[str, str]] = (),
    hydrogens: Collection[str] | None = None,
) -> MoleculeMapping:
    """Return ``m`` with its ``bonds:`` template set to the bonds among its heavy atoms
    (written with each atom's first name, in the given order, without repeats) followed
    by ``links`` to neighbouring residues such as ``("C", "+N")``."""
    index: dict[str, int] = {}
    for i, line in enumerate(m.atoms):
        for n in line.names:
            index.setdefault(n, i)

    def heavy(i: int) -> bool:
        names = m.atoms[i].names
        if hydrogens is not None:
            return not any(n in hydrogens for n in names)
        return not is_hydrogen_name(names[0])

    seen: set[frozenset] = set()
    out: list[tuple[str, str]] = []
    for a, b in bonds:
        if a in index and b in index and index[a] != index[b] and heavy(index[a]) and heavy(index[b]):
            key = frozenset((index[a], index[b]))
            if key not in seen:
                seen.add(key)
                out.append((m.atoms[index[a]].name, m.atoms[index[b]].name))
    return replace(m, bonds=tuple(out) + tuple(links))
