"""The base block of a display's EDID (VESA E-EDID 1.3/1.4): who made the panel, its size, its
native mode and the names it gives itself.

Only the 128-byte base block is read; extension blocks (CTA-861 for HDMI, DisplayID) add modes
and audio, nothing a refurbishment report needs. A block that fails its checksum is not trusted
at all: a half-read EDID (a loose cable, a flaky DDC line) would otherwise report nonsense sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BLOCK_SIZE = 128
HEADER = bytes((0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00))
DESCRIPTOR_OFFSETS = (54, 72, 90, 108)
TAG_SERIAL = 0xFF
TAG_TEXT = 0xFE  # "alphanumeric data string": laptop panels put their maker and part number here
TAG_NAME = 0xFC
MM_PER_INCH = 25.4

# Makers of panels in laptops and of monitors in donated desktops, by PNP id, so the volunteer
# reads "LG Display" rather than "LGD". The PNP id itself is always kept.
PNP_MAKERS = {
    "ACR": "Acer", "AUO": "AU Optronics", "AUS": "ASUSTek", "BNQ": "BenQ", "BOE": "BOE",
    "CMN": "Chimei Innolux", "CMO": "Chi Mei Optoelectronics", "CPT": "Chunghwa Picture Tubes",
    "DEL": "Dell", "ENC": "EIZO", "FUS": "Fujitsu Siemens", "GSM": "LG Electronics",
    "HSD": "HannStar Display", "HWP": "HP", "HPN": "HP", "IVO": "InfoVision", "LEN": "Lenovo",
    "LGD": "LG Display", "LPL": "LG Philips", "NEC": "NEC", "PHL": "Philips", "SAM": "Samsung",
    "SDC": "Samsung Display", "SHP": "Sharp", "SNY": "Sony", "TSB": "Toshiba", "VSC": "ViewSonic",
    "APP": "Apple",
}


@dataclass(frozen=True)
class DetailedTiming:
    width: int
    height: int
    refresh_hz: float
    pixel_clock_khz: int
    image_width_mm: int | None
    image_height_mm: int | None
    interlaced: bool


@dataclass(frozen=True)
class Edid:
    version: str  # "1.4"
    manufacturer_id: str  # PNP id, "LGD"
    manufacturer: str | None  # the maker's name when the PNP id is a well-known one
    product_code: int
    serial_number: int | None  # the numeric serial; 0 means "not given"
    manufacture_week: int | None
    manufacture_year: int | None
    year_is_model_year: bool  # week 0xFF: the year is the model's, not the unit's
    digital: bool
    width_cm: int | None
    height_cm: int | None
    diagonal_inches: float | None
    native: DetailedTiming | None  # the first detailed timing: the panel's native mode
    name: str | None  # display product name descriptor (0xFC)
    serial_text: str | None  # display product serial descriptor (0xFF)
    text: tuple[str, ...]  # alphanumeric data strings (0xFE), in order
    extension_count: int


def parse_edid(data: bytes | None) -> Edid | None:
    """The base block's content, or None for anything that is not a valid EDID."""
    if not data or len(data) < BLOCK_SIZE:
        return None
    block = data[:BLOCK_SIZE]
    if block[:8] != HEADER or sum(block) % 256 != 0:
        return None
    try:
        return _parse_block(block)
    except (IndexError, ValueError):
        return None


