# AppArmor works in the VM: a profile loads with apparmor_parser, confines a
# process through aa-exec and through /proc/self/attr/apparmor/exec (what an
# OCI runtime writes for process.apparmorProfile), and every runtime present
# applies a config.json's apparmorProfile or refuses an unknown one.

check "securityfs shows /sys/kernel/security/apparmor" test -d /sys/kernel/security/apparmor
check_output "the apparmor module is enabled" '^Y' cat /sys/module/apparmor/parameters/enabled
check_output "apparmor is an active LSM" 'apparmor' cat /sys/kernel/security/lsm

profile=brig-vm-test
cat >/tmp/$profile.profile <<PROFILE
profile $profile flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  mount,
  umount,
  pivot_root,
  signal,
  ptrace,
  unix,
  deny /tmp/brig-vm-denied/** w,
}
PROFILE
check "apparmor_parser loads a profile" apparmor_parser -r /tmp/$profile.profile
check_output "the kernel lists the profile in enforce mode" "^$profile \\(enforce\\)" \
	cat /sys/kernel/security/apparmor/profiles
check_output "aa-exec runs a process under the profile" "^$profile \\(enforce\\)" \
	aa-exec -p $profile -- cat /proc/self/attr/current
check_output "writing /proc/self/attr/apparmor/exec confines the next exec" "^$profile \\(enforce\\)" \
	sh -c "printf 'exec $profile' >/proc/self/attr/apparmor/exec && exec cat /proc/self/attr/current"

mkdir -p /tmp/brig-vm-denied
check "an unconfined process may write the denied path" sh -c 'echo ok >/tmp/brig-vm-denied/unconfined'
check_output "the profile denies the write to a confined process" 'Permission denied' \
	aa-exec -p $profile -- sh -c 'echo x >/tmp/brig-vm-denied/confined'
check "the denied file was not created" test ! -e /tmp/brig-vm-denied/confined

for rt in $(runtimes); do
	bundle_busybox confined cat /proc/self/attr/current
	bundle_process confined "\"apparmorProfile\": \"$profile\""
	check_output "$rt: process.apparmorProfile confines the container process" "^$profile \\(enforce\\)" \
		$rt run --bundle confined "aa-$rt"

	bundle_busybox unknown true
	bundle_process unknown '"apparmorProfile": "brig-vm-no-such-profile"'
	check "$rt: an unknown apparmorProfile makes run fail" sh -c "! $rt run --bundle unknown unknown-$rt"
	timeout 30 $rt delete --force "unknown-$rt" >/dev/null 2>&1
done
