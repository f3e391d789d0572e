# An approved reply goes through the outbox to a real SMTP server: headers,
# threading, encoding and decoded text as the customer's mail program sees
# them, the copy in the ticket's thread, first response and status; an
# edited reply through $EDITOR; nothing sent twice.
set -u
source "$SOURCE_DIR/tests/lib/outbox_env.sh"
outbox_env_init outbox-send

smtp_sink_start "$SINK" "$PORT" || fail "sink did not start"
outbox_write_config "smtp://127.0.0.1:$PORT" none
ticket=$(outbox_seed_ticket "RE: Re: Ma lampe ne s'allume plus" claire@example.test "Claire Dupré" \
	cust-2@example.test "cust-1@example.test") || fail "seed"

text=$WORK/reply.txt
cat >"$text" <<'EOF'
Bonjour Claire,

Nous sommes désolés : votre lampe « Lumière Élégance » ne s'allume plus depuis la mise à jour du micrologiciel, ce qui n'est évidemment pas normal. Voici ce que nous vous proposons, étape par étape.
Une ligne qui finit par des espaces   
From the team: débranchez la lampe 30 secondes.
.
Cordialement,
L'équipe
EOF

# Without --approve nothing is queued.
ctl reply "$ticket" --text-file "$text" >/dev/null 2>&1 || fail "preview failed"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM outbox')" = 0 ] || fail "a preview queued a mail"

out=$(ctl reply "$ticket" --text-file "$text" --approve) || fail "reply --approve failed: $out"
id=$(echo "$out" | sed -n 's/^queued as outbox mail \([0-9]*\)$/\1/p')
[ -n "$id" ] || fail "no outbox id in: $out"
[ "$(outbox_field "$id" status)" = queued ] || fail "not queued"

ctl outbox send >"$WORK/send.out" || fail "outbox send failed: $(cat "$WORK/send.out")"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "the sink did not receive exactly one mail"
[ "$(outbox_field "$id" status)" = sent ] || fail "not marked sent"
msgid=$(outbox_field "$id" message_id)

/usr/bin/python3 - "$SINK/mail/0001.eml" "$SINK/mail/0001.json" "$text" "$msgid" "$ticket" <<'EOF' || fail "received mail is wrong"
import email, email.policy, json, sys
raw = open(sys.argv[1], "rb").read()
env = json.load(open(sys.argv[2]))
text = open(sys.argv[3], encoding="utf-8").read()
msgid, ticket = sys.argv[4], sys.argv[5]
m = email.message_from_bytes(raw, policy=email.policy.default)
def check(cond, what):
    if not cond:
        print("mismatch:", what, file=sys.stderr)
        sys.exit(1)
check(env["mail_from"] == "support@example.test", "envelope sender %r" % env["mail_from"])
check(env["rcpt_tos"] == ["claire@example.test"], "envelope recipients %r" % env["rcpt_tos"])
check(m["From"].addresses[0].display_name == "Équipe Support", "From name %r" % str(m["From"]))
check(m["From"].addresses[0].addr_spec == "support@example.test", "From address")
check(m["To"].addresses[0].addr_spec == "claire@example.test", "To address")
check(m["To"].addresses[0].display_name == "Claire Dupré", "To name %r" % str(m["To"]))
check(str(m["Subject"]) == "Re: Ma lampe ne s'allume plus [#%s]" % ticket, "Subject %r" % str(m["Subject"]))
check(m["Message-ID"] == "<%s>" % msgid, "Message-ID %r vs %r" % (m["Message-ID"], msgid))
check(msgid.endswith("@example.test"), "Message-ID domain")
check(m["In-Reply-To"] == "<cust-2@example.test>", "In-Reply-To %r" % m["In-Reply-To"])
check(m["References"].split() == ["<cust-1@example.test>", "<cust-2@example.test>"], "References %r" % m["References"])
check(m["Auto-Submitted"] is None, "a reply is not auto-submitted")
check(m["MIME-Version"] == "1.0", "MIME-Version")
check(m.get_content_type() == "text/plain", "content type")
check(m.get_content_charset() == "utf-8", "charset")
check(m["Content-Transfer-Encoding"] == "quoted-printable", "transfer encoding")
check(m["Date"] is not None and m["Date"].datetime is not None, "Date")
body = m.get_content()
check(body.replace("\r\n", "\n") == text, "decoded body:\n%r\n%r" % (body, text))
for line in raw.split(b"\r\n"):
    check(len(line) <= 78, "line too long: %r" % line)
    check(all(b < 128 for b in line), "8-bit byte in %r" % line)
