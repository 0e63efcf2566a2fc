"""``herobm backmap``: CG structure/trajectory -> all-atom structure/trajectory."""

from __future__ import annotations

import click

from . import handle_errors, main


@main.command("backmap")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("--traj", multiple=True, type=click.Path(dir_okay=False), help="CG trajectory file(s).")
@click.option("--model", "model", required=True, type=click.Path(dir_okay=False, exists=True), help="Trained checkpoint (.pt).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="All-atom structure (.pdb, .gro, .cif).")
@click.option("--traj-out", type=click.Path(dir_okay=False), help="All-atom trajectory (.xtc, .dcd, .trr).")
@click.option("--frames", help="START:STOP:STEP of the frames to backmap.")
@click.option("--selection", default="all", show_default=True, help="MDAnalysis selection of the beads.")
@click.option("--strict", is_flag=True, help="Fail on residues the model does not cover instead of skipping them.")
@click.option("--max-beads-per-chunk", default=5000, show_default=True, help="Beads per network call (memory bound).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@handle_errors
def backmap_cmd(input, traj, model, output, traj_out, frames, selection, strict, max_beads_per_chunk, device):
    """Rebuild all-atom heavy atoms from the CG beads of INPUT with a trained model."""
    from ..backmap import backmap

    report = backmap(
        input, model, output, traj=list(traj) or None, traj_out=traj_out, frames=frames, selection=selection,
        strict=strict, max_beads_per_chunk=max_beads_per_chunk, device=device, progress=True,
    )
    click.echo(report.summary())
