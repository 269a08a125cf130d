"""The one base class for problems an operator can fix: the CLI prints its message as one line."""


class UserError(Exception):
    """Bad input, a missing resource, an illegal request: say what, exit non-zero."""


def unknown_campaign(name: str) -> str:
    """The one wording for a campaign name that does not exist."""
    return f"no campaign named {name!r} (see `dialer campaign list`)"
