#!/usr/bin/env bash
# triaged as systemd runs it: notifications on a datagram socket that a small
# listener owns (READY=1, STATUS=, WATCHDOG=1 at half the interval), SIGHUP
# with a good configuration (RELOADING=1 then READY=1, still ingesting) and
# with a bad one (refused, its errors logged, the old configuration kept and
# still ingesting), SIGTERM in the middle of a few thousand mails (STOPPING=1,
# exit 0 within seconds, then every mail stored exactly once), and the log:
# "<N>" priorities, one line per mail with its ticket, connection lost and
# regained, no password, no mail text.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
source "$SOURCE_DIR/tests/lib/dovecot.sh"

work=$(mktemp -d /tmp/test-notify.XXXXXX)
chmod 755 "$work"
daemon_pid="" listener_pid=""
cleanup() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -KILL "$daemon_pid" 2>/dev/null || true
	fi
	if [ -n "$listener_pid" ]; then
		kill -TERM "$listener_pid" 2>/dev/null || true
	fi
	dovecot_stop "$work/dovecot" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
log="$work/triaged.log"
notes="$work/notify.log"
fail() {
	echo "FAIL: $*" >&2
	[ -f "$notes" ] && { echo "--- notifications:" >&2; tail -n 15 "$notes" >&2; }
	[ -f "$log" ] && { echo "--- log:" >&2; tail -n 25 "$log" >&2; }
	exit 1
}
passed=0
ok() {
	passed=$((passed + 1))
	echo "ok $passed - $*"
}

