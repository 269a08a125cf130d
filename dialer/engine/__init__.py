"""The engine: `dialer run`. Campaign runners pace calls over AMI and record every attempt.

One module per concept: `call_life` (a call's phases, the AMI events that move it, how it
ends and with which outcome: the state machine, its table in the docstring), `calls` (the
tracker that runs it on AMI events), `channels` (what CoreShowChannels says of a call),
`agents` (agent tracking), `membership` (queue membership follows agent login), `runner`
(one campaign's pacing loop), `ports` (what a runner may use of its engine, and what
observers hear), `closing` (ended calls, dispositions, the batched writer), `recovery`
(reconciling with Asterisk after a connect or a lost Originate), `control` (LISTEN/NOTIFY
from the operator commands), `engine` (the process: its parts, its supervised loops,
start and stop), `supervisor`, `rules` (a campaign's decisions), `store` and `queries`
(the database side).
"""
