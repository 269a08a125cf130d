"""The AMI client's exceptions, and how an ``Error`` response becomes one."""

from __future__ import annotations

from ami.protocol import Message

SHUTTING_DOWN_TEXT = "Asterisk is shutting down"


class AMIError(Exception):
    """Base of every client error."""


class ActionFailed(AMIError):
    """Asterisk answered ``Response: Error``; ``.response`` is the message."""

    def __init__(self, action: str, response: Message) -> None:
        self.action = action
        self.response = response
        self.message = response.get("Message") or ""
        super().__init__(f"{action}: {self.message}")


class AsteriskShuttingDown(ActionFailed):
    """``Message: Asterisk is shutting down`` (every action during a graceful restart)."""


class ActionTimeout(AMIError):
    """No response within the action's deadline (the action may or may not have run)."""


class ConnectionLost(AMIError):
    """The connection dropped before the response; the action is NOT re-sent."""


class NotConnected(AMIError):
    """No AMI connection right now."""


class AuthenticationError(AMIError):
    """Login refused (wrong user or secret). Not retried."""


class ListIncomplete(AMIError):
    """A list action's ``ListItems`` did not match the items received."""


class OriginateOutcomeUnknown(AMIError):
    """We cannot know whether/how the call went: connection lost or no OriginateResponse
    within the ring timeout plus margin. Reconcile from events/resync, never re-dial blindly."""


def error_for(action: str, resp: Message) -> ActionFailed:
    """The exception for an ``Error`` response to ``action``."""
    if resp.get("Message") == SHUTTING_DOWN_TEXT:
        return AsteriskShuttingDown(action, resp)
    return ActionFailed(action, resp)


def raise_login(resp: Message) -> None:
    """Raise for a refused Challenge or Login."""
    text = resp.get("Message") or ""
    if text == SHUTTING_DOWN_TEXT:
        raise AsteriskShuttingDown("Login", resp)
    raise AuthenticationError(f"AMI login refused: {text or resp.get('Response')}")
