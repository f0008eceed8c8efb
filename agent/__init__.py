"""The reeeboot agent: runs on the donated computer, from the USB stick."""

__version__ = "0.1.0"
