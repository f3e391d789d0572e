# SMTP over STARTTLS with authentication: verified against the test CA given
# as tls_ca_file it works; without it the certificate is refused and nothing
# is sent; plain text is never used unless the configuration says "none"; the
# password shows up nowhere.
set -u
source "$SOURCE_DIR/tests/lib/outbox_env.sh"
outbox_env_init outbox-tls

password="s3cret-Pa55-$$"
smtp_sink_start "$SINK" "$PORT" tls --require-tls --auth-user mailer --auth-password "$password" ||
	fail "sink did not start"
printf '%s\n' "$password" >"$WORK/smtp.password"
chmod 600 "$WORK/smtp.password"
auth=',
    "user": "mailer", "password_file": "'"$WORK"'/smtp.password"'

outbox_write_config "smtp://localhost:$PORT" starttls "$auth"
ticket=$(outbox_seed_ticket "Accès au compte" lea@example.test "Léa" l1@example.test "") || fail "seed"
printf 'Votre mot de passe a été réinitialisé.\n' >"$WORK/r.txt"
queue_reply() {
	ctl --json reply "$ticket" --text-file "$WORK/r.txt" --approve |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["outbox_id"])'
}

# 1. No tls_ca_file: the self-signed test CA is not trusted, nothing is sent.
id=$(queue_reply) || fail "reply failed"
ctl outbox send >"$WORK/out1" 2>"$WORK/err1"
[ $? = 69 ] || fail "untrusted certificate: send did not exit 69"
[ "$(smtp_sink_count "$SINK")" = 0 ] || fail "sent over an unverified connection"
outbox_field "$id" last_error | grep -qiE "certificate|SSL|TLS" ||
	fail "no certificate error recorded: $(outbox_field "$id" last_error)"
[ "$(outbox_field "$id" status)" = queued ] || fail "should wait for a retry"

# 2. tls "none" against a server that requires STARTTLS: refused, no plain
# text fallback the other way either (USE_SSL is not requested, so the
# server's 530 is what the outbox records).
outbox_write_config "smtp://localhost:$PORT" none "$auth"
ctl outbox send --all >/dev/null 2>"$WORK/err2"
[ "$(smtp_sink_count "$SINK")" = 0 ] || fail "sent in plain text"
outbox_field "$id" last_error | grep -q "530 Must issue a STARTTLS" ||
	fail "the server's refusal was not recorded: $(outbox_field "$id" last_error)"
[ "$(outbox_field "$id" status)" = queued ] || fail "a policy refusal (530) should be retried"

# 3. With the CA: verified STARTTLS, AUTH, delivered.
outbox_write_config "smtp://localhost:$PORT" starttls "$auth"
/usr/bin/python3 - "$CONFIG" "$SINK/ca.pem" <<'EOF' || fail "config edit"
import json, sys
c = json.load(open(sys.argv[1]))
c["smtp"]["tls_ca_file"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF
ctl outbox send --all >"$WORK/out3" 2>"$WORK/err3" || fail "send with the CA failed: $(cat "$WORK/err3")"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "not delivered over verified STARTTLS"
[ "$(outbox_field "$id" status)" = sent ] || fail "not marked sent"
/usr/bin/python3 - "$SINK/mail/0001.json" <<'EOF' || fail "envelope: $(cat "$SINK/mail/0001.json")"
import json, sys
e = json.load(open(sys.argv[1]))
assert e["tls"] is True and e["auth_user"] == "mailer", e
EOF

# 4. A wrong password is refused (the mail waits) and appears nowhere.
printf 'wrong-%s\n' "$password" >"$WORK/smtp.password"
id2=$(queue_reply) || fail "reply failed"
ctl outbox send >"$WORK/out4" 2>"$WORK/err4"
[ $? = 69 ] || fail "wrong password: send did not exit 69"
[ "$(outbox_field "$id2" status)" = queued ] || fail "a refused login should be retried"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "sent with a wrong password"

for f in "$WORK"/out* "$WORK"/err* "$DB" "$DB-wal"; do
	[ -e "$f" ] || continue
	if grep -qa -- "$password" "$f"; then
		fail "the password appears in $f"
	fi
done
ctl outbox --json | grep -q -- "$password" && fail "the password appears in the listing"
echo ok
