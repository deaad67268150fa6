#!/usr/bin/env bash
# Publishes the Native AOT flowcollector for one architecture: packaging/publish.sh amd64|arm64 OUTPUT_DIRECTORY
# arm64 is cross-compiled with clang and lld against Debian's multiarch arm64 libraries (libc6-dev:arm64, ...),
# which scripts/install-packaging-dependencies.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:?usage: publish.sh amd64|arm64 OUTPUT_DIRECTORY}"
output="${2:?usage: publish.sh amd64|arm64 OUTPUT_DIRECTORY}"

case "$arch" in
    amd64) extra=(-r linux-x64) ;;
    arm64) extra=(-r linux-arm64 -p:LinkerFlavor=lld -p:ObjCopyName=aarch64-linux-gnu-objcopy) ;;
    *) echo "unknown architecture $arch (amd64 or arm64)" >&2; exit 2 ;;
esac

rm -rf "$output"
dotnet publish src/Collector -c Release -p:PublishAot=true "${extra[@]}" -o "$output" -v quiet -nologo
# Only the executable ships; debugging symbols (flowcollector.dbg), XML docs and the bundled SQLite stay behind:
# the packages link Debian's libsqlite3 instead (see packaging/deb/build.sh).
find "$output" -mindepth 1 ! -name flowcollector ! -name flowcollector.dbg -delete
