"""Agents outside the engine: who works on which campaign (`dialer agents`), and their dispositions."""
