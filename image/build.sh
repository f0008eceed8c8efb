#!/bin/bash
# Build the reeeboot live USB image, and the OS image it installs on refurbished computers.
#
#   sudo image/build.sh [--os minimal|desktop|none] [--os-only]
#
# First the OS image (--os, default minimal: no desktop, what the tests install; desktop: Xfce,
# Firefox, LibreOffice, what a new owner gets; none: no OS image) into out/os/: a compressed raw
# disk image NAME_VERSION.raw.zst, its block map NAME_VERSION.bmap (bmaptool's format) and
# NAME_VERSION.manifest.json (name, version, sha256 of the raw image, sizes).
# Then, unless --os-only, out/reeeboot-live.img (the whole stick, with the OS images of out/os/
# in the images/ folder of its data partition) and, beside it, the kernel and initrd
# (out/reeeboot-live.vmlinuz, out/reeeboot-live.initrd) for fast QEMU direct kernel boots.
# The QEMU suite installs both OS images: after the stick, `--os desktop --os-only` builds the
# desktop image into out/os/ without putting it on that stick.
#
# Environment:
#   REEEBOOT_CACHE            caches kept between builds (default /var/cache/reeeboot)
#   REEEBOOT_MIRROR           Debian mirror URL (default: taken from this machine's apt sources)
#   REEEBOOT_SECURITY_MIRROR  Debian security mirror URL (default: taken from apt sources, or
#                             REEEBOOT_MIRROR with "-security" appended)
#   REEEBOOT_OS_VERSION       the OS image's version (default: today's date, YYYYMMDD)
set -euo pipefail

OS_PROFILE=minimal
OS_ONLY=false
while (($#)); do
    case $1 in
        --os) OS_PROFILE=${2:-}; shift 2 || true ;;
        --os=*) OS_PROFILE=${1#--os=}; shift ;;
        --os-only) OS_ONLY=true; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
        *) echo "usage: image/build.sh [--os minimal|desktop|none] [--os-only]" >&2; exit 2 ;;
    esac
done
case $OS_PROFILE in
    minimal | desktop | none) ;;
    *) echo "build.sh: --os takes minimal, desktop or none, not '$OS_PROFILE'" >&2; exit 2 ;;
esac
if $OS_ONLY && [[ $OS_PROFILE == none ]]; then
    echo "build.sh: --os-only builds an OS image: name one with --os" >&2
    exit 2
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$REPO/out
CACHE=${REEEBOOT_CACHE:-/var/cache/reeeboot}
NAME=reeeboot-live
# mkosi 25 is the first release with everything mkosi.conf relies on; Debian 12 ships 14.
MKOSI_MIN_MAJOR=25
MKOSI_SUITE=trixie

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
    die "must run as root (mkosi needs root to build a bootable disk image): sudo $0"
fi
[[ -f $REPO/mkosi.conf ]] || die "$REPO/mkosi.conf not found"
command -v apt-get >/dev/null || die "this script expects a Debian (12 or 13) build machine"

mkdir -p "$CACHE" "$OUT"
# Two builds sharing one cache would corrupt each other's incremental images.
exec 9>"$CACHE/build.lock"
flock -n 9 || die "another build is using $CACHE (lock $CACHE/build.lock)"

started=$(date +%s)

# --- host packages ---------------------------------------------------------------------------
# Only what mkosi needs before its own tools tree exists, plus pip for the wheels.
need=()
# mtools: to check and fill the FAT partitions of the result; python3-venv, e2fsprogs and gettext:
# the OS image's packing, file system check and first-boot texts; bmap-tools: the live image's
# block map.
for pkg in python3 python3-pip python3-venv ca-certificates debian-archive-keyring mtools fdisk \
    bmap-tools zstd e2fsprogs gettext; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        need+=("$pkg")
    fi
