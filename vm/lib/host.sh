# shellcheck shell=bash disable=SC2154 # the option variables come from run-tests
# Host-side functions of vm/run-tests (bash). They read the option variables
# that run-tests sets (cache, tmp, stage, bins, ...) and write only into the
# cache directory and the temporary directory.

# Kernel modules loaded in every VM (dependencies are added from each
# module's own modinfo): overlay for root filesystems, veth/bridge/nftables
# for networking, dummy for network tests that need a spare device.
# shellcheck disable=SC2034 # used by run-tests
default_modules=(overlay veth bridge br_netfilter nf_tables nft_chain_nat nft_nat nft_masq
	nft_ct nft_reject_inet nft_fib_inet dummy)

log() { echo "vm: $*" >&2; }
die() {
	echo "vm: error: $*" >&2
	exit 1
}

# --- tools -------------------------------------------------------------------

apt_updated=0
apt_update_once() {
	[[ $apt_updated == 1 ]] && return 0
	apt_updated=1
	log "apt-get update"
	apt-get update -qq >&2 || log "apt-get update failed; using the package lists as they are"
}

busybox_is_static() {
	[[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1
}

# Installs the host tools that are missing, or says which command would.
ensure_tools() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	command -v cpio >/dev/null || missing+=(cpio)
	busybox_is_static || missing+=(busybox-static)
	command -v runc >/dev/null || missing+=(runc)
	[[ ${#missing[@]} -eq 0 ]] && return 0
	local cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
	if [[ $install == 0 || $(id -u) != 0 ]]; then
		die "missing tools; install them with: ${cmd[*]}"
	fi
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive "${cmd[@]}" >&2 || {
		apt_update_once
		DEBIAN_FRONTEND=noninteractive "${cmd[@]}" >&2
	} || die "could not install ${missing[*]} (${cmd[*]})"
}

# --- Debian packages in the cache ---------------------------------------------

# The kernel package that linux-image-amd64 points at (one package, ~70 MB;
# a wildcard would fetch every kernel flavour).
kernel_package_name() {
	apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

candidate_version() {
	apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}

# extracted_package NAME: prints the directory where NAME's candidate version
# is unpacked in the cache, downloading and unpacking it first if needed.
# Without apt (offline), falls back to the newest version already cached.
extracted_package() {
	local name=$1 version deb dir
	version=$(candidate_version "$name")
	if [[ -z $version ]]; then
		apt_update_once
		version=$(candidate_version "$name")
	fi
	if [[ -z $version ]]; then
		dir=$(find "$cache/pkgs" -maxdepth 1 -name "${name}_*" -type d 2>/dev/null | sort -V | tail -n 1)
		[[ -n $dir && -f $dir/.complete ]] || die "apt knows no package $name and the cache has none"
		log "apt knows no $name; using the cached $(basename "$dir")"
		echo "$dir"
		return 0
	fi
	dir=$cache/pkgs/${name}_${version//:/%3a}
	if [[ ! -f $dir/.complete ]]; then
		deb=$cache/debs/${name}_${version//:/%3a}_amd64.deb
		if [[ ! -f $deb ]]; then
			log "downloading $name=$version"
			local part=$cache/debs/partial.$$
			rm -rf "$part" && mkdir -p "$part"
			(cd "$part" && apt-get -q -o APT::Sandbox::User=root download "$name=$version" >&2) ||
				die "apt-get download $name=$version failed"
			mv "$part"/*.deb "$deb"
			rm -rf "$part"
		fi
		log "unpacking $(basename "$deb")"
		rm -rf "$dir" "$dir.partial"
		dpkg -x "$deb" "$dir.partial" || die "dpkg -x $deb failed"
		touch "$dir.partial/.complete"
		mv "$dir.partial" "$dir"
	fi
	echo "$dir"
}

# Removes cached packages whose names start with PREFIX, except KEEP_DIR and
# its .deb (old kernels are ~460 MB each once unpacked).
prune_package() {
	local prefix=$1 keep_dir=$2 entry
	for entry in "$cache/pkgs/$prefix"* "$cache/debs/$prefix"*; do
		[[ -e $entry && $entry != "$keep_dir" && $entry != "$cache/debs/$(basename "$keep_dir")_amd64.deb" ]] || continue
		log "removing old cache entry $(basename "$entry")"
		rm -rf "$entry"
	done
}

# Sets kernel_root, kernel_version, kernel_image, apparmor_root.
fetch_packages() {
	mkdir -p "$cache/debs" "$cache/pkgs" || die "cannot create the cache directory $cache (use --cache DIR)"
	exec 9>"$cache/lock"
	flock 9 # another run may be filling the cache
	local kernel_pkg
	kernel_pkg=$(kernel_package_name)
	if [[ -z $kernel_pkg ]]; then
		apt_update_once
		kernel_pkg=$(kernel_package_name)
	fi
	if [[ -z $kernel_pkg ]]; then
		kernel_root=$(find "$cache/pkgs" -maxdepth 1 -name 'linux-image-*' -type d | sort -V | tail -n 1)
		[[ -n $kernel_root ]] || die "apt-cache depends linux-image-amd64 names no kernel and none is cached"
		kernel_pkg=$(basename "$kernel_root")
		kernel_pkg=${kernel_pkg%%_*}
	fi
	kernel_root=$(extracted_package "$kernel_pkg")
	apparmor_root=$(extracted_package apparmor)
	prune_package linux-image- "$kernel_root"
	prune_package apparmor_ "$apparmor_root"
	exec 9>&-
	kernel_version=${kernel_pkg#linux-image-}
	kernel_image=$kernel_root/boot/vmlinuz-$kernel_version
	[[ -f $kernel_image ]] || die "no $kernel_image in package $kernel_pkg"
}

# --- the initramfs tree ----------------------------------------------------------

# copy_elf SRC DEST_IN_VM: copies a program and the shared libraries it
# needs (as ldd resolves them on the host) into the stage tree.
copy_elf() {
	local src=$1 dest=$2 lib libs
	mkdir -p "$stage$(dirname "$dest")"
	cp -L "$src" "$stage$dest"
	chmod 0755 "$stage$dest"
	libs=$(ldd "$src" 2>/dev/null) || return 0 # static
	if grep -q 'not found' <<<"$libs"; then
		die "$src needs libraries that are not installed: $(grep 'not found' <<<"$libs" | tr -s ' \t' ' ')"
	fi
	for lib in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$libs"); do
		[[ -e $stage$lib ]] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}

# The skeleton: merged /usr like Debian, busybox with every applet, our init.
build_tree() {
	mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc,dev,proc,sys,run,tmp,root,brig-vm/scenarios}
	local link
	for link in bin sbin lib lib64; do ln -s "usr/$link" "$stage/$link"; done
	cp /bin/busybox "$stage/usr/bin/busybox"
	local applet target
	for applet in $(/bin/busybox --list-full); do
		case "$applet" in
		linuxrc | */busybox) continue ;;
		usr/*) target=$applet ;;
		*) target=usr/$applet ;;
		esac
		[[ -e $stage/$target ]] || ln -s /usr/bin/busybox "$stage/$target"
	done
	# Lets the kernel give init its console; init copes without it too.
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$stage/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$stage/etc/group"
	ln -s /proc/self/mounts "$stage/etc/mtab"
	install -m 0755 "$here/guest/init" "$stage/init"
	cp "$here/guest/lib.sh" "$here/guest/run-scenarios" "$here/guest/config.json" "$stage/brig-vm/"

	copy_elf "$(command -v runc)" /usr/sbin/runc
	copy_elf "$apparmor_root/sbin/apparmor_parser" /usr/sbin/apparmor_parser
	local tool
	for tool in usr/bin/aa-exec usr/bin/aa-enabled usr/sbin/aa-status; do
		[[ -f $apparmor_root/$tool ]] && copy_elf "$apparmor_root/$tool" "/$tool"
	done
	cp -a "$apparmor_root/etc/apparmor" "$apparmor_root/etc/apparmor.d" "$stage/etc/"
	# The policy ABI apparmor_parser compiles for when a profile names none.
	mkdir -p "$stage/usr/share"
	cp -a "$apparmor_root/usr/share/apparmor-features" "$stage/usr/share/"
}

# module_file NAME: the module's path relative to the kernel's module dir.
declare -A module_index=()
index_modules() {
	local path name
	while IFS= read -r path; do
		name=${path##*/}
		name=${name%%.ko*}
		module_index[${name//-/_}]=$path
	done < <(cd "$module_dir" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst')
}

module_cat() {
	case "$1" in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -dcq "$1" ;;
	*) cat "$1" ;;
	esac
}

# module_by_alias ALIAS: the module (path) that declares ALIAS, preferring a
# generic implementation (e.g. crc32c -> crypto/crc32c_generic.ko). Only used
# for soft dependencies, which name aliases; a full scan takes ~0.2 s.
module_by_alias() {
	local file found=()
	while IFS= read -r file; do
		tr '\0' '\n' <"$module_dir/$file" | grep -qxF "alias=$1" && found+=("$file")
	done < <(cd "$module_dir" && grep -rlaF --include='*.ko' "alias=$1" kernel | sort)
	for file in "${found[@]}"; do
		[[ $file == *generic* ]] && { echo "$file"; return 0; }
	done
	[[ ${#found[@]} -gt 0 ]] && echo "${found[0]}"
	return 0
}

# add_module NAME: the module's dependencies first (hard ones, and the "pre:"
# soft ones that modprobe would load, e.g. libcrc32c's crc32c), then the
# module itself, appended to the VM's load list. Built-in modules need
# nothing.
declare -A module_added=()
add_module() {
	local name=${1//-/_} path dep info
	[[ -n ${module_added[$name]:-} ]] && return 0
	module_added[$name]=1
	path=${module_index[$name]:-}
	if [[ -z $path ]]; then
		grep -Eq "/${name//_/[-_]}\.ko" "$module_dir/modules.builtin" && return 0
		die "kernel $kernel_version has no module $name"
	fi
	info=$(module_cat "$module_dir/$path" | tr '\0' '\n' | grep -E '^(depends|softdep)=' || true)
	for dep in $(sed -n 's/^depends=//p' <<<"$info" | tr ',' ' '); do add_module "$dep"; done
	for dep in $(sed -n 's/^softdep=.*pre: *//p' <<<"$info" | sed 's/ post:.*//'); do
		add_soft_dependency "$dep" "$name"
	done
	local dest=/lib/modules/$kernel_version/${path%%.ko*}.ko
	mkdir -p "$stage$(dirname "$dest")"
	module_cat "$module_dir/$path" >"$stage$dest"
	echo "$dest" >>"$stage/brig-vm/modules"
}

# add_soft_dependency NAME_OR_ALIAS FOR_MODULE
add_soft_dependency() {
	local name=${1//-/_} path
	if [[ -n ${module_index[$name]:-} ]]; then
		add_module "$name"
		return 0
	fi
	grep -Eq "/${name//_/[-_]}\.ko" "$module_dir/modules.builtin" && return 0
	path=$(module_by_alias "$1")
	if [[ -z $path ]]; then
		log "note: no module provides $1 (soft dependency of $2)"
		return 0
	fi
	path=$(basename "$path")
	add_module "${path%%.ko*}"
}

add_modules() {
	module_dir=$kernel_root/lib/modules/$kernel_version
	index_modules
	local name
	for name in "$@"; do add_module "$name"; done
}

# Binaries, files, scenarios, commands and environment from the command line.
add_payload() {
	local bin dest
	for bin in "${bins[@]}"; do
		dest=/usr/local/bin/$(basename "$bin")
		copy_elf "$bin" "$dest"
		# Debug info only costs memory in the VM; symbols stay for backtraces.
		if command -v strip >/dev/null; then
			strip --strip-debug "$stage$dest" 2>/dev/null || true
		fi
	done
	local spec src
	for spec in "${files[@]}"; do
		src=${spec%%:*}
		dest=${spec#*:}
		[[ $spec == *:* ]] || dest=/brig-vm/files/$(basename "$src")
		[[ -e $src ]] || die "--file: no such file or directory: $src"
		mkdir -p "$stage$(dirname "$dest")"
		cp -a "$src" "$stage$dest"
	done
	local n=0 script cmd
	for script in "${scenarios[@]}"; do
		n=$((n + 1))
		cp "$script" "$stage/brig-vm/scenarios/$(printf '%02d' "$n")-$(basename "$script")"
	done
	for cmd in "${cmds[@]}"; do
		n=$((n + 1))
		printf '# brig-vm-cmd: %s\n%s\n' "${cmd//$'\n'/ }" "$cmd" >"$stage/brig-vm/scenarios/$(printf '%02d' "$n")-cmd.sh"
	done
	local kv
	{
		echo "BRIG_VM_SCENARIO_TIMEOUT='$scenario_timeout'"
		for kv in "${envs[@]}"; do
			local value=${kv#*=}
			echo "${kv%%=*}='${value//\'/\'\\\'\'}'"
		done
	} >"$stage/brig-vm/env"
}

# --- boot -----------------------------------------------------------------------

# Boots the VM, streams its console, and exits with the verdict.
boot_vm() {
	local cmdline="console=ttyS0 panic=-1 loglevel=3 apparmor=1 security=apparmor cgroup_no_v1=all mitigations=off $append"
	local log=$tmp/console.log status started
	started=$(date +%s.%N)
	set +e
	timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
		-accel "$accel" -cpu max -smp "$cpus" -m "$memory" \
		-nodefaults -no-reboot -display none -monitor none -serial stdio \
		-kernel "$kernel_image" -initrd "$initrd" -append "$cmdline" \
		</dev/null 2>&1 | sed -u 's/\r$//' | tee "$log"
	status=${PIPESTATUS[0]}
	set -e
	local elapsed
	elapsed=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	[[ $status != 124 ]] || log "timed out after ${timeout_s}s (--timeout)"
	local result
	result=$(grep -a '^BRIG-VM-RESULT: ' "$log" | tail -n 1 || true)
	if [[ -z $result ]]; then
		if grep -q 'brig-vm: kernel' "$log"; then
			log "the VM stopped without a result line after ${elapsed}s (qemu status $status; timeout ${timeout_s}s)"
		else
			log "the VM did not reach its init after ${elapsed}s (qemu status $status)"
		fi
		echo "BRIG-VM-RESULT: 0 passed, 1 failed"
		exit 1
	fi
	local passed failed
	passed=$(sed -E 's/^BRIG-VM-RESULT: ([0-9]+) passed.*/\1/' <<<"$result")
	failed=$(sed -E 's/^BRIG-VM-RESULT: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$result")
	log "VM run took ${elapsed}s"
	# Repeated as the last line of the output, where CI looks for it.
	echo "$result"
	if [[ $failed == 0 && $passed -gt 0 ]]; then
		exit 0
	fi
	[[ $passed -gt 0 ]] || log "no check ran"
	exit 1
}
