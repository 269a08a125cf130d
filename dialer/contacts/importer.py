"""`dialer contacts import`: a CSV of contacts into a campaign, all or nothing.

Pipeline: detect the encoding, read rows, normalise numbers (main and alternates) to E.164
in the campaign's `default_region` unless the operator names another, in worker processes
(phonenumbers is the slow part), drop duplicates within the file, COPY the good rows into
a staging table, drop numbers already in the campaign or on a do-not-call list (a row whose
main number is listed but has alternates is kept: DNC is per number, the listed one is
never dialled), insert
the rest, and record the batch, all in one transaction. Every rejected row goes to a
rejects CSV with its line number and the reason. A failure leaves the campaign as it was.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.contacts import queries
from dialer.contacts.phone import normalise_chunk
from dialer.contacts.textfiles import FileProblem, ProgressCallback, detect_encoding, open_text
from dialer.db.database import Database
from dialer.errors import UserError, unknown_campaign

log = logging.getLogger(__name__)

NUMBER_COLUMN_GUESSES = ("phone", "number", "phone_number", "telephone", "mobile", "msisdn", "tel")
CHUNK_ROWS = 20_000
COPY_ROWS = 50_000
PRIORITY_RANGE = (-32768, 32767)


class ImportProblem(UserError):
    """The import cannot go on; nothing was stored. The message says why."""


@dataclass(frozen=True)
class ImportOptions:
    number_column: str | None = None  # None: guess from NUMBER_COLUMN_GUESSES
    alt_number_columns: tuple[str, ...] = ()
    timezone_column: str | None = None
    priority_column: str | None = None
    default_region: str | None = None  # None: the campaign's default_region
    encoding: str = "auto"
    delimiter: str | None = None  # None: sniff among , ; tab |
    rejects_path: Path | None = None  # None: <file>.rejected.csv next to the file
    workers: int = 0  # 0: one per CPU
    imported_by: str = "cli"


@dataclass
class ImportReport:
    campaign: str
    file: Path
    encoding: str
    rows_read: int = 0
    imported: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    alt_numbers_dropped: int = 0
    default_region: str = ""  # the region numbers without +country code were read in
    rejects_path: Path | None = None
    seconds: float = 0.0
    batch_id: int | None = None


@dataclass(slots=True)
class _Row:
    line: int
    raw: list[str]
    number_raw: str
    alt_raw: list[str]
    timezone: str | None
    priority: int


class _Rejects:
    """The rejects CSV: line, reason, then the original columns."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self._handle: TextIO | None = None
        self._header = header
        self.count = 0

    def add(self, line: int, reason: str, raw: list[str]) -> None:
        if self._handle is None:
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["line", "reason", *self._header])
        self._writer.writerow([line, reason, *raw])
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _pick_number_column(header: list[str], requested: str | None) -> str:
    lowered = {name.strip().lower(): name for name in header}
    if requested is not None:
        if requested in header:
            return requested
        if requested.lower() in lowered:
            return lowered[requested.lower()]
        raise ImportProblem(
            f"no column {requested!r} in the header (columns: {', '.join(header)})"
        )
    for guess in NUMBER_COLUMN_GUESSES:
        if guess in lowered:
            return lowered[guess]
    raise ImportProblem(
        f"no phone number column found (columns: {', '.join(header)}); pass --number-column"
    )


def _column(header: list[str], name: str | None, option: str) -> int | None:
    if name is None:
        return None
    if name not in header:
        raise ImportProblem(f"{option}: no column {name!r} in the header (columns: {', '.join(header)})")
    return header.index(name)


class _ZoneCheck:
    def __init__(self) -> None:
        self._known: dict[str, bool] = {}

    def __call__(self, zone: str) -> bool:
        if zone not in self._known:
            try:
                ZoneInfo(zone)
                self._known[zone] = True
            except (ZoneInfoNotFoundError, ValueError):
                self._known[zone] = False
        return self._known[zone]


