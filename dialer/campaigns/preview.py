"""Preview dialling settings: the `[preview]` table of a campaign file.

In preview mode the engine offers one contact at a time to an agent (a screen pop over
MQTT, `dialer preview show`); the agent accepts (the customer is called and bridged to
him), skips (the contact goes back to the pool, no attempt) or asks for more time. An
offer not answered within `timeout_s` (plus any more time asked for) is handled as
`on_timeout` says: "skip" (the default: an agent who is not at his desk never has a
customer put through to him) or "dial" (the agent is trusted to be there, the call is
placed as if accepted).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PreviewTimeout = Literal["skip", "dial"]


class PreviewSettings(BaseModel):
    """How offers to agents behave (dial_mode "preview" only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: int = Field(default=60, ge=10, le=3600, description="seconds an agent has to decide")
    on_timeout: PreviewTimeout = Field(default="skip", description="an offer not decided in time: skip or dial")
    more_time_s: int = Field(default=60, ge=5, le=600, description="seconds each 'more time' adds")
    max_more_time: int = Field(default=2, ge=0, le=10, description="how many times an agent may ask for more")
    reoffer_after_min: float = Field(default=30.0, ge=0, le=1440,
                                     description="a skipped contact is not offered to the same agent again before")

    @property
    def longest_s(self) -> int:
        """The longest an offer can stay open: the timeout and every extension."""
        return self.timeout_s + self.more_time_s * self.max_more_time
