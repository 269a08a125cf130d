"""Pacing: how many calls to place now. Pure code: no asyncio, SQL or sockets."""
