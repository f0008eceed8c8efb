"""Which bus a disk is on, from its udev parents (nearest first), as sysfs shows them."""

from __future__ import annotations

import pytest

from agent.inventory.disks import bus_of
from agent.inventory.source import UdevDevice, UdevParent


def disk(name: str, sys_path: str, *subsystems: str, **properties: str) -> UdevDevice:
    parents = tuple(UdevParent(subsystem, f"parent{index}")
                    for index, subsystem in enumerate(subsystems))
    return UdevDevice(sys_path=sys_path, sys_name=name, subsystem="block", device_type="disk",
                      driver=None, device_node=f"/dev/{name}", properties=dict(properties),
                      attributes={}, parents=parents)


@pytest.mark.parametrize(("device", "bus"), [
    # virtio-blk: the disk hangs straight off its virtio device
    (disk("vda", "/devices/pci0000:00/0000:00:04.0/virtio1/block/vda", "virtio", "pci"),
     "virtio"),
    # virtio-scsi: a SCSI disk (sd) whose host adapter is a virtio device
    (disk("sda", "/devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:0/0:0:0:0/block/sda",
          "scsi", "scsi", "scsi", "virtio", "pci", ID_BUS="scsi"), "scsi"),
    # a SAS adapter's disk
    (disk("sdb", "/devices/pci0000:00/0000:03:00.0/host1/port-1:0/end_device-1:0/target1:0:0/"
          "1:0:0:0/block/sdb", "scsi", "scsi", "sas_end_device", "scsi", "pci", ID_BUS="scsi"),
     "scsi"),
    # libata: SCSI in sysfs too, but ATA underneath
    (disk("sdc", "/devices/pci0000:00/0000:00:1f.2/ata2/host2/target2:0:0/2:0:0:0/block/sdc",
          "scsi", "scsi", "scsi", "pci", ID_BUS="ata"), "sata"),
    # USB mass storage: SCSI over USB
    (disk("sdd", "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host3/target3:0:0/"
          "3:0:0:0/block/sdd", "scsi", "scsi", "scsi", "usb", "usb", "pci", ID_BUS="usb"),
     "usb"),
    (disk("nvme0n1", "/devices/pci0000:00/0000:00:06.0/nvme/nvme0/nvme0n1", "nvme", "pci"),
     "nvme"),
])
def test_bus_of(device: UdevDevice, bus: str) -> None:
    assert bus_of(device) == bus
