#!/usr/bin/env python3
"""Boot a copy of the live image in QEMU (TCG) and check it, then check the stick was not written.

    image/boot-test.py                 direct kernel boot (out/reeeboot-live.vmlinuz/.initrd)
    image/boot-test.py --uefi          OVMF -> shim -> GRUB's default entry, as on a real machine

The image is attached as a removable USB stick (xHCI). Once booted, commands are typed on tty2
(the root shell) through the QEMU monitor; their output goes to the serial port, whose log is
checked. Finally the machine is powered off from that shell and every byte of the copy outside
its state partition is compared with the image as built: the data partition (FAT) is only read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA_PARTITION_TYPE = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
STATE_PARTITION_LABEL = "reeeboot-state"
DIRECT_CMDLINE = (
    "root=PARTLABEL=reeeboot-root ro console=ttyS0,115200 systemd.volatile=overlay "
    "systemd.gpt_auto=0 systemd.journald.forward_to_console=1"
)
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"

# Run on tty2 once the system is up. It is put on the copy's data partition before the boot
# (typing it would be slow) and writes everything to the serial port, between markers.
# /dev/vcs1 is the text on tty1's screen: what the agent printed there.
CHECKS = """\
echo CHECK-BEGIN
findmnt -rno TARGET,SOURCE,FSTYPE,OPTIONS /
echo ROOTFS $(blkid -o value -s TYPE /dev/disk/by-partlabel/reeeboot-root)
findmnt -rno TARGET,SOURCE,FSTYPE,OPTIONS /srv/reeeboot
findmnt -rno TARGET,SOURCE,FSTYPE,OPTIONS /var/lib/reeeboot
ip -4 -br addr show scope global
ip route show default
resolvectl dns | grep -v ':$'
getent hosts {dns_name} >/dev/null && echo DNS-OK
u=reeeboot.service
echo AGENT $(systemctl show -P ActiveState $u) $(systemctl show -P Result $u) \\
    $(systemctl show -P ExecMainStatus $u) $(systemctl show -P ExecMainStartTimestampMonotonic $u)
