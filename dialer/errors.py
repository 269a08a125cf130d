"""The one base class for problems an operator can fix: the CLI prints its message as one line."""


class UserError(Exception):
    """Bad input, a missing resource, an illegal request: say what, exit non-zero."""