def _parse_block(block: bytes) -> Edid:
    manufacturer_id = _pnp_id(block[8], block[9])
    week, year = block[16], block[17]
    width_cm, height_cm = block[21] or None, block[22] or None
    timings = [_detailed_timing(block[offset:offset + 18]) for offset in DESCRIPTOR_OFFSETS
               if block[offset] or block[offset + 1]]
    descriptors = [(block[offset + 3], _descriptor_text(block[offset + 5:offset + 18]))
                   for offset in DESCRIPTOR_OFFSETS if not block[offset] and not block[offset + 1]]
    native = timings[0] if timings else None
    serial_number = int.from_bytes(block[12:16], "little")
    return Edid(
        version=f"{block[18]}.{block[19]}",
        manufacturer_id=manufacturer_id,
        manufacturer=PNP_MAKERS.get(manufacturer_id),
        product_code=int.from_bytes(block[10:12], "little"),
        serial_number=serial_number or None,
        manufacture_week=week if 1 <= week <= 54 else None,
        manufacture_year=1990 + year if year else None,
        year_is_model_year=week == 0xFF,
        digital=bool(block[20] & 0x80),
        width_cm=width_cm if height_cm else None,
        height_cm=height_cm if width_cm else None,
        diagonal_inches=_diagonal_inches(width_cm, height_cm, native),
        native=native,
        name=_first_text(descriptors, TAG_NAME),
        serial_text=_first_text(descriptors, TAG_SERIAL),
        text=tuple(text for tag, text in descriptors if tag == TAG_TEXT and text),
        extension_count=block[126],
    )


def _pnp_id(high: int, low: int) -> str:
    word = high << 8 | low
    letters = ((word >> 10) & 0x1F, (word >> 5) & 0x1F, word & 0x1F)
    return "".join(chr(ord("A") - 1 + letter) if 1 <= letter <= 26 else "?" for letter in letters)


def _detailed_timing(descriptor: bytes) -> DetailedTiming:
    pixel_clock_khz = int.from_bytes(descriptor[0:2], "little") * 10
    width = descriptor[2] | (descriptor[4] & 0xF0) << 4
    h_blank = descriptor[3] | (descriptor[4] & 0x0F) << 8
    height = descriptor[5] | (descriptor[7] & 0xF0) << 4
    v_blank = descriptor[6] | (descriptor[7] & 0x0F) << 8
    image_width_mm = descriptor[12] | (descriptor[14] & 0xF0) << 4
    image_height_mm = descriptor[13] | (descriptor[14] & 0x0F) << 8
    interlaced = bool(descriptor[17] & 0x80)
    total = (width + h_blank) * (height + v_blank)
    refresh = pixel_clock_khz * 1000 / total if total else 0.0
    if interlaced:  # the descriptor gives one field; a frame is two
        height *= 2
        refresh /= 2
    return DetailedTiming(
        width=width, height=height, refresh_hz=round(refresh, 2), pixel_clock_khz=pixel_clock_khz,
        image_width_mm=image_width_mm or None, image_height_mm=image_height_mm or None,
        interlaced=interlaced,
    )


def _diagonal_inches(
    width_cm: int | None, height_cm: int | None, native: DetailedTiming | None
) -> float | None:
    """Prefer the detailed timing's size in mm: the basic size is whole centimetres, 0.3" off on
    a 15.6" panel. But some makers put an aspect ratio there (160 x 90 mm on a TV), so the mm
    size is only used when it agrees with the cm one."""
    if not width_cm or not height_cm:
        return None
    width_mm, height_mm = float(width_cm * 10), float(height_cm * 10)
    precise_width, precise_height = (
        (native.image_width_mm, native.image_height_mm) if native else (None, None))
    if (precise_width and precise_height and abs(precise_width - width_mm) <= 15
            and abs(precise_height - height_mm) <= 15):
        width_mm, height_mm = float(precise_width), float(precise_height)
    return round(math.hypot(width_mm, height_mm) / MM_PER_INCH, 1)


def _descriptor_text(raw: bytes) -> str:
    # Text ends at a line feed and is padded with spaces; like edid-decode, stop at the first
    # byte that is not printable ASCII: what follows is not what the maker meant to show.
    chars = []
    for byte in raw:
        if byte == 0x0A or not 0x20 <= byte <= 0x7E:
            break
        chars.append(chr(byte))
    return "".join(chars).strip()


def _first_text(descriptors: list[tuple[int, str]], tag: int) -> str | None:
    for descriptor_tag, text in descriptors:
        if descriptor_tag == tag and text:
            return text
    return None