done
if ((${#need[@]})); then
    log "installing ${need[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
# Debian's interpreter, not whatever python3 comes first in PATH (pyenv and friends): the
# wheels must match the image's Debian Python.
PYTHON=/usr/bin/python3

# --- mirrors ---------------------------------------------------------------------------------
# Taken from the host's apt configuration so the build uses whatever mirror (or proxy) this
# machine is allowed to reach; nothing in the repository names one.
read -r host_mirror host_security < <("$PYTHON" - <<'EOF'
import glob, re

DEBIAN_SUITES = {"buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
                 "oldoldstable", "oldstable", "stable", "testing", "unstable"}

def entries():
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            continue
        for line in text.splitlines():
            line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb":
                yield line[1], [line[2]]
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            continue
        for stanza in re.split(r"\n[ \t]*\n", text):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or line[:1].isspace() or ":" not in line:
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() in ("no", "false", "0"):
                continue
            for uri in fields.get("uris", "").split():
                yield uri, fields.get("suites", "").split()

mirror = security = ""
for uri, suites in entries():
    if not uri.startswith(("http://", "https://", "ftp://", "file:/")):
        continue
    for suite in suites:
        base, _, pocket = suite.partition("-")
        if base not in DEBIAN_SUITES:
            continue
        if pocket == "security":
            security = security or uri.rstrip("/")
        else:
            mirror = mirror or uri.rstrip("/")
print(mirror or "-", security or "-")
EOF
)
MIRROR=${REEEBOOT_MIRROR:-}
SECURITY=${REEEBOOT_SECURITY_MIRROR:-}
if [[ -z $MIRROR ]]; then
    [[ $host_mirror != - ]] || die "no Debian mirror found in /etc/apt; set REEEBOOT_MIRROR"
    MIRROR=$host_mirror
    [[ -n $SECURITY || $host_security == - ]] || SECURITY=$host_security
fi
MIRROR=${MIRROR%/}
# The usual layout serves .../debian and .../debian-security side by side.
SECURITY=${SECURITY:-$MIRROR-security}
SECURITY=${SECURITY%/}
log "Debian mirror: $MIRROR (security: $SECURITY)"

# apt's proxy setting, if the host has one, is handed to the package managers mkosi runs.
proxy=""
eval "$(apt-config shell proxy Acquire::http::Proxy 2>/dev/null || true)"

# Release names come from the mkosi.conf files so that there is a single place to change them.
conf_value() {  # conf_value KEY [FILE]
    sed -n "s/^$1=[[:space:]]*\([^[:space:]#]*\).*/\1/p" "${2:-$REPO/mkosi.conf}" | tail -n1
}
IMAGE_RELEASE=$(conf_value Release)
OS_RELEASE=$(conf_value Release "$REPO/image/os/mkosi.conf")
TOOLS_RELEASE=$(conf_value ToolsTreeRelease)
[[ -n $IMAGE_RELEASE && -n $OS_RELEASE && -n $TOOLS_RELEASE ]] ||
    die "Release= or ToolsTreeRelease= missing in mkosi.conf or image/os/mkosi.conf"

# Writes an apt sandbox tree for one release. mkosi uses etc/apt/sources.list.d/mkosi.sources
# from a sandbox tree as is, instead of its defaults, which include a debug archive that
# plain Debian mirrors and caching proxies do not all carry.
write_sandbox() {
    local dir=$1 release=$2 components=$3
    rm -rf "$dir"
    mkdir -p "$dir/etc/apt/sources.list.d" "$dir/etc/apt/apt.conf.d"
    cat >"$dir/etc/apt/sources.list.d/mkosi.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $release $release-updates
Components: $components
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: $release-security
Components: $components
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    if [[ -n $proxy ]]; then
        printf 'Acquire::http::Proxy "%s";\n' "$proxy" >"$dir/etc/apt/apt.conf.d/50proxy"
    fi
}
# non-free-firmware: network card firmware (Realtek) so workshop machines get online.
write_sandbox "$CACHE/sandbox/image" "$IMAGE_RELEASE" "main non-free-firmware"
write_sandbox "$CACHE/sandbox/os" "$OS_RELEASE" "main non-free-firmware"
write_sandbox "$CACHE/sandbox/tools" "$TOOLS_RELEASE" "main"

# --- mkosi -----------------------------------------------------------------------------------
MKOSI_ROOT=$CACHE/mkosi/root
MKOSI_PY=$MKOSI_ROOT/usr/lib/python3/dist-packages
mkosi_version() { PYTHONPATH=$MKOSI_PY "$PYTHON" -m mkosi --version 2>/dev/null | awk '{print $2}'; }

# fetch_deb SUITE PACKAGE DIRECTORY: unpacks Debian SUITE's PACKAGE into DIRECTORY (emptied
# first), through a private source list, list directory and cache: pointing apt-get update at
# another source list with the host's list directory would delete the host's package lists.
fetch_deb() {
    local suite=$1 package=$2 target=$3 tmp
    tmp=$(mktemp -d)
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $suite main" \
        >"$tmp/sources.list"
    local apt_private=(
        -o "Dir::Etc::sourcelist=$tmp/sources.list"
        -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$tmp/lists"
        -o "Dir::Cache=$tmp/cache"
        -o "APT::Get::List-Cleanup=0"
        # The temporary directory is root's; apt's unprivileged download user cannot write it.
        -o "APT::Sandbox::User=root"
    )
    if apt-get "${apt_private[@]}" update &&
        (cd "$tmp/deb" && apt-get "${apt_private[@]}" download "$package"); then
        rm -rf "$target"
        mkdir -p "$target"
        dpkg -x "$tmp"/deb/"$package"_*.deb "$target"
        rm -rf "$tmp"
    else
        rm -rf "$tmp"
        die "could not fetch $package from Debian $suite"
    fi
}

if [[ ! -f $MKOSI_PY/mkosi/__init__.py ]]; then
    log "fetching mkosi from Debian $MKOSI_SUITE"
    fetch_deb "$MKOSI_SUITE" mkosi "$MKOSI_ROOT"
fi
version=$(mkosi_version)
[[ -n $version ]] || die "mkosi in $MKOSI_ROOT does not run; remove it to fetch it again"
if ((${version%%.*} < MKOSI_MIN_MAJOR)); then
    die "mkosi $version in $MKOSI_ROOT is older than $MKOSI_MIN_MAJOR; remove it to fetch it again"
fi
log "mkosi $version"

# --- the agent's wheels ----------------------------------------------------------------------
# Built from a clean copy of the sources: setuptools reuses a stale build/ directory, which
# could put deleted modules back into the wheel, and the working tree stays untouched.
log "building wheels into out/wheels"
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
tar -C "$REPO" -cf - \
    --exclude=./out --exclude=./build --exclude=./dist --exclude=./.git --exclude=./.venv \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache \
    --exclude=.pytest_cache --exclude=./qemu-tests/artifacts --exclude=./bench/results . |
    tar -C "$src" -xf -
rm -rf "$OUT/wheels"
export PIP_CACHE_DIR=$CACHE/pip PIP_DISABLE_PIP_VERSION_CHECK=1
# The agent's extra: the stick runs the agent, never the hub.
"$PYTHON" -m pip wheel --quiet --wheel-dir "$OUT/wheels" "$src[agent]"
# The image runs Debian 13's Python 3.13; another build machine Python (Debian 12 has 3.11)
# builds binary wheels for itself, which are exchanged for 3.13 ones.
if [[ $("$PYTHON" -c 'import sys; print(sys.version_info[:2] != (3, 13))') == True ]]; then
    "$PYTHON" "$REPO/image/retarget-wheels.py" "$OUT/wheels"
fi
rm -rf "$src"
trap - EXIT
ls "$OUT"/wheels/reeeboot-*.whl >/dev/null 2>&1 || die "no reeeboot wheel was built"

# --- mkosi runs ------------------------------------------------------------------------------
# mkosi writes into a staging directory in the cache: it also keeps its tools tree there,
# which is large, must survive between builds and is shared by the OS and live images; out/
# only receives the results.
STAGE=$CACHE/mkosi/output
mkdir -p "$STAGE" "$CACHE/mkosi/workspace" "$CACHE/mkosi/incremental" "$CACHE/mkosi/packages"
run_mkosi() {  # run_mkosi DIRECTORY [mkosi options...]: build the image configured there
    local directory=$1
    shift
    (
        cd "$directory"
        PYTHONPATH=$MKOSI_PY "$PYTHON" -m mkosi \
            --force \
            --output-directory "$STAGE" \
            --workspace-directory "$CACHE/mkosi/workspace" \
            --cache-directory "$CACHE/mkosi/incremental" \
            --package-cache-dir "$CACHE/mkosi/packages" \
            --tools-tree-sandbox-tree "$CACHE/sandbox/tools" \
            ${proxy:+--proxy-url "$proxy"} \
            "$@" \
            build
    )
}

# --- the OS image ----------------------------------------------------------------------------
if [[ $OS_PROFILE != none ]]; then
    # shellcheck source=image/os/build-os.sh
    source "$REPO/image/os/build-os.sh"
    build_os_image "$OS_PROFILE"
fi
if $OS_ONLY; then
    log "done: out/os/ (no live image built: --os-only)"
    exit 0
fi

# --- the live image --------------------------------------------------------------------------
# The OS images in out/os/ go into the data partition's images/ folder, which is made as large
# as they need (64 MiB without them): a copy of the partition definitions with that size.
os_files=()
if [[ -d $OUT/os ]]; then
    mapfile -t os_files < <(find "$OUT/os" -maxdepth 1 -type f \
        \( -name '*.raw.*' -o -name '*.bmap' -o -name '*.manifest.json' \) | sort)
fi
os_bytes=0
for file in "${os_files[@]}"; do
    os_bytes=$((os_bytes + $(stat -c %s "$file")))
done
data_base_mib=64  # as image/repart/10-data.conf; 32 MiB more for FAT's overhead with images
data_mib=$((data_base_mib + (os_bytes + (1 << 20) - 1) / (1 << 20) + (os_bytes > 0 ? 32 : 0)))
# The stick without OS images must fit on any stick and copy quickly (700 MB).
live_limit_bytes=700000000
repart_live=$CACHE/repart/live
rm -rf "$repart_live"
mkdir -p "$repart_live"
cp "$REPO"/image/repart/*.conf "$repart_live/"
sed -i -e "s/^SizeMinBytes=.*/SizeMinBytes=${data_mib}M/" \
    -e "s/^SizeMaxBytes=.*/SizeMaxBytes=${data_mib}M/" "$repart_live/10-data.conf"

log "building the live image with mkosi"
run_mkosi "$REPO" --sandbox-tree "$CACHE/sandbox/image" \
    --repart-directory= --repart-directory "$repart_live"

# A stick that does not boot or has no configuration would only show up at the workshop.
part_offset() {  # byte offset of the first partition of GPT type $2 in image $1
    sfdisk --json "$1" | "$PYTHON" -c '
import json, sys
table = json.load(sys.stdin)["partitiontable"]
part = next(p for p in table["partitions"] if p["type"].upper() == sys.argv[1])
print(part["start"] * table.get("sectorsize", 512))' "$2"
}
without_os=$(( $(stat -c %s "$STAGE/$NAME.raw") - ((data_mib - data_base_mib) << 20) ))
((without_os <= live_limit_bytes)) ||
    die "the live image needs $without_os bytes without its OS images, more than $live_limit_bytes"
log "the live image without OS images: $((without_os / 1000000)) MB (at most $((live_limit_bytes / 1000000)))"
esp=$(part_offset "$STAGE/$NAME.raw" C12A7328-F81F-11D2-BA4B-00A0C93EC93B)
data=$(part_offset "$STAGE/$NAME.raw" EBD0A0A2-B9E5-4433-87C0-68B6B72699C7)
for loader in EFI/BOOT/BOOTX64.EFI EFI/BOOT/grubx64.efi EFI/BOOT/mmx64.efi \
    EFI/BOOT/BOOTIA32.EFI EFI/debian/grub.cfg grub/i386-pc/normal.mod grub/i386-pc/linux16.mod \
    memtest/memtest86+x64.bin memtest/memtest86+x64.efi memtest/memtest86+ia32.efi; do
    mdir -b -i "$STAGE/$NAME.raw@@$esp" "::/$loader" >/dev/null ||
        die "no $loader on the ESP"
done
# The boot menu: mkosi wrote one entry for the kernel; image/grub.cfg, with that entry's kernel,
# initrds and command line filled in, takes its place.
mtype -i "$STAGE/$NAME.raw@@$esp" ::/grub/grub.cfg >"$CACHE/grub.cfg.mkosi"
"$PYTHON" - "$CACHE/grub.cfg.mkosi" "$REPO/image/grub.cfg" "$CACHE/grub.cfg" <<'PYTHON' ||
import re, sys
mkosi_path, template_path, output = sys.argv[1:4]
mkosi_cfg = open(mkosi_path, encoding="utf-8").read()
template = open(template_path, encoding="utf-8").read()
linux = re.findall(r"^\s*linux\s+(\S+)\s+(.*)$", mkosi_cfg, re.MULTILINE)
initrd = re.findall(r"^\s*initrd\s+(.*)$", mkosi_cfg, re.MULTILINE)
if len(linux) != 1 or len(initrd) != 1:
    sys.exit(f"expected one kernel entry in mkosi's grub.cfg, found:\n{mkosi_cfg}")
(kernel, options), = linux
menu = (template.replace("@KERNEL@", kernel).replace("@OPTIONS@", options.strip())
        .replace("@INITRD@", initrd[0].strip()))
if "@" in re.sub(r"#.*", "", menu):
    sys.exit("a placeholder of image/grub.cfg was left unfilled")
open(output, "w", encoding="utf-8").write(menu)
PYTHON
    die "could not write the boot menu"
mcopy -o -i "$STAGE/$NAME.raw@@$esp" "$CACHE/grub.cfg" ::/grub/grub.cfg
# Some BIOSes (mostly before 2010) boot only a disk whose MBR has a partition marked active;
# some UEFI firmware stops treating a disk as GPT when the protective partition (slot 1) is the
# one marked. So slot 2, empty otherwise, carries the mark (image/README.md, "Legacy BIOS").
printf '\x80' | dd of="$STAGE/$NAME.raw" bs=1 seek=$((446 + 16)) conv=notrunc status=none
mdir -b -i "$STAGE/$NAME.raw@@$data" ::/reeeboot.toml >/dev/null ||
    die "no reeeboot.toml on the data partition"
for file in "${os_files[@]}"; do
    log "copying $(basename "$file") to the stick's images/ folder"
    mcopy -o -i "$STAGE/$NAME.raw@@$data" "$file" "::/images/$(basename "$file")"
done

rm -f "$OUT/$NAME.img" "$OUT/$NAME.img.bmap" "$OUT/$NAME.vmlinuz" "$OUT/$NAME.initrd"
mv "$STAGE/$NAME.raw" "$OUT/$NAME.img"
mv "$STAGE/$NAME.vmlinuz" "$OUT/$NAME.vmlinuz"
mv "$STAGE/$NAME.initrd" "$OUT/$NAME.initrd"
# The network boot files (docs/netboot.md): the same kernel, initrd and root as the stick's,
# and the iPXE programs PXE firmware loads first, from the image's Debian release (its iPXE
# hands the root to the kernel as a file of the initrd on BIOS and UEFI alike); for UEFI,
# Secure Boot on or off, shim and Debian's signed network GRUB from the image's own root.
IPXE_ROOT=$CACHE/ipxe/$IMAGE_RELEASE
if [[ ! -f $IPXE_ROOT/usr/lib/ipxe/snponly.efi ]]; then
    log "fetching iPXE from Debian $IMAGE_RELEASE"
    fetch_deb "$IMAGE_RELEASE" ipxe "$IPXE_ROOT"
fi
log "writing the network boot files into out/netboot"
"$PYTHON" "$REPO/image/netboot.py" "$OUT/$NAME.img" "$OUT/$NAME.vmlinuz" "$OUT/$NAME.initrd" \
    "$CACHE/grub.cfg.mkosi" "$IPXE_ROOT/usr/lib/ipxe" "$OUT/netboot" ||
    die "could not write the network boot files"
# Keeps the stick writable by the user who checked out the repository, not just root.
if owner=$(stat -c %u:%g "$REPO") && [[ $owner != 0:0 ]]; then
    chown -R "$owner" "$OUT"
fi

bmap=""
if command -v bmaptool >/dev/null; then
    bmaptool create --output "$OUT/$NAME.img.bmap" "$OUT/$NAME.img"
    bmap=yes
fi

elapsed=$(($(date +%s) - started))
size=$(du -h --apparent-size "$OUT/$NAME.img" | cut -f1)
cat <<EOF

Built in $((elapsed / 60)) min $((elapsed % 60)) s:
  $OUT/$NAME.img  ($size)
  $OUT/$NAME.vmlinuz, $OUT/$NAME.initrd  (QEMU direct kernel boot:
      root=PARTLABEL=reeeboot-root ro console=ttyS0,115200 systemd.volatile=overlay)
  $OUT/netboot/  (network boot: reeeboot-hub netboot --files $OUT/netboot, docs/netboot.md)

To write it to a USB stick, find the stick's device with 'lsblk' (e.g. /dev/sdX; everything on
it is erased), then:
  dd if=$OUT/$NAME.img of=/dev/sdX bs=4M oflag=direct conv=fsync status=progress
EOF
if [[ -n $bmap ]]; then
    cat <<EOF
or, faster (skips the unused blocks):
  bmaptool copy --bmap $OUT/$NAME.img.bmap $OUT/$NAME.img /dev/sdX
EOF
else
    echo "(bmaptool, from the bmap-tools package, would write it faster: it skips unused blocks)"
fi
