# Retries: a reply queued while the SMTP server is down waits with backoff and
# goes out once the server is back; a server that keeps answering 451 makes
# the mail fail after max_attempts with its answer recorded; a 550 fails at
# once; an administrator can requeue a failed mail.
set -u
source "$SOURCE_DIR/tests/lib/outbox_env.sh"
outbox_env_init outbox-retry

# max_attempts 3, retry_seconds 2 (outbox_write_config).
outbox_write_config "smtp://127.0.0.1:$PORT" none
ticket=$(outbox_seed_ticket "Commande 1234 non reçue" paul@example.test "Paul" p1@example.test "") || fail "seed"
printf 'Votre commande est partie ce matin.\n' >"$WORK/r.txt"

epoch() {
	/usr/bin/python3 -c 'import sys, datetime; print(int(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' "$1"
}

# 1. Server down: the attempt fails, the mail waits retry_seconds (+ jitter).
id=$(ctl --json reply "$ticket" --text-file "$WORK/r.txt" --approve | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["outbox_id"])') ||
	fail "reply failed"
before=$(date +%s)
ctl outbox send >/dev/null 2>"$WORK/err1"
[ $? = 69 ] || fail "send to a dead server did not exit 69"
[ "$(outbox_field "$id" status)" = queued ] || fail "not queued after a failed attempt"
[ "$(outbox_field "$id" attempts)" = 1 ] || fail "attempts not 1"
outbox_field "$id" last_error | grep -qi "connect" || fail "no connection error recorded: $(outbox_field "$id" last_error)"
delay=$(($(epoch "$(outbox_field "$id" next_attempt)") - before))
[ "$delay" -ge 1 ] && [ "$delay" -le 4 ] || fail "first retry delay $delay s, expected about 2"

# Not due yet: another run does not try.
ctl outbox send >/dev/null 2>&1 || fail "a run with nothing due failed"
[ "$(outbox_field "$id" attempts)" = 1 ] || fail "tried before it was due"

# 2. The server comes back; once due, the mail goes out.
smtp_sink_start "$SINK" "$PORT" || fail "sink did not start"
sleep 3
ctl outbox send >/dev/null 2>&1 || fail "send after recovery failed"
[ "$(outbox_field "$id" status)" = sent ] || fail "not sent after the server came back"
[ "$(outbox_field "$id" attempts)" = 2 ] || fail "expected 2 attempts"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "sink count"

# 3. 451 every time: retried with a doubled delay, then failed with the answer.
smtp_sink_fail "$SINK" "451 4.3.0 Mailbox temporarily unavailable"
id2=$(ctl --json reply "$ticket" --text-file "$WORK/r.txt" --approve | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["outbox_id"])')
ctl outbox send >/dev/null 2>&1
[ "$(outbox_field "$id2" attempts)" = 1 ] || fail "451: attempts not 1"
sleep 3
before=$(date +%s)
ctl outbox send >/dev/null 2>&1
[ "$(outbox_field "$id2" attempts)" = 2 ] || fail "451: attempts not 2"
[ "$(outbox_field "$id2" status)" = queued ] || fail "451: gave up too early"
delay=$(($(epoch "$(outbox_field "$id2" next_attempt)") - before))
[ "$delay" -ge 3 ] && [ "$delay" -le 6 ] || fail "second retry delay $delay s, expected about 4"
ctl outbox send --all >/dev/null 2>&1
[ $? = 69 ] || fail "a failed mail did not make send exit 69"
[ "$(outbox_field "$id2" status)" = failed ] || fail "not failed after max_attempts"
[ "$(outbox_field "$id2" attempts)" = 3 ] || fail "expected 3 attempts"
outbox_field "$id2" last_error | grep -q "451 4.3.0 Mailbox temporarily unavailable" ||
	fail "server answer not recorded: $(outbox_field "$id2" last_error)"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE kind = 'outbox_failed' AND json_extract(detail, '\$.outbox_id') = $id2")" = 1 ] ||
	fail "no outbox_failed event"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "a refused mail was counted as received"

# 4. A permanent refusal fails at the first attempt.
smtp_sink_fail "$SINK" "550 5.7.1 Relaying denied"
id3=$(ctl --json reply "$ticket" --text-file "$WORK/r.txt" --approve | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["outbox_id"])')
ctl outbox send >/dev/null 2>&1
[ "$(outbox_field "$id3" status)" = failed ] || fail "550 not failed at once"
[ "$(outbox_field "$id3" attempts)" = 1 ] || fail "550 retried"
outbox_field "$id3" last_error | grep -q "550 5.7.1 Relaying denied" || fail "550 answer not recorded"

# 5. Requeued by an administrator, it goes out.
smtp_sink_recover "$SINK"
ctl outbox requeue "$id" >/dev/null 2>&1 && fail "requeue of a sent mail accepted"
ctl outbox requeue "$id2" >/dev/null || fail "requeue failed"
ctl outbox send >/dev/null 2>&1 || fail "send after requeue failed"
[ "$(outbox_field "$id2" status)" = sent ] || fail "requeued mail not sent"
[ "$(smtp_sink_count "$SINK")" = 2 ] || fail "sink count after requeue"
echo ok
