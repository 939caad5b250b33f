# shellcheck shell=bash
# Which guest kernels npu-vm and the Makefile know: "6.12" and "6.1" are
# Debian's packaged kernels, "debug" the locally built debug kernel (see
# tools/vm/debug-kernel), anything else an exact release under /lib/modules.

npu_debug_kernel_dir() {
	echo "${NPU_CACHE:-/var/cache/npu}/debug-kernel"
}

# npu_kernel_release NAME: print the kernel release NAME stands for.
npu_kernel_release() {
	local name=$1 img
	case "$name" in
	debug)
		[ -f "$(npu_debug_kernel_dir)/release" ] || return 1
		cat "$(npu_debug_kernel_dir)/release"
		return 0 ;;
	6.1) img=$(ls /boot/vmlinuz-6.1.* 2>/dev/null | sort -V | tail -n 1) ;;
	6.12) img=$(ls /boot/vmlinuz-6.12.* 2>/dev/null | sort -V | tail -n 1) ;;
	*) [ -d "/lib/modules/$name" ] || return 1; echo "$name"; return 0 ;;
	esac
	[ -n "$img" ] || return 1
	echo "${img#/boot/vmlinuz-}"
}

# npu_kernel_image RELEASE: print the bootable image of RELEASE.
npu_kernel_image() {
	local rel=$1 dbg
	dbg=$(npu_debug_kernel_dir)
	if [ -f "$dbg/release" ] && [ "$(cat "$dbg/release")" = "$rel" ]; then
		echo "$dbg/bzImage"
	elif [ -f "/boot/vmlinuz-$rel" ]; then
		echo "/boot/vmlinuz-$rel"
	else
		return 1
	fi
}

# npu_kernel_build_dir RELEASE: print the directory to build modules against.
npu_kernel_build_dir() {
	local rel=$1 dbg
	dbg=$(npu_debug_kernel_dir)
	if [ -f "$dbg/release" ] && [ "$(cat "$dbg/release")" = "$rel" ]; then
		echo "$dbg/build"
		return 0
	fi
	[ -d "/lib/modules/$rel/build" ] || return 1
	readlink -f "/lib/modules/$rel/build"
}