# (the agent's screen may take a while to draw under TCG)
for i in $(seq 90); do grep -aq reeeboot /dev/vcs1 && break; sleep 1; done
echo TTY1 $(tr -s ' ' </dev/vcs1 | grep -ao 'reeeboot.\\{{0,40\\}}' | head -n 1)
echo GETTYS $(systemctl is-active serial-getty@ttyS0 getty@tty1 getty@tty2)
echo FAILED-UNITS $(systemctl --failed --no-legend --plain | cut -d' ' -f1)
systemd-analyze | head -n 1
echo DATA $(ls /srv/reeeboot)
echo written-by-boot-test > /var/lib/reeeboot/boot-test.txt
sync
echo CHECK-END
"""
EXPECTATIONS = {
    "root is the RAM overlay": r"^/ overlay overlay rw",
    "root partition is erofs": r"^ROOTFS erofs",
    "data partition mounted read-only": r"^/srv/reeeboot /dev/\S+ vfat ro",
    "state partition mounted read-write": r"^/var/lib/reeeboot /dev/\S+ ext4 rw",
    "IPv4 address by DHCP": r"10\.0\.2\.15/24",
    "DNS works": r"^DNS-OK",
    # The agent's screen stays up (active); a placeholder agent prints and exits (inactive).
    "reeeboot.service started, no failure": r"^AGENT (active|inactive) success 0 [1-9]",
    "the agent's output is on tty1": r"^TTY1 reeeboot",
    "no serial getty, no getty on tty1, root shell on tty2": r"^GETTYS inactive inactive active",
    "no failed units": r"^FAILED-UNITS\s*$",
    "default config and images/ on the data partition": r"^DATA .*\bimages reeeboot\.toml",
}


def apt_host() -> str:
    """A host name the build machine resolves: its first apt source (read, not hard-coded)."""
    paths = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in paths:
        if path.suffix in (".list", ".sources") or path.name == "sources.list":
            try:
                text = path.read_text()
            except OSError:
                continue
            if m := re.search(r"^[^#\n]*?https?://([^/\s:]+)", text, re.M):
                return m.group(1)
    return "localhost"


# HMP sendkey names are physical keys, named after the US layout; what they type depends on the
# guest's keyboard layout (etc/default/keyboard in the image, French AZERTY).
US_KEYS = {
    " ": "spc", "-": "minus", "=": "equal", "/": "slash", "\\": "backslash", ";": "semicolon",
    "'": "apostrophe", ",": "comma", ".": "dot", "\n": "ret", "\t": "tab",
    "_": "shift-minus", "?": "shift-slash", "|": "shift-backslash", ":": "shift-semicolon",
    '"': "shift-apostrophe", "<": "shift-comma", ">": "shift-dot", "!": "shift-1",
    "$": "shift-4", "&": "shift-7", "*": "shift-8", "(": "shift-9", ")": "shift-0",
}
FR_KEYS = {
    " ": "spc", "\n": "ret", "\t": "tab",
    "a": "q", "q": "a", "z": "w", "w": "z", "m": "semicolon",
    "&": "1", "-": "6", "_": "8", "(": "5", ")": "minus", "=": "equal", "$": "bracket_right",
    ",": "m", ";": "comma", ":": "dot", "!": "slash", "<": "less",
    ".": "shift-comma", "/": "shift-dot", ">": "shift-less", "?": "shift-m",
    **{digit: f"shift-{digit}" for digit in "0123456789"},
}
KEYMAPS = {"us": US_KEYS, "fr": FR_KEYS}


def key_name(char: str, keymap: dict[str, str]) -> str:
    if char in keymap:
        return keymap[char]
    if char.isupper():
        return f"shift-{key_name(char.lower(), keymap)}"
    return char


@dataclass(frozen=True)
class Region:
    start: int
    end: int


def partition(image: Path, *, type_uuid: str | None = None, label: str | None = None) -> Region:
    table = json.loads(subprocess.run(
        ["sfdisk", "--json", str(image)], check=True, capture_output=True, text=True
    ).stdout)["partitiontable"]
    sector = table.get("sectorsize", 512)
    for part in table["partitions"]:
        if (type_uuid and part["type"].upper() == type_uuid) or (
                label and part.get("name") == label):
            return Region(part["start"] * sector, (part["start"] + part["size"]) * sector)
    raise SystemExit(f"{image}: no partition of type {type_uuid} or label {label}")


def hash_outside(image: Path, data: Region) -> tuple[str, str]:
    """SHA-256 of everything before and after one partition."""
    digests = []
    with image.open("rb") as f:
        for start, end in ((0, data.start), (data.end, image.stat().st_size)):
            h = hashlib.sha256()
            f.seek(start)
            left = end - start
            while left:
                chunk = f.read(min(left, 8 << 20))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
            digests.append(h.hexdigest())
    return digests[0], digests[1]


class Monitor:
    """The QEMU human monitor over a unix socket."""

    def __init__(self, path: Path, keymap: dict[str, str]) -> None:
        self.keymap = keymap
        self.sock = socket.socket(socket.AF_UNIX)
        for _ in range(100):
            try:
                self.sock.connect(str(path))
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("cannot connect to the QEMU monitor")
        self.sock.settimeout(5)
        self._read()

    def _read(self) -> str:
        data = b""
        while not data.endswith(b"(qemu) "):
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")

    def command(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\n")
        return self._read()

    def type(self, text: str) -> None:
        # One key at a time, released before the next: queued key events get mixed up.
        for char in text:
            self.command(f"sendkey {key_name(char, self.keymap)} 10")
            time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uefi", action="store_true",
                        help="boot through OVMF, shim and the boot menu")
    parser.add_argument("--image", type=Path, default=REPO / "out/reeeboot-live.img")
    parser.add_argument("--timeout", type=int, default=600, help="seconds for the whole boot")
    parser.add_argument("--keep", type=Path, help="directory for the serial log and screenshots")
    parser.add_argument("--dns-name", default=apt_host(), help="name the guest must resolve")
    parser.add_argument("--cmdline", default="", help="extra kernel command line")
    parser.add_argument("--keymap", choices=sorted(KEYMAPS), default="fr",
                        help="the image's keyboard layout (to type on tty2)")
    args = parser.parse_args()

    image: Path = args.image.resolve()
    stem = image.with_suffix("")
    work = Path(tempfile.mkdtemp(prefix="reeeboot-boot-test-"))
    keep: Path = args.keep or work
    keep.mkdir(parents=True, exist_ok=True)
    serial = keep / ("serial-uefi.log" if args.uefi else "serial-direct.log")
    copy = work / "stick.img"
    subprocess.run(["cp", "--sparse=always", str(image), str(copy)], check=True)
    data = partition(copy, type_uuid=DATA_PARTITION_TYPE)
    state = partition(copy, label=STATE_PARTITION_LABEL)
    script = work / "boot-test.sh"
    script.write_text(CHECKS.format(dns_name=args.dns_name))
    subprocess.run(["mcopy", "-i", f"{copy}@@{data.start}", str(script), "::/boot-test.sh"],
                   check=True)
    before = hash_outside(copy, state)

    qemu = [
        # thread=single: see ACCELERATOR in qemu-tests/harness.py
        "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg,thread=single", "-m", "2048",
        "-smp", "2",
        "-display", "none", "-vga", "std", "-no-reboot",
        "-serial", f"file:{serial}",
        "-monitor", f"unix:{work}/monitor.sock,server=on,wait=off",
        "-device", "qemu-xhci",
        "-drive", f"if=none,id=stick,format=raw,file={copy}",
        # bootindex: with firmware, boot the stick rather than try network boot first.
        "-device", "usb-storage,drive=stick,removable=on" + (",bootindex=0" if args.uefi else ""),
        "-nic", "user,model=virtio-net-pci",
    ]
    if args.uefi:
        shutil.copy(OVMF_VARS, work / "vars.fd")
        qemu += [
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={work}/vars.fd",
        ]
        if args.cmdline:
            # The boot menu's entries carry the command line; GRUB takes no extra one unasked.
            sys.exit("--cmdline needs a direct boot: through firmware the boot menu decides")
    else:
        cmdline = f"{DIRECT_CMDLINE} {args.cmdline}".strip()
        qemu += ["-kernel", f"{stem}.vmlinuz", "-initrd", f"{stem}.initrd", "-append", cmdline]

    print("+", " ".join(qemu), flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(["timeout", "--kill-after=10", str(args.timeout), *qemu])
    try:
        return run_checks(args, proc, work, keep, serial, copy, state, before, started)
    finally:
        if proc.poll() is None:
            proc.terminate()  # timeout passes it on to QEMU
            proc.wait()


def run_checks(
    args: argparse.Namespace,
    proc: subprocess.Popen[bytes],
    work: Path,
    keep: Path,
    serial: Path,
    copy: Path,
    state: Region,
    before: tuple[str, str],
    started: float,
) -> int:
    monitor = Monitor(work / "monitor.sock", KEYMAPS[args.keymap])
    log = ""
    ok = True

    def wait_for(pattern: str, seconds: float) -> re.Match[str] | None:
        nonlocal log
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None:
            log = serial.read_text(errors="replace") if serial.exists() else ""
            if m := re.search(pattern, log):
                return m
            time.sleep(1)
        return None

    # tty2's root shell is up once it answers; keys typed before it is ready are lost, so ask
    # again until it does.
    ready_at = None
    attempt = 0
    while proc.poll() is None and time.monotonic() - started < args.timeout - 60:
        attempt += 1
        monitor.command("sendkey ctrl-alt-f2")
        monitor.type(f"echo READY-{attempt} >/dev/ttyS0\n")
        if wait_for(r"READY-\d+", 10):
            ready_at = time.monotonic() - started
            break
    if ready_at is None:
        print("FAIL: the root shell on tty2 never answered", file=sys.stderr)
        ok = False
    else:
        print(f"tty2 root shell answered {ready_at:.0f} s after QEMU started")
        monitor.type("sh /srv/reeeboot/boot-test.sh >/dev/ttyS0 2>&1\n")
        if not wait_for(r"CHECK-END", 240):
            print("FAIL: the checks did not finish", file=sys.stderr)
            ok = False
        monitor.command(f"screendump {keep}/tty2.ppm")
        # What the agent left on its console (switching there may start a login prompt, which is
        # why this comes after the checks).
        monitor.command("sendkey ctrl-alt-f1")
        time.sleep(2)
        monitor.command(f"screendump {keep}/tty1.ppm")
        monitor.command("sendkey ctrl-alt-f2")
        time.sleep(1)
        monitor.type("systemctl poweroff\n")

    try:
        proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait()
        print("FAIL: QEMU did not power off", file=sys.stderr)
        ok = False
    log = serial.read_text(errors="replace")

    if m := re.search(r"CHECK-BEGIN(.*?)CHECK-END", log, re.S):
        checks = m.group(1)
        print("--- checks (from the serial log) ---")
        print(checks.strip())
        print("---")
        for what, pattern in EXPECTATIONS.items():
            found = re.search(pattern, checks, re.M) is not None
            print(f"{'ok  ' if found else 'FAIL'} {what}")
            ok &= found
        if agent := re.search(r"^AGENT \S+ \S+ \S+ (\d+)", checks, re.M):
            print(f"reeeboot.service started {int(agent.group(1)) / 1e6:.1f} s after the kernel")
    else:
        print("FAIL: no check output in the serial log", file=sys.stderr)
        ok = False

    after = hash_outside(copy, state)
    same = before == after
    print(f"{'ok  ' if same else 'FAIL'} bytes outside the state partition unchanged, the data "
          f"partition's included ({state.start} bytes before it, "
          f"{copy.stat().st_size - state.end} after it)")
    ok &= same
    written = subprocess.run(
        ["debugfs", "-R", "cat /boot-test.txt", f"{copy}?offset={state.start}"],
        capture_output=True, text=True,
    ).stdout.strip()
    found = written == "written-by-boot-test"
    print(f"{'ok  ' if found else 'FAIL'} file written at run time is on the state partition")
    ok &= found

    print(f"serial log: {serial}; screenshots: {keep}/tty1.ppm, {keep}/tty2.ppm")
    if args.keep:
        shutil.rmtree(work)
    else:
        copy.unlink()
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