port=$(free_port)
dovecot_start "$work/dovecot" "$port" >/dev/null || fail "dovecot did not start"
dovecot_append "$work/dovecot" INBOX "$SOURCE_DIR"/conf/samples/*.eml
samples=$(ls "$SOURCE_DIR"/conf/samples/*.eml | wc -l)
write_config() { # POLL_SECONDS
	cat >"$work/triaged.json" <<EOF
{
  "database": "$work/triaged.db",
  "data_dir": "$SOURCE_DIR/conf",
  "queues": ["support", "triage", "billing", "technical", "account", "delivery", "sales",
             "complaint", "feedback"],
  "mailboxes": [ { "name": "support", "host": "127.0.0.1", "port": $port, "tls": "none",
                   "user": "support@example.test", "password_file": "$work/pass",
                   "idle": true, "poll_seconds": $1, "timeout_seconds": 10 } ]
}
EOF
}
# Dovecot's test user has the password "secret": the file must say so.
printf 'secret\n' >"$work/pass"
write_config 60
ctl() { "$BUILD_DIR/triagectl" -c "$work/triaged.json" "$@"; }
messages() { sqlite3 "$work/triaged.db" "SELECT count(*) FROM messages" 2>/dev/null || echo 0; }
wait_for() { # SECONDS COMMAND...: polls COMMAND every 0.1 s
	local limit=$(($1 * 10)) i
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
has_messages() { [ "$(messages)" -ge "$1" ]; }
note_count() { grep -c -- " $1" "$notes" 2>/dev/null || true; }
notes_above() { [ "$(note_count "$1")" -gt "$2" ]; } # ASSIGNMENT N
new_mail() { # N SENTENCE
	local f="$work/new-$1.eml"
	cat >"$f" <<EOF
From: Client $1 <client$1@example.com>
To: support@atelier-lumiere.test
Subject: Question $1
Message-ID: <notify-$1-$$@example.com>
Date: Thu, 26 Nov 2026 10:00:00 +0100
Content-Type: text/plain; charset=UTF-8

Bonjour, $2 Merci.
EOF
	echo "$f"
}

/usr/bin/python3 "$SOURCE_DIR/tests/lib/notify_listen.py" "$work/notify.sock" "$notes" &
listener_pid=$!
wait_for 5 test -S "$work/notify.sock" || fail "the notification listener did not start"

start_daemon() {
	# WATCHDOG_PID must name the daemon itself: the subshell's PID, kept by exec.
	(
		export NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=2000000
		export WATCHDOG_PID=$BASHPID
		exec "$BUILD_DIR/triaged" -c "$work/triaged.json"
	) 2>>"$log" &
	daemon_pid=$!
}

# 1. READY=1, STATUS=, watchdog pings every second (half of 2 s).
start_daemon
wait_for 10 grep -q " READY=1" "$notes" || fail "no READY=1 within 10 s"
wait_for 5 grep -q " STATUS=" "$notes" || fail "no STATUS= line"
t0=$(note_count WATCHDOG=1)
sleep 4.5
pings=$(($(note_count WATCHDOG=1) - t0))
[ "$pings" -ge 3 ] && [ "$pings" -le 12 ] || fail "$pings WATCHDOG=1 in 4.5 s with WatchdogSec=2s"
wait_for 30 has_messages "$samples" || fail "the samples were not ingested ($(messages)/$samples)"
ok "READY=1, $(note_count STATUS=) STATUS lines (\"$(grep ' STATUS=' "$notes" | tail -n1 | cut -d' ' -f2- | cut -c8-70)\"), $pings watchdog pings in 4.5 s"

# 2. SIGHUP with a good configuration: RELOADING=1, then READY=1; mail still comes in.
ready_before=$(note_count READY=1)
write_config 30
kill -HUP "$daemon_pid"
wait_for 10 notes_above READY=1 "$ready_before" || fail "no READY=1 after the reload"
awk '/ RELOADING=1/ {r = NR} / READY=1/ {y = NR} END {exit !(r && y > r)}' "$notes" ||
	fail "READY=1 did not follow RELOADING=1"
wait_for 5 grep -q "configuration reloaded" "$log" || fail "the reload was not logged"
dovecot_append "$work/dovecot" INBOX "$(new_mail 1 "la lampe du salon clignote.")"
wait_for 15 has_messages $((samples + 1)) || fail "no ingestion after a good reload"
ok "SIGHUP (good): RELOADING=1 then READY=1, a new mail ingested after it"

# 3. SIGHUP with a bad configuration: refused with its errors, old one kept.
cp "$work/triaged.json" "$work/good.json"
sed 's/"poll_seconds": 30/"poll_seconds": 30, "pol_seconds": 5/; s/"timeout_seconds": 10/"timeout_seconds": 0/' \
	"$work/good.json" >"$work/triaged.json"
ready_before=$(note_count READY=1)
kill -HUP "$daemon_pid"
wait_for 10 grep -q "reload refused" "$log" || fail "the bad configuration was not refused"
grep -q "mailboxes\[0\]\.pol_seconds" "$log" || fail "the unknown key's path is not in the log"
grep -q "mailboxes\[0\]\.timeout_seconds" "$log" || fail "the second error is not in the log"
wait_for 5 notes_above READY=1 "$ready_before" || fail "no READY=1 after a refused reload"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died on a bad configuration"
dovecot_append "$work/dovecot" INBOX "$(new_mail 2 "mon abat-jour est arrivé fendu.")"
wait_for 15 has_messages $((samples + 2)) || fail "no ingestion after a refused reload"
cp "$work/good.json" "$work/triaged.json"
ok "SIGHUP (bad): refused with both errors logged, the old configuration still ingests"

# 4. Connection lost and regained are logged.
# (the helper can return non-zero when a recorded PID is already gone)
dovecot_kill "$work/dovecot" || true
sleep 2
dovecot_start "$work/dovecot" "$port" >/dev/null || fail "dovecot did not restart"
dovecot_append "$work/dovecot" INBOX "$(new_mail 3 "la veilleuse bleue de ma fille grésille.")"
wait_for 60 has_messages $((samples + 3)) || fail "no ingestion after Dovecot came back"
grep -qE "^<4>triaged: mailbox support: .*retrying with backoff" "$log" || fail "the lost connection was not logged as a warning"
grep -qE "^<5>triaged: mailbox support: connected to .*connection regained" "$log" ||
	fail "the regained connection was not logged"
ok "connection lost (warning) and regained (notice) logged"

# 5. SIGTERM in the middle of a few thousand mails: STOPPING=1, exit 0 within
#    5 s; a restart then stores each mail once.
bulk=3000
maildir="$work/dovecot/home/support@example.test/Maildir/new"
/usr/bin/python3 - "$maildir" "$bulk" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
st = os.stat(os.path.dirname(d))
# Maildir delivery: written in tmp/, then renamed into new/ (the running
# Dovecot moves files out of new/ as soon as it sees them).
tmp = os.path.join(os.path.dirname(d), "tmp")
os.makedirs(tmp, exist_ok=True)
for i in range(n):
    name = "bulk%05d.eml" % i
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write("From: bulk%d@example.org\nTo: support@atelier-lumiere.test\n"
                "Subject: Commande %d\nMessage-ID: <notify-bulk-%d@example.org>\n"
                "Date: Thu, 26 Nov 2026 10:00:00 +0100\n\n"
                "Bonjour, ou en est ma commande %d ? Merci\n" % (i, i, i, i))
    os.chown(p, st.st_uid, st.st_gid)
    os.rename(p, os.path.join(d, name))
EOF
expected=$((samples + 3 + bulk))
# Wake the IDLE session: one more mail through Dovecot.
dovecot_append "$work/dovecot" INBOX "$(new_mail 4 "la guirlande ne s'allume plus.")"
expected=$((expected + 1))
wait_for 30 has_messages $((samples + 4 + 50)) || fail "the bulk ingestion did not start"
before=$(messages)
[ "$before" -lt "$expected" ] || fail "everything was ingested before SIGTERM: make the bulk larger"
kill -TERM "$daemon_pid"
start=$(date +%s%N)
wait_for 5 bash -c "! kill -0 $daemon_pid 2>/dev/null" || fail "still running 5 s after SIGTERM"
elapsed=$((($(date +%s%N) - start) / 1000000))
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=""
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
grep -q " STOPPING=1" "$notes" || fail "no STOPPING=1"
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$log" || fail "triaged --once after SIGTERM failed"
[ "$(messages)" -eq "$expected" ] || fail "$(messages) messages after the restart, expected $expected"
dups=$(sqlite3 "$work/triaged.db" "SELECT count(*) FROM (SELECT message_id FROM messages GROUP BY message_id HAVING count(*) > 1)")
[ "$dups" -eq 0 ] || fail "$dups Message-IDs stored twice"
ok "SIGTERM after $before of $expected mails: STOPPING=1, exit 0 in $elapsed ms; after a restart $expected messages, each once"

# 6. The log: priorities, one line per mail with its ticket, no secret, no text.
bad=$(grep -cvE '^<[0-7]>' "$log" || true)
[ "$bad" -eq 0 ] || fail "$bad log lines without a <N> priority: $(grep -vE '^<[0-7]>' "$log" | head -n 3)"
per_mail=$(grep -cE '^<6>triaged: mail uid [0-9]+ (opened|added to) ticket #[0-9]+: .* TICKET=[0-9]+ MAILBOX=support' "$log" || true)
[ "$per_mail" -eq "$expected" ] || fail "$per_mail per-mail log lines for $expected mails"
grep -q "secret" "$log" && fail "the password appears in the log"
for text in "lampe du salon clignote" "abat-jour est arrivé fendu" "veilleuse bleue" "ou en est ma commande"; do
	grep -q "$text" "$log" && fail "mail text \"$text\" appears in the log"
done
ok "log: $(wc -l <"$log") lines, all with a priority; $per_mail per-mail lines with the ticket; no password, no mail text"
echo "$passed passed, 0 failed"
