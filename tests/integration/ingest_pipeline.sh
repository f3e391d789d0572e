#!/usr/bin/env bash
# The pipelined ingestion against a private Dovecot: triaged --once over a
# few thousand varied mails (many slices in flight, prepared in the fetcher
# and its helper thread) stores each once, triaged and indexed, and says
# where each thread's time went; the daemon ingesting the same mails through
# two reloads (SIGHUP: mail prepared with the old configuration's resources
# is prepared again by the writer) triages every mail exactly as --once did.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
source "$SOURCE_DIR/tests/lib/dovecot.sh"

work=$(mktemp -d /tmp/test-pipeline.XXXXXX)
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
log="$work/triaged.log"
fail() {
	echo "FAIL: $*" >&2
	[ -f "$log" ] && tail -n 20 "$log" >&2
	exit 1
}
passed=0
ok() {
	passed=$((passed + 1))
	echo "ok $passed - $*"
}

port=$(free_port)
dovecot_start "$work/dovecot" "$port" >/dev/null || fail "dovecot did not start"
printf 'secret\n' >"$work/pass"
write_config() { # FILE DATABASE
	cat >"$1" <<EOF
{
  "database": "$2",
  "data_dir": "$SOURCE_DIR/conf",
  "queues": ["support", "billing", "technical", "account", "delivery", "sales",
             "complaint", "feedback"],
  "mailboxes": [ { "name": "support", "host": "127.0.0.1", "port": $port, "tls": "none",
                   "user": "support@example.test", "password_file": "$work/pass",
                   "idle": true, "after": "keep", "timeout_seconds": 10 } ]
}
EOF
}
write_config "$work/once.json" "$work/once.db"
write_config "$work/daemon.json" "$work/daemon.db"

