#!/usr/bin/env bash
# Regenerate tests/data/adk_open_martinize2.pdb: the Martini 3 beads that martinize2
# (vermouth) makes from MDAnalysisTests' PDB_small (adk_open.pdb, CHARMM names).
# tests/test_martini3_proteins.py compares herobm's martini3 mapping with it bead by bead.
#
# usage: scripts/make_martinize2_reference.sh
#   PYTHON (default: python) must import MDAnalysisTests; MARTINIZE2 (default: martinize2)
#   is vermouth's martinize2 (the reference was made with vermouth 0.15.0); -dssp needs mdtraj.
#
# No elastic network, default -from charmm. The secondary structure (-dssp) only changes
# the topology, not the bead positions: -ss C gives the same coordinates, checked.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
martinize2=${MARTINIZE2:-martinize2}
out="$root/tests/data/adk_open_martinize2.pdb"

pdb=$("$python" -c 'from MDAnalysisTests.datafiles import PDB_small; print(PDB_small)')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # martinize2 writes molecule_0.itp into the working directory
"$martinize2" -f "$pdb" -x "$work/cg.pdb" -o "$work/topol.top" -ff martini3001 -dssp
mv "$work/cg.pdb" "$out"
echo "wrote $out ($(grep -c '^ATOM' "$out") beads)"
