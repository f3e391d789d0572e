# triagectl classify, sentiment, recategorize and model train|predict|eval
# end to end: raw mails written from the labelled category seeds, the shipped
# samples, exit codes of bad input.
set -u
work=$(mktemp -d /tmp/model_cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
export TRIAGED_DATA_DIR="$SOURCE_DIR/conf"
unset TRIAGED_CONFIG
tc() { "$BUILD_DIR/triagectl" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
py=/usr/bin/python3

# Raw mails from conf/training/categories.tsv (label, lang, subject, body).
mkdir "$work/mails"
$py - "$SOURCE_DIR/conf/training/categories.tsv" "$work" <<'PY'
import sys
src, work = sys.argv[1], sys.argv[2]
with open(src) as f, open(work + "/labels.tsv", "w") as out:
    i = 0
    for line in f:
        if not line.strip() or line.startswith("#"):
            continue
        label, lang, subject, body = line.rstrip("\n").split("\t")
        i += 1
        name = f"mails/{i:04d}.eml"
        with open(f"{work}/{name}", "w") as m:
            m.write(f"From: c{i}@example.com\nTo: support@example.test\n"
                    f"Subject: {subject}\nMessage-ID: <{i}@example.com>\n"
                    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
                    + body.replace("\\n", "\n") + "\n")
        out.write(f"{name}\t{label}\n")
PY
n=$(wc -l <"$work/labels.tsv")
[ "$n" -gt 300 ] || fail "only $n labelled mails"

# train: relative paths from the TSV's folder, run from elsewhere
(cd / && tc model train --model "$work/cat.nb" --tsv "$work/labels.tsv" 2>"$work/train.err") ||
	fail "train: $(cat "$work/train.err")"
[ -s "$work/cat.nb" ] || fail "no model file"
grep -q "$n mails (0 skipped)" "$work/train.err" || fail "train report: $(cat "$work/train.err")"

# predict: one line per input, path, label, confidence in [0,1]; the label
# column is ignored (here: absent on half the lines)
awk -F'\t' 'NR % 2 { print $1; next } { print $1 "\tignored" }' "$work/labels.tsv" >"$work/list.tsv"
tc model predict --model "$work/cat.nb" --tsv "$work/list.tsv" >"$work/pred.tsv" 2>/dev/null ||
	fail "predict"
[ "$(wc -l <"$work/pred.tsv")" -eq "$n" ] || fail "predict: $(wc -l <"$work/pred.tsv") lines for $n"
paste "$work/labels.tsv" "$work/pred.tsv" | awk -F'\t' '
	$1 != $3 || NF != 5 || $5 < 0 || $5 > 1 { bad++ }
	$2 == $4 { ok++ }
	END { if (bad) { print "malformed lines: " bad; exit 1 }
	      if (ok / NR < 0.95) { print "training accuracy " ok / NR; exit 1 } }' ||
	fail "predict output"

# eval: cross-validated figures that add up
tc model eval --tsv "$work/labels.tsv" --folds 5 --json >"$work/eval.json" 2>/dev/null || fail "eval"
$py - "$work/eval.json" "$n" <<'PY' || fail "eval json"
import json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2])
assert d["mails"] == n and d["folds"] == 5, d
assert len(d["labels"]) == 7, d["labels"]
assert sum(map(sum, d["confusion"])) == n
correct = sum(d["confusion"][i][i] for i in range(7))
assert abs(correct / n - d["accuracy"]) < 1e-3
assert 0.6 < d["accuracy"] < 1.0, d["accuracy"]   # held out: not perfect
assert 0 < d["macro_f1"] <= 1
PY
tc model eval --tsv "$work/labels.tsv" --folds 3 2>/dev/null | grep -q "^macro-F1" || fail "eval text"

# thick-threshold training: mails near the boundary trained again, so the
# counts differ and the training mails are classified at least as well
tc model train --passes 10 --model "$work/thick.nb" --tsv "$work/labels.tsv" 2>/dev/null ||
	fail "train --passes"
cmp -s "$work/cat.nb" "$work/thick.nb" && fail "--passes changed nothing"
train_ok() {
	tc model predict --model "$1" --tsv "$work/labels.tsv" 2>/dev/null |
		paste "$work/labels.tsv" - | awk -F'\t' '$2 == $4 { ok++ } END { print ok + 0 }'
}
[ "$(train_ok "$work/thick.nb")" -ge "$(train_ok "$work/cat.nb")" ] ||
	fail "thick training classifies its own mails worse"
tc model train --margin 0.5 --model "$work/x.nb" --tsv "$work/labels.tsv" 2>/dev/null
[ $? -eq 64 ] || fail "--margin 0.5 not refused with 64"

