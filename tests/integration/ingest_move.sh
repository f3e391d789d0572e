#!/usr/bin/env bash
# The mailbox's "after" action runs only once the mail is committed: with
# "move:Processed" the folder is emptied into Processed; mail stored before a
# crash but not moved yet (here: stored with "keep", then the config says
# "move") is moved at the next start without being stored again.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
source "$SOURCE_DIR/tests/lib/dovecot.sh"
work=$(mktemp -d /tmp/test-move.XXXXXX)
chmod 755 "$work"
trap 'dovecot_stop "$work/dovecot" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; tail -n 20 "$work/log" >&2 || true; exit 1; }

port=$(free_port)
dovecot_start "$work/dovecot" "$port" >/dev/null
printf 'secret\n' >"$work/pass"
config() { # AFTER
	cat >"$work/triaged.json" <<CONF
{ "database": "$work/triaged.db", "data_dir": "$SOURCE_DIR/conf", "queues": ["support"],
  "mailboxes": [ { "name": "support", "host": "127.0.0.1", "port": $port, "tls": "none",
                   "user": "support@example.test", "password_file": "$work/pass",
                   "after": "$1" } ] }
CONF
}
in_folder() { # FOLDER -> number of mails
	doveadm -c "$work/dovecot/dovecot.conf" mailbox status -u support@example.test messages "$1" 2>/dev/null |
		sed -n 's/.*messages=//p'
}
messages() { sqlite3 "$work/triaged.db" "SELECT count(*) FROM messages"; }

dovecot_append "$work/dovecot" INBOX "$SOURCE_DIR"/conf/samples/0[1-5]*.eml
config keep
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>"$work/log" || fail "keep pass"
[ "$(in_folder INBOX)" -eq 5 ] || fail "keep: INBOX should still hold 5 mails"
[ "$(messages)" -eq 5 ] || fail "keep: 5 messages expected"
echo "ok 1 - keep: stored, left in place"

dovecot_append "$work/dovecot" INBOX "$SOURCE_DIR"/conf/samples/0[6-8]*.eml
config "move:Processed"
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$work/log" || fail "move pass"
[ "$(messages)" -eq 8 ] || fail "move: 8 messages expected, got $(messages)"
[ "$(in_folder INBOX)" -eq 0 ] || fail "move: INBOX still holds $(in_folder INBOX) mails"
[ "$(in_folder Processed)" -eq 8 ] || fail "move: Processed holds $(in_folder Processed) mails"
grep -q "moved 5 mails stored before a restart" "$work/log" || fail "the recovery was not logged"
echo "ok 2 - move: new mail moved after commit, earlier committed mail recovered"
echo "2 passed, 0 failed"
