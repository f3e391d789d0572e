#!/usr/bin/env bash
# Privacy requests end to end, with tickets made by `triagectl ingest`: the
# export is valid JSON with the person's tickets, messages, triage and
# events; the dry run changes nothing; after `privacy erase --yes` neither a
# dump of the whole database (FTS shadow tables included) nor the database
# file or its WAL hold the address or a sentence of the person's mail, the
# classifier forgot the correction learned from their ticket, and the other
# customers' tickets are intact; the retention purge on a controlled clock.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"

work=$(mktemp -d /tmp/test-privacy.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
passed=0
ok() {
	passed=$((passed + 1))
	echo "ok $passed - $*"
}

db="$work/triaged.db"
cat >"$work/triaged.json" <<EOF
{
  "database": "$db",
  "data_dir": "$SOURCE_DIR/conf",
  "queues": ["support", "triage", "billing", "technical", "account", "delivery", "sales",
             "complaint", "feedback"],
  "privacy": { "retention_days": 30, "controller": "Atelier Test SARL",
               "contact": "dpo@atelier-test.example" }
}
EOF
ctl() { "$BUILD_DIR/triagectl" -c "$work/triaged.json" "$@"; }
q() { sqlite3 "$db" "$@"; }

addr="Jeanne.Verdier@Example.NET"
lower="jeanne.verdier@example.net"
sentence="le lampadaire Zanzibarophone grésille dans ma véranda"
word="zanzibarophone"

# The shipped samples: other customers' tickets.
for f in "$SOURCE_DIR"/conf/samples/*.eml; do
	ctl ingest <"$f" >/dev/null 2>>"$work/ingest.log" || fail "ingest $f"
done
# Jeanne writes, then answers in the same thread; Paul sends a mail with her in Cc.
cat >"$work/j1.eml" <<EOF
From: Jeanne Verdier <$addr>
To: support@atelier-lumiere.test
Subject: Bruit de mon lampadaire
Message-ID: <j1.$$@example.net>
Date: Thu, 26 Nov 2026 10:00:00 +0100
Content-Type: text/plain; charset=UTF-8

Bonjour, $sentence depuis hier soir. Pouvez-vous m'aider ?
Jeanne Verdier
EOF
cat >"$work/j2.eml" <<EOF
From: Jeanne Verdier <$addr>
To: support@atelier-lumiere.test
Subject: Re: Bruit de mon lampadaire
Message-ID: <j2.$$@example.net>
In-Reply-To: <j1.$$@example.net>
References: <j1.$$@example.net>
Date: Thu, 26 Nov 2026 11:00:00 +0100
Content-Type: text/plain; charset=UTF-8

J'ajoute une photo : le $word est neuf, acheté le mois dernier.
EOF
cat >"$work/p1.eml" <<EOF
From: Paul Girard <paul.girard@example.org>
To: support@atelier-lumiere.test
Cc: $addr
Subject: Lampe de bureau en panne
Message-ID: <p1.$$@example.org>
Date: Thu, 26 Nov 2026 12:00:00 +0100
Content-Type: text/plain; charset=UTF-8

Bonjour, ma lampe de bureau ne s'allume plus. Ma voisine $lower a le même souci.
Paul
EOF
jt=$(ctl ingest <"$work/j1.eml" 2>>"$work/ingest.log")
[ "$(ctl ingest <"$work/j2.eml" 2>>"$work/ingest.log")" = "$jt" ] || fail "the reply did not join ticket $jt"
pt=$(ctl ingest <"$work/p1.eml" 2>>"$work/ingest.log")
# An agent's correction: the model learns from Jeanne's ticket.
billing_docs() { q "SELECT coalesce(sum(docs), 0) FROM nb_labels WHERE model = 'category' AND label = 'billing'"; }
docs_before=$(billing_docs)
ctl recategorize "$jt" billing >/dev/null 2>&1 || fail "recategorize $jt"
[ "$(billing_docs)" != "$docs_before" ] || fail "the correction taught the model nothing"
[ "$(q "SELECT count(*) FROM training WHERE ticket_id = $jt")" -eq 1 ] || fail "no training row for $jt"
tickets=$(q "SELECT count(*) FROM tickets")
ok "$tickets tickets ingested; Jeanne's is $jt, Paul's $pt"

# 1. Export: valid JSON with what is held about her.
ctl privacy export "$addr" -o "$work/export.json" || fail "privacy export"
[ "$(stat -c %a "$work/export.json")" = 600 ] || fail "the export file is not mode 0600"
/usr/bin/python3 - "$work/export.json" "$jt" "$pt" "$lower" "$sentence" <<'EOF' || fail "export content"
import json, sys
path, jt, pt, addr, sentence = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
d = json.load(open(path))
assert d["address"] == addr, d["address"]
assert d["controller"] == "Atelier Test SARL"
assert [t["id"] for t in d["tickets"]] == [jt], [t["id"] for t in d["tickets"]]
t = d["tickets"][0]
assert t["requester"] == addr and t["category"] == "billing", t
assert len(t["messages"]) == 2, len(t["messages"])
assert sentence in t["messages"][0]["new_text"], t["messages"][0]["new_text"]
assert all(m["from_addr"] == addr and m["raw_bytes"] > 100 for m in t["messages"])
tasks = {r["task"] for r in t["triage"]}
assert {"language", "category", "sentiment"} <= tasks, tasks
assert all(r.get("explanation") for r in t["triage"] if r["task"] == "category")
kinds = [e["kind"] for e in t["events"]]
assert "ticket.created" in kinds and "message.added" in kinds, kinds
assert any(isinstance(e.get("detail"), dict) and e["detail"].get("from") == addr for e in t["events"])
others = d["messages_in_other_tickets"]
assert [m["ticket_id"] for m in others] == [pt], others
assert "paul.girard@example.org" == others[0]["from_addr"]
print("export: %d ticket, %d messages, %d triage rows, %d events, %d message elsewhere"
      % (len(d["tickets"]), len(t["messages"]), len(t["triage"]), len(t["events"]), len(others)))
EOF
ok "export is valid JSON with her ticket, messages, triage, events and Paul's mail"

# 2. Dry run: counts, nothing changes.
sum_before=$(q .dump | sha256sum)
ctl --json privacy erase "$addr" >"$work/dry.json" || fail "dry run"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["counts"]
assert d["erased"] is False and c["tickets"] == 1 and c["messages"] == 2 and c["training"] == 1, d
' "$work/dry.json" || fail "dry run counts: $(cat "$work/dry.json")"
[ "$(q .dump | sha256sum)" = "$sum_before" ] || fail "the dry run changed the database"
ok "dry run: $(ctl privacy erase "$addr" | grep -E '^  (tickets|messages)' | tr -s ' ' | paste -sd,)"

# 3. Erase. Before: the traces are there (so that their absence means something).
traces() { # WHAT -> occurrences in the dump, the database file and its WAL
	local n=0 f
	n=$(q .dump | grep -aioF -- "$1" | wc -l)
	for f in "$db" "$db-wal"; do
		[ -f "$f" ] && n=$((n + $(grep -aioF -- "$1" "$f" | wc -l)))
	done
	echo "$n"
}
hex=$(printf '%s' "$lower" | od -An -tx1 | tr -d ' \n')
[ "$(traces "$lower")" -gt 0 ] || fail "the address is not in the database before the erasure"
[ "$(traces "$sentence")" -gt 0 ] || fail "the sentence is not in the database before the erasure"
[ "$(traces "$word")" -gt 0 ] || fail "the word is not in the database before the erasure"
# (grep -q on a pipe would end sqlite3 early: dump to a file first.)
q .dump >"$work/before.sql"
grep -qi "$hex" "$work/before.sql" || fail "the raw mail (hex in the dump) does not hold the address before"
vocab() { q "CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, messages_fts, row); SELECT count(*) FROM temp.v WHERE term = '$1'"; }
[ "$(vocab "$word")" -eq 1 ] || fail "the text index does not hold $word before"
others_before=$(q "SELECT id, from_addr, subject, new_text FROM messages WHERE ticket_id NOT IN ($jt, $pt) ORDER BY id" | sha256sum)
paul_before=$(q "SELECT count(*) FROM messages WHERE ticket_id = $pt")

ctl privacy erase "$addr" --yes >"$work/erase.out" 2>&1 || fail "erase: $(cat "$work/erase.out")"
for what in "$lower" "$sentence" "$word" "verdier" "grésille dans ma véranda"; do
	n=$(traces "$what")
	[ "$n" -eq 0 ] || fail "\"$what\" still found $n times after the erasure"
done
q .dump >"$work/after.sql"
grep -qi "$hex" "$work/after.sql" && fail "the address is still in a blob of the dump"
# The dump includes the FTS shadow tables; the index's own view agrees.
grep -q "messages_fts_data" "$work/after.sql" || fail "the dump holds no FTS shadow table"
[ "$(vocab "$word")" -eq 0 ] || fail "the text index still knows $word"
[ "$(vocab "grésille")" -eq 0 ] || [ "$(vocab gresille)" -eq 0 ] || fail "the text index still knows her words"
[ ! -s "$db-wal" ] || fail "the WAL was not truncated ($(stat -c %s "$db-wal") bytes)"
ok "no trace of the address, the sentence or her words in the dump, the file or the WAL"

# 4. What she taught the classifier is forgotten; the others are intact.
[ "$(billing_docs)" = "$docs_before" ] || fail "the model still counts her ticket ($(billing_docs) != $docs_before)"
[ "$(q "SELECT count(*) FROM training WHERE ticket_id = $jt")" -eq 0 ] || fail "training row left"
[ "$(q "SELECT count(*) FROM tickets")" -eq $((tickets - 1)) ] || fail "expected $((tickets - 1)) tickets"
[ "$(q "SELECT id, from_addr, subject, new_text FROM messages WHERE ticket_id NOT IN ($jt, $pt) ORDER BY id" | sha256sum)" = "$others_before" ] ||
	fail "other customers' messages changed"
[ "$(q "SELECT count(*) FROM messages WHERE ticket_id = $pt")" -eq "$paul_before" ] || fail "Paul's ticket lost a message"
q "SELECT new_text FROM messages WHERE ticket_id = $pt" | grep -q "Ma voisine \[erased\] a le même souci" ||
	fail "Paul's text does not have her address masked"
[ "$(ctl tickets --search "lampe" --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -ge 1 ] ||
	fail "the text search no longer finds other tickets"
ok "classifier counts back to $docs_before; $((tickets - 1)) other tickets intact, Paul's with her address masked"

# 5. The audit log: one event with the hash of the address, not the address.
hash=$(printf '%s' "$lower" | sha256sum | cut -d' ' -f1)
[ "$(q "SELECT count(*) FROM events WHERE kind = 'privacy.erased' AND json_extract(detail, '$.address_sha256') = '$hash' AND json_extract(detail, '$.counts.tickets') = 1")" -eq 1 ] ||
	fail "no privacy.erased event with the address hash"
[ "$(q "SELECT count(*) FROM events WHERE ticket_id = $jt")" -gt 0 ] || fail "her ticket's audit trail was dropped instead of scrubbed"
ok "audit: privacy.erased with sha256 ${hash:0:12}..., her ticket's events kept without her data"

# 6. Retention on a controlled clock: 30 days.
now=$(date +%s)
day=86400
t_old=$(q "SELECT id FROM tickets ORDER BY id LIMIT 1")
t_recent=$(q "SELECT id FROM tickets ORDER BY id LIMIT 1 OFFSET 1")
t_open=$(q "SELECT id FROM tickets ORDER BY id LIMIT 1 OFFSET 2")
q "UPDATE tickets SET status = 'resolved', resolved_at = $((now - 40 * day)) WHERE id = $t_old;
   UPDATE tickets SET status = 'closed', resolved_at = $((now - 10 * day)) WHERE id = $t_recent;
   UPDATE tickets SET status = 'open', created = $((now - 400 * day)) WHERE id = $t_open;"
old_subject=$(q "SELECT subject FROM messages WHERE ticket_id = $t_old LIMIT 1")
ctl --json privacy purge --now "$now" >"$work/purge.json" || fail "purge"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["counts"]["tickets"] == 1, d' "$work/purge.json" ||
	fail "purge counts: $(cat "$work/purge.json")"
[ "$(q "SELECT count(*) FROM tickets WHERE id = $t_old")" -eq 0 ] || fail "ticket $t_old resolved 40 days ago is still there"
[ "$(q "SELECT count(*) FROM tickets WHERE id IN ($t_recent, $t_open)")" -eq 2 ] || fail "a recent or open ticket was purged"
[ "$(q "SELECT count(*) FROM events WHERE kind = 'privacy.purged' AND at = $now")" -eq 1 ] || fail "no privacy.purged event"
# Twenty-one days later the closed one is past 30 days too.
ctl --json privacy purge --now $((now + 21 * day)) >"$work/purge2.json" || fail "second purge"
[ "$(q "SELECT count(*) FROM tickets WHERE id = $t_recent")" -eq 0 ] || fail "ticket $t_recent not purged 31 days after"
[ "$(q "SELECT count(*) FROM tickets WHERE id = $t_open")" -eq 1 ] || fail "the open ticket was purged"
ok "retention: resolved 40 days ago purged, 10 days ago kept then purged 21 days later, open kept (\"${old_subject:0:30}\")"

# 7. The register names the controller, the contact and the retention.
ctl privacy register >"$work/register.txt" || fail "register"
grep -q "Controller: Atelier Test SARL" "$work/register.txt" || fail "register: no controller"
grep -q "dpo@atelier-test.example" "$work/register.txt" || fail "register: no contact"
grep -q "30 days after their resolution" "$work/register.txt" || fail "register: no retention"
grep -q "$db" "$work/register.txt" || fail "register: no database path"
ok "register: $(wc -l <"$work/register.txt") lines"
echo "$passed passed, 0 failed"
