# s3-proxy: ngx_http_s3_proxy_module for Debian's stock nginx.
SHELL := /bin/bash
#
#   make          build build/ngx_http_s3_proxy_module.so
#   make run      nginx with the module (a local demo S3 without AWS settings)
#   make test     every test: Swift unit tests and the real nginx end to end
#   make help     all targets

PORT        ?= 8080
WORKERS     ?= auto
LOG_LEVEL   ?= notice
DEMO_S3_PORT ?= 9000

SWIFT       ?= swift
SWIFTC      ?= swiftc
CLANG       ?= $(dir $(shell readlink -f $$(command -v $(SWIFTC)) 2>/dev/null))clang
SWIFT_STATIC ?= $(dir $(shell readlink -f $$(command -v $(SWIFT)) 2>/dev/null))../lib/swift_static/linux
NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
PYTHON      ?= python3

BUILD       := build
MODULE      := $(BUILD)/ngx_http_s3_proxy_module.so
SWIFT_LIB   := .build/release/libS3ProxyCore.a
SWIFT_SRCS  := Package.swift $(wildcard CShim/include/*.h Sources/*/*.c Sources/*/include/*.h Sources/*/include/*.modulemap) \
               $(shell find Sources -name '*.swift')
REFERENCE_SRCS := $(wildcard Tests/S3ProxyTests/Reference/*.swift)
C_SRCS      := $(wildcard nginx/*.c nginx/*.h) nginx/config nginx/exports.map

.PHONY: all help deps swift run test test-unit bench fuzz clean deb install test-package

FUZZ_SECONDS ?= 60
FUZZER      := $(BUILD)/fuzz/fuzz-request

all: $(MODULE)

help:
	@echo "make            build $(MODULE) against Debian's nginx-dev"
	@echo "make run        run /usr/sbin/nginx with the module on PORT=$(PORT)"
	@echo "                (no AWS_ACCESS_KEY_ID: a local demo S3 on DEMO_S3_PORT=$(DEMO_S3_PORT))"
	@echo "make test       install what tests need, then unit, module and integration tests"
	@echo "make test-unit  swift test only"
	@echo "make deps       install Debian and PyPI packages the build and tests use"
	@echo "make fuzz       libFuzzer on the request entry point for FUZZ_SECONDS=$(FUZZ_SECONDS)"
	@echo "make bench      wrk: the module next to plain nginx return 307 and proxy_pass"
	@echo "make deb        Debian package build/libnginx-mod-http-s3-proxy_<version>_<arch>.deb"
	@echo "make install    module, modules-available conf and s3_proxy.conf into DESTDIR"
	@echo "                (Debian's paths; PREFIX SYSCONFDIR NGINX_MODULES_DIR"
	@echo "                NGINX_MODULES_AVAILABLE NGINX_CONF_DIR; ENABLE=1 also links"
	@echo "                NGINX_MODULES_ENABLED/50-mod-http-s3-proxy.conf)"
	@echo "make test-package  install/remove the .deb on this machine (root), reloads,"
	@echo "                upstream failures (Tests/integration/test_package.py, test_operations.py)"
	@echo "make clean      remove build outputs"
	@echo "Settings: PORT WORKERS LOG_LEVEL DEMO_S3_PORT NGINX_SRC SWIFT"

deps:
	@scripts/deps.sh

# The Swift core as a static library, position-independent for the .so.
$(SWIFT_LIB): $(SWIFT_SRCS)
	$(SWIFT) build -c release --product S3ProxyCore -Xswiftc -static-stdlib
	@touch $@

swift: $(SWIFT_LIB)

# nginx's build of the dynamic module, configured with the packaged
# nginx's own flags so that the module loads into /usr/sbin/nginx.
$(MODULE): $(SWIFT_LIB) $(C_SRCS)
	@test -f $(NGINX_SRC)/conf_flags || scripts/deps.sh
	@mkdir -p $(BUILD)
	rm -rf $(BUILD)/nginx-src && cp -r $(NGINX_SRC) $(BUILD)/nginx-src
	cd $(BUILD)/nginx-src && S3P_SWIFT_LIB=$(CURDIR)/$(SWIFT_LIB) \
	    S3P_SWIFT_STATIC=$(SWIFT_STATIC) bash -c \
	    '. ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --add-dynamic-module=$(CURDIR)/nginx' > ../configure.log
	$(MAKE) -C $(BUILD)/nginx-src -f objs/Makefile modules > $(BUILD)/make-modules.log
	scripts/check-module.sh $(BUILD)/nginx-src/objs/ngx_http_s3_proxy_module.so
	# a new file, not an overwrite: running nginx processes map the old one
	cp $(BUILD)/nginx-src/objs/ngx_http_s3_proxy_module.so $@.new
	mv -f $@.new $@

run: deps $(MODULE)
	@PORT=$(PORT) WORKERS=$(WORKERS) LOG_LEVEL=$(LOG_LEVEL) \
	    DEMO_S3_PORT=$(DEMO_S3_PORT) NGINX_BIN=$(NGINX_BIN) scripts/run.sh

# The package test installs the .deb into this machine (dpkg -i, /etc/nginx):
# CI (CI=true, a throwaway machine) runs it within make test; on a
# workstation it runs only through `make test-package`.
PACKAGE_TEST := $(if $(filter true,$(CI)),,--ignore=Tests/integration/test_package.py)

test: deps $(MODULE)
	$(SWIFT) test
	$(SWIFT) build --product s3p-sign
	# every route, refusals included, answered with no heap allocation
	$(SWIFT) build -c release --product s3p-bench
	.build/release/s3p-bench 2000
	scripts/check-module.sh $(MODULE)
	$(MAKE) fuzz FUZZ_SECONDS=15
	S3P_SIGN=$(CURDIR)/.build/debug/s3p-sign $(PYTHON) -m pytest -q \
	    -p no:cacheprovider $(PACKAGE_TEST) demo/test_s3server.py Tests/integration

test-unit:
	$(SWIFT) test

# libFuzzer + AddressSanitizer over s3p_handle(), from the committed seed
# corpus (Tests/Fuzz/corpus) plus what earlier runs found (build/fuzz/corpus).
$(FUZZER): $(SWIFT_SRCS) $(REFERENCE_SRCS) $(wildcard Tests/Fuzz/*.swift)
	@mkdir -p $(BUILD)/fuzz
	$(CLANG) -O2 -fsanitize=address -I Sources/COpenSSL/include \
	    -c Sources/COpenSSL/*.c -o $(BUILD)/fuzz/copenssl.o
	$(SWIFTC) -O -sanitize=fuzzer,address -parse-as-library -module-name S3Proxy \
	    -D S3P_FUZZ -I CShim/include -I Sources/COpenSSL/include \
	    $(shell find Sources/S3Proxy -name '*.swift') $(REFERENCE_SRCS) \
	    Tests/Fuzz/*.swift $(BUILD)/fuzz/copenssl.o -lcrypto -o $@ \
	    2> $(BUILD)/fuzz/build.log || { cat $(BUILD)/fuzz/build.log; exit 1; }

fuzz: $(FUZZER)
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZER) -max_total_time=$(FUZZ_SECONDS) -max_len=1024 -print_final_stats=1 \
	    $(BUILD)/fuzz/corpus Tests/Fuzz/corpus 2>&1 | \
	    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR)|SUMMARY|crash-' ; \
	    test $${PIPESTATUS[0]} -eq 0

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
test-package: $(MODULE)
	S3P_PACKAGE_TEST=1 $(PYTHON) -m pytest -q -p no:cacheprovider \
	    Tests/integration/test_package.py Tests/integration/test_operations.py
