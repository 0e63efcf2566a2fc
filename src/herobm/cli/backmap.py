"""``herobm backmap``: CG structure/trajectory -> all-atom structure/trajectory."""

from __future__ import annotations

import click

from . import handle_errors, main


@main.command("backmap")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("--traj", multiple=True, type=click.Path(dir_okay=False), help="CG trajectory file(s) (XTC, TRR, DCD, ...).")
@click.option("--model", "models", multiple=True,
              help="Shipped model name (herobm models) or checkpoint path; repeat for mixed systems. "
                   "Default: chosen from the molecules of INPUT.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="All-atom structure (.pdb, .gro, .cif).")
@click.option("--traj-out", type=click.Path(dir_okay=False), help="All-atom trajectory (.xtc, .dcd, .trr).")
@click.option("--frames", help="START:STOP:STEP of the frames to backmap.")
@click.option("--selection", default="all", show_default=True, help="MDAnalysis selection of the beads.")
@click.option("--strict", is_flag=True, help="Fail on molecules no model covers instead of skipping them.")
@click.option("--hydrogens", is_flag=True, help="Add hydrogens (pdbfixer for proteins, force-field templates otherwise).")
@click.option("--ph", default=7.0, show_default=True, help="pH for protonation states (with --hydrogens).")
@click.option("--minimize", is_flag=True, help="OpenMM energy minimisation (amber14-all + lipid17; implies --hydrogens).")
@click.option("--tolerance", default=500.0, show_default=True, help="Minimisation tolerance, kJ/mol/nm.")
@click.option("--restraint", default=1e5, show_default=True,
              help="Minimisation: heavy atoms held near the network's positions, kJ/mol/nm² (0: free).")
@click.option("--optimize-backbone/--no-optimize-backbone", default=None,
              help="Ideal backbone geometry toward the predicted φ/ψ (CA fixed). Default: as the model "
                   "recommends (its checkpoint's info; off for every shipped model).")
@click.option("--max-beads-per-chunk", default=5000, show_default=True, help="Beads per network call (memory bound).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--workers", default=1, show_default=True, help="Processes backmapping trajectory frames in parallel (CPU).")
@click.option("--seed", default=0, show_default=True, help="Seed of the water orientations.")
@click.option("--bead-fit", is_flag=True,
              help="Move the rebuilt heavy atoms the least so that their centres land exactly on the beads "
                   "(exact when the CG was made without hydrogens, e.g. martinize2 of a PDB entry).")
@click.option("--relax-backbone/--no-relax-backbone", default=True, show_default=True,
              help="Where the backbone is not optimised: move N, CA, C, O and CB the least toward ideal bonds, "
                   "angles and planar peptides (--no-relax-backbone: the network's atoms as they are).")
@click.option("--fix-side-chains/--no-fix-side-chains", default=True, show_default=True,
              help="Without refinement: open side-chain branches the network collapsed, correct inverted "
                   "stereocentres and turn side chains out of clashes (refinement and --optimize-backbone "
                   "always do, but for the clashes with --minimize: the minimiser clears them).")
@handle_errors
def backmap_cmd(input, traj, models, output, traj_out, frames, selection, strict, hydrogens, ph, minimize, tolerance,
                restraint, optimize_backbone, max_beads_per_chunk, device, workers, seed, bead_fit,
                relax_backbone, fix_side_chains):
    """Rebuild the all-atom structure of the CG beads of INPUT with trained models."""
    from ..backmap import backmap

    report = backmap(
        input, list(models) or None, output, traj=list(traj) or None, traj_out=traj_out, frames=frames,
        selection=selection, strict=strict, hydrogens=hydrogens, ph=ph, minimize=minimize, tolerance=tolerance,
        restraint=restraint, optimize_backbone=optimize_backbone, max_beads_per_chunk=max_beads_per_chunk, device=device,
        workers=workers, seed=seed, progress=True, bead_fit=bead_fit,
        relax_backbone=relax_backbone, fix_side_chains=fix_side_chains,
    )
    click.echo(report.summary())
