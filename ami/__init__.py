"""Asterisk Manager Interface: the project's own asyncio client and a PBX simulator.

Knows nothing of campaigns or contacts: it speaks AMI and nothing else.
"""
