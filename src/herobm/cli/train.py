"""``herobm train CONFIG.yaml``: train a backmapping network on a dataset."""

from __future__ import annotations

import click

from . import handle_errors, main


@main.command("train")
@click.argument("config", type=click.Path(dir_okay=False, exists=True))
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
              help="auto: CUDA when available, else CPU.")
@click.option("--resume", type=click.Path(dir_okay=False, exists=True),
              help="Continue from a checkpoint (normally OUTPUT/last.pt): epoch, optimizer, LR schedule.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a config option, e.g. --set train.epochs=5 --set model.mul=8 (repeatable).")
@click.option("--stop-after", type=click.IntRange(min=1), metavar="N",
              help="Stop after N epochs of this call (time-limited jobs; continue with --resume OUTPUT/last.pt).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@handle_errors
def train_cmd(config, device, resume, overrides, stop_after, no_progress):
    """Train on the dataset named in CONFIG (sections 'model:' and 'train:').

    Writes best.pt, last.pt (self-contained checkpoints), metrics.csv and loss.png
    into train.output. For several GPUs or processes, launch with
    'torchrun --nproc_per_node N $(which herobm) train CONFIG'.
    """
    import os

    from ..train import train

    result = train(config, device=device, resume=resume, overrides=overrides,
                   progress=False if no_progress else None, stop_after=stop_after)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 reports
        click.echo(result.summary())
