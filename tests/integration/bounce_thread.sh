#!/usr/bin/env bash
# A bounce of our own reply joins the ticket the reply belonged to (found by
# the Message-ID of the bounced mail in the delivery report), flagged by loop
# protection, so that no automatic answer goes to the mailer daemon and the
# agent sees the failed delivery where it matters.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
source "$SOURCE_DIR/tests/lib/smtp_sink.sh"
work=$(mktemp -d /tmp/test-bounce.XXXXXX)
trap 'smtp_sink_stop "$work/smtp" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

port=$(free_port)
mkdir -p "$work/smtp"
smtp_sink_start "$work/smtp" "$port" >/dev/null
cat >"$work/triaged.json" <<CONF
{ "database": "$work/triaged.db", "data_dir": "$SOURCE_DIR/conf", "queues": ["support"],
  "smtp": { "url": "smtp://127.0.0.1:$port", "tls": "none",
            "from": "Support <support@atelier-lumiere.test>" } }
CONF
ctl() { "$BUILD_DIR/triagectl" -c "$work/triaged.json" "$@"; }

ticket=$(ctl ingest <"$SOURCE_DIR/conf/samples/03-base64-en.eml")
printf 'Hello,\nplease try resetting the lamp.\n' >"$work/reply.txt"
ctl reply "$ticket" --text-file "$work/reply.txt" --approve >/dev/null
ctl outbox send >/dev/null || fail "the reply was not sent"
[ "$(smtp_sink_count "$work/smtp")" -eq 1 ] || fail "the sink did not receive the reply"
msgid=$(ctl show "$ticket" --json | /usr/bin/python3 -c '
import json, sys
print([m for m in json.load(sys.stdin)["messages"] if m["direction"] == "out"][-1]["message_id"])')
[ -n "$msgid" ] || fail "no Message-ID on the sent reply"

# The receiving server refuses it: a DSN quoting our headers comes back.
cat >"$work/bounce.eml" <<EOF
Date: Thu, 26 Nov 2026 10:14:37 +0100
From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: support@atelier-lumiere.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-$$@mx.example.org>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered: mailbox full.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
Final-Recipient: rfc822; someone@example.org
Action: failed
Status: 5.2.2

--B
Content-Type: text/rfc822-headers

From: Support <support@atelier-lumiere.test>
Subject: Re: Luciole lamp will not pair with the app [#$ticket]
Message-ID: <$msgid>

--B--
EOF
joined=$(ctl ingest <"$work/bounce.eml")
[ "$joined" = "$ticket" ] || fail "the bounce opened ticket $joined instead of joining $ticket"
ctl show "$ticket" --json | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)
bounce = [m for m in t["messages"] if m["direction"] == "in"][-1]
assert bounce["loop_flags"] != 0, bounce
assert any(e["kind"] == "message.added" and (e["detail"] or {}).get("threaded_by") == "bounce of our message"
           for e in t["events"]), [e["kind"] for e in t["events"]]
' || fail "the bounce is not flagged or not explained"
echo "ok 1 - the bounce of reply <$msgid> joined ticket $ticket, flagged"
echo "1 passed, 0 failed"
