#!/usr/bin/env bash
# Merging the same request written twice, with real servers: a customer
# writes, then writes again about the same order in a new mail (no
# References), which makes a second ticket. The agent merges the second into
# the first: its mails move there, it is closed with its SLA clocks stopped
# unmet and takes no more actions; a reply queued on it answers the first
# one; what is sent next to the merged ticket (its [#N] subject tag, an
# answer to its acknowledgement) joins the first one; a mail merged into a
# ticket waiting on the customer opens it again; no mail is learned twice.
# Merges across customers, of merged tickets or into them are refused.
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
  "sla": { "policies": [ { "name": "standard", "first_response": 240, "next_response": 480, "resolution": 2880 } ] },
  "rules": [ { "name": "ack", "on": ["new_ticket"], "if": { "not": { "loop": true } },
               "then": [ { "reply_template": "ack-{{language}}" } ] } ] }
CONF
ctl() { "$BUILD_DIR/triagectl" -c "$work/triaged.json" "$@"; }
once() { "$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$work/log" || fail "triaged --once"; }
# field N EXPR: EXPR over ticket N's JSON (t)
field() { ctl show "$1" --json | /usr/bin/python3 -c "import json,sys; t=json.load(sys.stdin); print($2)"; }
count() { sqlite3 "$work/triaged.db" "SELECT count(*) FROM $1"; }

mail() { # mail FILE FROM SUBJECT MESSAGE-ID [IN-REPLY-TO [CC]]
	{
		echo "From: $2"
		echo "To: support@atelier-lumiere.test"
		[ -n "${6:-}" ] && echo "Cc: $6"
		echo "Subject: $3"
		echo "Date: Thu, 26 Nov 2026 10:00:00 +0100"
		echo "Message-ID: <$4>"
		[ -n "${5:-}" ] && echo "In-Reply-To: <$5>"
		echo "Content-Type: text/plain; charset=utf-8"
		echo
		echo "Bonjour, toujours aucune nouvelle de ma commande CMD-2024-10452."
	} >"$1"
}
claire="Claire Martin <claire.martin@example.com>"

# Claire writes, then writes again in a new mail, copying a colleague.
dovecot_append "$work/dovecot" INBOX "$SOURCE_DIR/conf/samples/01-plain-utf8-fr.eml"
mail "$work/again.eml" "$claire" "Ma lampe Orsay, où en est-on ?" "again-1@example.com" "" \
	"paul.martin@example.com"
dovecot_append "$work/dovecot" INBOX "$work/again.eml"
once
[ "$(count tickets)" -eq 2 ] || fail "expected 2 tickets, got $(count tickets)"
once # sends the acknowledgements
[ "$(smtp_sink_count "$work/smtp")" -eq 2 ] || fail "expected 2 acknowledgements sent"
ctl recategorize 2 delivery >/dev/null || fail "recategorize 2"
echo "ok 1 - the same request written twice made two tickets"

# An agent queues a reply on ticket 2, then sees it is the same request.
echo "Nous regardons votre commande." | ctl reply 2 --text-file - --approve >/dev/null ||
	fail "reply on ticket 2"
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
[ "$(field 1 '[c["target"] for c in t["sla"] if c["state"] == "running"]')" = "['first_response', 'resolution']" ] ||
	fail "ticket 1 waits twice: $(field 1 '[(c["target"], c["state"]) for c in t["sla"]]')"
err=$(ctl status 2 open 2>&1) && fail "a merged ticket was reopened"
grep -q "merged into 1" <<<"$err" || fail "refusing an action on ticket 2 said: $err"
echo "ok 2 - triagectl merge: mails moved, ticket closed with its clocks stopped, no more actions on it"

# The reply queued on ticket 2 goes out and counts for ticket 1.
once
[ "$(smtp_sink_count "$work/smtp")" -eq 3 ] || fail "the queued reply was not sent"
[ "$(field 1 't["status"], t["first_response_at"] is not None, len(t["messages"])')" = "pending True 5" ] ||
	fail "ticket 1 after the reply: $(field 1 't["status"], t["first_response_at"], len(t["messages"])')"
