#!/usr/bin/env bash
# Builds the OCI image flowcollector-<version>-<arch>.oci.tar without a registry or a base image: the Native AOT
# binary and only the shared libraries it loads, taken from Debian's packages for that architecture, assembled
# with umoci. No shell, no package manager inside.
#   packaging/container/build.sh amd64|arm64 BINARY [OUTPUT_DIRECTORY]   (default artifacts/)
# Load it with `podman load -i flowcollector-<version>-<arch>.oci.tar` (or skopeo copy oci-archive:...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
arch="${1:?usage: build.sh amd64|arm64 BINARY [OUTPUT_DIRECTORY]}"
binary="$(realpath "${2:?usage: build.sh amd64|arm64 BINARY [OUTPUT_DIRECTORY]}")"
output="$(mkdir -p "${3:-$root/artifacts}" && cd "${3:-$root/artifacts}" && pwd)"
version="$("$root/packaging/version.sh")"
multiarch="$(dpkg-architecture -a "$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)"
uid=10001

# The libraries the collector opens by name at run time (libpcap: capture; libssl: HTTPS alerts; SQLite: the store),
# and the packages that hold them and everything they link.
runtime_libraries=(libpcap.so.0.8 libssl.so.3 libsqlite3.so.0)
packages=(libc6 libpcap0.8 libdbus-1-3 libsystemd0 libcap2 libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1
    libssl3 libsqlite3-0 zlib1g)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/packages" "$work/rootfs"
(cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root "${packages[@]/%/:$arch}" >/dev/null)
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/packages"; done

rootfs="$work/rootfs"
install -d -m 755 "$rootfs/usr/bin" "$rootfs/etc/ssl/certs"
install -d -m 1777 "$rootfs/tmp"
install -d -m 700 "$rootfs/var/lib/flowcollector"
chown "$uid:$uid" "$rootfs/var/lib/flowcollector"
install -m 755 "$binary" "$rootfs/usr/bin/flowcollector"
ln -s "/usr/lib/$multiarch/libsqlite3.so.0" "$rootfs/usr/bin/libe_sqlite3.so"

# Copies a library (and the symbolic link naming it) from the extracted packages, then what it links, once each.
declare -A copied=()
copy_library() {
    local name="$1" found="" directory
    [ -n "${copied[$name]:-}" ] && return 0
    for directory in "lib/$multiarch" "usr/lib/$multiarch" lib64 lib; do
        if [ -e "$work/packages/$directory/$name" ]; then found="$directory/$name"; break; fi
    done
    [ -n "$found" ] || { echo "no $name for $arch in: ${packages[*]}" >&2; exit 1; }
    copied[$name]=1
    mkdir -p "$rootfs/$(dirname "$found")"
    cp -a "$work/packages/$found" "$rootfs/$found"
    if [ -L "$work/packages/$found" ]; then
        local target
        target="$(readlink "$work/packages/$found")"
        case "$target" in
            /*) mkdir -p "$rootfs/$(dirname "$target")"; cp -a "$work/packages$target" "$rootfs$target" ;;
            *) cp -a "$work/packages/$(dirname "$found")/$target" "$rootfs/$(dirname "$found")/" ;;
        esac
    fi
    local needed
    for needed in $(readelf -d "$work/packages/$found" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        copy_library "$needed"
    done
}
interpreter="$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')"
mkdir -p "$rootfs/$(dirname "$interpreter")"
cp -aL "$work/packages$interpreter" "$rootfs$interpreter" 2>/dev/null \
    || cp -aL "$work/packages/lib/$multiarch/$(basename "$interpreter")" "$rootfs$interpreter"
for library in $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p') "${runtime_libraries[@]}"; do
    [ "$library" = "$(basename "$interpreter")" ] || copy_library "$library"
done

printf 'root:x:0:0:root:/root:/nonexistent\nflowcollector:x:%s:%s:FlowCollector:/var/lib/flowcollector:/nonexistent\n' "$uid" "$uid" >"$rootfs/etc/passwd"
printf 'root:x:0:\nflowcollector:x:%s:\n' "$uid" >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
# The trust store for HTTPS alert channels (Slack, PagerDuty, ...), as Debian's ca-certificates builds it.
install -m 644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

layout="$work/oci"
tag="$version"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --image "$layout:$tag" "$work/bundle" >/dev/null
cp -a "$rootfs/." "$work/bundle/rootfs/"
umoci repack --image "$layout:$tag" "$work/bundle"
umoci config --image "$layout:$tag" --architecture "$arch" --os linux \
    --config.user "$uid:$uid" \
    --config.entrypoint /usr/bin/flowcollector --config.cmd run \
    --config.workingdir /var/lib/flowcollector --config.volume /var/lib/flowcollector \
    --config.exposedports 2055/udp --config.exposedports 4739/udp --config.exposedports 6343/udp \
    --config.exposedports 9750/tcp --config.stopsignal SIGTERM \
    --config.label "org.opencontainers.image.title=flowcollector" \
    --config.label "org.opencontainers.image.version=$version" \
    --config.label "org.opencontainers.image.revision=$(git -C "$root" rev-parse HEAD)" \
    --config.label "org.opencontainers.image.description=1-second DDoS detection from NetFlow, IPFIX, sFlow and mirrored traffic" \
    --history.comment "flowcollector $version for $arch: the binary and the libraries it loads"
umoci gc --layout "$layout"

archive="$output/flowcollector-$version-$arch.oci.tar"
tar -C "$layout" --sort=name --owner=0 --group=0 --numeric-owner -cf "$archive" .
echo "$archive"
