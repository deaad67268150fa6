#!/usr/bin/env bash
# Installs what the tests need (Debian packages, once) and runs every test of the solution.
# Extra arguments go to `dotnet test`, e.g. ./test.sh --project tests/Decoders.Tests
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-test-dependencies.sh
exec dotnet test --solution FlowCollector.sln -c Release "$@"
