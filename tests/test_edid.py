"""The EDID parser on real panels and monitors (linuxhw/EDID dumps), checked against edid-decode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.inventory.edid import parse_edid

FIXTURES = Path(__file__).parent / "fixtures" / "peripherals"


def edid_bytes(name: str) -> bytes:
    return bytes.fromhex((FIXTURES / name / "edid.hex").read_text())


def test_a_laptop_panel_names_itself_in_text_descriptors() -> None:
    edid = parse_edid(edid_bytes("edid-auo-b140han03"))
    assert edid is not None
    assert (edid.manufacturer_id, edid.manufacturer) == ("AUO", "AU Optronics")
    assert (edid.version, edid.product_code, edid.serial_number) == ("1.4", 12605, None)
    assert (edid.manufacture_week, edid.manufacture_year) == (None, 2016)
    assert edid.digital and (edid.width_cm, edid.height_cm) == (31, 17)
    assert edid.diagonal_inches == 14.0  # 309 x 174 mm; the whole centimetres alone say 13.9
    assert edid.native is not None
    assert (edid.native.width, edid.native.height, edid.native.refresh_hz) == (1920, 1080, 60.05)
    assert (edid.native.image_width_mm, edid.native.image_height_mm) == (309, 174)
    assert edid.name is None and edid.serial_text is None
    assert edid.text == ("AUO", "B140HAN03.1")  # the trailing space of the part number trimmed


def test_text_stops_at_a_non_printable_byte_as_edid_decode_does() -> None:
    edid = parse_edid(edid_bytes("edid-lgd-156-panel"))
    assert edid is not None
    assert (edid.manufacturer_id, edid.manufacturer, edid.product_code) == (
        "LGD", "LG Display", 532)
    assert (edid.manufacture_week, edid.manufacture_year) == (None, 2010)
    assert edid.diagonal_inches == 15.5  # 344 x 194 mm (34 x 19 cm would say 15.3)
    assert edid.native is not None
    assert (edid.native.width, edid.native.height, edid.native.refresh_hz) == (1600, 900, 60.01)
    assert edid.native.pixel_clock_khz == 96530
    assert edid.text == ("802VW",)


def test_a_monitor_gives_its_name_and_serial() -> None:
    edid = parse_edid(edid_bytes("edid-dell-u2412m"))
    assert edid is not None
    assert (edid.manufacturer_id, edid.manufacturer, edid.product_code) == (
        "DEL", "Dell", 41082)
    assert edid.version == "1.3"
    assert edid.serial_number == 0x33564653
    assert (edid.manufacture_week, edid.manufacture_year, edid.year_is_model_year) == (
        34, 2013, False)
    assert (edid.width_cm, edid.height_cm, edid.diagonal_inches) == (52, 32, 24.1)
    assert edid.native is not None
    assert (edid.native.width, edid.native.height, edid.native.refresh_hz) == (1920, 1200, 59.95)
    assert (edid.name, edid.serial_text) == ("DELL U2412M", "9W5YH38K3VFS")
    assert edid.text == () and edid.extension_count == 0


def test_extension_blocks_are_counted_and_the_base_block_still_read() -> None:
    edid = parse_edid(edid_bytes("edid-lg-27gl850"))
    assert edid is not None
    assert (edid.manufacturer_id, edid.manufacturer, edid.product_code) == (
        "GSM", "LG Electronics", 23423)
    assert (edid.manufacture_week, edid.manufacture_year) == (8, 2019)
    assert edid.serial_number == 422428
    assert edid.diagonal_inches == 27.0
    assert edid.native is not None
    assert (edid.native.width, edid.native.height, edid.native.refresh_hz) == (2560, 1440, 144.0)
    assert (edid.name, edid.serial_text) == ("27GL850", "908NTQDCE428")
    assert edid.extension_count == 1


@pytest.mark.parametrize("damage", [
    lambda data: data[:70] + bytes([data[70] ^ 0x01]) + data[71:],  # one bit flipped: bad checksum
    lambda data: data[:100],  # cut short
    lambda data: b"\x01" + data[1:127] + bytes([(data[127] - 1) % 256]),  # checksum fine, no header
    lambda data: b"",
])
def test_a_damaged_edid_reads_as_none(damage: Callable[[bytes], bytes]) -> None:
    data = edid_bytes("edid-auo-b140han03")
    assert parse_edid(data) is not None
    assert parse_edid(damage(data)) is None


def test_no_edid_at_all_reads_as_none() -> None:
    assert parse_edid(None) is None
