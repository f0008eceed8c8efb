"""Real drives' identify outputs read into the fields the erasure policy relies on."""

from __future__ import annotations

import pytest

from agent.wipe.firmware.capabilities import HiddenArea
from agent.wipe.firmware.parsers import (
    parse_hdparm_dco_identify,
    parse_hdparm_identify,
    parse_hdparm_max_sectors,
    parse_mmc_extcsd,
    parse_nvme_id_ctrl,
    parse_nvme_list_ns,
    parse_sg_opcodes,
)
from tests.replay import fixture

# --- NVMe -----------------------------------------------------------------------------------


def test_nvme_cli_1x_json_with_sanitize() -> None:
    controller = parse_nvme_id_ctrl(fixture("drives/nvme-wdc-sn730/id-ctrl.json"))
    assert controller is not None
    assert controller.model == "WDC PC SN730 SDBQNTY-256G-1001"
    assert controller.serial == "1951B3444502"
    assert controller.firmware == "11170101"
    assert (controller.oacs, controller.sanicap, controller.fna) == (23, 0x60000003, 4)
    assert controller.format_supported
    assert controller.sanitize_crypto and controller.sanitize_block
    assert not controller.sanitize_overwrite
    assert controller.no_deallocate_inhibited  # SANICAP bit 29
    assert controller.format_crypto_erase
    assert not controller.format_applies_to_all_namespaces
    assert not controller.crypto_erase_applies_to_all_namespaces
    assert controller.max_namespaces == 1


def test_nvme_cli_2x_json_and_namespace_limit_is_not_a_count() -> None:
    controller = parse_nvme_id_ctrl(fixture("drives/nvme-solidigm-sbfpf2bu153t/id-ctrl.json"))
    assert controller is not None
    assert controller.model == "SOLIDIGM SBFPF2BU153T"
    assert controller.firmware == "6CV10100"
    assert controller.sanitize_crypto and controller.sanitize_block
    assert controller.format_supported and controller.format_crypto_erase
    assert controller.max_namespaces == 128


def test_nvme_text_output_without_sanitize_but_crypto_format() -> None:
    controller = parse_nvme_id_ctrl(fixture("drives/nvme-micron-9300/id-ctrl.txt"))
    assert controller is not None
    assert controller.model == "Micron_9300_MTFDHAL3T8TDP"
    assert controller.serial == "201327AA90B6"
    assert controller.oacs == 0xE and controller.format_supported
    assert controller.sanicap == 0
    assert not (controller.sanitize_crypto or controller.sanitize_block)
    assert controller.fna == 0x4 and controller.format_crypto_erase
    assert controller.max_namespaces == 32


def test_nvme_text_output_block_erase_only() -> None:
    controller = parse_nvme_id_ctrl(fixture("drives/nvme-tforce-tm8fpl500g/id-ctrl.txt"))
    assert controller is not None
    assert controller.model == "T-FORCE TM8FPL500G"
    assert controller.sanicap == 0xA0000002
    assert controller.sanitize_block and not controller.sanitize_crypto
    assert controller.fna == 0 and not controller.format_crypto_erase
    assert controller.format_supported


def test_nvme_text_output_of_a_drive_with_namespace_management() -> None:
    controller = parse_nvme_id_ctrl(fixture("drives/nvme-samsung-pm1733/id-ctrl.txt"))
    assert controller is not None
    assert controller.model == "SAMSUNG MZWLJ7T6HALA-00AU3"
    assert controller.serial == "S5RTNC0T104269"
    assert (controller.oacs, controller.sanicap, controller.fna) == (0x5F, 0x3, 0x4)


def test_nvme_values_given_as_strings_are_read() -> None:
    controller = parse_nvme_id_ctrl('{"oacs": "0x6", "sanicap": "2", "fna": 0, "nn": 1}')
    assert controller is not None
    assert controller.format_supported and controller.sanitize_block


def test_nvme_answer_nested_under_the_device_name_is_read() -> None:
    controller = parse_nvme_id_ctrl('{"/dev/nvme0": {"oacs": 2, "sanicap": 1, "fna": 4}}')
    assert controller is not None and controller.sanitize_crypto


@pytest.mark.parametrize("text", ["", "Invalid output format\n", '{"error": "ENODEV"}'])
def test_nvme_without_identify_data_is_none(text: str) -> None:
    assert parse_nvme_id_ctrl(text) is None


