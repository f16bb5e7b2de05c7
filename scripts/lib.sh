# Shared by the Quick start scripts.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Honour a caller's target directory; default to the repository's.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
target=$CARGO_TARGET_DIR

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "error: run as root: containers need namespaces, mounts and cgroups" >&2
		exit 1
	fi
}

# Installs the Debian packages of scripts/packages.txt that are missing.
install_packages() {
	local missing=()
	while read -r pkg; do
		case "$pkg" in '' | '#'*) continue ;; esac
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
	done <"$repo/scripts/packages.txt"
	if [ ${#missing[@]} -gt 0 ]; then
		echo "==> apt-get install ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# brig's shared /brig cgroup parent stays once made (as Docker's /docker).
# note_cgroup_parents records the hierarchies without one;
# remove_made_cgroup_parents (in an EXIT trap) removes those made since.
note_cgroup_parents() {
	absent_cgroup_parents=()
	local hierarchy
	for hierarchy in $(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) ~ /^cgroup2?$/) print $5; break } }' /proc/self/mountinfo); do
		[ -e "$hierarchy/brig" ] || absent_cgroup_parents+=("$hierarchy/brig")
	done
}
remove_made_cgroup_parents() {
	local parent
	for parent in "${absent_cgroup_parents[@]}"; do
		[ -e "$parent" ] && rmdir "$parent" 2>/dev/null || true
	done
}

need_cargo() {
	if ! command -v cargo >/dev/null; then
		echo "error: cargo not found: install Rust 1.89 or newer (https://rustup.rs), then run this again" >&2
		exit 1
	fi
}

# Builds brig-runtime as shipped: the `runtime` profile (small, fat LTO),
# linked statically, with packed relative relocations (DT_RELR: the static
# PIE's self-relocation table shrinks from ~280 KiB to ~4 KiB, all of which
# was read at every start). crt-static goes through the target-specific
# flags so build scripts and proc macros stay dynamic; that needs an
# explicit --target, hence the triple in the output path. Sets $runtime_bin.
build_runtime() {
	local triple
	triple=$(rustc -vV | sed -n 's/^host: //p')
	local flags_var
	flags_var="CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_RUSTFLAGS"
	echo "==> cargo build --profile runtime --target $triple -p brig-runtime-cli (static)"
	env "$flags_var=-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" \
		cargo build --profile runtime --target "$triple" -p brig-runtime-cli
	runtime_bin="$target/$triple/runtime/brig-runtime"
}
