#!/usr/bin/env bash
# The appliance's base image: Debian 12 from the Debian mirror this machine already uses, made with mmdebstrap on a
# loop-mounted disk, bootable with extlinux, as qcow2. Packer provisions it next (appliance/packer).
#   appliance/base/build-base.sh OUTPUT.qcow2 BUILD_KEY.pub
# BUILD_KEY.pub lets Packer log in as root once; Packer's clean-up removes it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
output="${1:?usage: build-base.sh OUTPUT.qcow2 BUILD_KEY.pub}"
build_key="${2:?usage: build-base.sh OUTPUT.qcow2 BUILD_KEY.pub}"
mirror="${FLOWCOLLECTOR_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}"
mirror="${mirror:-http://deb.debian.org/debian}"
security="${FLOWCOLLECTOR_SECURITY_MIRROR:-${mirror%/debian}/debian-security}"
size_mib=3072
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct)}"

work="$(mktemp -d)"
mnt="$work/root"
loop=""
cleanup() {
    if mountpoint -q "$mnt"; then umount -R "$mnt" || umount -l "$mnt"; fi
    if [ -n "$loop" ]; then losetup -d "$loop" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

raw="$work/disk.raw"
truncate -s "${size_mib}M" "$raw"
# One bootable Linux partition from 1 MiB; extlinux's MBR code starts it.
echo 'start=2048, type=83, bootable' | sfdisk -q "$raw"
loop="$(losetup --show -f -o $((2048 * 512)) --sizelimit $(((size_mib - 1) * 1024 * 1024)) "$raw")"
# extlinux reads ext4 without the 64bit feature; the UUID is fixed so that a rebuild is the same disk.
uuid="$(python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, "root.appliance.flowcollector"))')"
E2FSPROGS_FAKE_TIME="$SOURCE_DATE_EPOCH" mkfs.ext4 -q -L flowcollector -U "$uuid" -O ^64bit -E root_owner=0:0 "$loop"
mkdir -p "$mnt"
mount "$loop" "$mnt"
rmdir "$mnt/lost+found"

packages=(
    systemd-sysv udev dbus kmod procps iproute2 netbase ca-certificates e2fsprogs less sudo curl
    linux-image-amd64 initramfs-tools
    openssh-server cloud-init python3-yaml
    nftables exabgp
    # what the flowcollector package depends on: the image has no network to fetch them while Packer provisions
    libpcap0.8 libssl3 libsqlite3-0 adduser
)
BUILD_KEY="$build_key" ROOT_UUID="$uuid" mmdebstrap --variant=minbase --mode=root --format=directory \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --include="$(IFS=,; echo "${packages[*]}")" \
    --customize-hook="$here/customize.sh \"\$1\"" \
    bookworm "$mnt" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"
(cd "$mnt" && mklost+found >/dev/null)

mkdir -p "$mnt/boot/extlinux"
extlinux --install "$mnt/boot/extlinux" 2>&1 | grep -v '^/.*is device' || true
cat >"$mnt/boot/extlinux/extlinux.conf" <<CONF
DEFAULT debian
TIMEOUT 20
PROMPT 0
LABEL debian
    LINUX /vmlinuz
    INITRD /initrd.img
    APPEND root=UUID=$uuid ro console=tty0 console=ttyS0,115200n8
CONF
fstrim "$mnt" >/dev/null 2>&1 || true
umount "$mnt"
losetup -d "$loop"
loop=""
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$raw" bs=440 count=1 conv=notrunc status=none

mkdir -p "$(dirname "$output")"
qemu-img convert -O qcow2 "$raw" "$output"
