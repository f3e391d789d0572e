# Shared setup of the web console tests (tests/integration/http_*.sh,
# tests/e2e/, bench/http/): a private Dovecot and SMTP sink on loopback, a
# configuration with the http section, the knowledge base imported, agents
# of each role, and triaged running. Source it after setting BUILD_DIR and
# SOURCE_DIR.
#
#   http_env_init NAME       $WORK (removed at exit unless KEEP_WORK), $CONFIG, $DB,
#                            $SINK, $DOVECOT, $HTTP_PORT, $BASE_URL
#   http_env_start           Dovecot, sink, config, kb, agents (passwords in
#                            $WORK/pw-{agent,manager,admin}), then triaged
#   http_env_stop_daemon     SIGTERM triaged, wait for it
#   http_env_mail FILE...    delivers mails into the support mailbox
#   http_wait_tickets N SECS waits until the store holds N tickets
#   ctl ARGS...              triagectl with $CONFIG
#   fail MESSAGE             prints (with the daemon's last log lines) and exits 1
#
# Agents: agent@example.test, manager@example.test, admin@example.test.

_HTTP_ENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=dovecot.sh
source "$_HTTP_ENV_DIR/dovecot.sh"
# shellcheck source=smtp_sink.sh
source "$_HTTP_ENV_DIR/smtp_sink.sh"

DAEMON_PID=""

fail() {
	echo "FAIL: $*" >&2
	[ -f "$WORK/triaged.log" ] && tail -n 30 "$WORK/triaged.log" >&2
	exit 1
}

ctl() {
	"$BUILD_DIR/triagectl" -c "$CONFIG" "$@"
}

_http_env_cleanup() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
	fi
	smtp_sink_stop "$SINK" >/dev/null 2>&1 || true
	dovecot_stop "$DOVECOT" >/dev/null 2>&1 || true
	if [ -n "${KEEP_WORK:-}" ]; then
		echo "work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}

http_env_init() {
	: "${BUILD_DIR:?BUILD_DIR not set}" "${SOURCE_DIR:?SOURCE_DIR not set}"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/triaged-$1.XXXXXX")
	chmod 755 "$WORK"
	CONFIG=$WORK/triaged.json
	DB=$WORK/triaged.db
	SINK=$WORK/sink
	DOVECOT=$WORK/dovecot
	mkdir -p "$SINK"
	HTTP_PORT=$(free_port)
	BASE_URL="http://127.0.0.1:$HTTP_PORT"
	trap _http_env_cleanup EXIT
}

_http_write_config() {
	local imap_port=$1 smtp_port=$2
	printf 'secret\n' >"$WORK/imap-pass"
	cat >"$CONFIG" <<EOF
{
  "database": "$DB",
  "data_dir": "$SOURCE_DIR/conf",
  "queues": ["support", "triage", "billing", "technical", "account", "delivery", "sales",
             "complaint", "feedback", "spam"],
  "default_queue": "support",
  "mailboxes": [ { "name": "support", "host": "127.0.0.1", "port": $imap_port, "tls": "none",
                   "user": "support@example.test", "password_file": "$WORK/imap-pass",
                   "idle": true, "poll_seconds": 2, "timeout_seconds": 10 } ],
  "kb": { "suggestions": 3, "similar": 2 },
  "smtp": { "url": "smtp://127.0.0.1:$smtp_port", "tls": "none",
            "from": "Support <support@example.test>", "max_attempts": 3,
            "retry_seconds": 2, "timeout_seconds": 10 },
  "sla": { "policies": [ { "name": "standard", "first_response": 240,
                           "next_response": 480, "resolution": 2880, "warn_at": 0.75 } ] },
  "http": { "listen": "127.0.0.1:$HTTP_PORT", "static_dir": "$SOURCE_DIR/web",
            "session_idle_minutes": 30, "trusted_proxies": ["127.0.0.30"] }
}
EOF
}

http_env_start() {
	local imap_port smtp_port role
	imap_port=$(free_port)
	dovecot_start "$DOVECOT" "$imap_port" >/dev/null || fail "dovecot did not start"
	smtp_port=$(free_port)
	smtp_sink_start "$SINK" "$smtp_port" || fail "the SMTP sink did not start"
	_http_write_config "$imap_port" "$smtp_port"
	ctl init >/dev/null || fail "triagectl init"
	ctl kb import "$SOURCE_DIR/conf/kb" >/dev/null || fail "kb import"
	for role in agent manager admin; do
		printf '%s-password-1\n' "$role" >"$WORK/pw-$role"
		ctl agent add --email "$role@example.test" --name "The $role" --role "$role" \
			--password-file "$WORK/pw-$role" >/dev/null || fail "agent add $role"
	done
	"$BUILD_DIR/triaged" -c "$CONFIG" 2>>"$WORK/triaged.log" &
	DAEMON_PID=$!
	wait_port "$HTTP_PORT" 20 || fail "the web console did not listen on $HTTP_PORT"
}

http_env_stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	local i
	for i in $(seq 1 100); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$DAEMON_PID" 2>/dev/null
	local rc=$?
	DAEMON_PID=""
	return $rc
}

http_env_mail() {
	dovecot_append "$DOVECOT" INBOX "$@"
}

http_wait_tickets() {
	local want=$1 secs=$2 i n
	for i in $(seq 1 $((secs * 10))); do
		n=$(sqlite3 "$DB" "SELECT count(*) FROM tickets" 2>/dev/null || echo 0)
		[ "${n:-0}" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}