def _read_rows(
    handle: TextIO, options: ImportOptions, rejects_path: Path, report: ImportReport
) -> tuple[int, list[tuple[int, str]], Iterator[_Row], _Rejects]:
    with report.file.open(encoding=report.encoding, errors="replace", newline="") as head:
        sample = head.read(64 * 1024)
    if not sample.strip():
        raise ImportProblem("the file is empty")
    delimiter = options.delimiter or _sniff_delimiter(sample)
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise ImportProblem("the file is empty") from None
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        raise ImportProblem(f"the header repeats columns: {', '.join(repeated)}")
    number_col = header.index(_pick_number_column(header, options.number_column))
    alt_cols = [_column(header, name, "--alt-number-column") for name in options.alt_number_columns]
    tz_col = _column(header, options.timezone_column, "--timezone-column")
    prio_col = _column(header, options.priority_column, "--priority-column")
    special = {number_col, tz_col, prio_col, *alt_cols}
    field_cols = [(i, name) for i, name in enumerate(header) if i not in special]
    rejects = _Rejects(rejects_path, header)
    zone_ok = _ZoneCheck()
    width = len(header)

    def rows() -> Iterator[_Row]:
        try:
            for raw in reader:
                line = reader.line_num
                if not raw or (len(raw) == 1 and not raw[0].strip()):
                    continue  # blank line
                report.rows_read += 1
                if len(raw) != width:
                    rejects.add(line, f"expected {width} columns, found {len(raw)}", raw)
                    report.reasons["wrong number of columns"] += 1
                    continue
                zone = raw[tz_col].strip() if tz_col is not None else ""
                if zone and not zone_ok(zone):
                    rejects.add(line, f"unknown time zone {zone!r}", raw)
                    report.reasons["unknown time zone"] += 1
                    continue
                priority = 0
                if prio_col is not None and raw[prio_col].strip():
                    try:
                        priority = int(raw[prio_col])
                    except ValueError:
                        priority = PRIORITY_RANGE[1] + 1
                    if not PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1]:
                        rejects.add(line, f"priority {raw[prio_col]!r} is not a whole number in range", raw)
                        report.reasons["bad priority"] += 1
                        continue
                yield _Row(
                    line=line,
                    raw=raw,
                    number_raw=raw[number_col],
                    alt_raw=[raw[i] for i in alt_cols if i is not None and raw[i].strip()],
                    timezone=zone or None,
                    priority=priority,
                )
        except csv.Error as exc:
            raise ImportProblem(f"line {reader.line_num}: malformed CSV ({exc})") from None

    return width, field_cols, rows(), rejects


