"""``herobm map``: all-atom structure (and trajectory) -> CG structure (and trajectory)."""

from __future__ import annotations

import click

from ..mapper import map_structure
from . import handle_errors, main


@main.command("map")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("--traj", multiple=True, type=click.Path(dir_okay=False), help="Trajectory file(s) (XTC, TRR, DCD, ...).")
@click.option("--mapping", "-m", default="martini3", show_default=True, help="Shipped set name or folder of mapping files.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="CG structure to write (.pdb or .gro).")
@click.option("--traj-out", type=click.Path(dir_okay=False), help="CG trajectory to write (.xtc, .trr, .dcd).")
@click.option("--selection", default="all", show_default=True, help="MDAnalysis selection of the atoms to map.")
@click.option("--frames", help="START:STOP:STEP of the frames to map (Python slice rules).")
@click.option("--strict", is_flag=True, help="Fail on unknown residues, unmapped or missing atoms instead of warning.")
@handle_errors
def map_cmd(input, traj, mapping, output, traj_out, selection, frames, strict):
    """Coarse-grain INPUT (any format MDAnalysis reads) with a mapping set.

    Residues are made whole across periodic boundaries before their beads are
    placed. Bead and residue names follow the mapping (BB, SC1, ... for Martini 3).
    """
    report = map_structure(
        input, mapping, output, traj=list(traj) or None, traj_out=traj_out, selection=selection,
        frames=frames, strict=strict, progress=True,
    )
    click.echo(report.summary())
