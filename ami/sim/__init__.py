"""The PBX simulator's parts; import the public API from `ami.simulator`.

- server.py: `PbxSimulator`, which puts the parts together (lifecycle, shutdown, fault injection).
- config.py: `SimConfig`, the shared WorldModel plus what only the PBX needs.
- stats.py: `SimStats`, the counters tests and benchmarks read.
- transport.py: AMI sessions, the connection loop, responses and the event fan-out.
- core.py: the shared state (clock, live channels and calls, names, tasks).
- actions.py: login and action dispatch, plus Ping/CoreStatus/CoreSettings/UserEvent.
- actions_calls.py: Originate, Hangup, Redirect, CoreShowChannels, Status.
- actions_queues.py: QueueAdd/Remove/Pause, AgentLogoff, QueueStatus/Summary, Agents.
- callflow.py: a call from Originate to its end (dialling, line results, redirects, hang-ups).
- connect.py: an answered call in the connect context (AMD, queue, agent talk, safe harbour).
- queues.py: the agent pool and queues (member status, agent choice, wrap-up, login).
- calls.py: `SimCall`, one originated call's state; channels.py: channels and queue members.
"""
