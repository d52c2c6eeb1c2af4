"""`chairside studio`: the month's work in a browser, served on this computer only."""

from __future__ import annotations

import click

from chairside.commands.options import Options, pass_options


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=False,
    help="Listen on this port of 127.0.0.1 (default: any free port).",
)
@click.option("--no-browser", is_flag=True, help="Print the address; don't open a browser.")
@pass_options
def studio(options: Options, port: int, no_browser: bool) -> None:
    """Open Chairside Studio: campaigns, editing with previews, patients and sending,
    as pages in your web browser.

    It runs on this computer only (127.0.0.1) and reads and writes the same files as the
    other commands, so you can switch between them. The address it prints carries a
    secret made for this run: only a browser that opened it can use the studio. Ctrl-C stops it
    (a send in progress finishes its current message first).

    \b
    Examples:
      chairside studio
      chairside studio --port 8765 --no-browser
    """
    import contextlib
    import webbrowser

    from chairside.studio.server import make_server

    workspace = options.workspace()
    running = make_server(workspace, port=port)
    click.echo(f"Chairside Studio for {workspace.root}")
    click.echo(f"  open: {running.url}")
    click.echo("  (this address is the key to the studio: don't share it). Ctrl-C stops it.")
    if not no_browser and not webbrowser.open(running.url):
        click.echo("No web browser found here: open the address above in one.")
    # uvicorn shuts down cleanly on Ctrl-C, then passes the KeyboardInterrupt on.
    with contextlib.suppress(KeyboardInterrupt):
        running.run()
    click.echo("Chairside Studio stopped.")
