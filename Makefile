# s3-proxy: ngx_http_s3_proxy_module for Debian's stock nginx.
SHELL := /bin/bash
#
#   make          build build/ngx_http_s3_proxy_module.so
#   make run      nginx with the module (a local demo S3 without AWS settings)
#   make check    the quick tests (about 2 minutes once built)
#   make test     every test: Swift unit tests and the real nginx end to end
#   make help     all targets

PORT        ?= 8080
WORKERS     ?= auto
LOG_LEVEL   ?= notice
DEMO_S3_PORT ?= 9000

SWIFT       ?= swift
SWIFTC      ?= swiftc
CLANG       ?= $(dir $(shell readlink -f $$(command -v $(SWIFTC)) 2>/dev/null))clang
# The nginx the module is built for: a source tree or release tarball, and
# the binary whose `nginx -V` configure arguments it is built with.  Given
# NGINX_SRC without NGINX_BIN, the module is built with --with-compat alone.
NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
NGINX_FLAGS_BIN := $(if $(and $(filter file,$(origin NGINX_BIN)),$(filter-out file,$(origin NGINX_SRC))),,$(NGINX_BIN))
# Debian's python3, which takes no pip installs (PEP 668): the tests' Python
# packages (requirements.txt) go into a virtual environment made from it.
SYSTEM_PYTHON ?= /usr/bin/python3

