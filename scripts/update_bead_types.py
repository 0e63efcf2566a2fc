"""Append missing bead types to a mapping set's bead_types.yaml (existing numbers kept).

usage: python scripts/update_bead_types.py SET_FOLDER [--share VARIANT=PARENT ...]
"""

import argparse

from herobm.mapping.bead_types import update_bead_types

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("folder")
parser.add_argument("--share", action="append", default=[], help="VARIANT=PARENT: reuse PARENT's bead types")
args = parser.parse_args()
table = update_bead_types(args.folder, dict(s.split("=", 1) for s in args.share))
print(f"{len(table)} beads, {len(set(table.values()))} types")
