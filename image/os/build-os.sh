# Sourced by image/build.sh: builds the OS image that the install step writes to refurbished
# computers. Uses build.sh's variables (REPO, OUT, CACHE, STAGE, PYTHON), log, die and run_mkosi;
# runs after the wheels are built.

OS_FIRSTBOOT_DOMAIN=reeeboot-os-firstboot

# The first boot's French texts, compiled into a tree mkosi adds to the image.
os_locale_tree() {
    local tree=$CACHE/os-extra
    rm -rf "$tree"
    mkdir -p "$tree/usr/share/locale/fr/LC_MESSAGES"
    msgfmt --check -o "$tree/usr/share/locale/fr/LC_MESSAGES/$OS_FIRSTBOOT_DOMAIN.mo" \
        "$REPO/image/os/firstboot/fr.po"
    echo "$tree"
}

# Byte offset and size of the first partition of GPT type $2 in disk image $1.
os_partition() {
    sfdisk --json "$1" | "$PYTHON" -c '
import json, sys
table = json.load(sys.stdin)["partitiontable"]
part = next(p for p in table["partitions"] if p["type"].upper() == sys.argv[1].upper())
sector = table.get("sectorsize", 512)
print(part["start"] * sector, part["size"] * sector)' "$2"
}

# The build tools come from Debian 13, whose mke2fs adds the ext4 features metadata_csum_seed
# and orphan_file, which mkosi gives no way to turn off. The installed OS's own GRUB (2.12) reads
# them, but GRUB before 2.12 (Debian 12's 2.06) cannot read a file system with
# metadata_csum_seed: they are turned off here (Debian 12's own defaults), so that the root stays
# readable by the older boot loaders and rescue sticks a workshop may still use, and the file
# system must then check clean.
os_fix_root() {
    local raw=$1 offset size loop features
    read -r offset size < <(os_partition "$raw" 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709)
    loop=$(losetup --find --show --offset "$offset" --sizelimit "$size" "$raw")
    features=$(dumpe2fs -h "$loop" 2>/dev/null | sed -n 's/^Filesystem features:\s*//p')
    local off=()
    for feature in metadata_csum_seed orphan_file; do
        [[ " $features " == *" $feature "* ]] && off+=("^$feature")
    done
    if ((${#off[@]})); then
        local joined
        joined=$(IFS=,; echo "${off[*]}")
        tune2fs -O "$joined" "$loop" >/dev/null || { losetup -d "$loop"; die "tune2fs -O $joined failed"; }
    fi
    # e2fsck -y: 0 clean, 1 corrected; then a read-only check must find nothing at all.
    local corrected=0
    e2fsck -fy "$loop" >/dev/null 2>&1 || corrected=$?
    if ((corrected > 1)) || ! e2fsck -fn "$loop" >/dev/null 2>&1; then
        losetup -d "$loop"
        die "the OS image's root file system is not clean (e2fsck)"
    fi
    features=$(dumpe2fs -h "$loop" 2>/dev/null | sed -n 's/^Filesystem features:\s*//p')
    losetup -d "$loop"
    case " $features " in
        *" metadata_csum_seed "* | *" orphan_file "*)
            die "the OS image's root file system still has features GRUB 2.06 cannot read: $features" ;;
    esac
}

# The firmware files the OS image's root carries, one a line, relative to /usr/lib/firmware and
# sorted, into file $2: the agent's network check looks there for the Wi-Fi firmware a machine
# needs (agent/health/network.py). Files and links alike: the kernel loads a link by its name.
os_firmware_list() {
    local raw=$1 listing=$2 offset size loop mnt
    read -r offset size < <(os_partition "$raw" 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709)
    loop=$(losetup --find --show --read-only --offset "$offset" --sizelimit "$size" "$raw")
    mnt=$(mktemp -d)
    # Read-only, without replaying the journal: the image is not changed.
    if ! mount -t ext4 -o ro,noload "$loop" "$mnt"; then
        rmdir "$mnt"
        losetup -d "$loop"
        die "the OS image's root could not be mounted to list its firmware"
    fi
    local dirs=("$mnt/usr/lib/firmware")
    # Before the /usr merge, /lib/firmware was a folder of its own.
    if [[ -d $mnt/lib/firmware && ! -L $mnt/lib ]]; then
        dirs+=("$mnt/lib/firmware")
    fi
    local dir listed=0
    for dir in "${dirs[@]}"; do
        if [[ -d $dir ]]; then
            find "$dir" -mindepth 1 \( -type f -o -type l \) -printf '%P\n'
        fi
    done | LC_ALL=C sort -u >"$listing" || listed=$?
    umount "$mnt"
    rmdir "$mnt"
    losetup -d "$loop"
    ((listed == 0)) || die "the OS image's firmware could not be listed"
}

# Adds the listing $2 to the manifest $1 as its `firmware` list (agent/install/image.py reads it;
# a manifest without it leaves the firmware unknown).
os_manifest_firmware() {
    "$PYTHON" - "$1" "$2" <<'EOF_PY'
import json, os, sys
manifest_path, listing_path = sys.argv[1], sys.argv[2]
with open(manifest_path, encoding="utf-8") as handle:
    manifest = json.load(handle)
with open(listing_path, encoding="utf-8") as handle:
    manifest["firmware"] = sorted({line.strip() for line in handle if line.strip()})
partial = manifest_path + ".part"
with open(partial, "w", encoding="utf-8") as handle:
    handle.write(json.dumps(manifest, indent=2) + "\n")
os.replace(partial, manifest_path)
EOF_PY
}

build_os_image() {
    local profile=$1 name=reeeboot-os-$1
    local version=${REEEBOOT_OS_VERSION:-$(date -u +%Y%m%d)}
    local base=${name}_$version
    log "building the OS image ($profile) with mkosi"
    run_mkosi "$REPO/image/os" --profile "$profile" --sandbox-tree "$CACHE/sandbox/os" \
        --extra-tree= --extra-tree "$REPO/image/os/extra" --extra-tree "$(os_locale_tree)"
    local raw=$STAGE/$name.raw
    [[ -f $raw ]] || die "mkosi made no $raw"
    os_fix_root "$raw"
    local firmware_listing=$CACHE/os-firmware-$profile.txt
    os_firmware_list "$raw" "$firmware_listing"
    log "the OS image carries $(wc -l <"$firmware_listing") firmware files"

    mkdir -p "$OUT/os"
    # One version of each OS image in out/os: older ones would also go onto the stick.
    rm -f "$OUT/os/${name}"_*
    log "block map, compression and manifest of $base"
    # agent/install/pack.py, with its two dependencies from the wheels just built: zstd in
    # independent frames, which the install step decompresses on every core and skips where
    # the image is empty (plain zstd to any other tool), the bmap and the manifest.
    local venv=$CACHE/pack-venv
    [[ -x $venv/bin/python ]] || "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --find-links "$OUT/wheels" zstandard requests
    PYTHONPATH=$REPO "$venv/bin/python" -m agent.install.pack "$raw" "$name" "$version" \
        "$OUT/os" >/dev/null
    os_manifest_firmware "$OUT/os/$base.manifest.json" "$firmware_listing"
    rm -f "$raw"
    log "OS image: $OUT/os/$base.raw.zst"
}
