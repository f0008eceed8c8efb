"""Machine identity: stable for one machine, distinct between units, blind to placeholders.

The published dumps have their serials and UUIDs replaced by "--" (itself a placeholder). Where a
test needs a machine with a real serial it writes one into the dump's System Information record;
the service-tag-like values below are made up.
"""

from __future__ import annotations

import pytest

from agent.inventory.dmi_system import Baseboard, Chassis, SystemProduct
from agent.inventory.identity import ereuse_hid, first_mac, is_placeholder, machine_identity
from agent.inventory.platform import Platform, collect_platform
from tests.machine_profiles import dmidecode_of, recorded_machine


def with_system_serial(dump: str, serial: str) -> str:
    """The dump with the System Information record's serial number set to `serial`."""
    head, system, tail = dump.partition("System Information\n")
    record, blank, rest = tail.partition("\n\n")
    return head + system + record.replace("\tSerial Number: --", f"\tSerial Number: {serial}") \
        + blank + rest


def platform_of(dump: str) -> Platform:
    return collect_platform(recorded_machine(dmidecode=dump))


@pytest.mark.parametrize("value", [
    None, "", "   ", "To Be Filled By O.E.M.", "To be filled by O.E.M.", "TO BE FILLED BY O.E.M.",
    "Default string", "0123456789", "System Serial Number", "Not Specified", "None", "N/A", "0",
    "00000000", "Chassis Serial Number", "Base Board Serial Number", "--", "xxxxxxxx",
    "00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "03000200-0400-0500-0006-000700080009", "......................",
])
def test_placeholders_are_recognised(value: str | None) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", [
    "7XK2QH2", "PF1A2B3C", "5CG7031XYZ", "4C4C4544-0044-3510-8052-B4C04F4E4B32", "00A1",
    "LENOVO", "B450M Pro4",
])
def test_real_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


def test_the_same_machine_always_gets_the_same_id() -> None:
    dump = with_system_serial(dmidecode_of("dell-latitude-e7470"), "7XK2QH2")
    first = platform_of(dump).identity(("10:65:30:aa:bb:01",))
    again = platform_of(dump).identity(("10:65:30:AA:BB:01", "10:65:30:aa:bb:02"))
    assert first == again
    assert first.id.startswith("rb1-") and len(first.id) == len("rb1-") + 64
    assert first.basis == ("system_vendor", "system_product", "system_serial")
    assert first.distinguishes_units
    # A real serial is enough: a different network card does not make a different machine.
    assert platform_of(dump).identity(("00:e0:4c:68:00:01",)).id == first.id


def test_another_unit_of_the_same_model_gets_another_id() -> None:
    dump = dmidecode_of("dell-latitude-e7470")
    one = platform_of(with_system_serial(dump, "7XK2QH2")).identity()
    other = platform_of(with_system_serial(dump, "9BT3QH2")).identity()
    assert one.id != other.id


def test_dmidecode_and_the_kernel_dmi_files_give_the_same_id() -> None:
    from_dmidecode = platform_of(with_system_serial(dmidecode_of("dell-latitude-e7470"),
                                                    "7XK2QH2")).identity()
    files = {"/sys/class/dmi/id/sys_vendor": "Dell Inc.\n",
             "/sys/class/dmi/id/product_name": "Latitude  E7470\n",  # spacing differs
             "/sys/class/dmi/id/product_serial": "7xk2qh2\n"}  # and case
    from_sysfs = collect_platform(recorded_machine(files=files)).identity()
    assert from_sysfs.id == from_dmidecode.id


def test_placeholder_serials_are_left_out_and_named() -> None:
    platform = platform_of(dmidecode_of("asrock-b450m-pro4"))
    identity = platform.identity(("70:85:c2:11:22:33",))
    assert identity.placeholder_fields == (
        "system_vendor", "system_product", "system_serial", "board_serial", "system_uuid")
    # The white-box system record says nothing: the board names the model instead.
    assert identity.basis == ("board_vendor", "board_product", "mac")
    assert identity.distinguishes_units


def test_without_serial_or_uuid_the_lowest_wired_mac_identifies_the_machine() -> None:
    platform = platform_of(dmidecode_of("dell-optiplex-755"))
    one = platform.identity(("00:1e:c9:aa:00:02", "00:1E:C9:AA:00:01"))
    same = platform.identity(("00-1e-c9-aa-00-01", "00:1e:c9:aa:00:02"))
    other = platform.identity(("00:1e:c9:bb:00:01",))
    assert one.basis == ("system_vendor", "system_product", "mac")
    assert one.id == same.id != other.id
    assert first_mac(["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "not a mac"]) is None


def test_a_real_uuid_stands_in_for_missing_serials() -> None:
    system = SystemProduct("Dell Inc.", "OptiPlex 755", None, "Not Specified", None,
                           "44454C4C-4D00-1047-8031-B3C04F4B4331", None)
    board = Baseboard("Dell Inc.", "0GM819", None, None)
    identity = machine_identity(system, board, Chassis("Mini Tower", None, None, None),
                                ("00:1e:c9:aa:00:01",))
    assert identity.basis == ("system_vendor", "system_product", "system_uuid")
    assert identity.placeholder_fields == ("system_serial",)


def test_with_nothing_unit_specific_the_id_only_names_the_model() -> None:
    identity = platform_of(dmidecode_of("hp-elitebook-840-g3")).identity()
    assert identity.basis == ("system_vendor", "system_product")
    assert not identity.distinguishes_units


@pytest.mark.parametrize(("name", "hid"), [
    ("lenovo-thinkpad-a485", "laptop-lenovo-20mucto1ww---"),
    ("hp-elitebook-840-g3", "laptop-hp-hp_elitebook_840_g3---"),
    ("dell-optiplex-755", "n/a-dell_inc.-optiplex_755---"),  # "mini tower" is not in its table
    ("asrock-b450m-pro4", "desktop-to_be_filled_by_o.e.m.-to_be_filled_by_o.e.m.---"),
])
def test_ereuse_hid_follows_devicehub_teal(name: str, hid: str) -> None:
    assert platform_of(dmidecode_of(name)).identity().ereuse_hid == hid


def test_ereuse_hid_with_a_real_serial_and_with_strings_left_out() -> None:
    dump = with_system_serial(dmidecode_of("dell-latitude-e7470"), "7XK2QH2")
    assert platform_of(dump).identity().ereuse_hid == "laptop-dell_inc.-latitude_e7470-7xk2qh2"
    bare = SystemProduct(None, "Latitude E7470", None, None, None, None, None)
    assert ereuse_hid(bare, Chassis(None, None, None, None)) == (
        "n/a-not_specified-latitude_e7470-not_specified")
