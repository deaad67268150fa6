#!/usr/bin/env bash
# Builds flowcollector_<version>_<arch>.deb with Debian's own tools (dpkg-shlibdeps, dpkg-deb, help2man) and checks
# it with lintian, which must report no error.
#   packaging/deb/build.sh amd64|arm64 [OUTPUT_DIRECTORY]   (default artifacts/)
# The version is the build's (packaging/version.sh); the binary is published here unless FLOWCOLLECTOR_BINARY names
# one already built for that architecture.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
arch="${1:?usage: build.sh amd64|arm64 [OUTPUT_DIRECTORY]}"
output="$(mkdir -p "${2:-$root/artifacts}" && cd "${2:-$root/artifacts}" && pwd)"
version="$("$root/packaging/version.sh")"
multiarch="$(dpkg-architecture -a "$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)"
# Reproducible: every timestamp is the commit's.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct)}"

binary="${FLOWCOLLECTOR_BINARY:+$(realpath "$FLOWCOLLECTOR_BINARY")}"
if [ -z "$binary" ]; then
    "$root/packaging/publish.sh" "$arch" "$output/publish-$arch"
    binary="$output/publish-$arch/flowcollector"
fi

work="$output/deb-$arch"
rm -rf "$work"
stage="$work/root"
install -d -m 755 "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/flowcollector" "$stage/lib/systemd/system/exabgp.service.d" \
    "$stage/etc/flowcollector" "$stage/usr/share/flowcollector/grafana/provisioning" "$stage/usr/share/flowcollector/prometheus" \
    "$stage/usr/share/doc/flowcollector" "$stage/usr/share/man/man1"

install -m 755 "$binary" "$stage/usr/lib/flowcollector/flowcollector"
ln -s ../lib/flowcollector/flowcollector "$stage/usr/bin/flowcollector"
# The collector loads SQLite by the name e_sqlite3 from beside itself; Debian's libsqlite3 is that library.
ln -s "../$multiarch/libsqlite3.so.0" "$stage/usr/lib/flowcollector/libe_sqlite3.so"

install -m 644 "$root/deploy/systemd/flowcollector.service" "$stage/lib/systemd/system/flowcollector.service"
install -m 644 "$root/deploy/systemd/flowcollector-fleet.service" "$stage/lib/systemd/system/flowcollector-fleet.service"
install -m 644 "$here/exabgp.service.d.conf" "$stage/lib/systemd/system/exabgp.service.d/flowcollector.conf"
install -m 644 "$here/flowcollector.json" "$stage/etc/flowcollector/flowcollector.json"
install -m 644 "$root/deploy/exabgp.conf" "$stage/usr/share/flowcollector/exabgp.conf"
install -m 644 "$root/deploy/flowcollector.json" "$stage/usr/share/flowcollector/flowcollector.example.json"
install -m 644 "$root"/deploy/grafana/*.json "$stage/usr/share/flowcollector/grafana/"
cp -r "$root"/deploy/grafana/provisioning/. "$stage/usr/share/flowcollector/grafana/provisioning/"
install -m 644 "$root/deploy/prometheus/flowcollector.rules.yml" "$stage/usr/share/flowcollector/prometheus/"
install -m 644 "$here/copyright" "$stage/usr/share/doc/flowcollector/copyright"

# The manual page is --help, as the binary prints it (under emulation for a foreign architecture).
runner="$work/flowcollector"
if [ "$arch" = "$(dpkg --print-architecture)" ]; then
    ln -s "$binary" "$runner"
else
    printf '#!/bin/sh\nexec qemu-%s-static "%s" "$@"\n' "$(dpkg-architecture -a "$arch" -qDEB_HOST_GNU_CPU)" "$binary" >"$runner"
    chmod 755 "$runner"
fi
include="$work/manual.h2m"
{
    printf '[COMMANDS]\n'
    for command in $("$runner" --help | sed -n '/^Commands:/,$p' | awk 'NR > 1 && NF { print $1 }'); do
        printf '.SS %s\n.nf\n' "$command"
        "$runner" "$command" --help | sed -e 's/\\/\\e/g' -e 's/^\./\\\&./'
        printf '.fi\n'
    done
    cat "$here/manual.h2m"
} >"$include"
help2man --no-info --section 1 --name "1-second DDoS detection from NetFlow, IPFIX, sFlow and mirrored traffic" \
    --version-string "$version" --include "$include" "$runner" | gzip -9n >"$stage/usr/share/man/man1/flowcollector.1.gz"

date="$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
commit="$(git -C "$root" rev-parse --short HEAD)"
printf 'flowcollector (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- FlowCollector developers <flowcollector@example.invalid>  %s\n' \
    "$version" "$commit" "$date" | gzip -9n >"$stage/usr/share/doc/flowcollector/changelog.gz"

install -m 755 "$here/postinst" "$here/prerm" "$here/postrm" "$stage/DEBIAN/"
echo /etc/flowcollector/flowcollector.json >"$stage/DEBIAN/conffiles"
chmod 644 "$stage/DEBIAN/conffiles"

# Depends: what the binary links (dpkg-shlibdeps), and what it opens at run time by name: libpcap (capture),
# OpenSSL (HTTPS alerts), SQLite (the store); adduser for the service's user.
mkdir -p "$work/debian"
printf 'Source: flowcollector\n\nPackage: flowcollector\nArchitecture: any\n' >"$work/debian/control"
linked="$(cd "$work" && DEB_HOST_ARCH="$arch" dpkg-shlibdeps -O -e"$stage/usr/lib/flowcollector/flowcollector" | sed -n 's/^shlibs:Depends=//p')"
depends="$linked, libpcap0.8, libssl3, libsqlite3-0, adduser"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" "$here/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb="$output/flowcollector_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
lintian --fail-on error "$deb"
echo "$deb"
