"""``herobm dataset corpus``: a training corpus built on this machine (see docs/corpus.md)."""

from __future__ import annotations

import time

import click

from . import handle_errors
from .dataset import dataset_group


def _range(text: str) -> tuple[int, int]:
    from ..errors import InputError

    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        raise InputError(f"--length '{text}': expected MIN:MAX (or N)") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or parts[0] < 1 or parts[1] < parts[0]:
        raise InputError(f"--length '{text}': expected MIN:MAX with 1 <= MIN <= MAX")
    return parts[0], parts[1]


@dataset_group.command("corpus")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Corpus folder to write.")
@click.option("--peptides", default=60, show_default=True, help="Number of generated peptides (0: none).")
@click.option("--length", default="8:16", show_default=True, help="Peptide length range MIN:MAX (residues, without caps).")
@click.option("--frames", default=20, show_default=True, help="Frames saved per peptide.")
@click.option("--md-steps", default=10000, show_default=True, help="Production MD steps (2 fs) per peptide.")
@click.option("--equilibration-steps", default=2000, show_default=True, help="MD steps before the first frame.")
@click.option("--solvent", type=click.Choice(["obc2", "vacuum"]), default="obc2", show_default=True,
              help="OBC2 implicit solvent (amber14 'implicit/obc2.xml' parameters) or vacuum.")
@click.option("--platform", default="auto", show_default=True, help="OpenMM platform (auto: the fastest that works).")
@click.option("--cap-fraction", default=0.3, show_default=True, help="Probability of an ACE / NME cap at each terminus.")
@click.option("--seed", default=0, show_default=True, help="Seed of sequences, conformations, velocities, splits.")
@click.option("--workers", type=int, default=None,
              help="Peptide MD processes, one CPU thread each when > 1  [default: one per core on the CPU platform].")
@click.option("--val-fraction", default=0.1, show_default=True, help="Share of the peptides in the 'val' split.")
@click.option("--mdatests/--no-mdatests", default=True, show_default=True, help="MDAnalysisTests proteins.")
@click.option("--crystal/--no-crystal", default=True, show_default=True,
              help="MDAnalysisTests crystal structures without hydrogens.")
@click.option("--openmm-data/--no-openmm-data", default=True, show_default=True,
              help="OpenMM's villin box and lipid patches.")
@click.option("--build-dataset", "dataset_dir", type=click.Path(file_okay=False),
              help="Then build a dataset of the corpus in this folder.")
@click.option("--mapping", "-m", default="martini3", show_default=True, help="Mapping set of --build-dataset.")
@click.option("--dataset-workers", default=1, show_default=True, help="Processes of --build-dataset.")
@handle_errors
def corpus_cmd(output, peptides, length, frames, md_steps, equilibration_steps, solvent, platform, cap_fraction,
               seed, workers, val_fraction, mdatests, crystal, openmm_data, dataset_dir, mapping, dataset_workers):
    """Collect and generate all-atom training inputs; write OUTPUT/corpus.json.

    \b
    Sources (never the benchmark: adenylate kinase in any form, YiiP):
      mdatests        protein structures/trajectories shipped by MDAnalysisTests
      openmm-*        OpenMM's villin test box and its lipid bilayer patches
      peptide-md      random-sequence peptides (PeptideBuilder + pdbfixer) run
                      with OpenMM (amber14-all, OBC2 or vacuum, Langevin, 2 fs)

    With --build-dataset DIR the corpus goes through `herobm dataset build`
    with the manifest's splits (real structures: train; peptides: train/val).
    """
    from ..data.corpus import build_corpus, build_corpus_dataset

    t0 = time.perf_counter()
    report = build_corpus(
        output, peptides, _range(length), seed, md_steps, frames, platform,
        equilibration_steps=equilibration_steps, solvent=solvent, cap_fraction=cap_fraction, workers=workers,
        val_fraction=val_fraction, mdatests=mdatests, crystal=crystal, openmm_structures=openmm_data,
        lipids=openmm_data, progress=True,
    )
    click.echo(report.summary())
    if dataset_dir:
        t1 = time.perf_counter()
        built = build_corpus_dataset(report.entries, mapping, dataset_dir, workers=dataset_workers, progress=True)
        click.echo(built.summary())
        click.echo(f"dataset step: {time.perf_counter() - t1:.1f} s")
    click.echo(f"total: {time.perf_counter() - t0:.1f} s")
