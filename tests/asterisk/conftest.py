"""The real-Asterisk tier: one Asterisk per test session (see rig.py).

Runs when `DIALER_TEST_ASTERISK` names an asterisk command; otherwise every test here is
skipped and the run says why in one line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ami.client import AMIClient
from tests.asterisk.pbx import ami_client, hang_up_everything
from tests.asterisk.rig import SKIP_REASON, AsteriskRig, AsteriskUnusable, command

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        found = command()
    except RuntimeError as exc:  # DIALER_TEST_ASTERISK names nothing runnable: say so, plainly
        raise pytest.UsageError(str(exc)) from None
    if found is not None:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)
    config.stash[_SKIPPED] = True


_SKIPPED = pytest.StashKey[bool]()
_UNUSABLE = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if config.stash.get(_SKIPPED, False):
        terminalreporter.write_line(SKIP_REASON)
    if _UNUSABLE in config.stash:
        terminalreporter.write_line(config.stash[_UNUSABLE], red=True, bold=True)


@pytest.fixture(scope="session")
def asterisk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskRig]:
    asterisk = command()
    assert asterisk is not None
    rig = AsteriskRig(asterisk, tmp_path_factory.mktemp("asterisk"))
    try:
        rig.start()
    except AsteriskUnusable as exc:  # the binary, not the dialer: skip the tier, loudly
        request.config.stash[_UNUSABLE] = str(exc)
        pytest.skip(str(exc))
    yield rig
    rig.stop()


@pytest.fixture
async def pbx(asterisk: AsteriskRig) -> AsyncIterator[AMIClient]:
    """An AMI connection to the rig (restarted first if an earlier test stopped it); the rig
    is left with no call, no logged-in agent and the imitation PSTN's defaults."""
    if not asterisk.running:
        asterisk.start()
    async with ami_client(asterisk) as client:
        await hang_up_everything(asterisk, client)
        yield client
    if asterisk.running:
        async with ami_client(asterisk) as client:
            await hang_up_everything(asterisk, client)
