"""The `dialer` entry point: registers every command group and turns errors into one line."""

from __future__ import annotations

from pathlib import Path

import typer

from dialer import __version__
from dialer.cli import (
    agents,
    attempts,
    campaign,
    common,
    contacts,
    db,
    dnc,
    engine_cli,
    preview,
    recordings,
    report,
    sim_pbx,
    simulate,
)

app = typer.Typer(
    name="dialer",
    help="A predictive dialer for Asterisk. Settings: DIALER_* environment variables or --settings FILE.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        common.console.print(f"dialer {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    settings_file: Path = typer.Option(None, "--settings", help="TOML settings file (env DIALER_SETTINGS_FILE)"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version"),
) -> None:
    common.set_settings_file(settings_file)


for module in (db, campaign, contacts, dnc, agents, attempts, engine_cli, preview, recordings, report, simulate,
               sim_pbx):
    module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
