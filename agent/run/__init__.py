"""The run engine: one machine's run, which the screen, unattended mode and the command line
all drive (agent/run/engine.py)."""
