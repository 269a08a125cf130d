"""One real Asterisk for a test session, loaded with the project's own `asterisk-conf/`.

The instance gets a directory of its own (configuration, run, log, spool, database) and its
own loopback ports, so it never collides with another test session or with an Asterisk
somebody runs on the machine. `DIALER_TEST_ASTERISK` names the asterisk command (CI points it
at `../shared/asterisk/asterisk`, which unpacks a relocatable build and prints its prefix with
`--prefix`; any other asterisk binary works when its modules and sounds are where
`asterisk -V`'s build put them, see `prefix()`).

What is changed from `asterisk-conf/`, and why:
- manager.conf `port` and pjsip.conf `bind`: free loopback ports for this instance;
- extensions.conf `DIALER_RECORDING_DIR`: recordings land in the instance's own folder;
- base files the project does not ship (modules.conf, logger.conf, features.conf) come from
  `tests/asterisk/conf/`; asterisk.conf, musiconhold.conf and rtp.conf are written here
  because they name this instance's directories and ports.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_CONF = ROOT / "asterisk-conf"
BASE_CONF = Path(__file__).resolve().parent / "conf"
ENV = "DIALER_TEST_ASTERISK"
SKIP_REASON = (
    f"real-Asterisk tier skipped: set {ENV} to an asterisk command"
    " (e.g. ../shared/asterisk/asterisk) to run it"
)
AMI_USER, AMI_SECRET = "dialer", "dialer"


def command() -> str | None:
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    path = shutil.which(value) or (value if Path(value).exists() else None)
    if path is None:
        raise RuntimeError(f"{ENV}={value!r}: no such command")
    return str(Path(path).resolve())


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port free for both TCP and UDP (PJSIP binds UDP, baresip TCP+1 too)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue


def prefix(asterisk: str) -> Path:
    """Where the build keeps modules and sounds."""
    out = subprocess.run([asterisk, "--prefix"], capture_output=True, text=True, timeout=300)
    candidate = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else ""
    if candidate and Path(candidate, "lib", "asterisk", "modules").is_dir():
        return Path(candidate)
    # A packaged Asterisk: the usual FHS locations.
    for guess in (Path("/usr"), Path("/usr/local")):
        if (guess / "lib" / "asterisk" / "modules").is_dir():
            return guess
    raise RuntimeError(f"cannot find the modules of {asterisk} (tried --prefix, /usr, /usr/local)")


class AsteriskUnusable(RuntimeError):
    """The asterisk binary cannot run on this machine at all (not a failure of the dialer)."""


class AsteriskRig:
    """A real Asterisk process under a test's control."""

    def __init__(self, asterisk: str, workdir: Path) -> None:
        self.asterisk = asterisk
        self.dir = workdir
        self.prefix = prefix(asterisk)
        self.ami_port = free_port()
        self.sip_port = free_port(socket.SOCK_DGRAM)
        rtp = 20000 + (os.getpid() % 200) * 100
        self.rtp_range = (rtp, rtp + 98)
        self.etc = workdir / "etc"
        self.log_dir = workdir / "log"
        self.recordings = workdir / "recordings"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._write_config()

    # --- configuration -------------------------------------------------------------------

    def _write_config(self) -> None:
        for sub in ("etc", "run", "log", "spool", "lib", "db", "keys", "recordings"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for path in PROJECT_CONF.glob("*.conf"):
            text = path.read_text()
            if path.name == "manager.conf":
                text, n = re.subn(r"(?m)^port\s*=.*$", f"port = {self.ami_port}", text)
                assert n == 1, "manager.conf: no port line"
            elif path.name == "pjsip.conf":
                text, n = re.subn(r"(?m)^bind\s*=.*$", f"bind = 127.0.0.1:{self.sip_port}", text)
                assert n == 1, "pjsip.conf: no transport bind line"
            elif path.name == "extensions.conf":
                text, n = re.subn(r"(?m)^DIALER_RECORDING_DIR=.*$",
                                  f"DIALER_RECORDING_DIR={self.recordings}", text)
                assert n == 1, "extensions.conf: no DIALER_RECORDING_DIR"
            (self.etc / path.name).write_text(text)
        for path in BASE_CONF.glob("*.conf"):
            shutil.copy(path, self.etc / path.name)
        data = self.prefix / "var" / "lib" / "asterisk"
        (self.etc / "asterisk.conf").write_text(
            "[directories]\n"
            f"astetcdir => {self.etc}\n"
            f"astmoddir => {self.prefix / 'lib' / 'asterisk' / 'modules'}\n"
            f"astvarlibdir => {self.dir / 'lib'}\n"
            f"astdbdir => {self.dir / 'db'}\n"
            f"astkeydir => {self.dir / 'keys'}\n"
            f"astdatadir => {data}\n"
            f"astagidir => {data / 'agi-bin'}\n"
            f"astspooldir => {self.dir / 'spool'}\n"
            f"astrundir => {self.dir / 'run'}\n"
            f"astlogdir => {self.log_dir}\n"
            f"astsbindir => {self.prefix / 'sbin'}\n"
            "[options]\n"
            "verbose = 3\n"
            "nocolor = yes\n"
            "documentation_language = en_US\n"
        )
        (self.etc / "musiconhold.conf").write_text(
            f"[default]\nmode = files\ndirectory = {data / 'moh'}\n"
        )
        (self.etc / "rtp.conf").write_text(
            f"[general]\nrtpstart = {self.rtp_range[0]}\nrtpend = {self.rtp_range[1]}\n"
        )

    # --- process -------------------------------------------------------------------------

    @property
    def conf(self) -> Path:
        return self.etc / "asterisk.conf"

    def start(self, timeout: float = 60.0) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        out = (self.log_dir / f"console-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [self.asterisk, "-f", "-C", str(self.conf)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if self.process.returncode == -signal.SIGILL:
                    raise AsteriskUnusable(
                        f"real-Asterisk tier skipped: {self.asterisk} dies with an illegal instruction"
                        " on this CPU (a build for a newer instruction set, e.g. AVX-512); rebuild it"
                        " for this machine to run the tier")
                raise RuntimeError(f"asterisk exited with {self.process.returncode}; see {out.name}")
            try:
                if self.cli("core waitfullybooted", timeout=10).returncode == 0 and self._ami_open():
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"asterisk did not boot within {timeout:g}s; see {out.name}")

    def _ami_open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ami_port), timeout=1):
                return True
        except OSError:
            return False

    def cli(self, cmd: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.asterisk, "-C", str(self.conf), "-rx", cmd],
                              capture_output=True, text=True, timeout=timeout)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (Asterisk hangs up its calls and exits), SIGKILL if it does not."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        path = self.log_dir / "messages"
        return path.read_text(errors="replace") if path.exists() else ""
