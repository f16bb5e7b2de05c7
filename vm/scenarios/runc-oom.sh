# Pure cgroup v2 in the VM, and the kernel OOM-kills a memory hog in a
# container limited to 32 MiB (issue 3's proof), for every runtime present
# (Debian's runc always; brig-runtime when passed with --bin).

check_output "cgroup2 is mounted at /sys/fs/cgroup" '^cgroup2$' awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts
check "no cgroup v1 hierarchy is mounted" sh -c '! awk "\$3 == \"cgroup\"" /proc/mounts | grep -q .'
check_output "memory, pids, cpu and io are delegated" 'cpu.*io.*memory.*pids' cat /sys/fs/cgroup/cgroup.subtree_control

parent=/sys/fs/cgroup/brig-vm-oom
# Made here, not by a runtime: brig-runtime removes the empty parents it made
# with the container's cgroup, and the parent's memory.events is read below.
mkdir -p "$parent"
for rt in $(runtimes); do
	# The limit is written to memory.max before the process runs.
	bundle_busybox limited true
	bundle_memory limited 33554432
	bundle_linux limited "\"cgroupsPath\": \"/brig-vm-oom/$rt-created\""
	timeout 30 $rt create --bundle limited "limit-$rt" >create.log 2>&1
	check_output "$rt: memory.max is 32 MiB in the created container's cgroup" '^33554432$' \
		cat "$parent/$rt-created/memory.max"
	timeout 30 $rt delete --force "limit-$rt" >/dev/null 2>&1
	check "$rt: delete removes the container's cgroup" test ! -e "$parent/$rt-created"

	# A process that stays under the limit is not disturbed.
	bundle_busybox small dd if=/dev/zero of=/dev/null bs=8M count=1
	bundle_memory small 33554432
	bundle_linux small "\"cgroupsPath\": \"/brig-vm-oom/$rt-small\""
	check_status 0 "$rt: 8 MiB buffer under a 32 MiB limit runs" $rt run --bundle small "small-$rt"

	# dd's 64 MiB buffer is filled from /dev/zero: the memory is really used.
	bundle_busybox hog dd if=/dev/zero of=/dev/null bs=64M count=1
	bundle_memory hog 33554432
	bundle_linux hog "\"cgroupsPath\": \"/brig-vm-oom/$rt\""
	kills_before=$(cgroup_value "$parent" memory.events oom_kill 2>/dev/null)
	check_status 137 "$rt: 64 MiB hog under a 32 MiB limit is SIGKILLed (exit 137)" $rt run --bundle hog "hog-$rt"
	kills_after=$(cgroup_value "$parent" memory.events oom_kill)
	if [ "${kills_after:-0}" -gt "${kills_before:-0}" ]; then
		pass "$rt: memory.events counts the OOM kill (oom_kill ${kills_before:-0} -> $kills_after)"
	else
		fail "$rt: memory.events counts the OOM kill" "oom_kill ${kills_before:-0} -> ${kills_after:-none}"
		cat "$parent/memory.events"
	fi
	check "$rt: no container cgroup is left after run" test ! -e "$parent/$rt"
done
check_output "the kernel log reports a memory cgroup OOM kill" 'Memory cgroup out of memory' dmesg
rmdir "$parent" 2>/dev/null
