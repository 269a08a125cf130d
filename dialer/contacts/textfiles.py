"""Reading operators' text files: encoding detection, progress by bytes read."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from pathlib import Path

from dialer.errors import UserError

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)

_SAMPLE = 1 << 20


class FileProblem(UserError):
    """The file cannot be read as asked; the message says what and where."""


def detect_encoding(path: Path, requested: str = "auto") -> str:
    """`utf-8-sig` for a BOM, `utf-8` when the first MiB decodes, else `gb18030` (covers GBK).

    A requested encoding is checked to exist and returned as is.
    """
    if requested != "auto":
        try:
            codecs.lookup(requested)
        except LookupError:
            raise FileProblem(f"unknown encoding {requested!r}") from None
        return requested
    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=len(sample) < _SAMPLE)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        raise FileProblem(
            f"{path}: neither UTF-8 nor GBK/GB18030 text; pass --encoding"
        ) from None


class ProgressReader(io.RawIOBase):
    """A binary file that reports bytes read to a progress callback."""

    def __init__(self, path: Path, progress: ProgressCallback | None) -> None:
        self._file = path.open("rb")
        self._total = path.stat().st_size
        self._done = 0
        self._progress = progress
        self._last_report = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = self._file.readinto(buffer)
        self._done += count
        if self._progress and (self._done - self._last_report >= 1 << 18 or count == 0):
            self._last_report = self._done
            self._progress(self._done, self._total)
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def open_text(path: Path, encoding: str, progress: ProgressCallback | None = None) -> io.TextIOWrapper:
    raw = ProgressReader(path, progress)
    return io.TextIOWrapper(io.BufferedReader(raw, 1 << 16), encoding=encoding, errors="strict", newline="")
