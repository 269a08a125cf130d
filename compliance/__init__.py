"""Compliance: calling windows, DNC, abandonment accounting, attempt policy.

Pure code: plain data in, decisions out. No asyncio, SQL or sockets.
"""
