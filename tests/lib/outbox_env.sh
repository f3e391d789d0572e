# Shared setup of the outbox integration tests: a work directory with a
# configuration, a database holding one ticket with an incoming message, and
# helpers to read the outbox. Source it after setting BUILD_DIR and SOURCE_DIR.
#
#   outbox_env_init NAME          makes $WORK (removed at exit), $CONFIG, $DB, $SINK, $PORT
#   outbox_write_config URL TLS [EXTRA_JSON]   smtp section (EXTRA_JSON: more keys, with leading comma)
#   outbox_seed_ticket SUBJECT ADDR NAME MSGID REFS   prints the new ticket's id
#   outbox_seed_suggestion TICKET RANK DRAFT   a proposed suggestion with that draft
#   outbox_field ID FIELD         a field of `triagectl outbox --json` for mail ID
#   ctl ARGS...                   runs triagectl with $CONFIG
#   fail MESSAGE                  prints and exits 1

_OUTBOX_ENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=smtp_sink.sh
source "$_OUTBOX_ENV_DIR/smtp_sink.sh"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ctl() {
	"$BUILD_DIR/triagectl" -c "$CONFIG" "$@"
}

_outbox_env_cleanup() {
	smtp_sink_stop "$SINK"
	if [ -n "${KEEP_WORK:-}" ]; then
		echo "work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}

outbox_env_init() {
	: "${BUILD_DIR:?BUILD_DIR not set}" "${SOURCE_DIR:?SOURCE_DIR not set}"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/triaged-$1.XXXXXX")
	CONFIG=$WORK/triaged.json
	DB=$WORK/triaged.db
	SINK=$WORK/sink
	mkdir -p "$SINK" "$WORK/templates"
	PORT=$(free_port)
	trap _outbox_env_cleanup EXIT
}

outbox_write_config() {
	local url=$1 tls=$2 extra=${3:-}
	cat >"$CONFIG" <<EOF
{
  "database": "$DB",
  "data_dir": "$SOURCE_DIR/conf",
  "queues": [{"name": "support"}],
  "kb": {"templates_dir": "$WORK/templates"},
  "smtp": {
    "url": "$url",
    "tls": "$tls",
    "from": "Équipe Support <support@example.test>",
    "max_attempts": 3,
    "retry_seconds": 2,
    "timeout_seconds": 10,
    "ack_per_sender_seconds": 3600$extra
  }
}
EOF
}

_sql_quote() {
	printf "'%s'" "${1//\'/\'\'}"
}

outbox_seed_ticket() {
	local subject=$1 addr=$2 name=$3 msgid=$4 refs=$5 now
	now=$(date +%s)
	ctl init >/dev/null || fail "triagectl init"
	sqlite3 "$DB" <<EOF || fail "seeding the ticket"
INSERT INTO tickets (subject, requester, requester_name, queue, status, created, updated)
  VALUES ($(_sql_quote "$subject"), $(_sql_quote "$addr"), $(_sql_quote "$name"), 'support', 'open', $now, $now);
INSERT INTO messages (ticket_id, direction, message_id, dedupe_key, refs, from_addr, from_name,
  subject, date, received, body_text, new_text)
  VALUES (last_insert_rowid(), 'in', $(_sql_quote "$msgid"), $(_sql_quote "$msgid"), $(_sql_quote "$refs"),
  $(_sql_quote "$addr"), $(_sql_quote "$name"), $(_sql_quote "$subject"), $now, $now, 'Bonjour', 'Bonjour');
INSERT INTO messages_fts (rowid, subject, new_text) SELECT id, subject, new_text FROM messages
  WHERE id = last_insert_rowid();
EOF
	sqlite3 "$DB" "SELECT max(id) FROM tickets"
}

outbox_seed_suggestion() {
	sqlite3 "$DB" "INSERT INTO suggestions (ticket_id, rank, kind, ref, title, score, draft, language, created)
		VALUES ($1, $2, 'ticket', 'seed-$2', 'seeded', 1.0, $(_sql_quote "$3"), 'fr', $(date +%s))" ||
		fail "seeding suggestion $2"
}

outbox_field() {
	local id=$1 field=$2
	ctl outbox --json | /usr/bin/python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["id"] == int(sys.argv[1])]
v = rows[0][sys.argv[2]] if rows else "(no such mail)"
print("" if v is None else v)' "$id" "$field"
}
