# Helpers shared by packaging/test.sh and appliance/test.sh (sourced, not run).

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Polls BASE_URL/api/incidents every second for up to SECONDS until an incident of TYPE on ADDRESS is there, and
# prints "id type address severity"; fails when none came.
find_incident() { # BASE_URL TYPE ADDRESS SECONDS
    local attempt found
    for attempt in $(seq 1 "$4"); do
        found="$(curl -fsS "$1/api/incidents" | python3 -c '
import json, sys
for incident in json.load(sys.stdin):
    if incident["attackType"] == sys.argv[1] and incident["address"] == sys.argv[2]:
        print(incident["id"], incident["attackType"], incident["address"], incident["severity"])
        break' "$2" "$3")"
        if [ -n "$found" ]; then
            echo "$found"
            return 0
        fi
        sleep 1
    done
    return 1
}
