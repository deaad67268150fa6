#!/usr/bin/env bash
# Installs what appliance/build.sh and appliance/test.sh need (Debian packages, only those missing): Debian's
# packaging tools and lintian, the arm64 multiarch libraries the cross-compiled binary links and its container
# image holds, mmdebstrap, extlinux, Packer and qemu for the VM image, umoci, skopeo and podman for the container.
set -euo pipefail

packages=(
    dpkg-dev fakeroot lintian help2man                  # the Debian package
    clang lld zlib1g-dev binutils-aarch64-linux-gnu     # Native AOT for amd64 and, cross-compiled, arm64
    libc6-dev:arm64 libgcc-12-dev:arm64 zlib1g-dev:arm64 libstdc++-12-dev:arm64
    qemu-user-static                                    # runs the arm64 build here
    libpcap0.8 libssl3 libsqlite3-0                     # what the binary opens at run time, amd64 ...
    libpcap0.8:arm64 libssl3:arm64 libsqlite3-0:arm64   # ... and arm64 (for its tests under emulation)
    mmdebstrap extlinux syslinux-common e2fsprogs fdisk # the appliance's base image
    packer qemu-system-x86 qemu-utils                   # Packer's qemu builder, the boot test
    dosfstools mtools openssh-client curl               # the boot test's NoCloud seed and its checks
    umoci skopeo podman runc ca-certificates            # the container image and its test
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "neither root nor sudo to install packages" >&2; exit 1; }
    sudo="sudo"
fi

updated=""
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
    updated="no"
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ] && [ -z "$updated" ]; then
    exit 0
fi

echo "installing: ${missing[*]}"
$sudo apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