BUILD       := build
MODULE      := $(BUILD)/ngx_http_s3_proxy_module.so
VENV        := $(BUILD)/venv
PYTHON      := $(abspath $(VENV))/bin/python
# The venv first on PATH: python3, pytest and the aws CLI that the tests and
# scripts run are the venv's.
export PATH := $(abspath $(VENV))/bin:$(PATH)
SWIFT_SRCS  := Package.swift $(wildcard CShim/include/*.h Sources/*/include/*.h Sources/*/include/*.modulemap) $(shell find Sources -name '*.swift' -o -name '*.c')
C_SRCS      := $(wildcard nginx/*.c nginx/*.h) nginx/config nginx/exports.map
REFERENCE_SRCS := $(wildcard Tests/S3ProxyTests/Reference/*.swift)

# The Swift core for the module, built with Embedded Swift: every Swift file
# under Sources/S3Proxy and every C file under Sources/COpenSSL (folders
# included, as SwiftPM takes them) into one archive,
# position-independent, for the host's own target.  swift build and swift
# test build the same sources with the full runtime.
CORE_DIR    := $(BUILD)/core
CORE_LIB    := $(CORE_DIR)/libs3proxy_core.a
CORE_SWIFT  := $(sort $(shell find Sources/S3Proxy -name '*.swift'))
CORE_C      := $(sort $(shell find Sources/COpenSSL -name '*.c'))
CORE_HDRS   := $(wildcard CShim/include/* Sources/COpenSSL/include/*)
TARGET      ?= $(shell $(SWIFTC) -print-target-info 2>/dev/null | sed -n 's/^ *"triple": "\(.*\)",*$$/\1/p' | head -n 1)

.PHONY: all help deps core run check test test-unit bench fuzz clean deb \
    install test-package test-nginx-versions static FORCE

FUZZ_SECONDS ?= 60

all: $(MODULE)

help:
	@echo "make            build $(MODULE) against Debian's nginx-dev"
	@echo "                (NGINX_SRC=<tree or nginx-X.Y.Z.tar.gz> NGINX_BIN=<nginx>:"
	@echo "                for that nginx, with its nginx -V configure arguments)"
	@echo "make run        run NGINX_BIN=$(NGINX_BIN) with the module on PORT=$(PORT)"
	@echo "                (no AWS_ACCESS_KEY_ID: a local demo S3 on DEMO_S3_PORT=$(DEMO_S3_PORT))"
	@echo "make check      the quick tier: swift test, the signing comparisons and the"
	@echo "                integration tests not marked slow (about 2 minutes once built)"
	@echo "make test       every test: what check runs, the slow integration tests,"
	@echo "                the module's checks, fuzzing, and test-nginx-versions"
	@echo "                (skipped, saying so, without $(NGINX_VERSIONS_DIR))"
	@echo "make test-unit  swift test only"
	@echo "make test-nginx-versions  build each nginx-X.Y.Z.tar.gz in NGINX_VERSIONS_DIR"
	@echo "                (default $(NGINX_VERSIONS_DIR); cached in $(BUILD)/nginx-versions),"
	@echo "                the module for it, and run part of the integration tests"
	@echo "                against it; NGINX_VERSIONS_REQUIRED=1: no tarballs fails"
	@echo "make static     nginx from NGINX_SRC with the module compiled in"
	@echo "                (--add-module): $(STATIC_DIR)/sbin/nginx, prefix $(STATIC_DIR)"
	@echo "make core       the Embedded Swift core the module links ($(CORE_LIB))"
	@echo "make deps       install Debian packages, and PyPI packages into $(VENV)"
	@echo "make fuzz       libFuzzer on each fuzzed entry point ($(FUZZ_TARGETS)),"
	@echo "                FUZZ_SECONDS=$(FUZZ_SECONDS) shared between them"
	@echo "make bench      wrk: the module next to plain nginx return 307 and a"
	@echo "                keepalive proxy_pass, over HTTP and TLS"
	@echo "make deb        Debian package build/libnginx-mod-http-s3-proxy_<version>_<arch>.deb"
	@echo "make install    module, modules-available conf and s3_proxy.conf into DESTDIR"
	@echo "                (Debian's paths; PREFIX SYSCONFDIR NGINX_MODULES_DIR"
	@echo "                NGINX_MODULES_AVAILABLE NGINX_CONF_DIR; ENABLE=1 also links"
	@echo "                NGINX_MODULES_ENABLED/50-mod-http-s3-proxy.conf)"
	@echo "make test-package  install/remove the .deb on this machine (root), reloads,"
	@echo "                upstream failures (Tests/integration/test_package.py, test_operations.py)"
	@echo "make clean      remove build outputs"
	@echo "Settings: PORT WORKERS LOG_LEVEL DEMO_S3_PORT NGINX_SRC NGINX_BIN SWIFT"
	@echo "          SYSTEM_PYTHON (the venv's python, default /usr/bin/python3)"
	@echo "          VENV (default $(VENV)) TEST_JOBS (pytest processes, default $(TEST_JOBS))"

deps:
	@SYSTEM_PYTHON=$(SYSTEM_PYTHON) VENV=$(VENV) scripts/deps.sh

$(CORE_LIB): $(CORE_SWIFT) $(CORE_C) $(CORE_HDRS)
	@test -n "$(TARGET)" || { echo "no target triple from $(SWIFTC) -print-target-info" >&2; exit 1; }
	@mkdir -p $(CORE_DIR)
	rm -f $@ $(CORE_DIR)/*.o
	$(SWIFTC) -target $(TARGET) -enable-experimental-feature Embedded -wmo \
	    -O -g -parse-as-library -module-name S3Proxy \
	    -I CShim/include -I Sources/COpenSSL/include -Xcc -fPIC \
	    -c $(CORE_SWIFT) -o $(CORE_DIR)/S3Proxy.o
	for c in $(CORE_C); do \
	    $(CLANG) -target $(TARGET) -O2 -g -fPIC -I Sources/COpenSSL/include \
	        -c $$c -o $(CORE_DIR)/COpenSSL_$$(basename $$c .c).o || exit 1; \
	done
	ar rcs $@ $(CORE_DIR)/*.o

core: $(CORE_LIB)

# Which nginx the module was last built for: a change rebuilds it.
$(BUILD)/nginx-target: FORCE
	@mkdir -p $(BUILD)
	@t='$(NGINX_SRC) $(NGINX_FLAGS_BIN)'; \
	    echo "$$t" | cmp -s - $@ || echo "$$t" > $@

# nginx's build of the dynamic module (scripts/build-module.sh).
$(MODULE): $(CORE_LIB) $(C_SRCS) $(BUILD)/nginx-target scripts/build-module.sh \
    scripts/nginx-source.sh
	@if [ "$(origin NGINX_SRC)" = file ] && [ ! -d $(NGINX_SRC) ]; then scripts/deps.sh; fi
	NGINX_SRC=$(NGINX_SRC) NGINX_BIN=$(NGINX_FLAGS_BIN) \
	    S3P_CORE_LIB=$(CURDIR)/$(CORE_LIB) scripts/build-module.sh $@

# nginx with the module compiled in (./configure --add-module=nginx), from
# NGINX_SRC (a tree or a release tarball), installed into its own prefix.
STATIC_DIR  := $(BUILD)/static

static: $(CORE_LIB)
	NGINX_SRC=$(NGINX_SRC) S3P_CORE_LIB=$(CURDIR)/$(CORE_LIB) \
	    scripts/build-static.sh $(CURDIR)/$(STATIC_DIR)

run: deps $(MODULE)
	@PORT=$(PORT) WORKERS=$(WORKERS) LOG_LEVEL=$(LOG_LEVEL) \
	    DEMO_S3_PORT=$(DEMO_S3_PORT) NGINX_BIN=$(NGINX_BIN) scripts/run.sh

# The package test installs the .deb into this machine (dpkg -i, /etc/nginx):
# CI (CI=true, a throwaway machine) runs it within make test, in one process
# after the others (its tests install and remove the package in turn); on a
# workstation it runs only through `make test-package`.
PACKAGE_TEST := $(if $(filter true,$(CI)),Tests/integration/test_package.py)

# The integration tests run in TEST_JOBS processes (pytest-xdist): they
# mostly wait on nginx and the stand-ins, so more than the cores pays.
# Each test starts what it mutates, and picks free ports.
TEST_JOBS   ?= 4
PYTEST      = S3P_SIGN=$(CURDIR)/.build/debug/s3p-sign NGINX_BIN=$(NGINX_BIN) \
    $(PYTHON) -m pytest -q -p no:cacheprovider -n $(TEST_JOBS) --dist worksteal

# The quick tier: the Swift tests, the signing comparisons and every
# integration test not marked slow (Tests/integration/conftest.py says
# which and why: real time that must pass, long load, heavy clients).
check: deps $(MODULE)
	$(SWIFT) test
	$(SWIFT) build --product s3p-sign
	$(PYTEST) -m 'not slow' --ignore=Tests/integration/test_package.py \
	    demo/test_s3server.py Tests/integration

test: deps $(MODULE)
	$(SWIFT) test
	$(SWIFT) build --product s3p-sign
	# every route, refusals included, answered with no heap allocation
	$(SWIFT) build -c release --product s3p-bench
	.build/release/s3p-bench 2000
	scripts/check-module.sh $(MODULE)
	$(MAKE) fuzz FUZZ_SECONDS=20
	$(PYTEST) --ignore=Tests/integration/test_package.py \
	    demo/test_s3server.py Tests/integration
	$(if $(PACKAGE_TEST),NGINX_BIN=$(NGINX_BIN) $(PYTHON) -m pytest -q -p no:cacheprovider $(PACKAGE_TEST))
	$(MAKE) test-nginx-versions

# Each nginx release tarball in NGINX_VERSIONS_DIR, built with --with-compat
# (and cached in build/nginx-versions), with the module built against it and
# part of the integration tests run through it.  Without tarballs it says
# it skipped and how to run it (NGINX_VERSIONS_REQUIRED=1: it fails).
NGINX_VERSIONS_DIR ?= ../shared/nginx-src

test-nginx-versions: deps $(CORE_LIB)
	NGINX_VERSIONS_DIR=$(NGINX_VERSIONS_DIR) S3P_CORE_LIB=$(CURDIR)/$(CORE_LIB) \
	    NGINX_VERSIONS_REQUIRED=$(NGINX_VERSIONS_REQUIRED) TEST_JOBS=$(TEST_JOBS) \
	    scripts/test-nginx-versions.sh

test-unit:
	$(SWIFT) test

# libFuzzer + AddressSanitizer over each C entry point that reads outside
# input, in one binary (the core is compiled with the sanitizers once):
# Tests/Fuzz/FuzzMain.swift sends the inputs to the target named by
# S3P_FUZZ_TARGET.  Each target runs from its committed seeds
# (Tests/Fuzz/corpus/<name>) plus what earlier runs found
# (build/fuzz/found/<name>); `make fuzz` runs them one after the other,
# FUZZ_SECONDS shared between them.  A target is one line below: its name
# and the longest input it tries.
define fuzz-target
FUZZ_TARGETS += $(1)
FUZZ_MAX_LEN_$(1) := $(2)
endef
$(eval $(call fuzz-target,request,1024))
$(eval $(call fuzz-target,s3-error,4096))
$(eval $(call fuzz-target,listing,16384))
$(eval $(call fuzz-target,provider,8192))

FUZZER      := $(BUILD)/fuzz/fuzz
FUZZ_SRCS   := $(sort $(wildcard Tests/Fuzz/*.swift)) $(REFERENCE_SRCS)

$(BUILD)/fuzz/copenssl.o: $(CORE_C) $(CORE_HDRS)
	@mkdir -p $(BUILD)/fuzz
	$(CLANG) -O2 -fsanitize=address -I Sources/COpenSSL/include -c $(CORE_C) -o $@

$(FUZZER): $(CORE_SWIFT) $(CORE_HDRS) $(FUZZ_SRCS) $(BUILD)/fuzz/copenssl.o
	$(SWIFTC) -O -sanitize=fuzzer,address -parse-as-library -module-name S3Proxy \
	    -D S3P_FUZZ -I CShim/include -I Sources/COpenSSL/include \
	    $(CORE_SWIFT) $(FUZZ_SRCS) $(BUILD)/fuzz/copenssl.o \
	    -lcrypto -o $@ 2> $@.log || { cat $@.log; exit 1; }

# One target's run, from its seeds and what earlier runs found, for its
# share of FUZZ_SECONDS (at least a second); fails on a finding, which
# libFuzzer reports and writes out (Swift's own crash reporter is off: it
# would hold the pipe open).
FUZZ_SHARE   = $(shell expr $(FUZZ_SECONDS) / $(words $(FUZZ_TARGETS)) \| 1)
fuzz-run     = mkdir -p $(BUILD)/fuzz/found/$(1) && echo "fuzz $(1): $(FUZZ_SHARE) s" && \
    { S3P_FUZZ_TARGET=$(1) SWIFT_BACKTRACE=enable=no $(FUZZER) -max_total_time=$(FUZZ_SHARE) \
        -max_len=$(FUZZ_MAX_LEN_$(1)) -print_final_stats=1 \
        $(BUILD)/fuzz/found/$(1) Tests/Fuzz/corpus/$(1) 2>&1 | \
      grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR)|SUMMARY|crash-'; \
      test $${PIPESTATUS[0]} -eq 0; }

fuzz: $(FUZZER)
	@$(foreach t,$(FUZZ_TARGETS),$(call fuzz-run,$(t)) && ) true

clean:
	rm -rf $(BUILD) .build

bench: deps $(MODULE)
	$(SWIFT) build -c release --product s3p-bench
	scripts/bench.sh

# The Debian package, built by dpkg-buildpackage + debhelper (nginx-dev's
# dh-sequence-nginx) from a copy of the sources in build/deb-src.
deb:
	scripts/deb.sh

# The package's layout without the package, for hosts that do not take the
# .deb.  Debian's paths by default; nothing enabled unless ENABLE=1.
PREFIX      ?= /usr
SYSCONFDIR  ?= /etc
NGINX_MODULES_DIR       ?= $(PREFIX)/lib/nginx/modules
NGINX_MODULES_AVAILABLE ?= $(PREFIX)/share/nginx/modules-available
NGINX_CONF_DIR          ?= $(SYSCONFDIR)/nginx
NGINX_MODULES_ENABLED   ?= $(NGINX_CONF_DIR)/modules-enabled
ENABLE      ?= 0

install: $(MODULE)
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" \
	    NGINX_MODULES_DIR="$(NGINX_MODULES_DIR)" \
	    NGINX_MODULES_AVAILABLE="$(NGINX_MODULES_AVAILABLE)" \
	    NGINX_CONF_DIR="$(NGINX_CONF_DIR)" NGINX_MODULES_ENABLED="$(NGINX_MODULES_ENABLED)" \
	    ENABLE="$(ENABLE)" MODULE="$(MODULE)" scripts/install.sh

# The package installed and removed on this machine (as root: it changes
# /etc/nginx and /usr/lib/nginx), and the operations tests.
test-package: deps $(MODULE)
	S3P_PACKAGE_TEST=1 $(PYTHON) -m pytest -q -p no:cacheprovider \
	    Tests/integration/test_package.py Tests/integration/test_operations.py
