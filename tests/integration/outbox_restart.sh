# No double send across a stop mid-send: triagectl is killed while the
# server holds its answer to DATA (the server then accepts the mail). The
# mail left in `sending` is not sent again, neither while a sender could
# still be alive nor after, and is reported as interrupted.
set -u
source "$SOURCE_DIR/tests/lib/outbox_env.sh"
outbox_env_init outbox-restart

smtp_sink_start "$SINK" "$PORT" || fail "sink did not start"
outbox_write_config "smtp://127.0.0.1:$PORT" none
ticket=$(outbox_seed_ticket "Facture en double" marc@example.test "Marc" m1@example.test "") || fail "seed"
printf 'Nous avons annulé la seconde facture.\n' >"$WORK/r.txt"
out=$(ctl reply "$ticket" --text-file "$WORK/r.txt" --approve) || fail "reply failed"
id=${out##* }

# The server keeps the mail, then waits 3 s before answering DATA; the sender
# is killed meanwhile: the customer has the mail, the outbox never heard 250.
echo 3 >"$SINK/hold"
"$BUILD_DIR/triagectl" -c "$CONFIG" outbox send >/dev/null 2>&1 &
sender=$!
for _ in $(seq 1 100); do
	grep -q "DATA holding" "$SINK/sink.log" 2>/dev/null && break
	sleep 0.05
done
grep -q "DATA holding" "$SINK/sink.log" || fail "the send never reached DATA"
kill -KILL "$sender"
wait "$sender" 2>/dev/null
rm -f "$SINK/hold"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "the sink did not keep the held mail"
[ "$(outbox_field "$id" status)" = sending ] || fail "expected the mail left in sending"

# A sender started now must not resend it (it cannot tell whether the
# server accepted it), nor declare it lost while a send could still be live.
ctl outbox send >/dev/null 2>&1 || fail "send with a recent sending mail failed"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "the mail was sent twice"
[ "$(outbox_field "$id" status)" = sending ] || fail "a possibly live send was touched"

# Later (as if timeout_seconds + a margin had passed): reported, not resent.
sqlite3 "$DB" "UPDATE outbox SET claimed_at = claimed_at - 3600 WHERE id = $id" || fail "ageing"
ctl outbox send >"$WORK/out" 2>"$WORK/err"
[ $? = 69 ] || fail "an interrupted mail did not make send exit 69"
grep -q "interrupted 1" "$WORK/out" || fail "not reported: $(cat "$WORK/out")"
grep -q "interrupted during send" "$WORK/err" || fail "not logged: $(cat "$WORK/err")"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "the interrupted mail was resent"
[ "$(outbox_field "$id" status)" = failed ] || fail "interrupted mail not failed"
[ "$(outbox_field "$id" last_error)" = "interrupted during send; check before resending" ] ||
	fail "reason: $(outbox_field "$id" last_error)"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE ticket_id = $ticket AND kind = 'outbox_interrupted'")" = 1 ] ||
	fail "no outbox_interrupted event"
ctl outbox | grep -E "^$id +failed" >/dev/null || fail "listing does not show it failed"
ctl outbox send >/dev/null 2>&1 || fail "a later send failed"
[ "$(smtp_sink_count "$SINK")" = 1 ] || fail "sent again later"
echo ok
