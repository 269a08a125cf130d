"""Running the real `dialer` CLI in-process, off the test loop's thread."""

from __future__ import annotations

from dataclasses import dataclass

from typer.testing import CliRunner

from dialer.cli.main import app
from tests.conftest import in_thread


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def dialer(database_url: str | None, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {"COLUMNS": "200", "DIALER_OPERATOR": "tester"}
    if database_url is not None:
        environment["DIALER_DATABASE_URL"] = database_url
    environment.update(env or {})
    runner = CliRunner()
    result = in_thread(lambda: runner.invoke(app, list(args), env=environment))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)
