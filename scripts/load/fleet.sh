#!/usr/bin/env bash
# The fleet's load: a real nats-server (JetStream) and PostgreSQL, the Native AOT fleet service, and fleet-load
# simulating 50 nodes that each publish 1,000 destination summaries a second, then an attack spread over all of them.
# Prints the fleet's lag, backlog, CPU per node-second and the time from the attack's start to the fleet incident.
# Needs root (packages; PostgreSQL runs as the postgres user). Extra arguments go to fleet-load, e.g. --nodes 100.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-test-dependencies.sh
out="$(mktemp -d)"
chmod 755 "$out"  # PostgreSQL runs as the postgres user and must reach its directory
pids=()
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$out/pg/cluster" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$out"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# FLOWCOLLECTOR_BIN: an AOT binary published before (saves the publish when measuring several loads).
if [ -n "${FLOWCOLLECTOR_BIN:-}" ]; then
    mkdir -p "$out/bin" && cp -a "$(dirname "$FLOWCOLLECTOR_BIN")"/. "$out/bin/"
else
    dotnet publish src/Collector -c Release -r linux-x64 -p:PublishAot=true -o "$out/bin" >/dev/null
fi
dotnet build bench/FleetLoad -c Release -o "$out/load" >/dev/null

nats_port="$(free_port)"; pg_port="$(free_port)"; http_port="$(free_port)"
/usr/sbin/nats-server -js -sd "$out/jetstream" -a 127.0.0.1 -p "$nats_port" >"$out/nats.log" 2>&1 &
nats_pid=$!
pids+=("$nats_pid")
mkdir -p "$out/pg" && chown postgres "$out/pg"
runuser -u postgres -- "$pgbin/initdb" -D "$out/pg/cluster" -A trust -U flowcollector --no-sync >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$out/pg/cluster" -l "$out/pg/log" -w -o "-p $pg_port -h 127.0.0.1 -k $out/pg" start >/dev/null
runuser -u postgres -- "$pgbin/createdb" -h 127.0.0.1 -p "$pg_port" -U flowcollector flowcollector

"$out/bin/flowcollector" fleet --data-dir "$out/fleet" --http "127.0.0.1:$http_port" --monitor 2001:db8::/32 \
    --set "Fleet:Nats:Url=nats://127.0.0.1:$nats_port" \
    --set "Fleet:Postgres:ConnectionString=Host=127.0.0.1;Port=$pg_port;Username=flowcollector;Database=flowcollector" \
    >"$out/fleet.log" 2>&1 &
fleet_pid=$!
pids+=("$fleet_pid")
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && break
    sleep 0.2
done
curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null || { cat "$out/fleet.log"; exit 1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$out/load/fleet-load" --nats "nats://127.0.0.1:$nats_port" --fleet "http://127.0.0.1:$http_port" --fleet-pid "$fleet_pid" --nats-pid "$nats_pid" "$@"
