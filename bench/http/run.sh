#!/usr/bin/env bash
# Web console benchmark: 100,000 tickets in the store, mail arriving through
# a private Dovecot all along (ingestion running), and wrk on loopback with 50
# connections against the queue API (first page, sorted by due time) and one
# ticket's detail. Prints the median and 99th percentile of each.
# Usage: BUILD_DIR=build-rel bash bench/http/run.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build-rel}
export SOURCE_DIR BUILD_DIR
duration=${1:-20}
connections=${2:-50}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
source "$SOURCE_DIR/tests/lib/http_env.sh"
http_env_init bench-http

imap_port=$(free_port)
smtp_port=$(free_port)
dovecot_start "$DOVECOT" "$imap_port" >/dev/null || fail "dovecot"
smtp_sink_start "$SINK" "$smtp_port" || fail "sink"
_http_write_config "$imap_port" "$smtp_port"
ctl init >/dev/null
start=$(date +%s.%N)
sed "s/:now/$(date +%s)/g" "$SOURCE_DIR/bench/http/seed.sql" | sqlite3 "$DB" >/dev/null
echo "seeded $(sqlite3 "$DB" 'SELECT count(*) FROM tickets') tickets in $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
printf 'bench-password-1\n' >"$WORK/pw"
ctl agent add --email bench@example.test --name Bench --role agent --password-file "$WORK/pw" >/dev/null
"$BUILD_DIR/triaged" -c "$CONFIG" 2>>"$WORK/triaged.log" &
DAEMON_PID=$!
wait_port "$HTTP_PORT" 30 || fail "no web console"

cookie=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
	-d '{"email":"bench@example.test","password":"bench-password-1"}' "$BASE_URL/api/v1/login" |
	sed -n 's/^Set-Cookie: \(triaged_session=[0-9a-f]*\).*/\1/p')
[ -n "$cookie" ] || fail "login failed"

# Ingestion all along: a new mail every 100 ms.
(
	i=0
	while :; do
		i=$((i + 1))
		f="$WORK/in-$i.eml"
		printf 'From: bench%d@example.net\nTo: support@example.test\nSubject: Commande %d en retard\nMessage-ID: <load-%d@example.net>\nDate: Thu, 26 Nov 2026 10:00:00 +0100\n\nBonjour, ma commande %d est en retard, merci.\n' \
			"$i" "$i" "$i" "$i" >"$f"
		dovecot_append "$DOVECOT" INBOX "$f" 2>/dev/null || true
		rm -f "$f"
		sleep 0.1
	done
) &
feeder=$!
trap 'kill $feeder 2>/dev/null; _http_env_cleanup' EXIT
before=$(sqlite3 "$DB" 'SELECT count(*) FROM tickets')

run() { # NAME PATH
	local out
	out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -H "Cookie: $cookie" "$BASE_URL$2")
	local p50 p99 rps errors
	p50=$(echo "$out" | awk '$1 == "50%" { print $2 }')
	p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
	rps=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
	errors=$(echo "$out" | awk '/Non-2xx/ { print $5 }')
	printf '%-14s median %-9s p99 %-9s %8s req/s  non-2xx %s\n' "$1" "$p50" "$p99" "$rps" "${errors:-0}"
}
curl -s -o /dev/null -w 'warm-up queue: %{http_code} %{time_total}s\n' -H "Cookie: $cookie" \
	"$BASE_URL/api/v1/tickets?status=active&sort=due&per_page=50"
echo "wrk: $connections connections, ${duration} s each, ingestion running"
run queue "/api/v1/tickets?status=active&sort=due&per_page=50"
run ticket "/api/v1/tickets/77777"
run search "/api/v1/tickets?status=active&sort=due&per_page=50&q=remboursement"
after=$(sqlite3 "$DB" 'SELECT count(*) FROM tickets')
echo "tickets ingested during the runs: $((after - before))"
