"""``herobm evaluate``: compare a backmapped structure (or trajectory) with the ground truth."""

from __future__ import annotations

import click

from ..evaluate import DEFAULT_SELECTION, evaluate
from . import handle_errors, main


@main.command("evaluate")
@click.argument("pred", type=click.Path(dir_okay=False))
@click.argument("ref", type=click.Path(dir_okay=False))
@click.option("--traj-pred", multiple=True, type=click.Path(dir_okay=False), help="Trajectory file(s) of PRED.")
@click.option("--traj-ref", multiple=True, type=click.Path(dir_okay=False), help="Trajectory file(s) of REF.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the metrics as JSON here.")
@click.option("--plots", type=click.Path(file_okay=False), help="Folder for PNG plots (Ramachandran, χ, per-residue RMSD, lipid RDFs).")
@click.option("--selection", default=DEFAULT_SELECTION, show_default=True, help="MDAnalysis selection applied to both.")
@click.option("--fit", is_flag=True, help="Superpose each PRED frame on its REF frame before the RMSDs.")
@handle_errors
def evaluate_cmd(pred, ref, traj_pred, traj_ref, json_out, plots, selection, fit):
    """Compare PRED (backmapped) with REF (ground truth), heavy atoms only.

    Atoms pair by chain, residue and atom name (AMBER/CHARMM spellings are the
    same atom); no superposition unless --fit. With trajectories, per-frame
    metrics are reported as mean ± std over frames (frames pair one to one, or
    every PRED frame with a single-frame REF). See docs/evaluate.md for every key.
    """
    result = evaluate(pred, ref, traj_pred=list(traj_pred) or None, traj_ref=list(traj_ref) or None,
                      selection=selection, fit=fit, plots=plots)
    if json_out:
        result.write_json(json_out)
    click.echo(result.summary())
    if json_out:
        click.echo(f"wrote {json_out}")