[ "$(field 2 't["status"], t["first_response_at"]')" = "closed None" ] ||
	fail "the reply changed ticket 2: $(field 2 't["status"], t["first_response_at"]')"
echo "ok 3 - a reply queued before the merge answers the ticket kept"

# A third mail of hers, merged into the ticket now waiting on her: it opens
# again, and her wait for an answer goes on there from when she wrote.
mail "$work/third.eml" "$claire" "Commande CMD-2024-10452" "third-1@example.com"
dovecot_append "$work/dovecot" INBOX "$work/third.eml"
once
started3=$(field 3 '[c["started"] for c in t["sla"] if c["target"] == "first_response"][0]')
sleep 1 # the merge one second later: a restarted clock would show it
ctl merge 3 --into 1 >/dev/null || fail "merge 3 into 1"
[ "$(field 1 't["status"]')" = open ] || fail "ticket 1 stays $(field 1 't["status"]') with a new mail in it"
[ "$(field 1 '[(c["target"], c["started"]) for c in t["sla"] if c["state"] == "running"]')" = \
	"[('resolution', '$(field 1 '[c["started"] for c in t["sla"] if c["target"] == "resolution"][0]')'), ('next_response', '$started3')]" ] ||
	fail "ticket 1's running clocks: $(field 1 '[(c["target"], c["state"], c["started"]) for c in t["sla"]]') (ticket 3's started $started3)"
[ "$(field 3 '[c["state"] for c in t["sla"]]')" = "['stopped']" ] ||
	fail "ticket 3's clocks: $(field 3 '[(c["target"], c["state"]) for c in t["sla"]]')"
echo "ok 4 - merged into a ticket waiting on the customer: it opens, her wait goes on there as a next response"

# What comes next for ticket 2 goes to ticket 1: its [#2] tag from the
# colleague she copied, and an answer to the acknowledgement ticket 2 sent.
ack2=$(sqlite3 "$work/triaged.db" "SELECT message_id FROM outbox WHERE ticket_id = 2 AND kind = 'ack'")
[ -n "$ack2" ] || fail "ticket 2 sent no acknowledgement"
mail "$work/tag.eml" "Paul Martin <paul.martin@example.com>" "Re: [#2] Ma lampe Orsay" "tag-1@example.com"
mail "$work/answer.eml" "$claire" "Re: accusé de réception" "answer-1@example.com" "$ack2"
dovecot_append "$work/dovecot" INBOX "$work/tag.eml" "$work/answer.eml"
once
[ "$(count tickets)" -eq 3 ] || fail "a mail to the merged ticket made a new ticket"
[ "$(field 2 'len(t["messages"])')" -eq 0 ] || fail "a mail joined the merged ticket 2"
[ "$(field 1 '[e["detail"]["threaded_by"] for e in t["events"] if e["kind"] == "message.added"][-2:]')" = \
	"['subject tag', 'references']" ] || fail "threading of the two mails: $(field 1 '[e["detail"].get("threaded_by") for e in t["events"] if e["kind"] == "message.added"]')"
echo "ok 5 - the [#2] tag (from the colleague copied) and an answer to ticket 2's acknowledgement join ticket 1"

# One training example per mail: an older request merged into a newer one
# stays its own ticket's example; the newer ticket learns from its own mail.
for n in 5 6; do
	words=("" "" "" "" "" "la facture du mois dernier compte la livraison deux fois"
		"le remboursement promis n'est jamais arrivé sur mon compte")
	printf '%s\n' "From: $claire" "To: support@atelier-lumiere.test" "Subject: Demande $n" \
		"Message-ID: <learn-$n@example.com>" "Content-Type: text/plain; charset=utf-8" "" \
		"Bonjour, ${words[$n]}." >"$work/learn-$n.eml"
	sleep 1 # received one second apart: 5 is the older
	ctl ingest <"$work/learn-$n.eml" >/dev/null || fail "ingest learn-$n"
