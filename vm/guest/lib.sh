# Helpers for VM scenarios (busybox sh). Helpers keep their variables local
# and _-prefixed, so scenarios may use any other names. Sourced before every scenario; see
# vm/README.md for how a scenario is written.
#
# Results are one line per check in files under $BRIG_VM_RESULTS, so checks
# made in subshells or pipelines are counted too.

BRIG_VM_RESULTS=${BRIG_VM_RESULTS:-/run/brig-vm}
BRIG_VM_SCENARIO=${BRIG_VM_SCENARIO:-adhoc}
BRIG_VM_TEMPLATE=${BRIG_VM_TEMPLATE:-/brig-vm/config.json}
# Seconds one checked command may take before it is killed (a hang then
# fails one check instead of the whole scenario).
BRIG_VM_CHECK_TIMEOUT=${BRIG_VM_CHECK_TIMEOUT:-60}
mkdir -p "$BRIG_VM_RESULTS"

# --- recording results -------------------------------------------------------

pass() {
	echo "BRIG-VM-PASS: $BRIG_VM_SCENARIO: $*"
	echo "$BRIG_VM_SCENARIO: $*" >>"$BRIG_VM_RESULTS/passed"
}

# fail NAME [DETAIL...]: DETAIL lines are printed indented under the failure.
fail() {
	local _name=$1 _line
	shift
	echo "BRIG-VM-FAIL: $BRIG_VM_SCENARIO: $_name"
	for _line in "$@"; do echo "    $_line"; done
	echo "$BRIG_VM_SCENARIO: $_name" >>"$BRIG_VM_RESULTS/failed"
}

skip() {
	echo "BRIG-VM-SKIP: $BRIG_VM_SCENARIO: $1 (${2:-no reason given})"
	echo "$BRIG_VM_SCENARIO: $1" >>"$BRIG_VM_RESULTS/skipped"
}

note() { echo "  $BRIG_VM_SCENARIO: $*"; }

# _limited CMD [ARGS...]: runs CMD under BRIG_VM_CHECK_TIMEOUT, except shell
# functions, which timeout cannot run (they run as they are).
_limited() {
	case "$(type "$1" 2>/dev/null)" in
	*function*) "$@" ;;
	*) timeout "$BRIG_VM_CHECK_TIMEOUT" "$@" ;;
	esac
	local _rc=$?
	[ "$_rc" = 143 ] && echo "(killed after ${BRIG_VM_CHECK_TIMEOUT}s: BRIG_VM_CHECK_TIMEOUT)"
	return "$_rc"
}

# Prints the last lines of a command's captured output, indented.
_show_tail() { tail -n "${2:-25}" "$1" | sed 's/^/    | /'; }

# check NAME CMD [ARGS...]: passes when CMD exits 0.
check() {
	local _name=$1 _out _status
	shift
	_out=$(mktemp)
	if _limited "$@" >"$_out" 2>&1; then
		pass "$_name"
	else
		_status=$?
		fail "$_name" "command exited $_status: $*"
		_show_tail "$_out"
	fi
	rm -f "$_out"
}

# check_status EXPECTED NAME CMD [ARGS...]: passes when CMD exits EXPECTED.
check_status() {
	local _expected=$1 _name=$2 _out _status
	shift 2
	_out=$(mktemp)
	_limited "$@" >"$_out" 2>&1
	_status=$?
	if [ "$_status" = "$_expected" ]; then
		pass "$_name"
	else
		fail "$_name" "expected exit status $_expected, got $_status: $*"
		_show_tail "$_out"
	fi
	rm -f "$_out"
}

# check_output NAME REGEX CMD [ARGS...]: passes when CMD's output (stdout and
# stderr) has a line matching the extended REGEX, whatever its exit status.
check_output() {
	local _name=$1 _regex=$2 _out _status
	shift 2
	_out=$(mktemp)
	_limited "$@" >"$_out" 2>&1
	_status=$?
	if grep -Eq -- "$_regex" "$_out"; then
		pass "$_name"
	else
		fail "$_name" "no line matches /$_regex/ in the output of: $* (exit $_status)"
		_show_tail "$_out"
	fi
	rm -f "$_out"
}

# run_libtest BIN [ARGS...]: runs a Rust libtest binary (cargo's test
# harness) and records every test as its own check.
run_libtest() {
	local _bin=$1 _out _status _before _word _test_name _dots _verdict _rest
	_out=$(mktemp)
	# No time limit: a test binary runs as long as its tests need.
	"$@" --test-threads=1 >"$_out" 2>&1
	_status=$?
	cat "$_out"
	_before=$(_result_lines)
	while read -r _word _test_name _dots _verdict _rest; do
		[ "$_word" = test ] && [ "$_dots" = "..." ] || continue
		case "$_verdict" in
		ok) pass "$(basename "$_bin")::$_test_name" ;;
		FAILED) fail "$(basename "$_bin")::$_test_name" ;;
		ignored) skip "$(basename "$_bin")::$_test_name" "ignored" ;;
		esac
	done <"$_out"
	if [ "$_status" != 0 ] && [ "$(grep -c ' \.\.\. FAILED' "$_out")" = 0 ]; then
		fail "$(basename "$_bin")" "test binary exited $_status without a failed test (crash or bad arguments?)"
	elif [ "$(_result_lines)" = "$_before" ]; then
		fail "$(basename "$_bin")" "test binary ran no test"
	fi
	rm -f "$_out"
}

_result_lines() {
	cat "$BRIG_VM_RESULTS"/passed "$BRIG_VM_RESULTS"/failed "$BRIG_VM_RESULTS"/skipped 2>/dev/null | wc -l
}

# --- runtimes ----------------------------------------------------------------

# Prints the OCI runtimes present in the VM (runc always, brig-runtime when
# the host passed it with --bin), one per line, for differential loops:
#   for rt in $(runtimes); do ...; done
# BRIG_VM_RUNTIMES (e.g. --env BRIG_VM_RUNTIMES=runc) narrows the list.
runtimes() {
	local _rt
	for _rt in ${BRIG_VM_RUNTIMES:-brig-runtime runc crun}; do
		command -v "$_rt" >/dev/null 2>&1 && echo "$_rt"
	done
	return 0
}

# --- bundles -----------------------------------------------------------------

# bundle_busybox DIR [ARG...]: a bundle whose rootfs is the VM's static
# busybox with all applets, and config.json from the template (runc's default
# spec with terminal false). ARGs replace process.args (default: sh).
bundle_busybox() {
	local dir=$1 applet
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
	local dir=$1 list="" arg
	shift
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
	local deadline
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
