"""Asterisk Manager Interface: the project's own asyncio client and a PBX simulator.

Knows nothing of campaigns or contacts: it speaks AMI and nothing else.

Modules (each documents its own API):
- `ami.protocol`  framing and parsing: `Message` (ordered headers, repeats kept),
  `parse_message`, `MessageReader`, `encode_action`.
- `ami.events`    typed events (`to_event`): Newchannel, Newstate, DialBegin, DialEnd,
  OriginateResponse, Hangup, BridgeEnter/Leave, QueueCaller*, Agent*, QueueMember*,
  UserEvent, FullyBooted, Shutdown; anything else is a `RawEvent`.
- `ami.actions`   action builders (`OriginateRequest`, `originate`, `hangup`, `redirect`,
  `queue_add/remove/pause`, `core_show_channels`, `queue_status`, `ping`, `user_event`...).
- `ami.ids`       ActionID generator (unique across sessions and restarts) and channel-id
  helpers (fixed width / UUID: Asterisk's ChannelId check is a case-insensitive prefix).
- `ami.client`    `AMIClient`: login (plain / MD5), per-action deadlines, list actions,
  `originate()` -> `OriginateHandle`, bounded per-subscriber event queues, keep-alive,
  reconnect with back-off and a resync hook, never re-sending an action (a package; its
  docstring lists the parts).
- `ami.simulator` `PbxSimulator` / `SimConfig`: an AMI server that behaves like
  Asterisk 22.10.1 with simulated customers (pacing.world.WorldModel) and agents; its
  parts live in `ami.sim`.
- `ami.dialplan`  the dialplan contract (contexts, variables, UserEvent names).
"""
