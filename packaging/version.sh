#!/usr/bin/env bash
# The product's version, read from the build (Directory.Build.props), the one place it is set.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet msbuild src/Collector/FlowCollector.Collector.csproj -getProperty:Version -nologo
