# Helpers for VM scenarios (busybox sh). Sourced before every scenario; see
# vm/README.md for how a scenario is written.
#
# Results are one line per check in files under $BRIG_VM_RESULTS, so checks
# made in subshells or pipelines are counted too.

BRIG_VM_RESULTS=${BRIG_VM_RESULTS:-/run/brig-vm}
BRIG_VM_SCENARIO=${BRIG_VM_SCENARIO:-adhoc}
BRIG_VM_TEMPLATE=${BRIG_VM_TEMPLATE:-/brig-vm/config.json}
mkdir -p "$BRIG_VM_RESULTS"

# --- recording results -------------------------------------------------------

pass() {
	echo "BRIG-VM-PASS: $BRIG_VM_SCENARIO: $*"
	echo "$BRIG_VM_SCENARIO: $*" >>"$BRIG_VM_RESULTS/passed"
}

# fail NAME [DETAIL...]: DETAIL lines are printed indented under the failure.
fail() {
	name=$1
	shift
	echo "BRIG-VM-FAIL: $BRIG_VM_SCENARIO: $name"
	for line in "$@"; do echo "    $line"; done
	echo "$BRIG_VM_SCENARIO: $name" >>"$BRIG_VM_RESULTS/failed"
}

skip() {
	echo "BRIG-VM-SKIP: $BRIG_VM_SCENARIO: $1 (${2:-no reason given})"
	echo "$BRIG_VM_SCENARIO: $1" >>"$BRIG_VM_RESULTS/skipped"
}

note() { echo "  $BRIG_VM_SCENARIO: $*"; }

# Prints the last lines of a command's captured output, indented.
_show_tail() { tail -n "${2:-25}" "$1" | sed 's/^/    | /'; }

# check NAME CMD [ARGS...]: passes when CMD exits 0.
check() {
	name=$1
	shift
	out=$(mktemp)
	if "$@" >"$out" 2>&1; then
		pass "$name"
	else
		status=$?
		fail "$name" "command exited $status: $*"
		_show_tail "$out"
	fi
	rm -f "$out"
}

# check_status EXPECTED NAME CMD [ARGS...]: passes when CMD exits EXPECTED.
check_status() {
	expected=$1
	name=$2
	shift 2
	out=$(mktemp)
	"$@" >"$out" 2>&1
	status=$?
	if [ "$status" = "$expected" ]; then
		pass "$name"
	else
		fail "$name" "expected exit status $expected, got $status: $*"
		_show_tail "$out"
	fi
	rm -f "$out"
}

# check_output NAME REGEX CMD [ARGS...]: passes when CMD's output (stdout and
# stderr) has a line matching the extended REGEX, whatever its exit status.
check_output() {
	name=$1
	regex=$2
	shift 2
	out=$(mktemp)
	"$@" >"$out" 2>&1
	status=$?
	if grep -Eq -- "$regex" "$out"; then
		pass "$name"
	else
		fail "$name" "no line matches /$regex/ in the output of: $* (exit $status)"
		_show_tail "$out"
	fi
	rm -f "$out"
}

# run_libtest BIN [ARGS...]: runs a Rust libtest binary (cargo's test
# harness) and records every test as its own check.
run_libtest() {
	bin=$1
	out=$(mktemp)
	"$@" --test-threads=1 >"$out" 2>&1
	status=$?
	cat "$out"
	before=$(_result_lines)
	while read -r word test_name dots verdict rest; do
		[ "$word" = test ] && [ "$dots" = "..." ] || continue
		case "$verdict" in
		ok) pass "$(basename "$bin")::$test_name" ;;
		FAILED) fail "$(basename "$bin")::$test_name" ;;
		ignored) skip "$(basename "$bin")::$test_name" "ignored" ;;
		esac
	done <"$out"
	if [ "$status" != 0 ] && [ "$(grep -c ' \.\.\. FAILED' "$out")" = 0 ]; then
		fail "$(basename "$bin")" "test binary exited $status without a failed test (crash or bad arguments?)"
	elif [ "$(_result_lines)" = "$before" ]; then
		fail "$(basename "$bin")" "test binary ran no test"
	fi
	rm -f "$out"
}

_result_lines() {
	cat "$BRIG_VM_RESULTS"/passed "$BRIG_VM_RESULTS"/failed "$BRIG_VM_RESULTS"/skipped 2>/dev/null | wc -l
}

# --- runtimes ----------------------------------------------------------------

# Prints the OCI runtimes present in the VM (runc always, brig-runtime when
# the host passed it with --bin), one per line, for differential loops:
#   for rt in $(runtimes); do ...; done
runtimes() {
	for rt in brig-runtime runc crun; do
		command -v "$rt" >/dev/null 2>&1 && echo "$rt"
	done
}

# --- bundles -----------------------------------------------------------------

