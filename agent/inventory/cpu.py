"""The processor from /proc/cpuinfo and cpufreq, and the x86-64 level it reaches.

The level says which systems will run: Debian and most distributions need x86-64 (v1),
RHEL 9 and its rebuilds need x86-64-v2, RHEL 10 needs x86-64-v3. The levels are the ones of the
x86-64 psABI as glibc checks them (sysdeps/x86/get-isa-level.h); this reads them from the flag
names the Linux kernel prints, which differ in places:

- SSE3 is `pni`, LAHF/SAHF in 64-bit mode is `lahf_lm`, CMPXCHG16B is `cx16`.
- LZCNT is `abm` (the kernel names CPUID 0x80000001 ECX bit 5 after AMD's "advanced bit
  manipulation"; Intel sets the same bit for LZCNT).
- OSXSAVE (the system has enabled XSAVE) is never printed: the kernel hides that flag. It clears
  `xsave` when it does not enable XSAVE (and then AVX too), so `xsave` stands for OSXSAVE here.
- SYSCALL (`syscall`) is part of the baseline but a 32-bit kernel on Intel does not list it, so
  the baseline is read from `lm` (long mode) and the other baseline flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agent.inventory.source import MachineSource

CPUFREQ_DIR = "/sys/devices/system/cpu/cpu0/cpufreq"

X86_64_BASELINE = frozenset({"lm", "cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"})
# Each level adds these flags to the one below it.
X86_64_LEVELS = (
    ("x86-64-v2", frozenset({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"})),
    ("x86-64-v3", frozenset({"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe",
                             "xsave"})),
    ("x86-64-v4", frozenset({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"})),
)


@dataclass(frozen=True)
class Processor:
    model: str | None
    vendor: str | None  # "GenuineIntel", "AuthenticAMD", ...
    cores: int  # physical cores: distinct (physical id, core id) pairs
    threads: int  # logical processors
    min_mhz: int | None
    max_mhz: int | None
    frequency_source: str | None  # "cpufreq" (rated range) or "cpuinfo" (clock seen at boot)
    microarchitecture_level: str | None  # "x86-64", "x86-64-v2" ... "x86-64-v4"; None off x86-64


def read_processor(source: MachineSource) -> Processor | None:
    cpuinfo = source.read_text("/proc/cpuinfo")
    if not cpuinfo:
        return None
    blocks = _processor_blocks(cpuinfo)
    if not blocks:
        return None
    first = blocks[0]
    cores = {(block.get("physical id", ""), block["core id"]) for block in blocks
             if "core id" in block}
    min_mhz, max_mhz, frequency_source = _frequency(source, blocks)
    return Processor(
        model=_words(first.get("model name") or first.get("Processor") or first.get("cpu model")),
        vendor=first.get("vendor_id"),
        cores=len(cores) or len(blocks),
        threads=len(blocks),
        min_mhz=min_mhz,
        max_mhz=max_mhz,
        frequency_source=frequency_source,
        microarchitecture_level=x86_64_level(first.get("flags", "").split()),
    )


def x86_64_level(flags: Iterable[str]) -> str | None:
    present = set(flags)
    if not X86_64_BASELINE.issubset(present):
        return None
    reached = "x86-64"
    for level, required in X86_64_LEVELS:
        if not required.issubset(present):
            break
        reached = level
    return reached


def _processor_blocks(cpuinfo: str) -> list[dict[str, str]]:
    """One dict per logical processor; a block starts at its `processor` line."""
    blocks: list[dict[str, str]] = []
    for line in cpuinfo.splitlines():
        key, colon, value = line.partition(":")
        if not colon:
            continue
        key, value = key.strip(), value.strip()
        if key == "processor" and value.isdigit():
            blocks.append({})
        if blocks:
            blocks[-1].setdefault(key, value)
    return blocks


def _frequency(
    source: MachineSource, blocks: list[dict[str, str]]
) -> tuple[int | None, int | None, str | None]:
    low = _khz(source.read_text(f"{CPUFREQ_DIR}/cpuinfo_min_freq"))
    high = _khz(source.read_text(f"{CPUFREQ_DIR}/cpuinfo_max_freq"))
    if high is not None:
        return (None if low is None else low // 1000), high // 1000, "cpufreq"
    # Without cpufreq only the clock each processor ran at when read is known: keep the highest.
    seen = [float(block["cpu MHz"]) for block in blocks if _is_number(block.get("cpu MHz"))]
    if seen:
        return None, round(max(seen)), "cpuinfo"
    return None, None, None


def _words(text: str | None) -> str | None:
    # Intel pads model names to a fixed width: "Intel(R) Core(TM)2 CPU         T5600  @ 1.83GHz".
    return " ".join(text.split()) if text else None


def _khz(text: str | None) -> int | None:
    value = (text or "").strip()
    return int(value) if value.isdigit() else None


def _is_number(text: str | None) -> bool:
    try:
        float(text or "")
    except ValueError:
        return False
    return True