def _chunks(rows: Iterator[_Row], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _normalised_chunks(
    rows: Iterator[_Row], region: str, pool: Executor
) -> Iterator[tuple[list[_Row], list[tuple[str | None, str | None]], list[list[tuple[str | None, str | None]]]]]:
    """Chunks of rows with their normalised numbers; keeps two chunks in flight per worker."""
    pending: list[tuple[list[_Row], Future[Any], Future[Any] | None]] = []
    depth = max(2, 2 * getattr(pool, "_max_workers", 1))
    for chunk in _chunks(rows, CHUNK_ROWS):
        numbers = pool.submit(normalise_chunk, [row.number_raw for row in chunk], region)
        alts_flat = [alt for row in chunk for alt in row.alt_raw]
        alts = pool.submit(normalise_chunk, alts_flat, region) if alts_flat else None
        pending.append((chunk, numbers, alts))
        if len(pending) >= depth:
            yield _collect(pending.pop(0))
    while pending:
        yield _collect(pending.pop(0))


def _collect(
    item: tuple[list[_Row], Future[Any], Future[Any] | None],
) -> tuple[list[_Row], list[tuple[str | None, str | None]], list[list[tuple[str | None, str | None]]]]:
    chunk, numbers_future, alts_future = item
    numbers = numbers_future.result()
    if alts_future is None:
        return chunk, numbers, [[] for _ in chunk]
    flat = alts_future.result()
    per_row: list[list[tuple[str | None, str | None]]] = []
    position = 0
    for row in chunk:
        per_row.append(flat[position : position + len(row.alt_raw)])
        position += len(row.alt_raw)
    return chunk, numbers, per_row


def _not_text(path: Path, encoding: str, exc: UnicodeDecodeError) -> ImportProblem:
    return ImportProblem(
        f"{path}: not valid {encoding} text ({exc.reason}); nothing was imported; pass --encoding"
    )


class _CopyBuffer:
    """Staged rows as CSV in memory, sent with COPY ... (FORMAT csv) in batches."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows = 0
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\n")
        # Empty raw values stay empty strings; an empty time zone or alt list is NULL.
        self.not_null = [f"c{i}" for i in range(width)]

    def add(self, line: int, number: str, alts: list[str], zone: str | None, priority: int, raw: list[str]) -> None:
        self._writer.writerow((line, number, ",".join(alts), zone or "", priority, *raw))
        self.rows += 1

    async def flush(self, conn: Any) -> None:
        if not self.rows:
            return
        data = io.BytesIO(self._text.getvalue().replace("\x00", "").encode("utf-8"))
        await conn.copy_to_table(
            "import_staging", source=data, format="csv", force_not_null=self.not_null,
            columns=["line_no", "number", "alt_numbers", "timezone", "priority", *self.not_null],
        )
        self._text.seek(0)
        self._text.truncate()
        self.rows = 0


async def import_contacts(
    db: Database,
    campaign: str,
    path: Path,
    options: ImportOptions = ImportOptions(),
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import `path` into `campaign`; raises ImportProblem (nothing stored) or returns the report."""
    started = time.perf_counter()
    if not path.is_file():  # noqa: ASYNC240 - one stat before a long blocking read anyway
        raise ImportProblem(f"{path}: no such file")
    try:
        encoding = detect_encoding(path, options.encoding)
    except FileProblem as exc:
        raise ImportProblem(str(exc)) from None
    report = ImportReport(campaign=campaign, file=path, encoding=encoding)
    rejects_path = options.rejects_path or path.with_name(path.name + ".rejected.csv")
    workers = options.workers or os.cpu_count() or 1

    # Raw asyncpg for the bulk COPY; the statements around it share its connection (the
    # staging table is a temporary one) and its transaction (all or nothing).
    async with db.raw_transaction() as conn:
        row = await conn.fetchrow(queries.CAMPAIGN_FOR_IMPORT, campaign)
        if row is None:
            raise ImportProblem(unknown_campaign(campaign))
        if row["state"] in ("stopped", "completed"):
            raise ImportProblem(f"campaign {campaign} is {row['state']}; contacts cannot be added")
        campaign_id = row["id"]
        region = options.default_region or row["default_region"] or "US"
        report.default_region = region
        seen: dict[str, int] = {}
        with open_text(path, encoding, progress) as handle, ProcessPoolExecutor(workers) as pool:
            try:
                width, field_cols, rows, rejects = _read_rows(handle, options, rejects_path, report)
            except UnicodeDecodeError as exc:
                raise _not_text(path, encoding, exc) from None
            await conn.execute(queries.staging_table(width))
            buffer = _CopyBuffer(width)
            try:
                for chunk, numbers, alts in _normalised_chunks(rows, region, pool):
                    for item, (number, reason), alt_results in zip(chunk, numbers, alts, strict=True):
                        if number is None:
                            rejects.add(item.line, f"bad phone number: {reason}", item.raw)
                            report.reasons["bad phone number"] += 1
                            continue
                        first = seen.get(number)
                        if first is not None:
                            rejects.add(item.line, f"duplicate of line {first}", item.raw)
                            report.reasons["duplicate in file"] += 1
                            continue
                        seen[number] = item.line
                        # An alternate equal to the main number or to another alternate is
                        # dropped: each number is dialled, and finished, once per contact.
                        good_alts = list(dict.fromkeys(
                            alt for alt, _ in alt_results if alt is not None and alt != number
                        ))
                        report.alt_numbers_dropped += len(alt_results) - len(good_alts)
                        buffer.add(item.line, number, good_alts, item.timezone, item.priority, item.raw)
                        if buffer.rows >= COPY_ROWS:
                            await buffer.flush(conn)
                await buffer.flush(conn)
                log.debug("import: rows read and staged after %.1fs", time.perf_counter() - started)
                await conn.execute(queries.ANALYZE_STAGING)
                for sql in queries.rejects(width):
                    for record in sorted(await conn.fetch(sql, campaign_id)):
                        report.reasons[record["reject"]] += 1
                        rejects.add(record["line_no"], record["reject"], list(record["raw"]))
                batch_id = await conn.fetchval(
                    queries.INSERT_IMPORT_BATCH, campaign_id, path.name, options.imported_by
                )
                insert_sql, names = queries.insert_contacts(field_cols)
                status = await conn.execute(insert_sql, campaign_id, batch_id, *([names] if names else []))
                report.imported = int(status.split()[-1])
                log.debug("import: contacts inserted after %.1fs", time.perf_counter() - started)
                report.rejected = rejects.count
                await conn.execute(
                    queries.FINISH_IMPORT_BATCH,
                    batch_id,
                    report.rows_read,
                    report.imported,
                    report.rejected,
                )
                report.batch_id = batch_id
            except UnicodeDecodeError as exc:
                raise _not_text(path, encoding, exc) from None
            finally:
                rejects.close()
        report.rejects_path = rejects_path if rejects.count else None
    report.seconds = time.perf_counter() - started
    return report