def test_nvme_list_ns_text_and_json() -> None:
    assert parse_nvme_list_ns(fixture("drives/nvme-samsung-pm1733/list-ns.txt")) == (1, 2)
    assert parse_nvme_list_ns('{"nsid_list": [{"nsid": 1}, {"nsid": 3}]}') == (1, 3)
    assert parse_nvme_list_ns("") == ()
    assert parse_nvme_list_ns("garbage\n") is None


# --- ATA ------------------------------------------------------------------------------------


def test_hard_disk_not_frozen_with_security_erase() -> None:
    identity = parse_hdparm_identify(fixture("drives/sata-hdd-wd2500aaks/hdparm-I.txt"))
    assert identity is not None
    assert identity.model == "WDC WD2500AAKS-00VSA0"
    assert identity.serial == "WD-WMART0548949"
    assert identity.firmware == "01.01B01"
    assert identity.user_sectors == 488397168
    assert (identity.logical_sector_size, identity.physical_sector_size) == (512, 512)
    assert identity.solid_state is None  # this hdparm prints no rotation rate
    assert identity.hpa_feature and identity.dco_feature
    security = identity.security
    assert security.supported and security.enhanced_erase_supported
    assert not (security.enabled or security.locked or security.frozen or security.count_expired)
    assert (security.erase_minutes, security.enhanced_erase_minutes) == (50, 50)
    assert not identity.sanitize.supported


def test_hard_disk_frozen_with_rotation_rate() -> None:
    identity = parse_hdparm_identify(fixture("drives/sata-hdd-hpa-st9500420asg/hdparm-I.txt"))
    assert identity is not None
    assert identity.model == "ST9500420ASG"
    assert identity.solid_state is False and identity.rotation_rpm == 7200
    assert identity.user_sectors == 976771055
    assert identity.security.frozen and not identity.security.locked
    assert identity.security.enhanced_erase_minutes == 106


def test_frozen_ssd_with_block_erase_only() -> None:
    identity = parse_hdparm_identify(fixture("drives/sata-ssd-frozen-tesla/hdparm-I.txt"))
    assert identity is not None
    assert identity.model == "TESLA"
    assert identity.serial == "2022092T0075"
    assert identity.solid_state is True and identity.rotation_rpm is None
    assert identity.user_sectors == 3907029168
    assert identity.security.frozen and identity.security.supported
    assert not identity.security.enabled
    sanitize = identity.sanitize
    assert sanitize.supported and sanitize.block_erase
    assert not (sanitize.crypto_scramble or sanitize.overwrite)


def test_ssd_with_crypto_scramble_and_block_erase_posted_with_spaces() -> None:
    identity = parse_hdparm_identify(
        fixture("drives/sata-ssd-sanitize-hfs128g39tnd/hdparm-I.txt"))
    assert identity is not None
    assert identity.model == "HFS128G39TND-N210A"
    assert identity.serial == "EI83N068410503Q1A"
    assert (identity.logical_sector_size, identity.physical_sector_size) == (512, 4096)
    assert identity.sanitize.supported
    assert identity.sanitize.crypto_scramble and identity.sanitize.block_erase
    assert not identity.sanitize.antifreeze_lock
    assert not identity.security.frozen and identity.security.supported


def test_ssd_with_different_erase_times() -> None:
    identity = parse_hdparm_identify(fixture("drives/sata-ssd-samsung-850evo/hdparm-I.txt"))
    assert identity is not None
    assert identity.model == "Samsung SSD 850 EVO 2TB"
    assert (identity.security.erase_minutes, identity.security.enhanced_erase_minutes) == (2, 8)
    assert not identity.sanitize.supported


def test_identify_of_zeros_through_a_device_without_ata_passthrough_is_none() -> None:
    assert parse_hdparm_identify(fixture("drives/usb-no-ata-passthrough/hdparm-I.txt")) is None


def test_identify_failed_on_a_sas_drive_is_none() -> None:
    text = fixture("drives/sas-seagate-st10000nm0226/hdparm-I.txt")
    assert "HDIO_DRIVE_CMD(identify) failed" in text
    assert parse_hdparm_identify(text) is None


def test_not_prefixes_and_odd_security_lines() -> None:
    text = (
        "\tModel Number:       X\nSecurity: \n"
        "\tMaster password revision code = 65534\n"
        "\t\tsupported\n\t\tenabled\n\t\tlocked\n\tnot\tfrozen\n"
        "\t\texpired: security count\n\tnot\tsupported: enhanced erase\n"
        "\t>508min for SECURITY ERASE UNIT.\n"
        "Checksum: correct\n"
    )
    identity = parse_hdparm_identify(text)
    assert identity is not None
    security = identity.security
    assert security.supported and security.enabled and security.locked
    assert not security.frozen
    assert security.count_expired
    assert not security.enhanced_erase_supported
    assert security.erase_minutes == 508 and security.enhanced_erase_minutes is None


