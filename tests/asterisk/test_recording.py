"""Recorded calls on the real Asterisk: the path the engine stores is the file MixMonitor
wrote, a valid WAV about as long as the recorded seconds stored, with the agent's voice in
it; calls not recorded (a machine AMD hung up on, a busy line) have no path.

The agent is on a real SIP softphone (baresip, whose voice is a 440 Hz tone): its RTP flows
for the whole call, as a real line's does. (An agent logged in over a Local channel sends no
frames while it waits, and MixMonitor writes only the frames that pass: its file would be
shorter than the call.)

Why a UserEvent: Asterisk 22's MixMonitorStart event carries only the channel, not the file
(checked below), so the dialplan reports MIXMONITOR_FILENAME in `DialerRecording`.
"""

from __future__ import annotations

import asyncio
import time
import wave
from array import array
from pathlib import Path

import pytest

from ami import dialplan
from ami.client import AMIClient
from tests.asterisk.pbx import (
    recording,
    rig_campaign,
    rig_numbers,
    running_engine,
    set_pstn,
)
from tests.asterisk.phones import BARESIP, SKIP_REASON, phones
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import campaign_state, fetch, wait_for
from tests.foundation.helpers import dialer

pytestmark = pytest.mark.skipif(BARESIP is None, reason=SKIP_REASON)
TALK_S = 6


def _wav(path: Path) -> tuple[float, int]:
    """The WAV's length in seconds and its loudest sample (a valid WAV, or this raises)."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2, "MixMonitor's .wav: 16-bit mono"
        samples = array("h", wav.readframes(wav.getnframes()))
        return wav.getnframes() / wav.getframerate(), max((abs(s) for s in samples), default=0)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else -1


async def _finished_wav(path: Path, within: float) -> tuple[float, int]:
    """`_wav` once MixMonitor has closed the file (the header is final, the size steady)."""
    deadline = time.monotonic() + within
    last = -1
    while time.monotonic() < deadline:
        size = await asyncio.to_thread(_size, path)
        if size > 44 and size == last:
            return await asyncio.to_thread(_wav, path)
        last = size
        await asyncio.sleep(0.5)
    raise AssertionError(f"{path} not finished within {within:g}s (size {last})")


async def test_recorded_call_stores_the_file_asterisk_wrote(database_url: str, tmp_path: Path,
                                                           asterisk: AsteriskRig, pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=TALK_S)
    numbers = rig_numbers("049", start=700)  # a person, a busy line, an answering machine
    async with recording(pbx) as events, phones(asterisk, tmp_path, ["1001"]) as phone_of:
        await phone_of["1001"].dial("8000")
        await events.wait(lambda e: e.name == "AgentLogin" and e.get("Agent") == "1001", 10, "AgentLogin")
        name = await rig_campaign(database_url, tmp_path, numbers, agents=1, record=True, amd=True,
                                  compliance={"recording_retention_days": 1})
        async with running_engine(database_url, asterisk):
            await wait_for(lambda: _completed(database_url, name), 120, "the campaign to complete")
    rows = {r["number"][-1]: dict(r) for r in await fetch(
        database_url, "SELECT id::text AS id, number, outcome, amd_result, recording_path, recording_seconds,"
        " connected_at, ended_at FROM call_attempts")}
    person, busy, machine = rows["0"], rows["4"], rows["9"]
    assert (person["outcome"], busy["outcome"], machine["outcome"]) == ("answered", "busy", "machine"), rows

    # The person's call: the stored path is the file on disk, in the rig's recordings folder.
    path = Path(str(person["recording_path"]))
    assert path == asterisk.recordings / f"{person['id']}.wav"
    [reported] = events.user_events(dialplan.USEREVENT_RECORDING)
    assert (reported.get("AttemptId"), reported.get("Path")) == (person["id"], str(path))
    seconds, loudest = await _finished_wav(path, 20)
    assert loudest > 1000, "the agent's tone is not in the recording"
    stored = person["recording_seconds"]
    assert isinstance(stored, float) and stored > 0
    # Recorded from just before the queue to the hang-up: at least the talk time...
    talk = (person["ended_at"] - person["connected_at"]).total_seconds()
    assert stored >= talk - 0.1, (stored, talk)
    # ...and the file about as long (the engine hears the start and end over AMI; Asterisk
    # stops writing a little after the hang-up).
    assert abs(seconds - stored) <= max(1.5, 0.2 * stored), (seconds, stored)

    # Not recorded: the busy line never answered; AMD hung up on the machine before MixMonitor.
    for row in (busy, machine):
        assert (row["recording_path"], row["recording_seconds"]) == (None, None), row
    assert machine["amd_result"] == "MACHINE"
    assert sorted(p.name for p in asterisk.recordings.glob("*.wav") if p.name.startswith(
        (busy["id"], machine["id"]))) == []

    # Asterisk's own MixMonitorStart names the channel only: no header gives the file.
    starts = [e for e in events.named("MixMonitorStart") if e.get("Uniqueid") == person["id"]]
    assert len(starts) == 1
    assert not any(path.name in value for _, value in starts[0].message.headers), starts[0]

    # Retention (1 day here): a purge today leaves the file; once the call is two days old,
    # the purge deletes the file Asterisk wrote and stamps the attempt, the path stays.
    assert dialer(database_url, "recordings", "purge").exit_code == 0
    assert await asyncio.to_thread(path.exists)
    await fetch(database_url, "UPDATE call_attempts SET ended_at = ended_at - interval '2 days'")
    purged = dialer(database_url, "recordings", "purge")
    assert purged.exit_code == 0 and "deleted 1 recordings" in purged.output, purged.output
    assert not await asyncio.to_thread(path.exists)
    stamped = await fetch(database_url, "SELECT recording_path FROM call_attempts WHERE recording_purged_at IS NOT NULL")
    assert [tuple(r) for r in stamped] == [(str(path),)]


async def _completed(url: str, name: str) -> bool:
    return await campaign_state(url, name) == "completed"
