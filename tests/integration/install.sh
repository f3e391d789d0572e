#!/usr/bin/env bash
# cmake --install into a DESTDIR: every file where it belongs, the shipped
# configuration valid against the installed data, the man pages render
# without warnings and document every triagectl command, the installed unit
# passes systemd-analyze verify, and the unit's sandbox rates 2.0 or lower.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"

work=$(mktemp -d /tmp/test-install.XXXXXX)
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

dest="$work/root"
DESTDIR="$dest" cmake --install "$BUILD_DIR" >"$work/install.log" 2>&1 ||
	fail "cmake --install: $(tail -n 5 "$work/install.log")"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD_DIR/CMakeCache.txt")
[ -n "$prefix" ] || fail "no CMAKE_INSTALL_PREFIX in $BUILD_DIR/CMakeCache.txt"
if [ "$prefix" = /usr ]; then
	unitdir=/usr/lib/systemd/system sysusersdir=/usr/lib/sysusers.d
	tmpfilesdir=/usr/lib/tmpfiles.d sysconfdir=/etc
else
	unitdir=$prefix/lib/systemd/system sysusersdir=$prefix/lib/sysusers.d
	tmpfilesdir=$prefix/lib/tmpfiles.d sysconfdir=$prefix/etc
fi
root="$dest$prefix"

# 1. The files.
for b in triaged triagectl; do
	[ -x "$root/bin/$b" ] || fail "$prefix/bin/$b missing or not executable"
done
[ -f "$dest$unitdir/triaged.service" ] || fail "no $unitdir/triaged.service"
[ -f "$dest$sysusersdir/triaged.conf" ] || fail "no $sysusersdir/triaged.conf"
[ -f "$dest$tmpfilesdir/triaged.conf" ] || fail "no $tmpfilesdir/triaged.conf"
grep -q '^u triaged ' "$dest$sysusersdir/triaged.conf" || fail "sysusers entry has no triaged user"
grep -q '^d /var/lib/triaged 0700 triaged triaged' "$dest$tmpfilesdir/triaged.conf" ||
	fail "tmpfiles entry does not create /var/lib/triaged 0700"
for d in lexicons stopwords training kb templates; do
	n=$(find "$root/share/triaged/$d" -type f | wc -l)
	src=$(find "$SOURCE_DIR/conf/$d" -type f | wc -l)
	[ "$n" -gt 0 ] && [ "$n" -eq "$src" ] || fail "share/triaged/$d holds $n files, conf/$d $src"
done
n=$(find "$root/share/triaged/web" -type f 2>/dev/null | wc -l)
[ "$n" -gt 0 ] && [ "$n" -eq "$(find "$SOURCE_DIR/web" -type f | wc -l)" ] ||
	fail "share/triaged/web holds $n files, web/ $(find "$SOURCE_DIR/web" -type f | wc -l)"
for page in man8/triaged.8 man1/triagectl.1 man5/triaged.json.5; do
	[ -f "$root/share/man/$page" ] || fail "no share/man/$page"
done
config="$dest$sysconfdir/triaged/triaged.json"
[ -f "$config" ] || fail "no $sysconfdir/triaged/triaged.json"
grep -q "\"data_dir\": \"$prefix/share/triaged\"" "$config" ||
	fail "the installed configuration does not point data_dir at $prefix/share/triaged"
[ "$(stat -c %a "$config")" = 640 ] || fail "the configuration is mode $(stat -c %a "$config"), expected 640"
unit="$dest$unitdir/triaged.service"
grep -q "^ExecStart=$prefix/bin/triaged -c $sysconfdir/triaged/triaged.json\$" "$unit" ||
	fail "the unit does not start $prefix/bin/triaged with $sysconfdir/triaged/triaged.json"
ok "$(find "$dest" -type f | wc -l) files installed under prefix $prefix"

# 2. The shipped configuration is valid against the installed data (its
#    data_dir moved into DESTDIR), with the installed binary.
sed "s|\"data_dir\": \"$prefix/share/triaged\"|\"data_dir\": \"$root/share/triaged\"|" "$config" >"$work/triaged.json"
out=$("$root/bin/triaged" --check-config -c "$work/triaged.json" 2>&1) ||
	fail "the shipped configuration is refused: $out"
[ "$out" = ok ] || fail "--check-config printed: $out"
"$root/bin/triagectl" --version | grep -q '^triagectl ' || fail "triagectl --version"
ok "the installed configuration passes triaged --check-config"

# 3. The man pages render without a warning, and document every command.
for page in man8/triaged.8 man1/triagectl.1 man5/triaged.json.5; do
	warnings=$(MANWIDTH=80 man --warnings -l "$root/share/man/$page" 2>&1 >/dev/null)
	[ -z "$warnings" ] || fail "man $page: $warnings"
	lines=$(MANWIDTH=80 man -l "$root/share/man/$page" 2>/dev/null | wc -l)
	[ "$lines" -gt 60 ] || fail "man $page renders only $lines lines"
done
rendered=$(MANWIDTH=200 man -l "$root/share/man/man1/triagectl.1" 2>/dev/null)
commands=$("$root/bin/triagectl" --help | awk '/^commands:/ {on=1; next} /^$/ {on=0} on {print $1}')
[ -n "$commands" ] || fail "triagectl --help lists no command"
for c in $commands; do
	grep -qE "^ {7}$c( |\$)" <<<"$rendered" || fail "triagectl(1) does not document the command \"$c\""
done
# Every option of triaged --help is in triaged(8).
rendered=$(MANWIDTH=200 man -l "$root/share/man/man8/triaged.8" 2>/dev/null)
for o in $("$root/bin/triaged" --help | grep -oE -- '--[a-z-]+' | sort -u); do
	grep -q -- "$o" <<<"$rendered" || fail "triaged(8) does not document $o"
done
# Every top-level key and section of the configuration is in triaged.json(5).
rendered=$(MANWIDTH=200 man -l "$root/share/man/man5/triaged.json.5" 2>/dev/null)
for k in database data_dir queues default_queue default_calendar mailboxes nlp kb smtp \
	calendars http privacy sla rules retention_days controller contact password_file \
	password_env tls_verify min_confidence spam_threshold escalations webhooks; do
	grep -qw -- "$k" <<<"$rendered" || fail "triaged.json(5) does not document $k"
done
ok "man pages render cleanly; $(wc -w <<<"$commands") triagectl commands documented"

# 4. systemd-analyze verify of the installed unit, run against the DESTDIR
#    binaries and man pages (its Documentation= lines are checked with man).
mkdir -p "$work/unit"
sed -e "s|$prefix/bin/|$root/bin/|g" "$unit" >"$work/unit/triaged.service"
verify=$(MANPATH="$root/share/man" systemd-analyze verify "$work/unit/triaged.service" 2>&1) ||
	fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify is not clean: $verify"
ok "systemd-analyze verify: clean"

# 5. The sandbox: exposure 2.0 or lower.
line=$(systemd-analyze security --offline=true "$SOURCE_DIR/systemd/triaged.service" 2>&1 |
	grep 'Overall exposure level') || fail "systemd-analyze security printed no exposure level"
level=$(sed -E 's/.*: ([0-9]+\.[0-9]+).*/\1/' <<<"$line")
awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' || fail "exposure $level > 2.0: $line"
ok "systemd-analyze security: exposure $level"
echo "$passed passed, 0 failed"
