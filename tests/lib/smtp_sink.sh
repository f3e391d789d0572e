# Start and stop the test SMTP sink (smtp_sink.py) by PID, 127.0.0.1 only.
#
# Library use:   source tests/lib/smtp_sink.sh
#   smtp_sink_start DIR PORT [tls] [EXTRA smtp_sink.py OPTIONS...]
#        tls: makes DIR/ca.pem (test CA) and a certificate for localhost and
#        127.0.0.1 signed by it, and offers STARTTLS with it.
#   smtp_sink_stop DIR            SIGTERM, then SIGKILL if it lingers
#   smtp_sink_fail DIR [ANSWER]   answer DATA with ANSWER (default 451) from now on
#   smtp_sink_recover DIR         accept mail again
#   smtp_sink_count DIR           number of messages received
# CLI use:       bash tests/lib/smtp_sink.sh start DIR PORT [tls] [OPTIONS...] | stop DIR
#
# Messages land in DIR/mail/NNNN.eml with the envelope in NNNN.json.

_SMTP_SINK_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ports.sh
source "$_SMTP_SINK_LIB_DIR/ports.sh"

_smtp_sink_log() {
	echo "smtp_sink.sh: $*" >&2
}

_smtp_sink_certs() {
	local dir=$1
	[ -s "$dir/ca.pem" ] && [ -s "$dir/server.pem" ] && return 0
	(
		cd "$dir" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=triaged smtp test CA" \
			-keyout ca.key -out ca.pem 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
			-keyout server.key -out server.csr 2>/dev/null &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile san.ext -out server.pem 2>/dev/null
	) || {
		_smtp_sink_log "openssl failed to make the test certificates in $dir"
		return 1
	}
}

smtp_sink_pid() {
	local dir=$1 pid
	[ -r "$dir/sink.pid" ] || return 1
	pid=$(head -n1 "$dir/sink.pid")
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

smtp_sink_start() {
	local dir=$1 port=$2
	shift 2
	local extra=()
	mkdir -p "$dir/mail"
	if smtp_sink_pid "$dir" >/dev/null; then
		return 0
	fi
	if [ "${1:-}" = tls ]; then
		shift
		_smtp_sink_certs "$dir" || return 1
		extra+=(--tls-cert "$dir/server.pem" --tls-key "$dir/server.key")
	fi
	rm -f "$dir/sink.ready"
	/usr/bin/python3 "$_SMTP_SINK_LIB_DIR/smtp_sink.py" --dir "$dir" --port "$port" \
		"${extra[@]}" "$@" >>"$dir/sink.out" 2>&1 &
	echo $! >"$dir/sink.pid"
	local i
	for i in $(seq 1 200); do
		if [ -e "$dir/sink.ready" ] && port_open "$port"; then
			return 0
		fi
		if ! smtp_sink_pid "$dir" >/dev/null; then
			break
		fi
		sleep 0.05
	done
	_smtp_sink_log "the sink did not start on port $port (see $dir/sink.out)"
	tail -n 20 "$dir/sink.out" >&2
	smtp_sink_stop "$dir"
	return 1
}

smtp_sink_stop() {
	local dir=$1 pid i
	pid=$(smtp_sink_pid "$dir") || {
		rm -f "$dir/sink.pid"
		return 0
	}
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.1
	fi
	rm -f "$dir/sink.pid" "$dir/sink.ready"
}

smtp_sink_fail() {
	local dir=$1 answer=${2:-"451 4.3.0 Try again later (test sink)"}
	echo "$answer" >"$dir/fail"
}

smtp_sink_recover() {
	rm -f "$1/fail"
}

smtp_sink_count() {
	local n
	n=$(find "$1/mail" -name '*.eml' 2>/dev/null | wc -l)
	echo "$n"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cmd=${1:-}
	shift || true
	case "$cmd" in
	start) smtp_sink_start "$@" ;;
	stop) smtp_sink_stop "$@" ;;
	fail) smtp_sink_fail "$@" ;;
	recover) smtp_sink_recover "$@" ;;
	count) smtp_sink_count "$@" ;;
	*)
		echo "usage: smtp_sink.sh start DIR PORT [tls] [OPTIONS...] | stop DIR | fail DIR [ANSWER] | recover DIR | count DIR" >&2
		exit 64
		;;
	esac
fi
