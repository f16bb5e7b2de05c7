# Issue 3's proof on pure cgroup v2, for every runtime present (brig-runtime
# when passed with --bin; Debian's runc 1.1 for comparison, skipping what it
# does not do): init cloned straight into its cgroup (CLONE_INTO_CGROUP),
# the eBPF device filter, OOM kills reported by `events`, the pids limit,
# the CPU quota, freezing, `update`, tiny memory limits, refusals of bad
# values, and no cgroup left after `delete`.

check_output "cgroup2 is mounted at /sys/fs/cgroup" '^cgroup2$' awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts
check "no devices controller exists (devices need eBPF on v2)" sh -c '! grep -qw devices /sys/fs/cgroup/cgroup.controllers'

parent=/sys/fs/cgroup/brig-vm-cg
launch=/sys/fs/cgroup/brig-vm-launch

# Helpers of this scenario (plain names, scenario-local).
state_pid() { $1 state "$2" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'; }
state_status() { $1 state "$2" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
# bundle_busybox links every applet with its own ln (slow under TCG): build
# one bundle and copy it. fresh_bundle DIR [ARG...] is bundle_busybox's twin.
bundle_busybox template
fresh_bundle() {
	local dir=$1
	shift
	rm -rf "$dir"
	cp -a template "$dir"
	[ $# -eq 0 ] || bundle_args "$dir" "$@"
}
# A bundle whose rootfs the container may write (results land in DIR/rootfs).
writable_bundle() {
	fresh_bundle "$@"
	bundle_set "$1" readonly false
}
# cg_bundle DIR NAME: the container's cgroup at $parent/NAME.
cg_bundle() { bundle_linux "$1" "\"cgroupsPath\": \"/brig-vm-cg/$2\""; }
# cpu_usage DIR: usage_usec of a cgroup.
cpu_usage() { cgroup_value "$1" cpu.stat usage_usec; }
# uptime_usec: time since boot in microseconds (10 ms resolution).
uptime_usec() { awk '{ printf "%d\n", $1 * 1000000 }' /proc/uptime; }

for rt in $(runtimes); do
	# --- placement: CLONE_INTO_CGROUP ---------------------------------------
	# The launching shell moves into a cgroup that allows one task (itself),
	# then becomes the runtime: only a runtime that clones init straight into
	# the container's cgroup can create the container from there.
	mkdir -p "$launch"
	echo 1 >"$launch/pids.max"
	check_output "$rt: control: a fork fails in a cgroup with pids.max 1" "can't fork" \
		sh -c "echo \$\$ > $launch/cgroup.procs; sh -c 'exit 0'; echo forked"
	fresh_bundle placed sleep 1000
	cg_bundle placed "$rt-placed"
	if [ "$rt" = runc ]; then
		skip "$rt: init is cloned straight into its cgroup" "runc 1.1 forks init in its own cgroup, then moves it"
	else
		check "$rt: create from a cgroup with pids.max 1 works: init is cloned into its cgroup (CLONE_INTO_CGROUP)" \
			sh -c "echo \$\$ > $launch/cgroup.procs && exec $rt create --bundle placed placed-$rt"
		pid=$(state_pid "$rt" "placed-$rt")
		check "$rt: the created init ($pid) is in the container's cgroup" \
			grep -qx "${pid:-none}" "$parent/$rt-placed/cgroup.procs"
		timeout 30 $rt delete --force "placed-$rt" >/dev/null 2>&1
	fi
	rmdir "$launch" 2>/dev/null

	# --- devices: the eBPF program -------------------------------------------
	# /kmsg is the character device 1:11, outside the default allow list.
	writable_bundle dev sh -c 'if echo brig-vm-device-test 2>/dev/null > /kmsg; then echo kmsg=opened; else echo kmsg=denied; fi; echo x > /dev/null && echo null=ok'
	mknod dev/rootfs/kmsg c 1 11
	cg_bundle dev "$rt-dev"
	check_output "$rt: a device outside the allow list cannot be opened" '^kmsg=denied$' \
		$rt run --bundle dev "dev-$rt"
	check_output "$rt: /dev/null stays usable" '^null=ok$' $rt run --bundle dev "dev2-$rt"
	# Append an allow rule after the template's deny-all rule (the only
	# object closing at four tabs): later rules win.
	tabs=$(printf '\t\t\t\t')
	sed -i "s/^$tabs}\$/$tabs}, {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 11, \"access\": \"w\"}/" dev/config.json
	check_output "$rt: the same node opens once a rule allows it" '^kmsg=opened$' \
		$rt run --bundle dev "dev3-$rt"

	# --- memory: OOM kill reported by events ---------------------------------
	writable_bundle hog sh -c 'while [ ! -e /go ]; do sleep 0.1; done; dd if=/dev/zero of=/dev/null bs=64M count=1; echo "dd=$?" > /result; exec sleep 1000'
	bundle_memory hog 33554432
	cg_bundle hog "$rt-hog"
	timeout 30 $rt run -d --bundle hog "hog-$rt" >/dev/null 2>&1
	$rt events --interval 200ms "hog-$rt" >events.out 2>&1 &
	events_pid=$!
	check "$rt: events prints stats lines" wait_for 20 grep -q '"type":"stats"' events.out
	touch hog/rootfs/go
	check "$rt: a 64 MiB hog under 32 MiB is SIGKILLed" wait_for 30 grep -qx 'dd=137' hog/rootfs/result
	check "$rt: events reports the OOM kill" wait_for 10 grep -q "\"type\":\"oom\",\"id\":\"hog-$rt\"" events.out
	check_output "$rt: memory.events counts it" '^[1-9]' cgroup_value "$parent/$rt-hog" memory.events oom_kill
	check_output "$rt: the container's init survived" '^running$' state_status "$rt" "hog-$rt"
	timeout 30 $rt delete --force "hog-$rt" >/dev/null 2>&1
	if [ "$rt" = runc ]; then
		skip "$rt: events ends when the container is gone" "runc 1.1 events does not always notice"
	else
		check "$rt: events ends when the container is gone" wait_for 10 sh -c "! kill -0 $events_pid"
	fi
	kill "$events_pid" 2>/dev/null
	wait "$events_pid" 2>/dev/null

	# --- pids: a bounded fork bomb -------------------------------------------
	writable_bundle bomb sh -c 'b() { [ $1 -eq 0 ] && exec sleep 1000; b $(($1-1)) & b $(($1-1)); }; b 8 2>>/err & exec sleep 1000'
	bundle_resources bomb '"pids": {"limit": 16}'
	cg_bundle bomb "$rt-bomb"
	timeout 30 $rt run -d --bundle bomb "bomb-$rt" >/dev/null 2>&1
	check "$rt: the fork bomb hits the pids limit" wait_for 30 grep -q "can't fork" bomb/rootfs/err
	check_output "$rt: pids.current stays at or below 16" '^([0-9]|1[0-6])$' cat "$parent/$rt-bomb/pids.current"
	check_output "$rt: pids.events counts refused forks" '^[1-9]' cgroup_value "$parent/$rt-bomb" pids.events max
	check "$rt: the host still forks" sh -c 'sh -c "exit 0"'
	timeout 30 $rt delete --force "bomb-$rt" >/dev/null 2>&1

	# --- cpu: a quarter of a CPU ---------------------------------------------
	fresh_bundle burn sh -c 'while :; do :; done'
	bundle_resources burn '"cpu": {"quota": 25000, "period": 100000}'
	cg_bundle burn "$rt-burn"
	timeout 30 $rt run -d --bundle burn "burn-$rt" >/dev/null 2>&1
	check_output "$rt: cpu.max is 25000 100000" '^25000 100000$' cat "$parent/$rt-burn/cpu.max"
	sleep 1
	share=0
	for attempt in 1 2 3; do
		before=$(cpu_usage "$parent/$rt-burn")
		t0=$(uptime_usec)
		sleep 1
		after=$(cpu_usage "$parent/$rt-burn")
		t1=$(uptime_usec)
		share=$(((after - before) * 100 / (t1 - t0)))
		note "$rt: the burner used $share% of a CPU (attempt $attempt)"
		[ "$share" -ge 20 ] && break
	done
	if [ "$share" -ge 20 ] && [ "$share" -le 30 ]; then
		pass "$rt: a quota of 0.25 CPU gives 20-30% of a core ($share%)"
	else
		fail "$rt: a quota of 0.25 CPU gives 20-30% of a core" "measured $share%"
	fi
	check "$rt: the burner is throttled" wait_for 10 \
		awk '$1 == "nr_throttled" && $2 > 0 { found = 1 } END { exit !found }' "$parent/$rt-burn/cpu.stat"

	# --- freezer: pause and resume -------------------------------------------
	check "$rt: pause" timeout 30 $rt pause "burn-$rt"
	check_output "$rt: state says paused" '^paused$' state_status "$rt" "burn-$rt"
	check_output "$rt: cgroup.events says frozen" '^1$' cgroup_value "$parent/$rt-burn" cgroup.events frozen
	before=$(cpu_usage "$parent/$rt-burn")
	sleep 0.5
	after=$(cpu_usage "$parent/$rt-burn")
	if [ "$after" = "$before" ]; then
		pass "$rt: a paused container uses no CPU"
	else
		fail "$rt: a paused container uses no CPU" "usage_usec $before -> $after"
	fi
	check "$rt: resume" timeout 30 $rt resume "burn-$rt"
	check_output "$rt: state says running" '^running$' state_status "$rt" "burn-$rt"
	before=$(cpu_usage "$parent/$rt-burn")
	sleep 0.5
	after=$(cpu_usage "$parent/$rt-burn")
	if [ "$after" -gt "$before" ]; then
		pass "$rt: a resumed container runs again"
	else
		fail "$rt: a resumed container runs again" "usage_usec $before -> $after"
	fi

	# --- update: a lower limit bites ------------------------------------------
	check "$rt: update --cpu-quota 10000" timeout 30 $rt update --cpu-quota 10000 "burn-$rt"
	check_output "$rt: cpu.max follows" '^10000 100000$' cat "$parent/$rt-burn/cpu.max"
	timeout 30 $rt delete --force "burn-$rt" >/dev/null 2>&1

	writable_bundle upd sh -c 'for n in 1 2; do while [ ! -e /go$n ]; do sleep 0.1; done; dd if=/dev/zero of=/dev/null bs=24M count=1; echo "dd=$?" > /result$n; done; exec sleep 1000'
	bundle_memory upd 67108864
	cg_bundle upd "$rt-upd"
	timeout 30 $rt run -d --bundle upd "upd-$rt" >/dev/null 2>&1
	touch upd/rootfs/go1
	check "$rt: 24 MiB fits under 64 MiB" wait_for 30 grep -qx 'dd=0' upd/rootfs/result1
	check "$rt: update --memory 16m --pids-limit 5" timeout 30 $rt update --memory 16m --pids-limit 5 "upd-$rt"
	check_output "$rt: memory.max follows" '^16777216$' cat "$parent/$rt-upd/memory.max"
	check_output "$rt: pids.max follows" '^5$' cat "$parent/$rt-upd/pids.max"
	touch upd/rootfs/go2
	check "$rt: 24 MiB under the new 16 MiB limit is SIGKILLed" wait_for 30 grep -qx 'dd=137' upd/rootfs/result2
	echo '{"unified": {"pids.max": "7"}}' >unified.json
	check "$rt: update --resources with a unified key" timeout 30 $rt update --resources unified.json "upd-$rt"
	check_output "$rt: pids.max follows the unified key" '^7$' cat "$parent/$rt-upd/pids.max"
	if [ "$rt" = runc ]; then
		skip "$rt: bad update values are refused, naming the flag" "runc 1.1 takes --cpu-period 0 as unchanged"
	else
		check_output "$rt: update --cpu-period 0 is refused, naming the flag" '^error.*--cpu-period' \
			$rt update --cpu-period 0 "upd-$rt"
		echo '{"unified": {"bogus.key": "1"}}' >bad.json
		check_output "$rt: an unknown unified key is refused, naming it" 'error.*unified.*bogus' \
			$rt update --resources bad.json "upd-$rt"
		check_output "$rt: the refused updates changed nothing" '^7$' cat "$parent/$rt-upd/pids.max"
	fi
	check_output "$rt: events --stats reports the memory limit" '"usage":\{[^}]*"limit":16777216' \
		$rt events --stats "upd-$rt"
	timeout 30 $rt delete --force "upd-$rt" >/dev/null 2>&1

	# --- small limits and start-up OOM ----------------------------------------
	if [ "$rt" = runc ]; then
		skip "$rt: a container with a 1 MiB memory limit runs true" "runc's Go init needs about 10 MiB"
		skip "$rt: an OOM kill during create is named" "runc 1.1 fails setting the limit instead"
	else
		fresh_bundle tiny true
		bundle_memory tiny 1048576
		cg_bundle tiny "$rt-tiny"
		check_status 0 "$rt: a container with a 1 MiB memory limit runs true" $rt run --bundle tiny "tiny-$rt"
		fresh_bundle starve true
		bundle_memory starve 16384
		cg_bundle starve "$rt-starve"
		check_output "$rt: an OOM kill during create is named" "OOM killer" $rt create --bundle starve "starve-$rt"
		check "$rt: the failed create left no state" sh -c "! $rt state starve-$rt"
	fi

	# --- bad input at create --------------------------------------------------
	if [ "$rt" = runc ]; then
		skip "$rt: a cgroupsPath with .. is refused" "runc 1.1 cleans the path and runs"
	else
		fresh_bundle dotdot true
		bundle_linux dotdot '"cgroupsPath": "/brig-vm-cg/../escape"'
		check_output "$rt: a cgroupsPath with .. is refused" 'cgroupsPath' $rt run --bundle dotdot "dotdot-$rt"
		check "$rt: nothing escaped" test ! -e /sys/fs/cgroup/escape
	fi

	# --- nothing left ----------------------------------------------------------
	check "$rt: no container cgroup is left" sh -c "! ls -d $parent/$rt-* 2>/dev/null | grep -q ."
done
rmdir "$parent" 2>/dev/null
check "the scenario's parent cgroup is gone" test ! -e "$parent"
