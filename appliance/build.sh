#!/usr/bin/env bash
# Builds everything that ships, from a clean checkout, into artifacts/:
#   flowcollector_<version>_amd64.deb, flowcollector_<version>_arm64.deb   the Debian packages (lintian-clean)
#   flowcollector-<version>-amd64.oci.tar, ...-arm64.oci.tar              the container images (OCI archives)
#   appliance/flowcollector-<version>-amd64.qcow2 and .vmdk               the VM image (Packer), for qemu/KVM and
#                                                                         VMware/VirtualBox
# Nothing is fetched but Debian's packages from the mirror this machine uses and the NuGet packages of the build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
artifacts="$root/artifacts"
say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }

"$root/scripts/install-packaging-dependencies.sh"
version="$("$root/packaging/version.sh")"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct)}"
mkdir -p "$artifacts"

for arch in amd64 arm64; do
    say "Native AOT for $arch"
    "$root/packaging/publish.sh" "$arch" "$artifacts/publish-$arch"
    say "Debian package for $arch"
    FLOWCOLLECTOR_BINARY="$artifacts/publish-$arch/flowcollector" "$root/packaging/deb/build.sh" "$arch" "$artifacts"
    say "container image for $arch"
    "$root/packaging/container/build.sh" "$arch" "$artifacts/publish-$arch/flowcollector" "$artifacts"
done

image_directory="$artifacts/appliance"
rm -rf "$image_directory"
mkdir -p "$image_directory"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ssh-keygen -q -t ed25519 -N "" -C "packer build" -f "$work/build-key"

say "base image (mmdebstrap)"
"$here/base/build-base.sh" "$work/base.qcow2" "$work/build-key.pub"

say "provisioning with Packer (qemu, $( [ -w /dev/kvm ] && echo kvm || echo tcg))"
export CHECKPOINT_DISABLE=1 PACKER_CACHE_DIR="$work/packer-cache" PACKER_CONFIG_DIR="$work/packer-config"
packer build -color=false \
    -var "base_image=$work/base.qcow2" \
    -var "package=$artifacts/flowcollector_${version}_amd64.deb" \
    -var "version=$version" \
    -var "output_directory=$work/packer-output" \
    -var "ssh_private_key_file=$work/build-key" \
    -var "accelerator=$( [ -w /dev/kvm ] && echo kvm || echo tcg)" \
    "$here/packer/flowcollector.pkr.hcl"

qcow2="$image_directory/flowcollector-$version-amd64.qcow2"
mv "$work/packer-output/flowcollector-$version-amd64.qcow2" "$qcow2"
say "VMDK for VMware and VirtualBox"
qemu-img convert -O vmdk -o subformat=streamOptimized "$qcow2" "$image_directory/flowcollector-$version-amd64.vmdk"
# The boot test boots the qcow2; the VMDK must hold the same disk, sector for sector.
qemu-img compare -q "$qcow2" "$image_directory/flowcollector-$version-amd64.vmdk"
(cd "$artifacts" && sha256sum ./*.deb ./*.oci.tar appliance/*.qcow2 appliance/*.vmdk >SHA256SUMS)
say "built:"
(cd "$artifacts" && ls -l ./*.deb ./*.oci.tar appliance/)
