#!/usr/bin/env bash
# A folder whose UIDVALIDITY changes (deleted and created again, mails
# restored) is fetched again from the start, and deduplication keeps what is
# already stored from being stored twice: only the new mail becomes a
# message. A customer's reply to a resolved ticket reopens it; a reply to a
# pending one (waiting on the customer) makes it open again.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
source "$SOURCE_DIR/tests/lib/dovecot.sh"
work=$(mktemp -d /tmp/test-resync.XXXXXX)
chmod 755 "$work"
trap 'dovecot_stop "$work/dovecot" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; tail -n 20 "$work/log" >&2 || true; exit 1; }

port=$(free_port)
dovecot_start "$work/dovecot" "$port" >/dev/null
printf 'secret\n' >"$work/pass"
cat >"$work/triaged.json" <<CONF
{ "database": "$work/triaged.db", "data_dir": "$SOURCE_DIR/conf", "queues": ["support"],
  "mailboxes": [ { "name": "support", "host": "127.0.0.1", "port": $port, "tls": "none",
                   "user": "support@example.test", "password_file": "$work/pass",
                   "folder": "Support", "after": "keep" } ] }
CONF
doveadm=(doveadm -c "$work/dovecot/dovecot.conf")
ctl() { "$BUILD_DIR/triagectl" -c "$work/triaged.json" "$@"; }
messages() { sqlite3 "$work/triaged.db" "SELECT count(*) FROM messages"; }
status_of() { ctl show "$1" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }

"${doveadm[@]}" mailbox create -u support@example.test Support
dovecot_append "$work/dovecot" Support "$SOURCE_DIR"/conf/samples/0[1-4]*.eml
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>"$work/log" || fail "first pass"
[ "$(messages)" -eq 4 ] || fail "first pass: $(messages) messages, expected 4"
first_validity=$(sqlite3 "$work/triaged.db" "SELECT uidvalidity FROM mailboxes WHERE name = 'support'")

# The folder is deleted and made again: new UIDVALIDITY, UIDs from 1 again.
"${doveadm[@]}" mailbox delete -u support@example.test Support
"${doveadm[@]}" mailbox create -u support@example.test Support
dovecot_append "$work/dovecot" Support "$SOURCE_DIR"/conf/samples/0[1-5]*.eml
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$work/log" || fail "resync pass"
grep -q "UIDVALIDITY changed" "$work/log" || fail "the resynchronisation was not logged"
[ "$(messages)" -eq 5 ] || fail "after the resync: $(messages) messages, expected 5"
second_validity=$(sqlite3 "$work/triaged.db" "SELECT uidvalidity FROM mailboxes WHERE name = 'support'")
[ "$second_validity" != "$first_validity" ] || fail "the checkpoint kept the old UIDVALIDITY"
echo "ok 1 - UIDVALIDITY $first_validity -> $second_validity: resynchronised, only the new mail stored"

# Sample 13 answers sample 02 (ticket 2): resolved before, it reopens.
ctl status 2 resolved
dovecot_append "$work/dovecot" Support "$SOURCE_DIR"/conf/samples/13-reply-fr.eml
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$work/log" || fail "reply pass"
[ "$(status_of 2)" = open ] || fail "ticket 2 is $(status_of 2) after the customer's reply, expected open"
ctl show 2 --json | /usr/bin/python3 -c '
import json, sys
kinds = [e["kind"] for e in json.load(sys.stdin)["events"]]
assert "ticket.reopened" in kinds, kinds' || fail "no ticket.reopened event"
echo "ok 2 - a reply reopens a resolved ticket"

# Sample 14 answers sample 03 (ticket 3): pending (waiting on the customer) -> open.
ctl status 3 pending
dovecot_append "$work/dovecot" Support "$SOURCE_DIR"/conf/samples/14-reply-en.eml
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$work/log" || fail "second reply pass"
[ "$(status_of 3)" = open ] || fail "ticket 3 is $(status_of 3), expected open"
echo "ok 3 - a reply to a pending ticket opens it again"
echo "3 passed, 0 failed"