# The samples and 4,000 generated mails: French and English, several
# topics and moods, plain and HTML, so that every stage has work.
maildir="$work/dovecot/home/support@example.test/Maildir"
mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp"
cp "$SOURCE_DIR"/conf/samples/*.eml "$maildir/new/"
/usr/bin/python3 - "$maildir/new" 4000 <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
texts = [
    ("Facture introuvable", "Bonjour, je ne trouve pas la facture de ma commande CMD-{i}. Merci."),
    ("Colis en retard", "Bonjour, mon colis {i} n'est toujours pas arrivé, c'est inadmissible !"),
    ("Password reset", "Hello, the reset link for my account does not work. Please help, order {i}."),
    ("Thanks!", "Just wanted to say thanks a lot, the lamp {i} is gorgeous and your team was great."),
    ("Devis pour 40 lampes", "Bonjour, pourriez-vous nous faire un devis pour 40 lampes {i} ?"),
    ("Broken on arrival", "The glass shade of lamp {i} arrived broken. I am very disappointed."),
]
for i in range(n):
    subject, body = texts[i % len(texts)]
    body = body.format(i=i)
    html = i % 5 == 0
    ctype = "text/html; charset=UTF-8" if html else "text/plain; charset=UTF-8"
    if html:
        body = "<html><body><p>%s</p><p>Cordialement</p></body></html>" % body
    with open(os.path.join(d, "gen%05d.eml" % i), "w") as f:
        f.write("From: Client %d <client%d@example.org>\nTo: support@atelier-lumiere.test\n"
                "Subject: %s %d\nMessage-ID: <pipeline-%d@example.org>\n"
                "Date: Thu, 26 Nov 2026 10:00:00 +0100\nMIME-Version: 1.0\n"
                "Content-Type: %s\n\n%s\n" % (i, i, subject, i, i, ctype, body))
EOF
chown -R --reference="$work/dovecot/home" "$maildir" 2>/dev/null || chown -R nobody "$maildir"
total=$(ls "$maildir/new" | wc -l)

count() { sqlite3 "$1" "$2"; }
# What triage decided for each mail, by Message-ID (ticket and message ids
# may differ between runs; the decisions may not). Confidences to 9 digits:
# a model reloaded from its stored counts (as a reload does) sums them in
# another order than the model seeded in memory, which shows in the 15th.
decisions() {
	sqlite3 "$1" "SELECT m.message_id, t.language, t.category, round(t.category_confidence, 9),
	  t.spam, round(t.spam_score, 9), round(t.sentiment, 9), t.sentiment_label,
	  (SELECT group_concat(task || '=' || label || ':' || explanation, ' | ')
	     FROM (SELECT * FROM triage r WHERE r.message_id = m.id ORDER BY r.task))
	  FROM messages m JOIN tickets t ON t.id = m.ticket_id ORDER BY m.message_id"
}

# 1. --once: every mail once, triaged and indexed; the time of each thread.
"$BUILD_DIR/triagectl" -c "$work/once.json" init >/dev/null
"$BUILD_DIR/triaged" --once -c "$work/once.json" 2>"$log" || fail "triaged --once failed"
[ "$(count "$work/once.db" "SELECT count(*) FROM messages")" -eq "$total" ] ||
	fail "--once stored $(count "$work/once.db" "SELECT count(*) FROM messages") of $total mails"
[ "$(count "$work/once.db" "SELECT count(DISTINCT message_id) FROM messages")" -eq "$total" ] ||
	fail "a mail was stored twice"
[ "$(count "$work/once.db" "SELECT count(DISTINCT message_id) FROM triage WHERE task = 'sentiment'")" -eq "$total" ] ||
	fail "a mail has no sentiment"
[ "$(count "$work/once.db" "SELECT count(*) FROM messages_fts_docsize")" -eq "$total" ] ||
	fail "a mail is not indexed"
[ "$(count "$work/once.db" "SELECT last_uid FROM mailboxes WHERE name = 'support'")" -eq "$total" ] ||
	fail "the checkpoint is not at the last UID"
grep -q "mailbox support: $total mails fetched; thread: .* s preparing" "$log" ||
	fail "no account of the fetcher thread's time"
grep -q "writer: .* s storing" "$log" || fail "no account of the writer's time"
ok "--once: $total mails stored once, triaged, indexed; $(grep -o 'thread: .*' "$log")"

# 2. The daemon, reloaded twice while it ingests: the same decisions.
"$BUILD_DIR/triagectl" -c "$work/daemon.json" init >/dev/null
"$BUILD_DIR/triaged" -c "$work/daemon.json" 2>>"$log" &
daemon_pid=$!
reloads=0
for i in $(seq 1 600); do
	n=$(count "$work/daemon.db" "SELECT count(*) FROM messages" 2>/dev/null || echo 0)
	# The next SIGHUP once the last one is handled (two pending signals
	# are one).
	if [ "$reloads" -lt 2 ] && [ "$n" -gt $((100 + reloads * 600)) ] &&
		[ "$(grep -c "configuration reloaded" "$log")" -eq "$reloads" ]; then
		kill -HUP "$daemon_pid"
		reloads=$((reloads + 1))
	fi
	[ "$n" -ge "$total" ] && break
	kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died"
	sleep 0.05
done
[ "$(count "$work/daemon.db" "SELECT count(*) FROM messages")" -eq "$total" ] ||
	fail "the daemon stored $(count "$work/daemon.db" "SELECT count(*) FROM messages") of $total mails"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "exit status $? after SIGTERM"
daemon_pid=""
[ "$reloads" -eq 2 ] || fail "the mail was ingested before the reloads (made $reloads): make it more"
[ "$(grep -c "configuration reloaded" "$log")" -eq 2 ] || fail "the reloads were not logged"
decisions "$work/once.db" >"$work/once.txt"
decisions "$work/daemon.db" >"$work/daemon.txt"
[ "$(wc -l <"$work/once.txt")" -eq "$total" ] || fail "decisions: $(wc -l <"$work/once.txt") lines"
cmp -s "$work/once.txt" "$work/daemon.txt" ||
	fail "the daemon's decisions differ from --once's: $(diff "$work/once.txt" "$work/daemon.txt" | head -n 4)"
ok "daemon with 2 reloads during ingestion: the same $total decisions as --once"
echo "$passed passed, 0 failed"
