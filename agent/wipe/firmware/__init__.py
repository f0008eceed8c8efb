"""Firmware erase: the drive erases itself (sanitize, format, security erase).

The names below are shared by the capability probes, the policy and the executors; the report and
the CLI use them as they are.
"""