# the model file keeps the feature options it was trained with: predict
# reads mail the same way without being told, and refuses other options
tc model train --features whole-text,bigrams --model "$work/wb.nb" --tsv "$work/labels.tsv" \
	2>/dev/null || fail "train --features"
tc model predict --model "$work/wb.nb" --tsv "$work/labels.tsv" >"$work/wb1.tsv" 2>/dev/null ||
	fail "predict with the recorded options"
tc model predict --task category --features whole-text,bigrams --model "$work/wb.nb" \
	--tsv "$work/labels.tsv" >"$work/wb2.tsv" 2>/dev/null || fail "predict with the same options"
cmp -s "$work/wb1.tsv" "$work/wb2.tsv" || fail "recorded options read differently"
tc model predict --features new-text --model "$work/wb.nb" --tsv "$work/labels.tsv" \
	>/dev/null 2>"$work/wb.err"
[ $? -eq 64 ] || fail "other feature options not refused with 64"
grep -q -- "--features stem,no-stopwords,whole-text,bigrams" "$work/wb.err" ||
	fail "the refusal does not say the recorded options: $(cat "$work/wb.err")"

# bad input
printf 'mails/0001.eml\n' >"$work/nolabel.tsv"
tc model train --model "$work/x.nb" --tsv "$work/nolabel.tsv" 2>/dev/null
[ $? -eq 65 ] || fail "missing label not refused with 65"
tc model eval --tsv "$work/labels.tsv" --folds 1 2>/dev/null
[ $? -eq 64 ] || fail "--folds 1 not refused with 64"

# sentiment: one answer per line, language guessed per line
printf '%s\n' "C'est INADMISSIBLE !!! Je suis très déçu, c'est scandaleux." \
	"Thank you so much, the lamp is gorgeous and your team was great!" \
	"The parcel number is 12345." >"$work/texts.txt"
tc sentiment <"$work/texts.txt" >"$work/senti.txt" || fail "sentiment"
[ "$(wc -l <"$work/senti.txt")" -eq 3 ] || fail "sentiment lines"
[ "$(cut -f2 "$work/senti.txt" | tr '\n' ' ')" = "negative positive neutral " ] ||
	fail "sentiment labels: $(cat "$work/senti.txt")"
tc sentiment --json --lang en <"$work/texts.txt" | $py -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 3 and all({"score", "label", "words"} <= r.keys() for r in rows)
assert rows[1]["label"] == "positive" and rows[1]["words"], rows[1]
assert all(r["lang"] == "en" for r in rows)' || fail "sentiment --json"

# classify: the crypto sample is spam, the GDPR request is not; nothing stored
db="$work/t.db"
tc --db "$db" classify --json <"$SOURCE_DIR/conf/samples/19-spam-crypto-en.eml" 2>/dev/null |
	$py -c 'import json,sys; d=json.load(sys.stdin); assert d["spam"]["spam"] and d["spam"]["probability"] >= 0.9, d["spam"]' ||
	fail "classify spam"
tc --db "$db" classify --json <"$SOURCE_DIR/conf/samples/23-account-gdpr-en.eml" 2>/dev/null |
	$py -c 'import json,sys; d=json.load(sys.stdin); assert not d["spam"]["spam"] and d["category"]["label"] == "account" and d["language"]["code"] == "en", d' ||
	fail "classify ham"
tc --db "$db" classify <"$SOURCE_DIR/conf/samples/20-angry-caps-fr.eml" 2>/dev/null | grep -q "^sentiment: negative" ||
	fail "classify text"
[ "$(tc --db "$db" stats --json 2>/dev/null | $py -c 'import json,sys; print(json.load(sys.stdin)["tickets"])')" = 0 ] ||
	fail "classify stored a ticket"

# recategorize: ticket 1 from a sample, corrected, audited
tc --db "$db" ingest <"$SOURCE_DIR/conf/samples/03-base64-en.eml" >/dev/null 2>&1 || fail "ingest"
tc --db "$db" recategorize --agent agent:ann@example.com 1 billing >"$work/recat.txt" 2>&1 ||
	fail "recategorize: $(cat "$work/recat.txt")"
grep -q -- "-> billing" "$work/recat.txt" || fail "recategorize output: $(cat "$work/recat.txt")"
tc --db "$db" show 1 --json 2>/dev/null | $py -c '
import json, sys
d = json.load(sys.stdin)
t = d.get("ticket", d)
assert t["category"] == "billing", t["category"]
ev = [e for e in d["events"] if e["kind"] == "category.corrected"]
assert len(ev) == 1 and ev[0]["actor"] == "agent:ann@example.com", ev' || fail "recategorize stored"
tc --db "$db" recategorize 99 billing 2>/dev/null
[ $? -eq 66 ] || fail "unknown ticket not 66"
tc --db "$db" recategorize 1 no-such-category 2>/dev/null
[ $? -eq 1 ] || fail "unknown category not refused"
echo ok
