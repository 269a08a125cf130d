"""The `dialer` entry point: registers every command group and turns errors into one line."""

from __future__ import annotations

import typer

from dialer.cli import sim_pbx, simulate

app = typer.Typer(
    name="dialer",
    help="A predictive dialer for Asterisk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (simulate, sim_pbx):
    module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
