"""The fast path of `normalise` gives exactly what phonenumbers' full parser gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.numbers import InvalidNumber, normalise, parse_e164

SEPARATORS = st.sampled_from(["", " ", "-", ".", "(", ")", "/"])
COUNTRY_CODES = st.sampled_from(["1", "7", "33", "39", "44", "49", "55", "61", "86", "91", "352", "971"])


def _result(fn, raw: str, region: str | None) -> str:  # type: ignore[no-untyped-def]
    try:
        return str(fn(raw, region))
    except InvalidNumber as exc:
        return f"invalid:{exc.reason}"


@st.composite
def written_numbers(draw: st.DrawFn) -> str:
    digits = draw(st.text(alphabet="0123456789", min_size=0, max_size=14))
    prefix = draw(st.sampled_from(["+", "", "+0", "00"]))
    code = draw(COUNTRY_CODES) if prefix.startswith("+") and prefix != "+0" else ""
    chars = list(code + digits)
    out = []
    for ch in chars:
        out.append(ch)
        out.append(draw(SEPARATORS))
    return prefix + "".join(out)


@settings(max_examples=600, deadline=None)
@given(written_numbers(), st.sampled_from(["US", "CA", "GB", "CN", "DE", None]))
def test_fast_path_agrees_with_the_full_parser(raw: str, region: str | None) -> None:
    assert _result(normalise, raw, region) == _result(parse_e164, raw, region)


def test_examples() -> None:
    assert normalise("(212) 555-0100", "US") == parse_e164("(212) 555-0100", "US") == "+12125550100"
    assert normalise("+44 020 7946 0958") == "+442079460958"  # national prefix: full parser
    assert normalise("+39 06 1234 5678") == "+390612345678"  # Italian leading zero kept
    assert normalise("1-212-555-0100", "US") == "+12125550100"