done
older=$(sqlite3 "$work/triaged.db" "SELECT id FROM tickets WHERE subject = 'Demande 5'")
newer=$(sqlite3 "$work/triaged.db" "SELECT id FROM tickets WHERE subject = 'Demande 6'")
[ -n "$older" ] && [ -n "$newer" ] || fail "the two requests did not become tickets"
ctl recategorize "$older" billing >/dev/null || fail "recategorize $older"
ctl merge "$older" --into "$newer" >/dev/null || fail "merge $older into $newer"
ctl recategorize "$newer" billing >/dev/null || fail "recategorize $newer"
[ "$(sqlite3 "$work/triaged.db" "SELECT count(DISTINCT features) FROM training WHERE ticket_id IN ($older, $newer) AND model = 'category'")" -eq 2 ] ||
	fail "the merged mail was learned twice"
# The merged ticket's own example can still be corrected: from its mail, now
# in the ticket kept.
ctl recategorize "$older" sales >/dev/null || fail "the merged ticket's category could not be corrected"
[ "$(sqlite3 "$work/triaged.db" "SELECT label FROM training WHERE ticket_id = $older AND model = 'category'")" = sales ] ||
	fail "the correction of the merged ticket was not learned"
[ "$(sqlite3 "$work/triaged.db" "SELECT count(DISTINCT features) FROM training WHERE ticket_id IN ($older, $newer) AND model = 'category'")" -eq 2 ] ||
	fail "correcting the merged ticket learned the other mail"
echo "ok 6 - a merged mail is not learned twice, and its ticket's example can still be corrected"

ctl merge 2 --into 1 2>/dev/null && fail "a merged ticket was merged again"
ctl merge 1 --into 2 2>/dev/null && fail "a ticket was merged into a merged one"
ctl merge 1 --into 1 2>/dev/null && fail "a ticket was merged into itself"
ctl ingest <"$SOURCE_DIR/conf/samples/03-base64-en.eml" >/dev/null || fail "ingest 03"
other=$(sqlite3 "$work/triaged.db" "SELECT max(id) FROM tickets")
err=$(ctl merge "$other" --into 1 2>&1) && fail "another customer's ticket was merged"
grep -q "different customers" <<<"$err" || fail "merging another customer's ticket said: $err"
rc=0
ctl merge 99 --into 1 2>/dev/null || rc=$?
[ "$rc" -eq 66 ] || fail "merging an unknown ticket exited $rc, not 66"
echo "ok 7 - merges refused: again, into a merged ticket, into itself, across customers, an unknown ticket"

# Spam verdicts and what agents do: "not spam" reopens only a ticket closed
# as spam, and an answer sent on a ticket closed as spam counts as service.
ctl status "$other" closed >/dev/null || fail "closing ticket $other"
ctl spam "$other" no >/dev/null || fail "spam $other no"
[ "$(field "$other" 't["status"]')" = closed ] || fail "\"not spam\" reopened a ticket an agent closed"
ctl spam "$other" yes >/dev/null || fail "spam $other yes"
[ "$(sqlite3 "$work/triaged.db" "SELECT spam_closed FROM tickets WHERE id = $other")" = 1 ] ||
	fail "ticket $other is not recorded as closed as spam"
echo "Nous avons bien reçu votre message." | ctl reply "$other" --text-file - --approve --keep-status >/dev/null ||
	fail "reply on ticket $other"
once
[ "$(sqlite3 "$work/triaged.db" "SELECT spam_closed FROM tickets WHERE id = $other")" = 0 ] ||
	fail "an answer sent on a ticket closed as spam left it out of the figures"
echo "ok 8 - spam verdicts: \"not spam\" reopens only spam, an answer makes it service"
echo "all passed"