EOF

# The reply is in the ticket's thread, with its Message-ID, so that the
# customer's answer threads back; first response and pending are set.
[ "$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE ticket_id = $ticket AND direction = 'out' AND message_id = '$msgid'")" = 1 ] ||
	fail "the sent reply is not in the thread"
[ "$(sqlite3 "$DB" "SELECT status FROM tickets WHERE id = $ticket")" = pending ] || fail "ticket not pending"
[ -n "$(sqlite3 "$DB" "SELECT first_response_at FROM tickets WHERE id = $ticket")" ] || fail "no first response time"
agent=$(sqlite3 "$DB" "SELECT actor FROM events WHERE ticket_id = $ticket AND kind = 'reply_approved'")
case "$agent" in cli:?*) ;; *) fail "approval event names no agent: '$agent'" ;; esac
[ "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE ticket_id = $ticket AND kind = 'reply_sent'")" = 1 ] ||
	fail "no reply_sent event"

# Sending again sends nothing.
ctl outbox send >/dev/null || fail "second send failed"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "the reply was sent twice"

# An edited reply: $EDITOR changes the text; the ticket gets the status asked for.
cat >"$WORK/editor.sh" <<'EOF'
#!/bin/sh
[ "$(stat -c %a "$1")" = 600 ] || exit 3
printf 'PS : une lampe de remplacement part demain.\n' >>"$1"
EOF
chmod +x "$WORK/editor.sh"
printf 'Merci pour votre patience.\n' >"$WORK/short.txt"
EDITOR=$WORK/editor.sh ctl reply "$ticket" --text-file "$WORK/short.txt" --edit --approve \
	--status resolved --as agent:alice@example.test >"$WORK/edit.out" ||
	fail "edited reply failed: $(cat "$WORK/edit.out")"
grep -q "PS : une lampe" "$WORK/edit.out" || fail "the final text was not shown"
ctl outbox send >/dev/null || fail "third send failed"
[ "$(smtp_sink_count "$SINK")" = 2 ] || fail "the edited reply was not sent"
/usr/bin/python3 - "$SINK/mail/0002.eml" "$msgid" <<'EOF' || fail "edited mail is wrong"
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
assert m.get_content().replace("\r\n", "\n") == "Merci pour votre patience.\nPS : une lampe de remplacement part demain.\n", repr(m.get_content())
# Still answering the customer's last message, not our own reply.
assert m["In-Reply-To"] == "<cust-2@example.test>", m["In-Reply-To"]
EOF
[ "$(sqlite3 "$DB" "SELECT status FROM tickets WHERE id = $ticket")" = resolved ] || fail "status not applied"
[ "$(sqlite3 "$DB" "SELECT actor FROM events WHERE ticket_id = $ticket AND kind = 'reply_approved' ORDER BY id DESC LIMIT 1")" = agent:alice@example.test ] ||
	fail "the approval does not name alice"

# Suggestions: preview, approve as drafted, reject with a reason.
outbox_seed_suggestion "$ticket" 1 "Bonjour Claire,
Voici la procédure de réinitialisation de la lampe."
outbox_seed_suggestion "$ticket" 2 "Un brouillon hors sujet."
ctl reply "$ticket" --suggestion 1 >"$WORK/sug.out" 2>/dev/null || fail "suggestion preview failed"
grep -q "procédure de réinitialisation" "$WORK/sug.out" || fail "the draft was not shown"
before=$(sqlite3 "$DB" 'SELECT count(*) FROM outbox')
ctl reply "$ticket" --suggestion 1 --approve --as agent:bob@example.test >/dev/null || fail "approving suggestion 1 failed"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM outbox')" = $((before + 1)) ] || fail "the approved draft was not queued"
[ "$(sqlite3 "$DB" "SELECT status || ' ' || decided_by || ' ' || edit_ratio FROM suggestions WHERE ticket_id = $ticket AND rank = 1")" = "approved bob@example.test 0.0" ] ||
	fail "approval not recorded: $(sqlite3 "$DB" "SELECT * FROM suggestions WHERE rank = 1")"
