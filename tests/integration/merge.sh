#!/usr/bin/env bash
# Merging the same request written twice, with real servers: a customer
# writes, then writes again about the same order in a new mail (no
# References), which makes a second ticket. The agent merges the second into
# the first: its mails move there, it is closed with its SLA clocks stopped
# unmet, and what the customer sends next to the merged ticket (its [#N]
# subject tag, an answer to its acknowledgement) joins the first one. A
# merged ticket cannot be merged again.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
source "$SOURCE_DIR/tests/lib/dovecot.sh"
source "$SOURCE_DIR/tests/lib/smtp_sink.sh"
work=$(mktemp -d /tmp/test-merge.XXXXXX)
chmod 755 "$work"
cleanup() {
	dovecot_stop "$work/dovecot" >/dev/null 2>&1 || true
	smtp_sink_stop "$work/smtp" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 20 "$work/log" >&2 || true; exit 1; }

imap_port=$(free_port)
dovecot_start "$work/dovecot" "$imap_port" >/dev/null
smtp_port=$(free_port)
mkdir -p "$work/smtp"
smtp_sink_start "$work/smtp" "$smtp_port" >/dev/null
printf 'secret\n' >"$work/pass"
cat >"$work/triaged.json" <<CONF
{ "database": "$work/triaged.db", "data_dir": "$SOURCE_DIR/conf",
  "queues": ["support", "delivery", "billing", "technical", "account", "sales",
             "complaint", "feedback", "spam", "triage"],
  "mailboxes": [ { "name": "support", "host": "127.0.0.1", "port": $imap_port, "tls": "none",
                   "user": "support@example.test", "password_file": "$work/pass" } ],
  "smtp": { "url": "smtp://127.0.0.1:$smtp_port", "tls": "none",
            "from": "Support <support@atelier-lumiere.test>", "ack_per_sender_seconds": 0 },
  "sla": { "policies": [ { "name": "standard", "first_response": 240, "resolution": 2880 } ] },
  "rules": [ { "name": "ack", "on": ["new_ticket"], "if": { "not": { "loop": true } },
               "then": [ { "reply_template": "ack-{{language}}" } ] } ] }
CONF
ctl() { "$BUILD_DIR/triagectl" -c "$work/triaged.json" "$@"; }
once() { "$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$work/log" || fail "triaged --once"; }
# field N EXPR: EXPR over ticket N's JSON (t)
field() { ctl show "$1" --json | /usr/bin/python3 -c "import json,sys; t=json.load(sys.stdin); print($2)"; }
count() { sqlite3 "$work/triaged.db" "SELECT count(*) FROM $1"; }

mail() { # mail FILE SUBJECT MESSAGE-ID [IN-REPLY-TO]
	{
		echo "From: Claire Martin <claire.martin@example.com>"
		echo "To: support@atelier-lumiere.test"
		echo "Subject: $2"
		echo "Date: Thu, 26 Nov 2026 10:00:00 +0100"
		echo "Message-ID: <$3>"
		[ -n "${4:-}" ] && echo "In-Reply-To: <$4>"
		echo "Content-Type: text/plain; charset=utf-8"
		echo
		echo "Bonjour, toujours aucune nouvelle de ma commande CMD-2024-10452."
	} >"$1"
}

dovecot_append "$work/dovecot" INBOX "$SOURCE_DIR/conf/samples/01-plain-utf8-fr.eml"
mail "$work/again.eml" "Ma lampe Orsay, où en est-on ?" "again-1@example.com"
dovecot_append "$work/dovecot" INBOX "$work/again.eml"
once
[ "$(count tickets)" -eq 2 ] || fail "expected 2 tickets, got $(count tickets)"
once # sends the acknowledgements
[ "$(smtp_sink_count "$work/smtp")" -eq 2 ] || fail "expected 2 acknowledgements sent"
echo "ok 1 - the same request written twice made two tickets"

out=$(ctl merge 2 --into 1) || fail "triagectl merge"
[ "$out" = "ticket 2 merged into 1 (2 messages moved)" ] || fail "merge said: $out"
[ "$(field 2 't["status"], t["merged_into"], len(t["messages"])')" = "closed 1 0" ] ||
	fail "ticket 2 after the merge: $(field 2 't["status"], t["merged_into"], len(t["messages"])')"
[ "$(field 2 'sorted({c["state"] for c in t["sla"]})')" = "['stopped']" ] ||
	fail "ticket 2's clocks: $(field 2 '[c["state"] for c in t["sla"]]')"
[ "$(field 1 'len(t["messages"]), t["status"], t["merged_into"]')" = "4 new None" ] ||
	fail "ticket 1 after the merge: $(field 1 'len(t["messages"]), t["status"], t["merged_into"]')"
[ "$(field 1 '[e["detail"] for e in t["events"] if e["kind"] == "ticket.merged_from"]')" = \
	"[{'from': 2, 'messages': 2}]" ] || fail "no ticket.merged_from event on ticket 1"
[ "$(field 2 '[e["detail"]["into"] for e in t["events"] if e["kind"] == "ticket.merged"]')" = "[1]" ] ||
	fail "no ticket.merged event on ticket 2"
ctl show 2 | grep -q "merged into #1" || fail "show does not say where ticket 2 went"
echo "ok 2 - triagectl merge: mails moved, ticket closed with its clocks stopped, events on both"

# What comes next for ticket 2 goes to ticket 1: its [#2] tag, and an answer
# to the acknowledgement ticket 2 sent.
ack2=$(sqlite3 "$work/triaged.db" "SELECT message_id FROM outbox WHERE ticket_id = 2 AND kind = 'ack'")
[ -n "$ack2" ] || fail "ticket 2 sent no acknowledgement"
mail "$work/tag.eml" "Re: [#2] Ma lampe Orsay" "tag-1@example.com"
mail "$work/answer.eml" "Re: accusé de réception" "answer-1@example.com" "$ack2"
dovecot_append "$work/dovecot" INBOX "$work/tag.eml" "$work/answer.eml"
once
[ "$(count tickets)" -eq 2 ] || fail "a mail to the merged ticket made a new ticket"
[ "$(field 1 'len(t["messages"])')" -ge 6 ] || fail "ticket 1 holds $(field 1 'len(t["messages"])') messages"
[ "$(field 2 'len(t["messages"])')" -eq 0 ] || fail "a mail joined the merged ticket 2"
[ "$(field 1 '[e["detail"]["threaded_by"] for e in t["events"] if e["kind"] == "message.added"][-2:]')" = \
	"['subject tag', 'references']" ] || fail "threading of the two mails: $(field 1 '[e["detail"].get("threaded_by") for e in t["events"] if e["kind"] == "message.added"]')"
echo "ok 3 - the [#2] tag and an answer to ticket 2's acknowledgement join ticket 1"

ctl merge 2 --into 1 2>/dev/null && fail "a merged ticket was merged again"
ctl merge 1 --into 2 2>/dev/null && fail "a ticket was merged into a merged one"
ctl merge 1 --into 1 2>/dev/null && fail "a ticket was merged into itself"
rc=0
ctl merge 99 --into 1 2>/dev/null || rc=$?
[ "$rc" -eq 66 ] || fail "merging an unknown ticket exited $rc, not 66"
echo "ok 4 - merges refused: again, into a merged ticket, into itself, an unknown ticket"
echo "all passed"
