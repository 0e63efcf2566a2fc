"""``herobm models``: the shipped pretrained models."""

from __future__ import annotations

import click

from . import handle_errors, main


@main.command("models")
@click.option("-v", "--verbose", is_flag=True, help="Also list every residue name each model covers.")
@handle_errors
def models_cmd(verbose):
    """List the shipped pretrained models and what they cover."""
    from ..models import available_models

    models = available_models()
    if not models:
        click.echo("no shipped models")
        return
    for m in models:
        size = m.path.stat().st_size / 1e6
        click.echo(f"{m.name}  (mapping {m.mapping}, {len(m.covers)} residue names, {size:.1f} MB)")
        if m.description:
            click.echo(f"    {m.description}")
        for key in ("trained_on", "hardware", "scores"):
            if key in m.info:
                click.echo(f"    {key.replace('_', ' ')}: {m.info[key]}")
        if m.info.get("optimize_backbone"):
            click.echo("    backmap default: --optimize-backbone (recommended by the model)")
        if verbose:
            click.echo(f"    covers: {' '.join(sorted(m.covers))}")
