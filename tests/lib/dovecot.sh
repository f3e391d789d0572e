# Throwaway Dovecot 2.3 IMAP servers for tests and the demo: own config, state
# and logs under one directory, 127.0.0.1 only, never the system instance.
#
# Library use:   source tests/lib/dovecot.sh
#   dovecot_start DIR PORT [tls|tls-wrong-host]   start (idempotent), wait for the port
#   dovecot_start_auto DIR [tls|tls-wrong-host]   same on free ports (DIR/imap.port, DIR/imaps.port)
#   dovecot_stop DIR                              SIGTERM, then SIGKILL what is left; verifies all gone
#   dovecot_kill DIR                              SIGKILL master and children at once (crash tests)
#   dovecot_append DIR FOLDER FILE...             deliver mails to support@example.test (doveadm save)
#   dovecot_append_user DIR USER FOLDER FILE...
# CLI use:       bash tests/lib/dovecot.sh start DIR PORT [tls|tls-wrong-host] | stop DIR | kill DIR
#                                          | append DIR FOLDER FILE... | status DIR
#
# Users: support@example.test / secret and other@example.test / secret2.
# With tls: the plain port offers STARTTLS and DIR/imaps.port holds the
# implicit-TLS port. DIR/ca.pem is the test CA; the server certificate names
# localhost and 127.0.0.1 (tls) or only wrong.example.test (tls-wrong-host),
# both signed by that CA, so only the host name check can fail on the latter.
# Environment: DOVECOT_MAIL_USER (default: nobody when root, else yourself);
# to imitate older servers: DOVECOT_IMAP_CAPABILITY (the post-login
# capability list, e.g. without MOVE) and DOVECOT_AUTH_MECHANISMS (e.g. "login"
# so that no AUTH=PLAIN is offered).

_DOVECOT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ports.sh
source "$_DOVECOT_LIB_DIR/ports.sh"

DOVECOT_BIN=${DOVECOT_BIN:-/usr/sbin/dovecot}
DOVEADM_BIN=${DOVEADM_BIN:-/usr/bin/doveadm}

_dovecot_log() {
	echo "dovecot.sh: $*" >&2
}

# Master PID recorded by Dovecot, if that process is still alive.
dovecot_master_pid() {
	local dir=$1 pid
	[ -r "$dir/run/master.pid" ] || return 1
	pid=$(head -n1 "$dir/run/master.pid" 2>/dev/null)
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	_pid_alive "$pid" || return 1
	echo "$pid"
}

# A process counts as alive unless gone or a zombie: a zombie's parent (or
# PID 1 in a container) may take seconds to reap it, and it serves nothing.
_pid_alive() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