def test_drive_without_security_section_has_no_security() -> None:
    identity = parse_hdparm_identify("\tModel Number:  X\n\tLBA48  user addressable sectors: 8\n")
    assert identity is not None
    assert not identity.security.supported and not identity.security.frozen


def test_max_sectors_with_hpa() -> None:
    hidden = parse_hdparm_max_sectors(fixture("drives/sata-hdd-hpa-st9500420asg/hdparm-N.txt"))
    assert hidden == HiddenArea(976771055, 976773168, hpa_enabled=True)
    assert hidden.hidden_sectors == 2113


def test_max_sectors_without_hpa() -> None:
    hidden = parse_hdparm_max_sectors(fixture("drives/sata-hdd-wd2500aaks/hdparm-N.txt"))
    assert hidden == HiddenArea(488397168, 488397168, hpa_enabled=False)
    assert hidden.hidden_sectors == 0


def test_hidden_area_example_and_dco_real_max() -> None:
    hidden = parse_hdparm_max_sectors(fixture("drives/hidden-area-forensicswiki/hdparm-N.txt"))
    assert hidden is not None
    assert (hidden.current_max_sectors, hidden.native_max_sectors) == (586070255, 586072368)
    assert hidden.hpa_enabled
    real = parse_hdparm_dco_identify(fixture("drives/hidden-area-forensicswiki/dco-identify.txt"))
    assert real == 1465149168


def test_max_sectors_through_a_usb_bridge_is_noise() -> None:
    # What a USB flash drive answers when its bridge drops ATA PASS-THROUGH.
    text = (
        "/dev/sdf:\nSG_IO: bad/missing sense data, sb[]:  70 00 05 00 00 00 00 0a 00 00 00 00 "
        "20 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n"
        " max sectors   = 0/1, HPA is enabled\n"
    )
    assert parse_hdparm_max_sectors(text) is None


def test_dco_hidden_sectors_count_beyond_native_max() -> None:
    hidden = HiddenArea(100, 120, hpa_enabled=True, dco_real_max_sectors=150)
    assert hidden.real_max_sectors == 150 and hidden.hidden_sectors == 50


# --- SCSI and eMMC --------------------------------------------------------------------------


def test_sg_opcodes_compact_listing() -> None:
    sanitize = parse_sg_opcodes(fixture("drives/sas-seagate-st10000nm0226/sg_opcodes.txt"))
    assert sanitize.overwrite and sanitize.crypto_erase and sanitize.exit_failure_mode
    assert not sanitize.block_erase


def test_sg_opcodes_default_listing() -> None:
    text = (
        "Opcode  Service    CDB    Name\n(hex)   action(h)  size\n"
        "-----------------------------------------------\n"
        " 42                 10    Unmap\n"
        " 48        2        10    Sanitize, block erase\n"
        " 48       1f        10    Sanitize, exit failure mode\n"
        " 4d                 10    Log sense\n"
    )
    sanitize = parse_sg_opcodes(text)
    assert sanitize.block_erase and sanitize.exit_failure_mode
    assert not (sanitize.crypto_erase or sanitize.overwrite)


def test_emmc_extcsd() -> None:
    emmc = parse_mmc_extcsd(fixture("drives/emmc-bredos/extcsd.txt"))
    assert emmc is not None
    assert emmc.sec_feature_support == 0x55
    assert emmc.secure_erase and emmc.secure_bad_blocks and emmc.secure_trim and emmc.sanitize
    assert emmc.sector_count == 0x1D200000
    assert emmc.boot_partition_bytes == 4 * 1024 * 1024 and emmc.has_boot_partitions


def test_emmc_debugfs_layout_and_no_sanitize() -> None:
    text = ("[231] Secure Feature support, sec_feature_support: 0x15\n"
            "[226] Boot partition size, boot_size_mult : 0x00\n")
    emmc = parse_mmc_extcsd(text)
    assert emmc is not None
    assert emmc.secure_erase and not emmc.sanitize
    assert not emmc.has_boot_partitions


def test_emmc_unreadable_is_none() -> None:
    assert parse_mmc_extcsd("ioctl: Operation not permitted\n") is None
