"""The PBX simulator's parts; import the public API from `ami.simulator`."""
