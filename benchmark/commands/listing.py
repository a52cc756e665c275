"""``bench list``, ``bench plugins`` and ``bench show``: what is installed and what an entry resolves to."""

from __future__ import annotations

import json

import click

from benchmark.config.loading import DEFAULT_BENCHMARK


@click.command("list")
@click.pass_context
def list_cmd(ctx):
    """List benchmark entries and installed components by kind."""
    from benchmark.config.loading import benchmark_registry
    from benchmark.interfaces import KINDS
    from benchmark.plugins import get_plugin_manager, plural

    pm = get_plugin_manager()
    registry = benchmark_registry(ctx.obj.get("registries", []))
    click.secho("Benchmarks", bold=True)
    for comp in registry.components():
        entry = comp.obj
        try:
            profiles = ", ".join(registry.resolve(comp.name).profiles) or "-"  # inherited through extends too
        except Exception as exc:  # a broken user entry is listed, not fatal
            profiles = f"(invalid: {exc})"
        click.echo(f"  {comp.name:<32} v{entry.get('version', '?'):<4} profiles: {profiles}")
        desc = " ".join(str(entry.get("description", "")).split())
        if desc:
            click.echo(f"      {desc[:100]}{'...' if len(desc) > 100 else ''}")
    for kind in KINDS:
        reg = pm.components(kind)
        click.secho(plural(kind).capitalize(), bold=True)
        for comp in reg.components():
            where = "" if comp.distribution is None else f"  [{comp.distribution}]"
            desc = comp.description if len(comp.description) <= 72 else comp.description[:71].rstrip() + "…"
            click.echo(f"  {comp.name:<24} {desc}{where}")
        if not len(reg):
            click.echo("  (none)")
    broken = pm.broken()
    if broken:
        click.secho(f"{len(broken)} broken plugin(s): see `bench plugins`", fg="red", err=True)


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback of broken plugins.")
def plugins_cmd(as_json, verbose):
    """Each plugin: its distribution and version, its hooks and its status (ok / broken: error)."""
    from benchmark.plugins import get_plugin_manager

    pm = get_plugin_manager()
    rows = [
        {
            "name": p.name,
            "distribution": p.distribution or "signspot-bench",
            "version": p.version,
            "builtin": p.builtin,
            "hooks": p.hooks,
            "status": p.status,
            "error": p.error,
        }
        for p in pm.plugins()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for p, row in zip(pm.plugins(), rows):
        status = click.style("ok", fg="green") if not p.error else click.style("BROKEN", fg="red")
        click.echo(f"{row['name']:<30} {row['distribution']} {row['version'] or ''}  {status}")
        if row["hooks"]:
            click.echo(f"    hooks: {', '.join(row['hooks'])}")
        if p.error:
            click.echo(f"    error: {p.error}")
            if verbose and p.traceback:
                click.echo("    " + p.traceback.replace("\n", "\n    "))


@click.command("show")
@click.argument("name", default=DEFAULT_BENCHMARK)
@click.option("--profile", "-p", help="Apply a named profile overlay (e.g. cpu).")
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a config value (repeatable).")
@click.pass_context
def show_cmd(ctx, name, profile, sets):
    """Print the resolved config of benchmark NAME as YAML."""
    from benchmark.config.entries import dump_yaml
    from benchmark.config.loading import benchmark_registry

    resolved = benchmark_registry(ctx.obj.get("registries", [])).resolve(name, profile, sets)
    header = f"# {resolved.name} v{resolved.version}" + (f", profile {profile}" if profile else "")
    header += f"  (from {resolved.source}; component settings merged over their defaults)\n"
    header += "".join(f"# note: {note}\n" for note in resolved.notes)
    click.echo(header + dump_yaml(resolved.config))
