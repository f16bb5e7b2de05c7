# process.apparmorProfile with a kernel that has AppArmor: every runtime
# present (BRIG_VM_RUNTIMES narrows them) confines the container's process
# and its exec'd processes with a loaded profile, the profile's deny rule
# holds inside the container, and an unknown profile fails cleanly (nothing
# left). brig-runtime also names the field and the profile in its error, and
# its seccomp filter is active on this kernel.
#
#   vm/run-tests --bin target/release/brig-runtime --scenario vm/scenarios/brig-apparmor.sh

profile=brig-aa-test
cat >/tmp/$profile.profile <<PROFILE
profile $profile flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  unix,
  deny /secret/** rw,
}
PROFILE
check "apparmor_parser loads the test profile" apparmor_parser -r /tmp/$profile.profile
check_output "the profile is loaded in enforce mode" "^$profile \\(enforce\\)" \
	cat /sys/kernel/security/apparmor/profiles

for rt in $(runtimes); do
	bundle_busybox aa-$rt sh -c 'cat /proc/self/attr/current; echo x > /secret/file || echo write-denied; exec sleep 60'
	bundle_set aa-$rt readonly false
	bundle_process aa-$rt "\"apparmorProfile\": \"$profile\""
	mkdir -p aa-$rt/rootfs/secret
	check "$rt: create with apparmorProfile" $rt create --bundle aa-$rt "aa-$rt"
	check "$rt: start" $rt start "aa-$rt"
	pid=$($rt state "aa-$rt" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	# start may return before the program's execve: wait for the label.
	check "$rt: the container's process runs under the profile" \
		wait_for 10 grep -q "^$profile (enforce)" /proc/$pid/attr/current
	check_output "$rt: an exec'd process runs under the container's profile" "^$profile \\(enforce\\)" \
		$rt exec "aa-$rt" cat /proc/self/attr/current
	check_output "$rt: the profile's deny rule holds in the container" "Permission denied|write-denied" \
		$rt exec "aa-$rt" sh -c 'echo x > /secret/other'
	check "$rt: nothing was written where the profile denies it" test ! -e aa-$rt/rootfs/secret/other
	check_output "$rt: exec --apparmor unconfined runs unconfined" "^unconfined" \
		$rt exec --apparmor unconfined "aa-$rt" cat /proc/self/attr/current
	timeout 30 $rt delete --force "aa-$rt" >/dev/null 2>&1

	bundle_busybox unknown-$rt true
	bundle_process unknown-$rt '"apparmorProfile": "brig-aa-no-such-profile"'
	check "$rt: an unknown apparmorProfile makes run fail" \
		sh -c "! $rt run --bundle unknown-$rt unknown-$rt"
	check "$rt: the failed run left no container" sh -c "! $rt state unknown-$rt"
	timeout 30 $rt delete --force "unknown-$rt" >/dev/null 2>&1
done

if command -v brig-runtime >/dev/null 2>&1 && runtimes | grep -qx brig-runtime; then
	bundle_busybox named true
	bundle_process named '"apparmorProfile": "brig-aa-no-such-profile"'
	check_output "brig-runtime: the error names the field and the profile" \
		'process.apparmorProfile.*brig-aa-no-such-profile.*not loaded' \
		brig-runtime run --bundle named named-brig
	timeout 30 brig-runtime delete --force named-brig >/dev/null 2>&1

	mkdir -p spec-brig && (cd spec-brig && brig-runtime spec)
	mkdir -p spec-brig/rootfs && cp -a aa-brig-runtime/rootfs/. spec-brig/rootfs/
	sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sh", "-c", "grep Seccomp: \/proc\/self\/status; mount -t tmpfs none \/dev\/shm || echo mount-refused"/' spec-brig/config.json
	check_output "brig-runtime: the default spec's seccomp filter is active" "^Seccomp:[[:space:]]*2" \
		brig-runtime run --bundle spec-brig spec-brig
	check_output "brig-runtime: the default spec refuses mount" "mount-refused" \
		brig-runtime run --bundle spec-brig spec-brig2
fi
