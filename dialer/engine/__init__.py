"""The engine: `dialer run`. Campaign runners pace calls over AMI and record every attempt.

One module per concept: `queries` (the SQL), `store` (the database side), `hopper`
(claimed contacts in memory), `calls` (call tracking from AMI events), `agents` (agent
tracking and queue membership), `runner` (one campaign's pacing loop), `engine` (the
process: AMI, database, control, heartbeat, recovery, shutdown).
"""