_is_dovecot_pid() {
	case "$(readlink "/proc/$1/exe" 2>/dev/null)" in
	*/dovecot | */dovecot/*) return 0 ;;
	*) return 1 ;;
	esac
}

# All descendants of a PID (children first level, then theirs).
_dovecot_descendants() {
	local pid=$1 child
	for child in $(pgrep -P "$pid" 2>/dev/null); do
		echo "$child"
		_dovecot_descendants "$child"
	done
}

# Master plus every process of this instance: children by parent, and any
# orphan whose command line names this config (children survive a SIGKILL of
# the master and get reparented).
_dovecot_all_pids() {
	local dir=$1 master
	if master=$(dovecot_master_pid "$dir"); then
		echo "$master"
		_dovecot_descendants "$master"
	fi
	if [ -r "$dir/pids" ]; then
		local pid
		while read -r pid; do
			# A recorded PID may have been reused since: only
			# Dovecot's own binaries are ever signalled.
			[ -n "$pid" ] && _pid_alive "$pid" && _is_dovecot_pid "$pid" && echo "$pid"
		done <"$dir/pids"
	fi
	# A dead last PID must not make the listing fail (callers run set -e).
	return 0
}

# Remembers the instance's processes so that stop/kill find them even after
# the master is gone.
_dovecot_record_pids() {
	local dir=$1
	_dovecot_all_pids "$dir" | sort -un >"$dir/pids.new" && mv "$dir/pids.new" "$dir/pids"
}

_dovecot_mail_ids() {
	local user=${DOVECOT_MAIL_USER:-}
	if [ -z "$user" ]; then
		if [ "$(id -u)" -eq 0 ]; then user=nobody; else user=$(id -un); fi
	fi
	DOVECOT_MAIL_UID=$(id -u "$user") || return 1
	DOVECOT_MAIL_GID=$(id -g "$user") || return 1
	if [ "$DOVECOT_MAIL_UID" -eq 0 ]; then
		_dovecot_log "mail user must not be root"
		return 1
	fi
}

# Test CA plus two server certificates signed by it (see the header).
_dovecot_make_certs() {
	local dir=$1
	[ -s "$dir/ca.pem" ] && [ -s "$dir/server.pem" ] && [ -s "$dir/wrong.pem" ] && return 0
	(
		set -e
		cd "$dir"
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=triaged test CA" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-keyout ca.key -out ca.pem
		openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile server.ext -out server.pem
		openssl req -newkey rsa:2048 -nodes -subj "/CN=wrong.example.test" -keyout wrong.key -out wrong.csr
		printf 'subjectAltName=DNS:wrong.example.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >wrong.ext
		openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile wrong.ext -out wrong.pem
		chmod 0644 ca.pem server.pem wrong.pem
		chmod 0600 ca.key server.key wrong.key
	) >/dev/null 2>&1 || {
		_dovecot_log "openssl failed to make the test certificates in $dir"
		return 1
	}
}

_dovecot_write_config() {
	local dir=$1 port=$2 mode=$3 imaps_port=$4
	local ssl_block="ssl = no"
	local imaps_listener=""
	if [ "$mode" != plain ]; then
		local cert=server
		[ "$mode" = tls-wrong-host ] && cert=wrong
		ssl_block="ssl = yes
ssl_cert = <$dir/$cert.pem
ssl_key = <$dir/$cert.key"
		[ -r /usr/share/dovecot/dh.pem ] && ssl_block="$ssl_block
ssl_dh = </usr/share/dovecot/dh.pem"
		imaps_listener="  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }"
	fi
	local internal_user=dovecot login_user=dovenull
	if [ "$(id -u)" -ne 0 ]; then
		internal_user=$(id -un)
		login_user=$(id -un)
	fi
	cat >"$dir/dovecot.conf" <<EOF
# Generated by tests/lib/dovecot.sh: a private test instance.
instance_name = triaged-test-$port
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
protocols = imap
listen = 127.0.0.1
shutdown_clients = yes
default_internal_user = $internal_user
default_login_user = $login_user
$ssl_block
disable_plaintext_auth = no
auth_mechanisms = ${DOVECOT_AUTH_MECHANISMS:-plain login}
${DOVECOT_IMAP_CAPABILITY:+imap_capability = $DOVECOT_IMAP_CAPABILITY}
auth_failure_delay = 0
first_valid_uid = 1
first_valid_gid = 1
mail_max_userip_connections = 200
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN $dir/passwd
}
userdb {
  driver = static
  args = uid=$DOVECOT_MAIL_UID gid=$DOVECOT_MAIL_GID home=$dir/home/%u
}
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
$imaps_listener
}
service anvil {
  # Failed logins must not slow the tests down.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
protocol imap {
  imap_idle_notify_interval = 2 mins
}
EOF
}

# dovecot_start DIR PORT [plain|tls|tls-wrong-host] [IMAPS_PORT]
dovecot_start() {
	local dir=$1 port=$2 mode=${3:-plain} imaps_port=${4:-}
	if [ -z "$dir" ] || [ -z "$port" ]; then
		_dovecot_log "usage: dovecot_start DIR PORT [tls|tls-wrong-host]"
		return 2
	fi
	case "$mode" in plain | tls | tls-wrong-host) ;; *)
		_dovecot_log "unknown mode '$mode' (plain, tls, tls-wrong-host)"
		return 2
		;;
	esac
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	# Idempotent: the same instance already serving the same port is fine;
	# anything else running from this directory is replaced.
	if dovecot_master_pid "$dir" >/dev/null; then
		if [ "$(cat "$dir/imap.port" 2>/dev/null)" = "$port" ] &&
			[ "$(cat "$dir/mode" 2>/dev/null)" = "$mode" ] && port_open "$port"; then
			return 0
		fi
		dovecot_stop "$dir" || return 1
	fi
	_dovecot_mail_ids || return 1
	if [ "$mode" != plain ] && [ -z "$imaps_port" ]; then
		imaps_port=$(free_port)
	fi
	chmod 0711 "$dir"
	mkdir -p "$dir/run" "$dir/state" "$dir/home"
	chown "$DOVECOT_MAIL_UID:$DOVECOT_MAIL_GID" "$dir/home" 2>/dev/null || true
	printf '%s:{PLAIN}%s\n' support@example.test secret other@example.test secret2 >"$dir/passwd"
	if [ "$(id -u)" -eq 0 ]; then
		chown root:dovecot "$dir/passwd"
		chmod 0640 "$dir/passwd"
	else
		chmod 0600 "$dir/passwd"
	fi
	if [ "$mode" != plain ]; then
		_dovecot_make_certs "$dir" || return 1
	fi
	_dovecot_write_config "$dir" "$port" "$mode" "$imaps_port"
	echo "$port" >"$dir/imap.port"
	echo "$mode" >"$dir/mode"
	if [ -n "$imaps_port" ]; then echo "$imaps_port" >"$dir/imaps.port"; else rm -f "$dir/imaps.port"; fi
	: >"$dir/dovecot.log"
	# Dovecot keeps the caller's stdout/stderr open after daemonising: a caller
	# capturing output would wait forever, so detach them.
	if ! "$DOVECOT_BIN" -c "$dir/dovecot.conf" </dev/null >"$dir/startup.log" 2>&1; then
		_dovecot_log "dovecot failed to start: $(tail -n 5 "$dir/startup.log" "$dir/dovecot.log" 2>/dev/null)"
		return 1
	fi
	if ! wait_port "$port" 10 || { [ -n "$imaps_port" ] && ! wait_port "$imaps_port" 10; }; then
		_dovecot_log "dovecot did not listen on 127.0.0.1:$port: $(tail -n 5 "$dir/dovecot.log")"
		dovecot_stop "$dir"
		return 1
	fi
	_dovecot_record_pids "$dir"
	return 0
}

# Starts on free ports, retrying when a port was taken in between.
dovecot_start_auto() {
	local dir=$1 mode=${2:-plain} attempt port
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		if dovecot_start "$dir" "$port" "$mode" 2>"$dir.start-err"; then
			rm -f "$dir.start-err"
			return 0
		fi
		dovecot_stop "$dir" 2>/dev/null
	done
	cat "$dir.start-err" >&2
	rm -f "$dir.start-err"
	return 1
}

# Sends a signal to every process of the instance.
_dovecot_signal_all() {
	local dir=$1 sig=$2 pid
	for pid in $(_dovecot_all_pids "$dir" | sort -un); do
		kill "-$sig" "$pid" 2>/dev/null || true
	done
}

dovecot_stop() {
	local dir=$1 pids pid i alive master
	[ -d "$dir" ] || return 0
	pids=$(_dovecot_all_pids "$dir" | sort -un)
	[ -z "$pids" ] && { rm -f "$dir/pids"; return 0; }
	# The master shuts its children down cleanly; without a master (after
	# a crash) the orphans get the signal themselves.
	if master=$(dovecot_master_pid "$dir"); then
		kill -TERM "$master" 2>/dev/null || true
	else
		for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
	fi
	for i in $(seq 1 100); do
		alive=""
		for pid in $pids; do _pid_alive "$pid" && alive="$alive $pid"; done
		[ -z "$alive" ] && break
		sleep 0.05
	done
	for pid in $alive; do kill -KILL "$pid" 2>/dev/null || true; done
	for i in $(seq 1 40); do
		alive=""
		for pid in $pids; do _pid_alive "$pid" && alive="$alive $pid"; done
		if [ -z "$alive" ]; then
			rm -f "$dir/pids" "$dir/run/master.pid"
			return 0
		fi
		sleep 0.05
	done
	_dovecot_log "processes still alive after SIGKILL:$alive"
	return 1
}

# Simulated crash: SIGKILL everything at once, no clean shutdown.
dovecot_kill() {
	local dir=$1 pids pid
	[ -d "$dir" ] || return 0
	# Under `set -e -o pipefail` in the caller, a PID that vanished between
	# listing and killing must not end the caller's script.
	pids=$(_dovecot_all_pids "$dir" | sort -un) || true
	for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
	for pid in $pids; do
		while _pid_alive "$pid"; do sleep 0.02; done
	done
	rm -f "$dir/pids"
	return 0
}

dovecot_append_user() {
	local dir=$1 user=$2 folder=$3 file
	shift 3
	if [ "$folder" != INBOX ]; then
		"$DOVEADM_BIN" -c "$dir/dovecot.conf" mailbox create -u "$user" "$folder" </dev/null >/dev/null 2>&1 || true
	fi
	for file in "$@"; do
		if ! "$DOVEADM_BIN" -c "$dir/dovecot.conf" save -u "$user" -m "$folder" <"$file" >/dev/null 2>"$dir/append.err"; then
			_dovecot_log "doveadm save of $file failed: $(cat "$dir/append.err")"
			return 1
		fi
	done
}

dovecot_append() {
	local dir=$1
	shift
	dovecot_append_user "$dir" support@example.test "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cmd=${1:-}
	shift || true
	case "$cmd" in
	start) dovecot_start "$@" ;;
	start-auto) dovecot_start_auto "$@" ;;
	stop) dovecot_stop "$@" ;;
	kill) dovecot_kill "$@" ;;
	append) dovecot_append "$@" ;;
	append-user) dovecot_append_user "$@" ;;
	status)
		if pid=$(dovecot_master_pid "$1"); then
			echo "running: master $pid, port $(cat "$1/imap.port")"
		else
			echo "not running"
			exit 1
		fi
		;;
	*)
		echo "usage: $0 start DIR PORT [tls|tls-wrong-host] | start-auto DIR [mode] | stop DIR | kill DIR | append DIR FOLDER FILE... | append-user DIR USER FOLDER FILE... | status DIR" >&2
		exit 2
		;;
	esac
fi
