# Top-level driver of the build. `make demo` and `make test` are the two
# entry points a newcomer needs; each installs its Debian packages first.
#
#   make              firmware, userspace (release) and npu.ko for 6.12 + 6.1
#   make firmware     build/firmware/npu_fw.bin
#   make userspace    build/release: emulator, libnpu, tools, examples, tests
#   make module [KVER=release | KDIR=dir]   one npu.ko in build/driver/KVER
#   make modules      npu.ko for every lane kernel
#   make demo         two virtual NPUs: npu-smi, fill/copy on each, a
#                     multi-stream pipeline with events and pools; the
#                     digits CNN through npu-onnx and the PyTorch device
#   make models       build/models: the demo's and npu-bench's networks
#                     (generated once, cached in $(NPU_CACHE)/models)
#   make test         style, host suites (release, ASan+UBSan, TSan), the
#                     in-VM suites on 6.12, 6.1 and the debug kernel, DKMS
#   make debug-kernel the KASAN/lockdep kernel (cached per machine)
#   make check-style  checkpatch --strict, W=1, sparse on both kernels
#   make dkms-install [KVER="6.12 6.1"]   npu.ko via DKMS (default: every
#                     kernel with headers), firmware, udev rule; dkms-remove
#   make deb          build/deb/npu-dkms_<version>_all.deb

SHELL := /bin/bash
TOP := $(CURDIR)
BUILD := $(TOP)/build
JOBS ?= $(shell nproc)
export NPU_CACHE ?= /var/cache/npu
# Compiler cache shared by every clone on the machine (paths made relative).
export CCACHE_DIR ?= $(NPU_CACHE)/ccache
export CCACHE_BASEDIR ?= $(TOP)
export CCACHE_NOHASHDIR ?= 1

kernel_release = $(shell . $(TOP)/tools/vm/kernels.sh; npu_kernel_release $(1))
# The kernels every lane covers; resolved after install-deps has run.
LANE_KERNELS ?= 6.12 6.1
# make test adds the debug-kernel lane (KASAN, lockdep, kmemleak, ...).
TEST_KERNELS ?= $(LANE_KERNELS) debug

.PHONY: all deps firmware userspace module modules models demo test test-host \
	test-vm check-style clean debug-kernel dkms-install dkms-remove deb

all: deps
	@$(MAKE) --no-print-directory firmware userspace modules

deps:
	@$(TOP)/tools/install-deps

firmware:
	@$(MAKE) --no-print-directory -s -C firmware O=$(BUILD)/firmware

userspace:
	@mkdir -p $(BUILD)
	@cmake --preset release -Wno-dev > $(BUILD)/.cmake-release.log 2>&1 || \
		{ cat $(BUILD)/.cmake-release.log; exit 1; }
	@cmake --build --preset release -j $(JOBS) -- --quiet 2>&1 | \
		grep -v '^\[' || true; test $${PIPESTATUS[0]} -eq 0

# KVER names a kernel release or a lane name (6.12, 6.1, debug).
KVER ?= 6.12
module:
	@rel=$(call kernel_release,$(KVER)); \
	kdir=$${KDIR:-$$(. $(TOP)/tools/vm/kernels.sh; npu_kernel_build_dir $$rel)}; \
	[ -n "$$rel" ] || { echo "make module: no kernel '$(KVER)'$(if $(filter debug,$(KVER)), (run: make debug-kernel))"; exit 1; }; \
	$(MAKE) --no-print-directory -s -C driver KDIR=$$kdir O=$(BUILD)/driver/$$rel

modules:
	@for k in $(LANE_KERNELS); do \
		$(MAKE) --no-print-directory module KVER=$$k || exit 1; done

# The networks of the demo and the framework benchmarks: build products,
# never committed; regenerated only when their scripts or the Debian
# packages that make them change (frameworks/models/build-models).
models: deps
	@$(TOP)/frameworks/models/build-models $(BUILD)/models

demo: all models
	@$(TOP)/tools/npu-vm --quiet --kernel 6.12 --devices 2 --memory 2048 -- \
		$(TOP)/examples/run-demo $(BUILD)/release $(BUILD)/models

test: deps
	@$(MAKE) --no-print-directory firmware userspace modules models
	@$(TOP)/tests/run-all $(TEST_KERNELS)

test-host: all
	@$(TOP)/tests/run-all --host-only

test-vm: all
	@$(TOP)/tests/run-all --vm-only $(TEST_KERNELS)

# The KASAN/lockdep/kmemleak kernel of the debug lane, cached per machine in
# $(NPU_CACHE)/debug-kernel (about 15 minutes the first time).
debug-kernel: deps
	@$(TOP)/tools/vm/debug-kernel > /dev/null

check-style: deps
	@$(TOP)/driver/check-style $(foreach k,$(LANE_KERNELS),$(call kernel_release,$(k)))

# KVER is not defaulted here: no KVER means every kernel with headers.
dkms-install: firmware
	@$(TOP)/packaging/dkms-install \
		$(if $(filter command line environment,$(origin KVER)),$(KVER))

dkms-remove:
	@$(TOP)/packaging/dkms-install --remove

deb:
	@$(TOP)/packaging/build-deb $(BUILD)/deb

clean:
	rm -rf $(BUILD)
