"""Health and benchmark jobs: small, real and quick, so a workshop can compare machines.

Each figure comes from a bounded job (about a second for the processor and memory, at most a
few seconds or 256 MiB per disk). Disk jobs only read, and only disks that are not excluded.
"""

from agent.bench.run import run_benchmarks

__all__ = ["run_benchmarks"]
