"""``bench cache``: where the stage cache lives, how much each stage uses, and clearing it."""

from __future__ import annotations

import click


def _cache(ctx):
    from benchmark.storage.cache import StageCache

    return StageCache(ctx.parent.obj.get("cache_dir") if ctx.parent and ctx.parent.obj else None)


@click.group("cache")
def cache_group():
    """Inspect or clear the stage cache."""


@cache_group.command("info")
@click.pass_context
def cache_info(ctx):
    """Where the cache lives and how much each stage uses."""
    cache = _cache(ctx)
    click.echo(f"cache: {cache.root}")
    for stage, size in cache.usage().items():
        click.echo(f"  {stage:<24} {size / 2**20:10.1f} MiB")


@cache_group.command("clear")
@click.argument("stage", required=False)
@click.confirmation_option(prompt="Delete cached outputs?")
@click.pass_context
def cache_clear(ctx, stage):
    """Delete the whole cache, or one STAGE.

    Stages: preprocess, train-expert, extract-features, train-spotter, decode, sweep-trial, datasets.
    """
    cache = _cache(ctx)
    cache.clear(stage)
    click.echo(f"cleared {cache.root / stage if stage else cache.root}")
