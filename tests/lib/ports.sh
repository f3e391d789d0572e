# Free TCP port picking for test servers on loopback.
# Source it (`source tests/lib/ports.sh`) or run `bash tests/lib/ports.sh` to print one.

# Prints a TCP port on 127.0.0.1 that nobody listens on right now. The kernel
# chooses it (bind to port 0), so parallel test runs rarely collide; callers
# that bind later still retry on "address in use".
free_port() {
	local port
	port=$(/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null) || port=""
	if [ -z "$port" ]; then
		# No Python: random high ports, skipping those that answer.
		local i
		for i in $(seq 1 50); do
			port=$((20000 + RANDOM % 40000))
			if ! port_open "$port"; then
				break
			fi
		done
	fi
	echo "$port"
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits until 127.0.0.1:$1 accepts connections, at most $2 seconds (default 10).
wait_port() {
	local port=$1 limit=${2:-10} i
	for i in $(seq 1 $((limit * 20))); do
		if port_open "$port"; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	free_port
fi