# bundle_busybox DIR [ARG...]: a bundle whose rootfs is the VM's static
# busybox with all applets, and config.json from the template (runc's default
# spec with terminal false). ARGs replace process.args (default: sh).
bundle_busybox() {
	dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp" \
		"$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/root"
	cp /bin/busybox "$dir/rootfs/bin/busybox"
	for applet in $(busybox --list); do
		[ "$applet" = busybox ] || ln -s busybox "$dir/rootfs/bin/$applet"
	done
	mkdir -p "$dir/rootfs/usr"
	ln -s ../bin "$dir/rootfs/usr/bin"
	ln -s bin "$dir/rootfs/sbin"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/rootfs/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/rootfs/etc/group"
	cp "$BRIG_VM_TEMPLATE" "$dir/config.json"
	[ $# -eq 0 ] || bundle_args "$dir" "$@"
}

# json_string TEXT: TEXT as a JSON string (quotes and backslashes escaped).
json_string() {
	printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# bundle_args DIR ARG...: replaces process.args.
bundle_args() {
	dir=$1
	shift
	list=""
	for arg in "$@"; do
		list="$list${list:+, }$(json_string "$arg")"
	done
	# Values go through ENVIRON: awk -v would undo the JSON escapes.
	_list="$list" awk '
		BEGIN { list = ENVIRON["_list"] }
		/^\t\t"args": \[/ { print "\t\t\"args\": [" list "],"; skipping = 1; next }
		skipping && /^\t\t\],?$/ { skipping = 0; next }
		!skipping { print }
	' "$dir/config.json" >"$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json"
}

# bundle_set DIR KEY JSON_VALUE: replaces the first scalar member KEY, e.g.
#   bundle_set b readonly false; bundle_set b hostname '"box"'
bundle_set() {
	_key="\"$2\": " _value="$3" awk '
		BEGIN { key = ENVIRON["_key"]; value = ENVIRON["_value"] }
		!done && index($0, key) && match($0, /^\t*/) && substr($0, RLENGTH + 1, length(key)) == key &&
		substr($0, RLENGTH + length(key) + 1, 1) !~ /[[{]/ {
			comma = ($0 ~ /,$/) ? "," : ""
			print substr($0, 1, RLENGTH) key value comma
			done = 1
			next
		}
		{ print }
		END { if (!done) exit 1 }
	' "$1/config.json" >"$1/config.json.new" || {
		echo "bundle_set: no scalar member \"$2\" in $1/config.json" >&2
		rm -f "$1/config.json.new"
		return 1
	}
	mv "$1/config.json.new" "$1/config.json"
}

# _bundle_insert DIR ANCHOR_LINE JSON_MEMBER: inserts a member right after the
# first line equal to ANCHOR_LINE (printf format; an object's opening line
# whose object already has members, so the trailing comma is always right).
# Use only for keys that the object does not have yet: strict parsers refuse
# duplicate keys.
_bundle_insert() {
	_anchor="$(printf "$2")" _member="$3" awk '
		BEGIN { anchor = ENVIRON["_anchor"]; member = ENVIRON["_member"] }
		!done && $0 == anchor { print; match($0, /^\t*/); print substr($0, 1, RLENGTH) "\t" member ","; done = 1; next }
		{ print }
		END { if (!done) exit 1 }
	' "$1/config.json" >"$1/config.json.new" || {
		echo "bundle: no line '$2' in $1/config.json" >&2
		rm -f "$1/config.json.new"
		return 1
	}
	mv "$1/config.json.new" "$1/config.json"
}

# bundle_process DIR MEMBER: adds a member to "process", e.g.
#   bundle_process b '"apparmorProfile": "brig-test"'
bundle_process() { _bundle_insert "$1" '\t"process": {' "$2"; }

# bundle_linux DIR MEMBER: adds a member to "linux", e.g.
#   bundle_linux b '"cgroupsPath": "/brig-vm/c1"'
bundle_linux() { _bundle_insert "$1" '\t"linux": {' "$2"; }

# bundle_resources DIR MEMBER: adds a member to linux.resources, e.g.
#   bundle_resources b '"pids": {"limit": 20}'
bundle_resources() { _bundle_insert "$1" '\t\t"resources": {' "$2"; }

# bundle_memory DIR BYTES: linux.resources.memory.limit (swap left alone).
bundle_memory() { bundle_resources "$1" "\"memory\": {\"limit\": $2}"; }

# bundle_top DIR MEMBER: adds a top-level member, e.g. '"annotations": {}'.
bundle_top() { _bundle_insert "$1" '{' "$2"; }

# --- misc --------------------------------------------------------------------

# wait_for SECONDS CMD [ARGS...]: polls CMD every 0.1 s until it succeeds.
wait_for() {
	deadline=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# cgroup_value CGROUP_DIR FILE KEY: the value of KEY in a flat-keyed cgroup
# file such as memory.events (e.g. cgroup_value /sys/fs/cgroup/x memory.events oom_kill).
cgroup_value() { awk -v key="$3" '$1 == key { print $2 }' "$1/$2"; }
