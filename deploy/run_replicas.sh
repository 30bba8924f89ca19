#!/usr/bin/env bash
# Start K replicas of Noise Lab (`streamlit run app.py`) on consecutive ports, each with
# NOISE_LAB_THREADS=1, wait until each answers its health check, and print their URLs.
# The replicas keep running in the background; stop them with `deploy/run_replicas.sh stop`.
#
#   deploy/run_replicas.sh [start] [K=2] [FIRST_PORT=8501] [streamlit flags ...]
#   deploy/run_replicas.sh stop
#
# Examples:
#   deploy/run_replicas.sh 3                   # 127.0.0.1:8501, :8502, :8503 (deploy/nginx.conf's upstream)
#   deploy/run_replicas.sh 2 8601 --server.disconnectedSessionTTL=60
#
# Environment:
#   ADDRESS          address the replicas listen on (default 127.0.0.1: only nginx on this machine
#                    reaches them; 0.0.0.0 to reach them directly from the network)
#   PYTHON           the Python that has the requirements (default .venv/bin/python, else python3)
#   RUN_DIR          where logs (replica-PORT.log) and pid files (replica-PORT.pid) go
#                    (default /tmp/noise-lab-replicas); `stop` stops the replicas recorded there
#   HEALTH_TIMEOUT   seconds to wait for each replica's /_stcore/health (default 60)
#   PIN_CPUS=1       pin replica i to CPU i mod (number of CPUs) with taskset: one core per replica
#   NOISE_LAB_THREADS, NOISE_LAB_DEVICE ...   passed on to every replica (NOISE_LAB_THREADS defaults to 1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN_DIR="${RUN_DIR:-${TMPDIR:-/tmp}/noise-lab-replicas}"
ADDRESS="${ADDRESS:-127.0.0.1}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-60}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

stop_all() {
    local found=0 pidfile pid
    shopt -s nullglob
    for pidfile in "$RUN_DIR"/replica-*.pid; do
        found=1
        pid="$(cat "$pidfile")"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
            echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
        fi
        rm -f "$pidfile"
    done
    [[ $found == 1 ]] || echo "no replicas recorded in $RUN_DIR"
}

healthy() {  # healthy URL: true when URL/_stcore/health answers "ok"
    "$PYTHON" - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
sys.exit(urllib.request.urlopen(sys.argv[1] + "/_stcore/health", timeout=2).read() != b"ok")
EOF
}

if [[ "${1:-}" == "stop" ]]; then
    stop_all
    exit 0
fi
[[ "${1:-}" == "start" ]] && shift
K="${1:-2}"
FIRST_PORT="${2:-8501}"
shift $(( $# < 2 ? $# : 2 ))
if ! [[ "$K" =~ ^[1-9][0-9]*$ && "$FIRST_PORT" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [start] [K] [FIRST_PORT] [streamlit flags ...] | $0 stop" >&2
    exit 2
fi
mkdir -p "$RUN_DIR"
export NOISE_LAB_THREADS="${NOISE_LAB_THREADS:-1}"
NCPU="$(nproc)"

started=()
for ((i = 0; i < K; i++)); do
    port=$((FIRST_PORT + i))
    if [[ -f "$RUN_DIR/replica-$port.pid" ]] && kill -0 "$(cat "$RUN_DIR/replica-$port.pid")" 2>/dev/null; then
        echo "replica on port $port is already running (pid $(cat "$RUN_DIR/replica-$port.pid")); stop it first" >&2
        exit 1
    fi
    pin=()
    if [[ "${PIN_CPUS:-0}" == 1 ]]; then pin=(taskset -c $((i % NCPU))); fi
    nohup ${pin[@]+"${pin[@]}"} "$PYTHON" -m streamlit run app.py --server.port "$port" --server.address "$ADDRESS" \
        --server.headless true "$@" > "$RUN_DIR/replica-$port.log" 2>&1 &
    echo $! > "$RUN_DIR/replica-$port.pid"
    started+=("$port")
done

for port in "${started[@]}"; do
    url="http://$ADDRESS:$port"
    [[ "$ADDRESS" == 0.0.0.0 ]] && url="http://127.0.0.1:$port"
    deadline=$((SECONDS + HEALTH_TIMEOUT))
    until healthy "$url"; do
        if ! kill -0 "$(cat "$RUN_DIR/replica-$port.pid")" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "replica on port $port did not become healthy; its log ends with:" >&2
            tail -n 20 "$RUN_DIR/replica-$port.log" >&2 || true
            stop_all >&2
            exit 1
        fi
        sleep 0.3
    done
    echo "replica $((port - FIRST_PORT + 1)) of $K: $url  (pid $(cat "$RUN_DIR/replica-$port.pid"), log $RUN_DIR/replica-$port.log)"
done
echo "all $K replicas healthy (NOISE_LAB_THREADS=$NOISE_LAB_THREADS). Stop them with: $0 stop"
