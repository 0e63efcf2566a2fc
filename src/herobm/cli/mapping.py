"""``herobm mapping ...``: check, label, import and list mappings."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..mapping import dump_molecule, load_mapping_set, shipped_sets
from . import handle_errors, main


@main.group("mapping")
def mapping_group() -> None:
    """Tools around mapping files (check, label, import-vermouth, list)."""


@mapping_group.command("check")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("--mapping", "-m", default="martini3", show_default=True, help="Shipped set name or folder.")
@click.option("--selection", default="all", show_default=True, help="MDAnalysis selection of the atoms to check.")
@click.option("--tolerance", default=1e-3, show_default=True, help="Largest accepted round-trip error (Å).")
@handle_errors
def check_cmd(input, mapping, selection, tolerance):
    """Coverage and oracle round trip of a mapping on INPUT.

    For each molecule type: mapped/unmapped atoms, then every rebuilt atom is
    placed level by level from the bead positions with its true vector and
    compared with the original. Exits 1 if anything is unmapped or missing or
    the error exceeds the tolerance.
    """
    from ..mapper import check_mapping

    report = check_mapping(input, mapping, selection=selection, tolerance=tolerance)
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@mapping_group.command("label")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("--mapping", "-m", "folder", required=True, type=click.Path(file_okay=False, exists=True),
              help="Folder with the bare mapping file(s) to label.")
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Write labelled files here (default: in place).")
@click.option("--overwrite", is_flag=True, help="Relabel beads that already have labels.")
@handle_errors
def label_cmd(input, folder, output, overwrite):
    """Write hierarchy labels for mappings that only assign atoms to beads.

    Bonds come from INPUT (its topology, or guessed from distances by
    MDAnalysis when the format has none); each bead is rooted at the atom
    nearest its centre and labelled breadth-first along the bonds.
    """
    from ..labelling import label_folder

    for path, m in label_folder(input, folder, output, overwrite=overwrite):
        click.echo(f"labelled {m.name}: {sum(1 for a in m.atoms if a.rebuilt)} rebuilt atoms -> {path}")


@mapping_group.command("import-vermouth")
@click.argument("name")
@click.option("--from", "ff_from", default="charmm", show_default=True, help="All-atom force field of the mapping.")
@click.option("--to", "ff_to", default="martini3001", show_default=True, help="CG force field.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: print).")
@handle_errors
def import_cmd(name, ff_from, ff_to, output):
    """Convert vermouth's mapping of NAME (e.g. BENZ, TOLU, PHE) into a labelled herobm file."""
    from ..mapping.vermouth_import import import_vermouth

    m = import_vermouth(name, ff_from, ff_to)
    text = dump_molecule(m, header=f"Imported from vermouth ({ff_from} -> {ff_to}) by herobm mapping import-vermouth")
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@mapping_group.command("list")
@click.argument("name", required=False)
@handle_errors
def list_cmd(name):
    """List the shipped mapping sets, or the molecules of set NAME."""
    if name is None:
        for s in shipped_sets():
            mset = load_mapping_set(s)
            click.echo(f"{s:<12} {len(mset.molecules):>4} molecules  {mset.description}")
        return
    mset = load_mapping_set(name)
    for m in mset.molecules:
        extra = f" (also {', '.join(m.aliases)})" if m.aliases else ""
        click.echo(f"{m.name:<6} beads {' '.join(m.beads)}{extra}")
