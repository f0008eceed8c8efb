"""System, CPU and memory from the kernel's DMI, cpuinfo and memory views."""

from __future__ import annotations

from pathlib import Path

from agent.inventory.model import CpuInfo, MemoryInfo, SystemInfo

DMI_DIR = Path("/sys/class/dmi/id")


def read_system(dmi_dir: Path = DMI_DIR) -> SystemInfo:
    return SystemInfo(
        vendor=_read_attr(dmi_dir / "sys_vendor"),
        product=_read_attr(dmi_dir / "product_name"),
        serial=_read_attr(dmi_dir / "product_serial"),
    )


def read_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    model: str | None = None
    threads = 0
    cores: set[tuple[str, str]] = set()
    physical_id = core_id = ""
    for line in [*cpuinfo.read_text().splitlines(), ""]:
        key, _sep, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            threads += 1
        elif key == "model name" and model is None:
            model = value
        elif key == "physical id":
            physical_id = value
        elif key == "core id":
            core_id = value
        elif not key:
            if core_id:
                cores.add((physical_id, core_id))
            physical_id = core_id = ""
    return CpuInfo(model=model, cores=len(cores) or threads, threads=threads)


def read_memory(
    memory_dir: Path = Path("/sys/devices/system/memory"), meminfo: Path = Path("/proc/meminfo")
) -> MemoryInfo:
    """Installed RAM: the online memory blocks (MemTotal leaves out what the kernel reserves)."""
    try:
        block_size = int((memory_dir / "block_size_bytes").read_text().strip(), 16)
        online = sum(
            1 for state in memory_dir.glob("memory*/online") if state.read_text().strip() == "1"
        )
        if online:
            return MemoryInfo(total_bytes=block_size * online)
    except (OSError, ValueError):
        pass
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return MemoryInfo(total_bytes=int(line.split()[1]) * 1024)
    return MemoryInfo(total_bytes=0)


def _read_attr(path: Path) -> str | None:
    try:
        value = path.read_text(errors="replace").strip()
    except OSError:
        return None
    return value or None
