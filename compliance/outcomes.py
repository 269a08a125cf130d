"""System outcomes of a call attempt and agent dispositions, with their flags.

An attempt ends with one :class:`Outcome` set by the engine from Asterisk
events; when an agent talked to the customer, the agent then sets a
disposition (a code from the campaign's :class:`DispositionSet`). Both carry
the same kind of flags (:class:`OutcomeFlags`): whether the contact is finished,
whether it may be retried, whether the number goes on the DNC list (and in what
scope), whether a person was reached, whether the call was a success.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum

__all__ = [
    "Outcome",
    "DncAction",
    "OutcomeFlags",
    "Disposition",
    "DispositionSet",
    "SYSTEM_OUTCOME_FLAGS",
    "DEFAULT_DISPOSITIONS",
    "HUMAN_ANSWERED",
    "ABANDON_OUTCOMES",
]


class Outcome(StrEnum):
    """System outcomes set by the engine (values are stable DB/metrics labels)."""

    ANSWERED = "answered"  # answered by a person and connected to an agent
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTION = "congestion"  # congestion or invalid/unallocated number
    FAILED = "failed"  # originate failed (channel unavailable, carrier error)
    MACHINE = "machine"  # AMD detected an answering machine
    ABANDONED = "abandoned"  # answered by a person, no agent in time (dropped)
    QUEUE_HANGUP = "queue_hangup"  # person answered, hung up while waiting for an agent
    OPT_OUT = "opt_out"  # person pressed the opt-out key (safe-harbour message)
    UNKNOWN = "unknown"  # events lost (engine crash, AMI drop), reconciled without a result


#: Outcomes in which a person answered (the "live call" denominator in every profile).
HUMAN_ANSWERED: frozenset[Outcome] = frozenset(
    {Outcome.ANSWERED, Outcome.ABANDONED, Outcome.QUEUE_HANGUP, Outcome.OPT_OUT}
)

#: A person answered and no agent took the call: dropped, gave up waiting in the queue, or
#: pressed the opt-out key on the abandoned-call message. Each starts the no-repeat period
#: after an abandoned call (UK 72 h), as the ledger counts each as an abandon (a queue
#: hang-up never reached an agent, so its wait is always over the deadline).
ABANDON_OUTCOMES: frozenset[Outcome] = frozenset({Outcome.ABANDONED, Outcome.QUEUE_HANGUP, Outcome.OPT_OUT})


class DncAction(StrEnum):
    """What an outcome or disposition does to the DNC list."""

    NONE = "none"
    CAMPAIGN = "campaign"  # add to this campaign's list
    GLOBAL = "global"  # add to the global list (all campaigns)
    PROFILE = "profile"  # scope chosen by the regulation profile (refusals)


@dataclass(frozen=True, slots=True)
class OutcomeFlags:
    """Flags of an outcome or disposition.

    ``final``: the contact is finished, never retried. ``retry``: the attempt
    policy may schedule another attempt (``final`` and ``retry`` are exclusive).
    ``dnc``: DNC action. ``contact_made``: a person was reached. ``success``:
    the campaign goal was met. ``callback``: an agent books a callback.
    ``retry_after``: the wait before the retry this result asks for (a disposition's own
    delay), instead of the delay of its retry rule; None: the rule's.
    """

    final: bool = False
    retry: bool = False
    dnc: DncAction = DncAction.NONE
    contact_made: bool = False
    success: bool = False
    callback: bool = False
    retry_after: timedelta | None = None

    def __post_init__(self) -> None:
        if self.final and (self.retry or self.callback):
            raise ValueError("a final outcome cannot also retry or call back")
        if self.retry_after is not None and (not self.retry or self.retry_after < timedelta(0)):
            raise ValueError("retry_after needs a retrying result and a delay >= 0")


SYSTEM_OUTCOME_FLAGS: Mapping[Outcome, OutcomeFlags] = {
    Outcome.ANSWERED: OutcomeFlags(contact_made=True),  # disposition decides
    Outcome.NO_ANSWER: OutcomeFlags(retry=True),
    Outcome.BUSY: OutcomeFlags(retry=True),
    Outcome.CONGESTION: OutcomeFlags(retry=True),
    Outcome.FAILED: OutcomeFlags(retry=True),
    Outcome.MACHINE: OutcomeFlags(retry=True),
    Outcome.ABANDONED: OutcomeFlags(retry=True, contact_made=True),
    Outcome.QUEUE_HANGUP: OutcomeFlags(retry=True, contact_made=True),
    Outcome.OPT_OUT: OutcomeFlags(final=True, dnc=DncAction.GLOBAL, contact_made=True),
    Outcome.UNKNOWN: OutcomeFlags(retry=True),
}


@dataclass(frozen=True, slots=True)
class Disposition:
    """An agent disposition: ``code`` (stable label), human ``label`` and flags."""

    code: str
    label: str
    flags: OutcomeFlags

    def __post_init__(self) -> None:
        if not self.code or not self.code.replace("_", "").isalnum():
            raise ValueError(f"disposition code {self.code!r} must be a non-empty identifier")


DEFAULT_DISPOSITIONS: tuple[Disposition, ...] = (
    Disposition("success", "Success", OutcomeFlags(final=True, contact_made=True, success=True)),
    Disposition("callback", "Callback requested", OutcomeFlags(contact_made=True, callback=True)),
    Disposition("not_interested", "Not interested", OutcomeFlags(final=True, contact_made=True)),
    Disposition("hesitating", "Hesitating / considering", OutcomeFlags(retry=True, contact_made=True)),
    Disposition(
        "refused", "Refused", OutcomeFlags(final=True, dnc=DncAction.PROFILE, contact_made=True)
    ),
    Disposition("wrong_number", "Wrong number", OutcomeFlags(final=True, contact_made=True)),
    Disposition(
        "complaint", "Complaint", OutcomeFlags(final=True, dnc=DncAction.GLOBAL, contact_made=True)
    ),
    Disposition(
        "data_correction", "Data correction", OutcomeFlags(retry=True, contact_made=True)
    ),
    Disposition(
        "dnc_request", "Asked not to be called", OutcomeFlags(final=True, dnc=DncAction.GLOBAL, contact_made=True)
    ),
)


class DispositionSet:
    """The dispositions a campaign offers its agents, by code.

    ``DispositionSet.default()`` is the built-in set; ``with_overrides`` lets a
    campaign add dispositions or replace flags of existing ones.
    """

    __slots__ = ("_by_code",)

    def __init__(self, dispositions: Iterable[Disposition]) -> None:
        by_code: dict[str, Disposition] = {}
        for d in dispositions:
            if d.code in by_code:
                raise ValueError(f"duplicate disposition code {d.code!r}")
            if d.code in Outcome.__members__.values():
                raise ValueError(f"disposition code {d.code!r} clashes with a system outcome")
            by_code[d.code] = d
        self._by_code = by_code

    @classmethod
    def default(cls) -> DispositionSet:
        """The built-in set (a shared instance; DispositionSet is immutable)."""
        return _DEFAULT_SET

    def with_overrides(self, dispositions: Iterable[Disposition]) -> DispositionSet:
        merged = dict(self._by_code)
        for d in dispositions:
            merged[d.code] = d
        return DispositionSet(merged.values())

    def __getitem__(self, code: str) -> Disposition:
        try:
            return self._by_code[code]
        except KeyError:
            raise KeyError(f"unknown disposition {code!r}") from None

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Disposition]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def flags(self, outcome: Outcome | str, disposition: str | None = None) -> OutcomeFlags:
        """Flags of an attempt result: the disposition's if given, else the outcome's."""
        if disposition is not None:
            return self[disposition].flags
        return SYSTEM_OUTCOME_FLAGS[Outcome(outcome)]

    def replace_flags(self, code: str, **changes: object) -> DispositionSet:
        """A copy with some flags of disposition ``code`` changed."""
        d = self[code]
        new = Disposition(d.code, d.label, replace(d.flags, **changes))  # type: ignore[arg-type]
        return self.with_overrides([new])


_DEFAULT_SET = DispositionSet(DEFAULT_DISPOSITIONS)
