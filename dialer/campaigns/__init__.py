"""Campaigns: the definition file, its compliance rules, and the operations behind `dialer campaign`."""
