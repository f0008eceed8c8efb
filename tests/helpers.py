"""Small builders shared by tests."""

from __future__ import annotations

from collections.abc import Callable

from agent.inventory.cpu import Processor
from agent.inventory.dmi_memory import InstalledMemory
from agent.inventory.dmi_system import SystemProduct
from agent.inventory.model import Disk, Exclusion, Machine


def sample_machine(disks: tuple[Disk, ...] = (), exclusions: tuple[Exclusion, ...] = ()) -> Machine:
    return Machine(
        system=SystemProduct("Dell Inc.", "OptiPlex 7010", None, "5XK2L3J", None, None, None),
        cpu=Processor("Intel(R) Core(TM) i5-3470 CPU @ 3.20GHz", "GenuineIntel", 4, 4, 1600,
                      3600, "cpufreq", "x86-64-v2"),
        memory=InstalledMemory(8 << 30, (), None, None, "meminfo"),
        disks=disks,
        exclusions=exclusions,
    )


def sample_disk(path: str = "/dev/sda", serial: str = "WD-123", bus: str = "sata") -> Disk:
    return Disk(
        name=path.rsplit("/", 1)[-1], path=path, bus=bus, model="WDC WD5000AAKX",
        serial=serial, size_bytes=500 << 30, logical_sector_size=512, rotational=True,
        removable=False, smart_health="passed",
    )


def stretched(text: str, length: int) -> str:
    """`text` made `length` characters long (kept as it is when already longer or length is 0):
    a firmware that fills its fields with garbage, or a volunteer whose finger stayed on a key."""
    return text if length <= len(text) else (text + " " + "x" * length)[:length]


def machine_with_every_part(length: int = 0) -> Machine:
    """A machine with one of every part the inventory knows, so that every text from outside
    the agent is in its report. With `length`, each such text is that many characters long,
    the disk's model and the sentences five times as long."""
    from agent.inventory.battery import Battery
    from agent.inventory.boot import BootFirmware
    from agent.inventory.display import Display
    from agent.inventory.dmi_memory import MemoryModule
    from agent.inventory.dmi_system import Baseboard, Chassis, FirmwareInfo
    from agent.inventory.edid import DetailedTiming, Edid
    from agent.inventory.gpu import Gpu
    from agent.inventory.identity import machine_identity
    from agent.inventory.media import Camera, SoundCard
    from agent.inventory.model import EvidenceFile, Partition
    from agent.inventory.network import NetworkInterface
    from agent.inventory.peripherals import Peripherals
    from agent.inventory.tpm import Tpm
    from agent.inventory.windows_licence import WindowsLicence

    def text(value: str) -> str:
        return stretched(value, length)

    system = SystemProduct(text("Dell Inc."), text("Latitude E7470"), text("A01"),
                           text("5XK2L3J"), text("06DC"), text("4c4c4544-0058-4b10-8032"),
                           text("Latitude"))
    board = Baseboard(text("Dell Inc."), text("0T6HHJ"), text("A00"), text("/5XK2L3J/CN1296"))
    chassis = Chassis(text("Notebook"), text("Dell Inc."), text("5XK2L3J"), text("WS-0042"))
    disks = (
        Disk(name="sda", path="/dev/sda", bus="sata",
             model=stretched("SAMSUNG MZ7LN256HMJP-000H1", 5 * length),
             serial=text("S2R5NX0H612345"), size_bytes=256 << 30, logical_sector_size=512,
             rotational=False, removable=False, smart_health="passed",
             partitions=(Partition("sda1", "vfat", text("EFI system partition"), 512 << 20,
                                   None),),
             wwn=text("0x5002538d00000000"), firmware=text("MAT0300Q")),
        sample_disk(path="/dev/sdb", serial=text("WD-KEPT")),
    )
    edid = Edid("1.4", text("LGD"), text("LG Display"), 1234, 0, 1, 2016, False, True, 31, 17,
                14.0, DetailedTiming(1920, 1080, 60.0, 138500, 309, 174, False),
                text("LP140WF6"), text("SERIAL-1"), (text("LG Display"),), 0)
    peripherals = Peripherals(
        gpus=(Gpu("0000:00:02.0", "8086:1916", "1028:06dc", 0x030000, text("Intel Corporation"),
                  text("Skylake GT2 [HD Graphics 520]"), text("i915"), True),),
        network=(NetworkInterface("enp0s31f6", "00:25:90:25:96:3a", "wired", text("e1000e"),
                                  "pci", text("Intel Corporation"),
                                  text("Ethernet Connection I219-LM"), "8086:156f",
                                  "pci-0000:00:1f.6"),),
        batteries=(Battery("BAT0", text("SMP"), text("DELL GG4FM63"), text("1234"),
                           text("Li-ion"), text("Full"), 55.0, 48.0, 87.3, 312),),
        displays=(Display("card0", "eDP-1", "eDP", True, True, edid),),
        audio=(SoundCard("card0", text("PCH"), text("snd_hda_intel"), "pci",
                         text("Intel Corporation"), text("Sunrise Point-LP HD Audio"),
                         "8086:9d70"),),
        cameras=(Camera("video0", text("Integrated_Webcam_HD: Integrate"), "usb",
                        text("Realtek Semiconductor Corp."), text("Integrated_Webcam_HD"),
                        "0bda:5686", text("uvcvideo")),),
    )
    return Machine(
        system=system,
        cpu=Processor(text("Intel(R) Core(TM) i5-6300U CPU @ 2.40GHz"), text("GenuineIntel"),
                      2, 4, 400, 3000, "cpufreq", "x86-64-v3"),
        memory=InstalledMemory(8 << 30, (MemoryModule(
            text("DIMM A"), text("BANK 0"), 8 << 30, text("DDR4"), 2133, 2133, text("Hynix"),
            text("HMA81GS6AFR8N-UH"), text("12345678"), text("SODIMM")),), 1, 32 << 30,
            "dmidecode"),
        disks=disks,
        exclusions=(Exclusion("/dev/sdb", "kept_by_choice",
                              stretched("the volunteer kept it", 5 * length)),),
        board=board,
        chassis=chassis,
        firmware=FirmwareInfo(text("Dell Inc."), text("1.21.6"), "2019-05-14", True),
        boot=BootFirmware("uefi", 64, "enabled"),
        tpm=Tpm(True, "2.0", "sysfs", text("2.0")),
        windows_licence=WindowsLicence(True, None, None),
        peripherals=peripherals,
        identity=machine_identity(system, board, chassis),
        evidence=(EvidenceFile.of("dmidecode.txt", b"# dmidecode 3.4\n"),),
    )


class FakeTime:
    """A clock and a sleep for checks that wait: sleeping only moves the clock, then tells each
    of `ticks` the new time (a scripted load or sensor changing as time passes)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.ticks: list[Callable[[float], None]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for tick in self.ticks:
            tick(self.now)
