"""``herobm dataset build | info``: training data from all-atom structures and trajectories."""

from __future__ import annotations

import click

from . import handle_errors, main


@main.group("dataset")
def dataset_group() -> None:
    """Build and inspect training datasets."""


@dataset_group.command("build")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--traj", multiple=True, type=click.Path(dir_okay=False), help="Trajectory file(s) of a single INPUT.")
@click.option("--mapping", "-m", default="martini3", show_default=True, help="Shipped set name or folder.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Dataset folder to write.")
@click.option("--frames", help="START:STOP:STEP of the frames of every trajectory.")
@click.option("--selection", default="all", show_default=True, help="MDAnalysis selection applied to every input.")
@click.option("--split", default="train=0.8,val=0.1,test=0.1", show_default=True, help="Fractions of systems per split.")
@click.option("--split-file", type=click.Path(dir_okay=False, exists=True), help="YAML/JSON {input: split}; overrides --split.")
@click.option("--seed", default=0, show_default=True, help="Seed of the split shuffle.")
@click.option("--workers", default=1, show_default=True, help="Processes working on different inputs at once.")
@handle_errors
def build_cmd(inputs, traj, mapping, output, frames, selection, split, split_file, seed, workers):
    """Turn all-atom INPUTS into training samples.

    Each INPUT is a structure/topology file, optionally followed by its
    trajectories joined with commas (top.psf,run1.dcd,run2.dcd). Splits are by
    whole input (never frames of one trajectory in two splits).
    """
    from ..data import build_dataset, parse_input_spec, parse_split
    from ..errors import InputError

    specs = [parse_input_spec(i) for i in inputs]
    if traj:
        if len(specs) != 1:
            raise InputError("--traj works with a single INPUT; with several, write TOP,TRAJ for each")
        specs = [type(specs[0])(specs[0].topology, specs[0].trajectories + tuple(traj))]
    report = build_dataset(
        specs, mapping, output, frames=frames, selection=selection, split=parse_split(split),
        split_file=split_file, seed=seed, workers=workers, progress=True,
    )
    click.echo(report.summary())


@dataset_group.command("info")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--cutoff", default=10.0, show_default=True, help="Neighbour cutoff (Å) for the mean neighbour count.")
@click.option("--sample-frames", default=20, show_default=True, help="Frames used to estimate neighbour counts.")
@handle_errors
def info_cmd(folder, cutoff, sample_frames):
    """Counts per split, bead types, atoms per bead and mean neighbours at a cutoff."""
    from ..data.info import dataset_info

    click.echo(dataset_info(folder, cutoff=cutoff, sample_frames=sample_frames))
