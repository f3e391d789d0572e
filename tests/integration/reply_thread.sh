#!/usr/bin/env bash
# The whole loop with real servers: a customer's mail arrives through Dovecot,
# an agent approves the suggested reply, triaged sends it to the SMTP sink
# (the ticket waits on the customer), the customer answers that very mail,
# and the answer, fetched through Dovecot, joins the same ticket and opens it
# again.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
source "$SOURCE_DIR/tests/lib/dovecot.sh"
source "$SOURCE_DIR/tests/lib/smtp_sink.sh"
work=$(mktemp -d /tmp/test-reply-thread.XXXXXX)
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
  "queues": ["support", "technical"],
  "mailboxes": [ { "name": "support", "host": "127.0.0.1", "port": $imap_port, "tls": "none",
                   "user": "support@example.test", "password_file": "$work/pass" } ],
  "smtp": { "url": "smtp://127.0.0.1:$smtp_port", "tls": "none",
            "from": "Support <support@atelier-lumiere.test>" } }
CONF
ctl() { "$BUILD_DIR/triagectl" -c "$work/triaged.json" "$@"; }
once() { "$BUILD_DIR/triaged" --once -c "$work/triaged.json" 2>>"$work/log" || fail "triaged --once"; }
json() { ctl show 1 --json | /usr/bin/python3 -c "import json,sys; t=json.load(sys.stdin); print($1)"; }

ctl kb import "$SOURCE_DIR/conf/kb" >/dev/null 2>&1
dovecot_append "$work/dovecot" INBOX "$SOURCE_DIR/conf/samples/03-base64-en.eml"
once
[ "$(json 'len(t["suggestions"])')" -gt 0 ] || fail "no suggestion for the ticket"
ctl reply 1 --suggestion 1 --approve >/dev/null || fail "approving suggestion 1"
actor=$(sqlite3 "$work/triaged.db" "SELECT actor FROM events WHERE kind = 'suggestion_approved'")
[[ "$actor" == cli:* ]] || fail "the approval is recorded under \"$actor\", not cli:USER"
once # sends what is due
[ "$(smtp_sink_count "$work/smtp")" -eq 1 ] || fail "the sink received $(smtp_sink_count "$work/smtp") mails"
[ "$(json 't["status"]')" = pending ] || fail "after the reply the ticket is $(json 't["status"]')"
echo "ok 1 - suggestion 1 approved and sent; the ticket waits on the customer"

# The customer answers the mail the sink received.
/usr/bin/python3 - "$work/smtp/mail" "$work/answer.eml" <<'PY'
import email, glob, sys
from email.policy import default
sent = email.message_from_bytes(open(sorted(glob.glob(sys.argv[1] + "/*.eml"))[0], "rb").read(), policy=default)
answer = email.message.EmailMessage()
answer["From"] = sent["To"]
answer["To"] = sent["From"]
answer["Subject"] = "Re: " + sent["Subject"].removeprefix("Re: ")
answer["Date"] = "Thu, 26 Nov 2026 18:00:00 +0100"
answer["Message-ID"] = "<answer-1@mail.example.org>"
answer["In-Reply-To"] = sent["Message-ID"]
answer["References"] = (sent["References"] or "") + " " + sent["Message-ID"]
answer.set_content("It works now, thank you!\n\nOn Thursday, Support wrote:\n> " +
                   sent.get_content().replace("\n", "\n> "))
open(sys.argv[2], "wb").write(answer.as_bytes())
PY
dovecot_append "$work/dovecot" INBOX "$work/answer.eml"
once
[ "$(sqlite3 "$work/triaged.db" 'SELECT count(*) FROM tickets')" -eq 1 ] || fail "the answer opened a new ticket"
[ "$(json 'len(t["messages"])')" -eq 3 ] || fail "ticket 1 holds $(json 'len(t["messages"])') messages, expected 3"
[ "$(json 't["status"]')" = open ] || fail "after the answer the ticket is $(json 't["status"]')"
[ "$(json '[m["direction"] for m in t["messages"]]')" = "['in', 'out', 'in']" ] || fail "thread order"
# The ticket's mood is the customer's latest: the thanks of the answer.
[ "$(json 't["sentiment_label"], [d["label"] for d in t["triage"] if d["task"] == "sentiment"][-1]')" = \
	"positive positive" ] || fail "the ticket's mood: $(json 't["sentiment_label"], [(d["label"], d["score"]) for d in t["triage"] if d["task"] == "sentiment"]')"
echo "ok 2 - the customer's answer joined ticket 1 through Dovecot and opened it"
echo "2 passed, 0 failed"
