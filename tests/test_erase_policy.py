"""The erasure plan for each recorded drive: chain order, levels, and why methods were left out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.inventory.model import Disk
from agent.wipe import reasons
from agent.wipe.firmware.capabilities import DiskCapabilities, HiddenArea
from agent.wipe.firmware.model import (
    ATA_SANITIZE_BLOCK,
    ATA_SANITIZE_CRYPTO,
    ATA_SECURITY_ERASE,
    ATA_SECURITY_ERASE_ENHANCED,
    MMC_SANITIZE,
    NVME_FORMAT_CRYPTO,
    NVME_FORMAT_USER_DATA,
    NVME_SANITIZE_BLOCK,
    NVME_SANITIZE_CRYPTO,
    OVERWRITE,
    SCSI_SANITIZE_BLOCK,
    SCSI_SANITIZE_CRYPTO,
)
from agent.wipe.firmware.parsers import (
    parse_hdparm_identify,
    parse_hdparm_max_sectors,
    parse_mmc_extcsd,
    parse_nvme_id_ctrl,
    parse_sg_opcodes,
)
from agent.wipe.policy import ErasureOptions, ErasurePlan, OverwriteSpec, plan_erasure
from tests.helpers import sample_disk
from tests.replay import fixture


def disk(path: str, bus: str, rotational: bool = False) -> Disk:
    return replace(sample_disk(path, bus=bus), rotational=rotational)


def ata_caps(drive: str, path: str = "/dev/sda", bus: str = "sata",
             hidden: str | None = None) -> DiskCapabilities:
    identity = parse_hdparm_identify(fixture(f"drives/{drive}/hdparm-I.txt"))
    return DiskCapabilities(
        device=path, bus=bus, ata=identity, ata_passthrough=identity is not None,
        hidden_area=parse_hdparm_max_sectors(fixture(f"drives/{drive}/{hidden}"))
        if hidden else None,
    )


def nvme_caps(id_ctrl: str, namespaces: tuple[int, ...] | None = (1,),
              controller: str | None = "/dev/nvme0", nsid: int | None = 1) -> DiskCapabilities:
    return DiskCapabilities(
        device="/dev/nvme0n1", bus="nvme", nvme=parse_nvme_id_ctrl(fixture(f"drives/{id_ctrl}")),
        nvme_controller=controller, nvme_namespace_id=nsid, nvme_active_namespaces=namespaces,
    )


def chain(plan: ErasurePlan) -> list[tuple[str, str]]:
    return [(step.method, step.level) for step in plan.chain]


def ruled_out(plan: ErasurePlan) -> dict[str, str]:
    return {entry.method: entry.reason for entry in plan.ruled_out}


# --- NVMe -----------------------------------------------------------------------------------


def test_nvme_with_sanitize_tries_every_firmware_erase_strongest_first() -> None:
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"), nvme_caps("nvme-wdc-sn730/id-ctrl.json"))
    assert chain(plan) == [
        (NVME_SANITIZE_CRYPTO, "purge"), (NVME_SANITIZE_BLOCK, "purge"),
        (NVME_FORMAT_CRYPTO, "purge"), (NVME_FORMAT_USER_DATA, "purge"), (OVERWRITE, "clear"),
    ]
    assert plan.chain[0].reason == reasons.NVME_SANITIZE_CRYPTO_ONLY_NAMESPACE
    assert plan.chain[2].reason == reasons.NVME_FORMAT_CRYPTO_THIS_NAMESPACE
    assert plan.chain[-1].reason == reasons.OVERWRITE_FALLBACK
    assert plan.ruled_out == ()
    assert not plan.needs_unfreeze and plan.hidden_area is None and plan.notes == ()


def test_nvme_without_sanitize_formats_with_crypto_erase() -> None:
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"), nvme_caps("nvme-micron-9300/id-ctrl.txt"))
    assert plan.methods == (NVME_FORMAT_CRYPTO, NVME_FORMAT_USER_DATA, OVERWRITE)
    assert ruled_out(plan) == {
        NVME_SANITIZE_CRYPTO: reasons.SANITIZE_CRYPTO_NOT_SUPPORTED,
        NVME_SANITIZE_BLOCK: reasons.SANITIZE_BLOCK_NOT_SUPPORTED,
    }


def test_nvme_with_block_erase_only_and_no_crypto_format() -> None:
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"),
                        nvme_caps("nvme-tforce-tm8fpl500g/id-ctrl.txt"))
    assert plan.methods == (NVME_SANITIZE_BLOCK, NVME_FORMAT_USER_DATA, OVERWRITE)
    assert ruled_out(plan) == {
        NVME_SANITIZE_CRYPTO: reasons.SANITIZE_CRYPTO_NOT_SUPPORTED,
        NVME_FORMAT_CRYPTO: reasons.NVME_FORMAT_CRYPTO_NOT_SUPPORTED,
    }


def test_nvme_with_other_namespaces_keeps_sanitize_off_but_formats_this_namespace() -> None:
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"),
                        nvme_caps("nvme-samsung-pm1733/id-ctrl.txt", namespaces=(1, 2)))
    # FNA 0x4: format and its crypto erase reach only the namespace they are sent to.
    assert plan.methods == (NVME_FORMAT_CRYPTO, NVME_FORMAT_USER_DATA, OVERWRITE)
    assert ruled_out(plan) == {
        NVME_SANITIZE_CRYPTO: reasons.NVME_OTHER_NAMESPACES,
        NVME_SANITIZE_BLOCK: reasons.NVME_OTHER_NAMESPACES,
    }


def test_nvme_with_all_namespaces_targeted_sanitizes_and_says_so() -> None:
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"),
                        nvme_caps("nvme-samsung-pm1733/id-ctrl.txt", namespaces=(1, 2)),
                        ErasureOptions(other_namespaces_targeted=True))
    assert plan.methods[:2] == (NVME_SANITIZE_CRYPTO, NVME_SANITIZE_BLOCK)
    assert plan.chain[0].reason == reasons.NVME_SANITIZE_CRYPTO_ALL_TARGETED
    assert plan.chain[1].reason == reasons.NVME_SANITIZE_BLOCK_ALL_TARGETED
    assert plan.ruled_out == ()


def test_nvme_format_that_reaches_all_namespaces_waits_for_all_of_them() -> None:
    capabilities = nvme_caps("nvme-samsung-pm1733/id-ctrl.txt", namespaces=(1, 2))
    assert capabilities.nvme is not None
    # The same drive, had it reported FNA bits 0 and 1 (format and crypto erase on all).
    capabilities.nvme = replace(capabilities.nvme, fna=0x7)
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"), capabilities)
    assert plan.methods == (OVERWRITE,)
    assert set(ruled_out(plan).values()) == {reasons.NVME_OTHER_NAMESPACES}
    targeted = plan_erasure(disk("/dev/nvme0n1", "nvme"), capabilities,
                            ErasureOptions(other_namespaces_targeted=True))
    assert targeted.chain[2].reason == reasons.NVME_FORMAT_CRYPTO_ALL_TARGETED
    assert targeted.chain[3].reason == reasons.NVME_FORMAT_USER_DATA_ALL_TARGETED


def test_nvme_namespace_count_unknown_or_controller_unknown() -> None:
    unknown_count = plan_erasure(disk("/dev/nvme0n1", "nvme"),
                                 nvme_caps("nvme-wdc-sn730/id-ctrl.json", namespaces=None))
    assert ruled_out(unknown_count)[NVME_SANITIZE_CRYPTO] == reasons.NVME_NAMESPACES_UNKNOWN
    assert unknown_count.methods[0] == NVME_FORMAT_CRYPTO  # per-namespace on this drive
    no_controller = plan_erasure(disk("/dev/nvme0n1", "nvme"),
                                 nvme_caps("nvme-wdc-sn730/id-ctrl.json", controller=None))
    assert ruled_out(no_controller)[NVME_SANITIZE_BLOCK] == reasons.NVME_CONTROLLER_UNKNOWN
    no_nsid = plan_erasure(disk("/dev/nvme0n1", "nvme"),
                           nvme_caps("nvme-wdc-sn730/id-ctrl.json", nsid=None))
    assert ruled_out(no_nsid)[NVME_FORMAT_USER_DATA] == reasons.NVME_NAMESPACE_UNKNOWN


def test_nvme_that_did_not_identify_is_overwritten() -> None:
    capabilities = DiskCapabilities(device="/dev/nvme0n1", bus="nvme")
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"), capabilities)
    assert plan.methods == (OVERWRITE,)
    # Not knowing what the drive offers is not the same as knowing it offers nothing.
    assert plan.chain[0].reason == reasons.OVERWRITE_FIRMWARE_UNKNOWN
    assert not plan.firmware_known
    assert set(ruled_out(plan).values()) == {reasons.NVME_IDENTIFY_UNKNOWN}
    assert plan.notes == (reasons.NOTE_SOLID_STATE_OVERWRITE,)


def test_nvme_whose_controller_and_namespace_were_not_found_is_unknown_not_bare() -> None:
    # The drive offers sanitize and format, but neither can be sent without what sysfs tells.
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"),
                        nvme_caps("nvme-wdc-sn730/id-ctrl.json", controller=None, nsid=None))
    assert plan.methods == (OVERWRITE,)
    assert plan.chain[0].reason == reasons.OVERWRITE_FIRMWARE_UNKNOWN
    assert not plan.firmware_known


def test_nvme_that_identified_and_offers_nothing_is_overwrite_only() -> None:
    capabilities = nvme_caps("nvme-wdc-sn730/id-ctrl.json")
    assert capabilities.nvme is not None
    # The same drive with every erase capability bit cleared: it answered, and offers nothing.
    capabilities.nvme = replace(capabilities.nvme, oacs=0, sanicap=0, fna=0)
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"), capabilities)
    assert plan.methods == (OVERWRITE,)
    assert plan.chain[0].reason == reasons.OVERWRITE_ONLY
    assert plan.firmware_known


def test_a_planned_firmware_erase_is_known_even_beside_an_unknown_one() -> None:
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"),
                        nvme_caps("nvme-wdc-sn730/id-ctrl.json", namespaces=None))
    assert ruled_out(plan)[NVME_SANITIZE_CRYPTO] == reasons.NVME_NAMESPACES_UNKNOWN
    assert plan.firmware_steps and plan.firmware_known
    assert plan.chain[-1].reason == reasons.OVERWRITE_FALLBACK


# --- ATA ------------------------------------------------------------------------------------


def test_hard_disk_uses_security_erase_and_the_normal_one_is_purge() -> None:
    plan = plan_erasure(disk("/dev/sda", "sata", rotational=True),
                        ata_caps("sata-hdd-wd2500aaks", hidden="hdparm-N.txt"))
    assert chain(plan) == [
        (ATA_SECURITY_ERASE_ENHANCED, "purge"), (ATA_SECURITY_ERASE, "purge"),
        (OVERWRITE, "clear"),
    ]
    assert plan.chain[1].reason == reasons.ATA_SECURITY_ERASE_HARD_DISK
    assert ruled_out(plan) == {
        ATA_SANITIZE_CRYPTO: reasons.ATA_SANITIZE_CRYPTO_NOT_SUPPORTED,
        ATA_SANITIZE_BLOCK: reasons.SANITIZE_BLOCK_NOT_SUPPORTED,
    }
    assert plan.hidden_area is None  # HPA disabled: nothing to restore


def test_hard_disk_with_hpa_restores_it_and_frozen_needs_consent() -> None:
    capabilities = ata_caps("sata-hdd-hpa-st9500420asg", hidden="hdparm-N.txt")
    refused = plan_erasure(disk("/dev/sda", "sata", rotational=True), capabilities)
    assert refused.methods == (OVERWRITE,)
    assert ruled_out(refused)[ATA_SECURITY_ERASE_ENHANCED] == reasons.ATA_FROZEN
    assert ruled_out(refused)[ATA_SECURITY_ERASE] == reasons.ATA_FROZEN
    assert refused.hidden_area == HiddenArea(976771055, 976773168, hpa_enabled=True)
    assert reasons.NOTE_HIDDEN_AREA in refused.notes
    assert reasons.NOTE_SOLID_STATE_OVERWRITE not in refused.notes
    assert not refused.needs_unfreeze

    agreed = plan_erasure(disk("/dev/sda", "sata", rotational=True), capabilities,
                          ErasureOptions(allow_unfreeze=True))
    assert agreed.methods == (ATA_SECURITY_ERASE_ENHANCED, ATA_SECURITY_ERASE, OVERWRITE)
    assert agreed.needs_unfreeze
    assert agreed.notes == (reasons.NOTE_UNFREEZE_FIRST, reasons.NOTE_HIDDEN_AREA)


def test_frozen_ssd_without_consent_gets_no_security_erase_nor_sanitize() -> None:
    plan = plan_erasure(disk("/dev/sdl", "sata"), ata_caps("sata-ssd-frozen-tesla", "/dev/sdl"))
    assert plan.methods == (OVERWRITE,)
    assert ruled_out(plan) == {
        ATA_SANITIZE_CRYPTO: reasons.ATA_SANITIZE_CRYPTO_NOT_SUPPORTED,
        ATA_SANITIZE_BLOCK: reasons.ATA_FROZEN,
        ATA_SECURITY_ERASE_ENHANCED: reasons.ATA_FROZEN,
        ATA_SECURITY_ERASE: reasons.ATA_FROZEN,
    }
    assert not plan.needs_unfreeze
    assert plan.notes == (reasons.NOTE_SOLID_STATE_OVERWRITE,)


def test_frozen_ssd_with_consent_needs_unfreeze_and_normal_erase_is_clear() -> None:
    plan = plan_erasure(disk("/dev/sdl", "sata"), ata_caps("sata-ssd-frozen-tesla", "/dev/sdl"),
                        ErasureOptions(allow_unfreeze=True))
    assert chain(plan) == [
        (ATA_SANITIZE_BLOCK, "purge"), (ATA_SECURITY_ERASE_ENHANCED, "purge"),
        (ATA_SECURITY_ERASE, "clear"), (OVERWRITE, "clear"),
    ]
    assert plan.chain[2].reason == reasons.ATA_SECURITY_ERASE_SOLID_STATE
    assert plan.needs_unfreeze
    assert plan.notes == (reasons.NOTE_UNFREEZE_FIRST,)


def test_ssd_not_frozen_with_sanitize_starts_with_crypto_scramble() -> None:
    plan = plan_erasure(disk("/dev/sda", "sata"), ata_caps("sata-ssd-sanitize-hfs128g39tnd"))
    assert chain(plan) == [
        (ATA_SANITIZE_CRYPTO, "purge"), (ATA_SANITIZE_BLOCK, "purge"),
        (ATA_SECURITY_ERASE_ENHANCED, "purge"), (ATA_SECURITY_ERASE, "clear"),
        (OVERWRITE, "clear"),
    ]
    assert plan.chain[0].reason == reasons.ATA_SANITIZE_CRYPTO
    assert plan.ruled_out == ()


def test_locked_or_expired_or_password_set_drive() -> None:
    capabilities = ata_caps("sata-ssd-sanitize-hfs128g39tnd")
    identity = capabilities.ata
    assert identity is not None

    def plan_with(**changes: bool) -> ErasurePlan:
        ata = replace(identity, security=replace(identity.security, **changes))
        return plan_erasure(disk("/dev/sda", "sata"), replace(capabilities, ata=ata))

    locked = plan_with(enabled=True, locked=True)
    assert locked.methods == (OVERWRITE,)
    assert set(ruled_out(locked).values()) == {reasons.ATA_LOCKED}

    expired = plan_with(count_expired=True)
    assert expired.methods == (ATA_SANITIZE_CRYPTO, ATA_SANITIZE_BLOCK, OVERWRITE)
    assert ruled_out(expired)[ATA_SECURITY_ERASE_ENHANCED] == reasons.ATA_COUNT_EXPIRED

    password = plan_with(enabled=True)
    assert ruled_out(password)[ATA_SECURITY_ERASE] == reasons.ATA_PASSWORD_SET


def test_ssd_without_sanitize_uses_enhanced_security_erase() -> None:
    plan = plan_erasure(disk("/dev/sda", "sata"), ata_caps("sata-ssd-samsung-850evo"))
    assert plan.methods == (ATA_SECURITY_ERASE_ENHANCED, ATA_SECURITY_ERASE, OVERWRITE)


def test_usb_bridge_without_passthrough_is_overwrite_only() -> None:
    capabilities = ata_caps("usb-no-ata-passthrough", "/dev/sdb", "usb")
    assert capabilities.ata_passthrough is False
    plan = plan_erasure(disk("/dev/sdb", "usb"), capabilities)
    assert chain(plan) == [(OVERWRITE, "clear")]
    assert ruled_out(plan) == {method: reasons.USB_NO_PASSTHROUGH for method in (
        ATA_SANITIZE_CRYPTO, ATA_SANITIZE_BLOCK, ATA_SECURITY_ERASE_ENHANCED, ATA_SECURITY_ERASE)}
    # The bridge answered: it is known to drop the drive's commands.
    assert plan.chain[0].reason == reasons.OVERWRITE_ONLY
    assert plan.firmware_known


def test_usb_bridge_that_passes_identify_through_allows_firmware_erase() -> None:
    plan = plan_erasure(disk("/dev/sdb", "usb"),
                        ata_caps("sata-ssd-sanitize-hfs128g39tnd", "/dev/sdb", "usb"))
    assert plan.methods[0] == ATA_SANITIZE_CRYPTO


def test_sata_drive_whose_identify_could_not_run() -> None:
    capabilities = DiskCapabilities(device="/dev/sda", bus="sata")
    plan = plan_erasure(disk("/dev/sda", "sata", rotational=True), capabilities)
    assert plan.methods == (OVERWRITE,)
    assert set(ruled_out(plan).values()) == {reasons.ATA_IDENTIFY_UNKNOWN}
    assert plan.chain[0].reason == reasons.OVERWRITE_FIRMWARE_UNKNOWN
    assert not plan.firmware_known
    assert plan.notes == ()  # a hard disk: the overwrite is as good as it gets


# --- SCSI, eMMC, virtual --------------------------------------------------------------------


def test_sas_drive_with_crypto_sanitize() -> None:
    capabilities = DiskCapabilities(
        device="/dev/sda", bus="scsi", ata_passthrough=False,
        scsi_sanitize=parse_sg_opcodes(fixture("drives/sas-seagate-st10000nm0226/sg_opcodes.txt")),
    )
    plan = plan_erasure(disk("/dev/sda", "scsi", rotational=True), capabilities)
    assert chain(plan) == [(SCSI_SANITIZE_CRYPTO, "purge"), (OVERWRITE, "clear")]
    assert ruled_out(plan) == {SCSI_SANITIZE_BLOCK: reasons.SANITIZE_BLOCK_NOT_SUPPORTED}


def test_sata_drive_behind_a_sas_controller_keeps_its_ata_erase() -> None:
    capabilities = ata_caps("sata-ssd-samsung-850evo", bus="scsi")
    plan = plan_erasure(disk("/dev/sda", "scsi"), capabilities)
    assert plan.methods == (ATA_SECURITY_ERASE_ENHANCED, ATA_SECURITY_ERASE, OVERWRITE)
    assert ruled_out(plan)[SCSI_SANITIZE_CRYPTO] == reasons.SCSI_COMMANDS_UNKNOWN


def test_sas_drive_whose_commands_could_not_be_read_is_unknown() -> None:
    capabilities = DiskCapabilities(device="/dev/sda", bus="scsi", ata_passthrough=False)
    plan = plan_erasure(disk("/dev/sda", "scsi", rotational=True), capabilities)
    assert plan.methods == (OVERWRITE,)
    assert plan.chain[0].reason == reasons.OVERWRITE_FIRMWARE_UNKNOWN
    assert not plan.firmware_known


def test_emmc_whose_registers_could_not_be_read_is_unknown() -> None:
    plan = plan_erasure(disk("/dev/mmcblk0", "mmc"), DiskCapabilities("/dev/mmcblk0", "mmc"))
    assert plan.chain[0].reason == reasons.OVERWRITE_FIRMWARE_UNKNOWN
    assert not plan.firmware_known


def test_emmc_with_sanitize_and_boot_partitions() -> None:
    capabilities = DiskCapabilities(
        device="/dev/mmcblk0", bus="mmc",
        emmc=parse_mmc_extcsd(fixture("drives/emmc-bredos/extcsd.txt")),
    )
    plan = plan_erasure(disk("/dev/mmcblk0", "mmc"), capabilities)
    assert chain(plan) == [(MMC_SANITIZE, "purge"), (OVERWRITE, "clear")]
    assert plan.notes == (reasons.NOTE_EMMC_BOOT_PARTITIONS,)


def test_emmc_without_sanitize() -> None:
    capabilities = DiskCapabilities(
        device="/dev/mmcblk0", bus="mmc",
        emmc=parse_mmc_extcsd("Secure Feature support [SEC_FEATURE_SUPPORT: 0x15]\n"),
    )
    plan = plan_erasure(disk("/dev/mmcblk0", "mmc"), capabilities)
    assert plan.methods == (OVERWRITE,)
    assert ruled_out(plan) == {MMC_SANITIZE: reasons.MMC_SANITIZE_NOT_SUPPORTED}
    assert plan.chain[0].reason == reasons.OVERWRITE_ONLY and plan.firmware_known


@pytest.mark.parametrize("bus", ["virtio", "loop"])
def test_virtual_disks_never_get_a_firmware_erase(bus: str) -> None:
    # Even a capability record claiming an ATA identity does not open the firmware path.
    capabilities = ata_caps("sata-ssd-sanitize-hfs128g39tnd", "/dev/vda", bus)
    plan = plan_erasure(disk("/dev/vda", bus), capabilities)
    assert chain(plan) == [(OVERWRITE, "clear")]
    assert plan.chain[0].reason == reasons.OVERWRITE_VIRTUAL_DISK
    assert plan.ruled_out == () and plan.notes == ()
    assert plan.firmware_known


# --- options --------------------------------------------------------------------------------


def test_force_overwrite_skips_firmware_with_a_reason() -> None:
    options = ErasureOptions(force_overwrite=True, overwrite_method="dodshort", extra_passes=1,
                             blank=True, verify="sample", allow_unfreeze=True)
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"), nvme_caps("nvme-wdc-sn730/id-ctrl.json"),
                        options)
    assert chain(plan) == [(OVERWRITE, "clear")]
    assert plan.chain[0].reason == reasons.FORCED_OVERWRITE
    assert ruled_out(plan) == {method: reasons.FORCED_OVERWRITE for method in (
        NVME_SANITIZE_CRYPTO, NVME_SANITIZE_BLOCK, NVME_FORMAT_CRYPTO, NVME_FORMAT_USER_DATA)}
    assert plan.overwrite == OverwriteSpec("dodshort", 1, True, "sample")
    assert plan.firmware_known  # the drive's erases are known; the workshop set them aside


def test_force_overwrite_of_a_drive_that_did_not_identify_keeps_it_unknown() -> None:
    plan = plan_erasure(disk("/dev/nvme0n1", "nvme"), DiskCapabilities("/dev/nvme0n1", "nvme"),
                        ErasureOptions(force_overwrite=True))
    assert plan.chain[0].reason == reasons.FORCED_OVERWRITE
    assert not plan.firmware_known


def test_force_overwrite_on_a_frozen_drive_does_not_ask_to_unfreeze() -> None:
    plan = plan_erasure(disk("/dev/sdl", "sata"), ata_caps("sata-ssd-frozen-tesla", "/dev/sdl"),
                        ErasureOptions(force_overwrite=True, allow_unfreeze=True))
    assert not plan.needs_unfreeze
    assert ruled_out(plan)[ATA_SANITIZE_BLOCK] == reasons.FORCED_OVERWRITE
    assert ruled_out(plan)[ATA_SANITIZE_CRYPTO] == reasons.ATA_SANITIZE_CRYPTO_NOT_SUPPORTED


def test_default_overwrite_is_random_verified_in_full() -> None:
    plan = plan_erasure(disk("/dev/vda", "virtio"), DiskCapabilities("/dev/vda", "virtio"))
    assert plan.overwrite == OverwriteSpec("random", 0, False, "full")
    assert plan.to_json()["chain"] == [
        {"method": OVERWRITE, "level": "clear", "reason": reasons.OVERWRITE_VIRTUAL_DISK}]


@pytest.mark.parametrize("bad", [{"extra_passes": -1}, {"verify": "maybe"}])
def test_options_refuse_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ErasureOptions(**bad)  # type: ignore[arg-type]


def test_every_erasure_method_and_level_has_words_on_the_screen_and_the_hub() -> None:
    from agent.report.labels import FIRMWARE_METHODS, LEVELS, OVERWRITE_PASSES
    from agent.wipe.firmware import model
    from agent.wipe.passes import METHODS

    firmware = {value for name, value in vars(model).items()
                if name.isupper() and isinstance(value, str) and "-" in value}
    assert firmware == set(FIRMWARE_METHODS)
    assert set(METHODS) == set(OVERWRITE_PASSES)
    assert set(LEVELS) == {"clear", "purge"}
