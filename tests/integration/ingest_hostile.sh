#!/usr/bin/env bash
# Hostile mail through the whole ingestion (parse, store, triage, rules,
# suggestions): truncated MIME, a 10 MB single-line body, 1000-level nesting,
# invalid charsets and encodings, NUL bytes, binary noise, an empty header
# block. Each must end as a ticket (or a quarantined one), never a crash, a
# hang or a lost mail. Run in both builds, so also under ASan and UBSan.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
work=$(mktemp -d /tmp/test-hostile.XXXXXX)
trap 'rm -rf "$work"' EXIT

cat >"$work/triaged.json" <<EOF
{ "database": "$work/triaged.db", "data_dir": "$SOURCE_DIR/conf",
  "queues": ["support", "billing", "technical", "account", "delivery", "sales", "complaint", "feedback"] }
EOF

/usr/bin/python3 - "$work/mails" <<'PY'
import os, sys
d = sys.argv[1]
os.makedirs(d)
def put(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
hdr = b"From: a@example.com\r\nTo: support@example.test\r\nSubject: hostile\r\n"
put("01-truncated-mime", hdr + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\nstart of a part that never clo")
put("02-header-cut", b"From: a@example.com\r\nSubject: cut in the midd")
put("03-10mb-line", hdr + b"Message-ID: <big@example.com>\r\n\r\n" + b"x" * (10 * 1024 * 1024))
nest = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(1000))
put("04-nesting-1000", hdr + b"MIME-Version: 1.0\r\n" + nest + b"Content-Type: text/plain\r\n\r\ndeep\r\n")
put("05-bad-charset", hdr + b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nfactur\xe9 \xff\xfe r\xe9ponse\r\n")
put("06-bad-base64", hdr + b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!****====ab\r\nc===\r\n")
put("07-bad-qp", hdr + b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=4=\r\n=C3=\r\n")
put("08-nul-bytes", hdr + b"\r\nhello\x00world\x00\x00 facture\r\n")
put("09-binary-noise", bytes((i * 7919 + 13) % 256 for i in range(65536)))
put("10-empty", b"\r\n\r\n")
put("11-bad-encoded-words", b"From: =?utf-8?B?!!!?= <a@example.com>\r\nSubject: =?x-unknown?Q?=FF=FE?= =?utf-8?B?w6k?=\r\n\r\nbody\r\n")
put("12-many-headers", b"".join(b"X-H%d: v\r\n" % i for i in range(100000)) + b"\r\nbody\r\n")
PY

count=0
for f in "$work"/mails/*; do
	count=$((count + 1))
	start=$(date +%s)
	if ! ticket=$(timeout 120 "$BUILD_DIR/triagectl" -c "$work/triaged.json" ingest <"$f" 2>"$work/err"); then
		echo "FAIL: $(basename "$f"): triagectl ingest failed: $(cat "$work/err")" >&2
		exit 1
	fi
	case "$ticket" in '' | *[!0-9]*)
		echo "FAIL: $(basename "$f"): no ticket number: $ticket" >&2
		exit 1
		;;
	esac
	echo "ok $count - $(basename "$f") -> ticket $ticket in $(($(date +%s) - start)) s"
done
stored=$(sqlite3 "$work/triaged.db" "SELECT count(*) FROM messages")
[ "$stored" -eq "$count" ] || { echo "FAIL: $stored messages stored for $count mails" >&2; exit 1; }
# The raw bytes of every mail are kept, even the unreadable ones.
raw_ok=$(sqlite3 "$work/triaged.db" "SELECT count(*) FROM messages WHERE length(raw) > 0")
[ "$raw_ok" -eq "$count" ] || { echo "FAIL: only $raw_ok mails kept their raw bytes" >&2; exit 1; }
echo "$((count + 1)) passed, 0 failed"