ctl reply "$ticket" --suggestion 1 --approve >/dev/null 2>&1
[ $? = 65 ] || fail "a decided suggestion was approved twice"
ctl reply "$ticket" --suggestion 9 >/dev/null 2>&1
[ $? = 66 ] || fail "an unknown suggestion did not exit 66"
ctl reply "$ticket" --reject 2 >/dev/null 2>&1 && fail "reject without a reason accepted"
ctl reply "$ticket" --reject 2 --reason "article sur le mauvais modèle" >/dev/null || fail "reject failed"
[ "$(sqlite3 "$DB" "SELECT json_extract(detail, '$.reason') FROM events WHERE kind = 'suggestion_rejected'")" = "article sur le mauvais modèle" ] ||
	fail "rejection not audited"
[ "$(sqlite3 "$DB" "SELECT status FROM suggestions WHERE ticket_id = $ticket AND rank = 2")" = rejected ] ||
	fail "rejection not recorded on the suggestion"
# Reply to all: the people the customer wrote to and copied are copied, in the
# Cc header and as envelope recipients; not the customer twice, not us.
t2=$(outbox_seed_ticket "Devis pour l'atelier" paul@client.example "Paul Durand" \
	cust-10@client.example "") || fail "seed 2"
sqlite3 "$DB" "UPDATE messages SET to_addrs = 'support@example.test, achats@client.example',
	cc_addrs = 'Paul@Client.example, direction@client.example' WHERE ticket_id = $t2" || fail "seed cc"
ctl outbox send >/dev/null || fail "outbox send (what was queued before) failed"
printf 'Bonjour à tous,\nle devis suit.\n' >"$WORK/all.txt"
ctl reply "$t2" --text-file "$WORK/all.txt" --all >/dev/null 2>&1 && fail "--all without --approve accepted"
ctl reply "$t2" --text-file "$WORK/all.txt" --approve --all >/dev/null || fail "reply --all failed"
n_before=$(smtp_sink_count "$SINK")
ctl outbox send >"$WORK/all.send" 2>&1 || fail "outbox send (reply to all) failed: $(cat "$WORK/all.send")"
[ "$(smtp_sink_count "$SINK")" = $((n_before + 1)) ] || fail "the reply to all was not received: $(cat "$WORK/all.send"; ctl outbox --json)"
last=$(ls "$SINK"/mail/*.json | sort | tail -n 1)
/usr/bin/python3 - "$last" "${last%.json}.eml" <<'PY' || fail "the reply to all is wrong"
import email, email.policy, json, sys
env = json.load(open(sys.argv[1]))
m = email.message_from_bytes(open(sys.argv[2], "rb").read(), policy=email.policy.default)
want = ["achats@client.example", "direction@client.example"]
if sorted(env["rcpt_tos"]) != sorted(["paul@client.example"] + want):
    sys.exit("envelope recipients %r" % env["rcpt_tos"])
if [a.addr_spec for a in m["Cc"].addresses] != want:
    sys.exit("Cc %r" % str(m["Cc"]))
if [a.addr_spec for a in m["To"].addresses] != ["paul@client.example"]:
    sys.exit("To %r" % str(m["To"]))
PY
[ "$(sqlite3 "$DB" "SELECT cc_addrs FROM messages WHERE ticket_id = $t2 AND direction = 'out'")" = \
	"achats@client.example, direction@client.example" ] || fail "the sent copy in the thread lacks its Cc"

# Unknown ticket: exit 66.
ctl reply 999 --text-file "$text" --approve >/dev/null 2>&1
[ $? = 66 ] || fail "unknown ticket did not exit 66"
echo "ok"
