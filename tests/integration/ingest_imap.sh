#!/usr/bin/env bash
# Mail in, for real: a private Dovecot on 127.0.0.1 holds the sample support
# mails; triaged --once turns them into tickets (threading included), a second
# pass stores nothing twice; the daemon picks up new mail through IDLE, comes
# back after Dovecot is killed and restarted, stops cleanly on SIGTERM; a wrong
# password is reported clearly; SIGKILL during a large ingestion loses and
# duplicates nothing.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
source "$SOURCE_DIR/tests/lib/dovecot.sh"

work=$(mktemp -d /tmp/test-ingest.XXXXXX)
chmod 755 "$work"
daemon_pid=""
cleanup() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -KILL "$daemon_pid" 2>/dev/null || true
	fi
	dovecot_stop "$work/dovecot" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$work/triaged.log" ] && tail -n 30 "$work/triaged.log" >&2
	exit 1
}

port=$(free_port)
dovecot_start "$work/dovecot" "$port" >/dev/null
dovecot_append "$work/dovecot" INBOX "$SOURCE_DIR"/conf/samples/*.eml
printf 'secret\n' >"$work/pass"
printf 'wrong\n' >"$work/badpass"

write_config() { # FILE PASSFILE
	cat >"$1" <<EOF
{
  "database": "$work/triaged.db",
  "data_dir": "$SOURCE_DIR/conf",
  "queues": ["support", "billing", "technical", "account", "delivery", "sales",
             "complaint", "feedback"],
  "mailboxes": [ { "name": "support", "host": "127.0.0.1", "port": $port, "tls": "none",
                   "user": "support@example.test", "password_file": "$2",
                   "idle": true, "timeout_seconds": 10 } ]
}
EOF
}
write_config "$work/triaged.json" "$work/pass"
write_config "$work/bad.json" "$work/badpass"
ctl() { "$BUILD_DIR/triagectl" -c "$work/triaged.json" "$@"; }
count() { # tickets|messages
	ctl stats --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

# 1. One pass over the samples.
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>"$work/triaged.log" || fail "triaged --once failed"
samples=$(ls "$SOURCE_DIR"/conf/samples/*.eml | wc -l)
[ "$(count messages)" -eq "$samples" ] || fail "expected $samples messages, got $(count messages)"
# Samples 13 and 14 answer 02 and 03 (References), 15 carries [#1] from 01's sender.
[ "$(count tickets)" -eq $((samples - 3)) ] || fail "expected $((samples - 3)) tickets, got $(count tickets)"
for t in 1 2 3; do
	n=$(ctl show "$t" --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))')
	[ "$n" -eq 2 ] || fail "ticket $t should hold 2 messages, holds $n"
done
# Every ticket was triaged: a language, a category or the triage queue, a sentiment.
ctl tickets --json | /usr/bin/python3 -c '
import json, sys
for t in json.load(sys.stdin):
    assert t["language"] in ("fr", "en", "other"), t
    assert t["sentiment_label"] in ("negative", "neutral", "positive"), t
'
# What each sample became: decoded subjects and text, charsets converted,
# HTML turned into text without its script, attachments, quotes set apart.
ctl tickets --json >"$work/tickets.json"
for t in $(seq 1 $((samples - 3))); do ctl show "$t" --json; done >"$work/shows.json" 2>/dev/null || true
/usr/bin/python3 - "$work" <<'PY' || fail "sample contents"
import json, sys
work = sys.argv[1]
tickets = {t["subject"]: t for t in json.load(open(f"{work}/tickets.json"))}
dec = json.JSONDecoder()
text, shows, i = open(f"{work}/shows.json").read(), {}, 0
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    obj, i = dec.raw_decode(text, i)
    shows[obj["subject"]] = obj
def show(subject):
    assert subject in shows, f"no ticket with subject {subject!r}: {sorted(shows)}"
    return shows[subject]
# RFC 2047 subjects in UTF-8, Windows-1252 and Latin-1, adjacent words joined.
show("Pièces manquantes suspension Mistral")
show("Variateur de la lampe Célestine – garantie ?")
show("Colis abîmé à la livraison")
show("Bon de commande signé – Hôtel Beau Rivage")
# HTML-only: readable text, list items, no script or style text.
html = show("Pièces manquantes suspension Mistral")["messages"][0]["full_text"]
assert "- la rosace de plafond" in html, html
for tag in ("<p", "<br", "<ul", "<li", "<style", "<script", "</"):
    assert tag not in html.lower(), html
assert "ne doit jamais" not in html and "tracking" not in html, html
# Latin-1 and Windows-1252 bodies became UTF-8 (é, €, ’, œ).
latin1 = show("Facture FAC-2024-0915 au nom de la societe")["messages"][0]["full_text"]
assert "é" in latin1 and "\ufffd" not in latin1, latin1
cp1252 = show("Variateur de la lampe Célestine – garantie ?")["messages"][0]["full_text"]
assert "€" in cp1252 or "’" in cp1252, cp1252
# Attachments are counted on their message.
assert show("Invoice FAC-2024-0921 does not match our quote")["messages"][0]["attachments"] == 1
assert show("Globe en verre casse - photo")["messages"][0]["attachments"] == 1
# A reply: the new text without the quoted history and the signature.
reply = [m for m in show("Double prélèvement commande CMD-2024-10517")["messages"] if m["direction"] == "in"][1]
assert ">" not in reply["text"] and "a écrit" not in reply["text"], reply["text"]
assert len(reply["full_text"]) > len(reply["text"])
# Loop protection flags automatic mail.
auto = [s for s in shows.values() if s["subject"].startswith("Automatic reply")][0]
assert auto["messages"][0]["loop_flags"] != 0
bounce = [s for s in shows.values() if s["subject"].startswith("Undelivered Mail")][0]
assert bounce["messages"][0]["loop_flags"] != 0
PY
echo "ok 1 - $samples sample mails became $(count tickets) tickets with the expected contents"

# 2. A second pass stores nothing twice.
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$work/triaged.log" || fail "second pass failed"
[ "$(count messages)" -eq "$samples" ] || fail "second pass duplicated mail"
echo "ok 2 - second pass: no duplicate"

# 3. A wrong password: a clear error, exit 69, no crash.
set +e
"$BUILD_DIR/triaged" --once -c "$work/bad.json" 2>"$work/bad.log"
rc=$?
set -e
[ "$rc" -eq 69 ] || fail "wrong password: exit $rc, expected 69"
grep -qi "auth\|login\|password" "$work/bad.log" || fail "wrong password: no clear log line: $(cat "$work/bad.log")"
grep -q "wrong" "$work/bad.log" && fail "the password appears in the log"
echo "ok 3 - wrong password reported: $(grep -i 'mailbox support' "$work/bad.log" | head -n1)"

new_mail() { # N: a fresh mail file
	local f="$work/new-$1.eml"
	cat >"$f" <<EOF
From: Client $1 <client$1@example.com>
To: support@atelier-lumiere.test
Subject: Nouvelle question $1
Message-ID: <new-$1-$$@example.com>
Date: Thu, 26 Nov 2026 10:00:00 +0100
Content-Type: text/plain; charset=UTF-8

Bonjour, ma commande CMD-2026-$1 n'est toujours pas arrivée. Merci.
EOF
	echo "$f"
}

wait_messages() { # N SECONDS
	local i
	for i in $(seq 1 $(($2 * 10))); do
		[ "$(count messages)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# 4. The daemon: IDLE picks up new mail within seconds.
"$BUILD_DIR/triaged" -c "$work/triaged.json" 2>>"$work/triaged.log" &
daemon_pid=$!
sleep 1
start=$(date +%s%N)
dovecot_append "$work/dovecot" INBOX "$(new_mail 1)"
wait_messages $((samples + 1)) 10 || fail "IDLE: the new mail was not ingested within 10 s"
echo "ok 4 - IDLE: new mail stored in $((($(date +%s%N) - start) / 1000000)) ms"

# 5. Dovecot killed and restarted: the daemon reconnects and catches up.
dovecot_kill "$work/dovecot"
sleep 2
dovecot_start "$work/dovecot" "$port" >/dev/null
dovecot_append "$work/dovecot" INBOX "$(new_mail 2)"
wait_messages $((samples + 2)) 60 || fail "no reconnection after the server came back"
grep -q "connection lost\|cannot connect" "$work/triaged.log" || fail "the lost connection was not logged"
grep -q "connection regained" "$work/triaged.log" || fail "the reconnection was not logged"
echo "ok 5 - reconnected after a server restart"

# 6. SIGTERM: exits 0 within a few seconds.
kill -TERM "$daemon_pid"
for i in $(seq 1 50); do
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$daemon_pid" 2>/dev/null && fail "still running 5 s after SIGTERM"
wait "$daemon_pid" || fail "exit status $? after SIGTERM"
daemon_pid=""
echo "ok 6 - SIGTERM: clean exit"

# 7. SIGKILL in the middle of a large ingestion, then restart: every mail once.
bulk=3000
maildir="$work/dovecot/home/support@example.test/Maildir/new"
/usr/bin/python3 - "$maildir" "$bulk" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
st = os.stat(os.path.dirname(d))
for i in range(n):
    p = os.path.join(d, "bulk%05d.eml" % i)
    with open(p, "w") as f:
        f.write("From: bulk%d@example.org\nTo: support@atelier-lumiere.test\n"
                "Subject: Commande %d\nMessage-ID: <bulk-%d@example.org>\n"
                "Date: Thu, 26 Nov 2026 10:00:00 +0100\n\n"
                "Bonjour, ou en est ma commande %d ? Merci\n" % (i, i, i, i))
    os.chown(p, st.st_uid, st.st_gid)
EOF
expected=$((samples + 2 + bulk))
for round in 1 2 3; do
	"$BUILD_DIR/triaged" -c "$work/triaged.json" 2>>"$work/triaged.log" &
	daemon_pid=$!
	sleep "0.$((3 + round * 2))"
	kill -KILL "$daemon_pid" 2>/dev/null || true
	wait "$daemon_pid" 2>/dev/null || true
	daemon_pid=""
done
"$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$work/triaged.log" || fail "pass after SIGKILL failed"
[ "$(count messages)" -eq "$expected" ] || fail "after SIGKILL: $(count messages) messages, expected $expected"
dups=$(sqlite3 "$work/triaged.db" "SELECT count(*) FROM (SELECT message_id FROM messages GROUP BY message_id HAVING count(*) > 1)")
[ "$dups" -eq 0 ] || fail "$dups Message-IDs stored twice"
echo "ok 7 - SIGKILL three times during $bulk mails: $expected messages, each once"
echo "7 passed, 0 failed"
