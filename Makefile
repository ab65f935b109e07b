# edgelm: one plain GNU Makefile.
#
#   make              library (static + shared) and every tool into build/
#   make test         build and run every test (native, NEON under qemu, a short fuzz run)
#   make asan         the native tests again under AddressSanitizer + UBSan
#   make bench        build the benchmarks (build/bin/edgelm-bench*)
#   make install PREFIX=/usr/local
#   make clean
#
# Sources are found by wildcard, so adding a file never means editing this one:
#   lib/*.c, kernels/*.c        -> libedgelm   (kernels/*_avx2.c, *_avx512.c, *_neon*.c get
#                                               their instruction-set flags, and only on
#                                               the matching architecture)
#   examples/NAME.c, bench/NAME.c -> build/bin/edgelm-NAME (underscores become dashes)
#   tests/test_NAME.c           -> build/tests/test_NAME (cmocka), linked with tests/support/*.c
#   tests/fuzz/fuzz_NAME.c      -> build/fuzz/fuzz_NAME (clang libFuzzer)

CC      ?= cc
ifeq ($(origin CC),default)
CC      := cc
endif
BUILD   ?= build
PREFIX  ?= /usr/local
SHARED  ?= ../shared
VERSION := 0.1.0
SOMAJOR := 0

ARCH    := $(shell $(CC) -dumpmachine | cut -d- -f1)

OPT     ?= -O2
CSTD    := -std=c11
WARN    := -Wall -Wextra -Werror -Wpointer-arith -Wvla -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -fPIC -pthread -D_GNU_SOURCE \
             -Iinclude -Ilib -Ikernels -fvisibility=hidden
LDLIBS  := -lm -lpthread

# ---- instruction-set specific kernels -------------------------------------------------
ifeq ($(ARCH),x86_64)
ISA_EXCLUDE := $(wildcard kernels/*_neon*.c)
else ifeq ($(ARCH),aarch64)
ISA_EXCLUDE := $(wildcard kernels/*_avx*.c)
else
ISA_EXCLUDE := $(wildcard kernels/*_neon*.c kernels/*_avx*.c)
endif
FLAGS_avx2      := -mavx2 -mfma -mf16c -mbmi2
FLAGS_avx512    := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx2 -mfma -mf16c -mbmi2
FLAGS_neon      := -march=armv8-a
FLAGS_neon_dotprod := -march=armv8.2-a+dotprod+fp16

# ---- optional OpenBLAS -----------------------------------------------------------------
BLAS ?= auto
ifneq ($(BLAS),0)
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null)
ifneq ($(BLAS_LIBS),)
ALL_CFLAGS += -DELM_HAVE_OPENBLAS $(BLAS_CFLAGS)
LDLIBS     += $(BLAS_LIBS)
PC_LIBS_PRIVATE := $(BLAS_LIBS)
endif
endif

# ---- sources ---------------------------------------------------------------------------
LIB_SRC   := $(filter-out $(ISA_EXCLUDE),$(wildcard lib/*.c kernels/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_SRC  := $(wildcard examples/*.c bench/*.c)
TOOLS     := $(foreach s,$(TOOL_SRC),$(BUILD)/bin/edgelm-$(subst _,-,$(basename $(notdir $(s)))))
TEST_SRC  := $(wildcard tests/test_*.c)
TESTS     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
SUPPORT_SRC := $(wildcard tests/support/*.c)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
HEADERS   := $(wildcard include/*.h lib/*.h kernels/*.h tests/support/*.h)

STATIC    := $(BUILD)/lib/libedgelm.a
SHAREDLIB := $(BUILD)/lib/libedgelm.so.$(VERSION)

.PHONY: all lib tools tests test check asan bench fuzz test-neon install clean
all: lib tools

lib: $(STATIC) $(SHAREDLIB)
tools: $(TOOLS)
tests: $(TESTS)

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FLAGS_$(lastword $(subst _, ,$(basename $(notdir $<))))) \
	    $(if $(findstring _neon_dotprod,$<),$(FLAGS_neon_dotprod)) -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SHAREDLIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EXTRA_LDFLAGS) -shared -pthread -Wl,-soname,libedgelm.so.$(SOMAJOR) -o $@ $^ $(LDLIBS)
	ln -sf libedgelm.so.$(VERSION) $(BUILD)/lib/libedgelm.so.$(SOMAJOR)
	ln -sf libedgelm.so.$(SOMAJOR) $(BUILD)/lib/libedgelm.so

# Tools link the static library so they run from the build tree without LD_LIBRARY_PATH.
define tool_rule
$(BUILD)/bin/edgelm-$(subst _,-,$(basename $(notdir $(1)))): $(1) $(STATIC) $(HEADERS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $(1) -o $$@ $(STATIC) $$(LDLIBS)
endef
$(foreach s,$(TOOL_SRC),$(eval $(call tool_rule,$(s))))

$(BUILD)/tests/%: tests/%.c $(SUPPORT_OBJ) $(STATIC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/support $< -o $@ $(SUPPORT_OBJ) $(STATIC) -lcmocka $(LDLIBS)

bench: lib $(filter $(BUILD)/bin/edgelm-bench%,$(TOOLS))

# ---- running the tests -----------------------------------------------------------------
# tests/run.sh runs every test binary from the project root (tests find ../shared there),
# then prints one closing line "tests: N passed, N failed".
test: all tests
	SHARED=$(SHARED) BIN=$(BUILD)/bin sh tests/run.sh $(TESTS)
	$(MAKE) --no-print-directory test-neon
	$(MAKE) --no-print-directory fuzz

# Everything CI runs, in order (never in parallel: the sanitizer run would slow the
# timing-sensitive terminal tests of the native run).
check:
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory asan

asan:
	$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined" all tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ELM_TEST_QUICK=1 \
	    SHARED=$(SHARED) BIN=build-asan/bin sh tests/run.sh $(TESTS:$(BUILD)/%=build-asan/%)

# NEON kernels, cross-compiled and run under qemu-user on a CPU with and without dotprod.
# Debian has no aarch64 static libcmocka, so tests/cross/cmocka_min.c (the runner and
# assert_* part of cmocka, built against the host's cmocka.h) stands in for it there.
# test_kernels checks every kernel against the scalar reference, test_matmul the driver
# (tiles, threads) on top of them. qemu's "max" CPU has asimddp, cortex-a57 does not.
NEON_CC ?= aarch64-linux-gnu-gcc
NEON_TESTS := build-aarch64/tests/test_kernels build-aarch64/tests/test_matmul
test-neon:
	@mkdir -p build-aarch64/cmocka
	$(NEON_CC) $(CSTD) $(WARN) -O2 -D_GNU_SOURCE -c tests/cross/cmocka_min.c -o build-aarch64/cmocka/cmocka_min.o
	rm -f build-aarch64/cmocka/libcmocka.a && ar rcs build-aarch64/cmocka/libcmocka.a build-aarch64/cmocka/cmocka_min.o
	$(MAKE) --no-print-directory BUILD=build-aarch64 CC=$(NEON_CC) BLAS=0 \
	    EXTRA_CFLAGS="-static -Lbuild-aarch64/cmocka" EXTRA_LDFLAGS=-static $(NEON_TESTS)
	QEMU_CPU=max    ELM_EXPECT_ISA=neon_dotprod SHARED=$(SHARED) \
	    sh tests/run.sh --qemu $(NEON_TESTS)
	QEMU_CPU=cortex-a57 ELM_EXPECT_ISA=neon SHARED=$(SHARED) \
	    sh tests/run.sh --qemu $(NEON_TESTS)

# libFuzzer targets, each run for a bounded time (FUZZ_SECONDS) on its seed corpus
# (tests/fuzz/corpus_NAME when present). The library is built once, by clang, into
# $(BUILD)-fuzz with coverage instrumentation and the sanitizers, each file with its own
# instruction-set flags (so generic code never contains AVX-512 the CPU may lack); a
# target that crashes fails `make fuzz` and prints the end of its log.
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS  := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined
FUZZ_BUILD   := $(BUILD)-fuzz
fuzz:
	$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang BLAS=0 CFLAGS="$(FUZZ_CFLAGS)" $(FUZZ_BUILD)/lib/libedgelm.a
	@mkdir -p $(BUILD)/fuzz
	@failed=""; for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); \
	    clang $(CSTD) $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -D_GNU_SOURCE -pthread -Iinclude -Ilib -Ikernels \
	        $$f $(FUZZ_BUILD)/lib/libedgelm.a -o $(BUILD)/fuzz/$$n -lm || { failed="$$failed $$n"; continue; }; \
	    mkdir -p $(BUILD)/fuzz/$$n.corpus; \
	    seeds=""; [ -d tests/fuzz/corpus_$$n ] && seeds=tests/fuzz/corpus_$$n; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	    if $(BUILD)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$n- $(BUILD)/fuzz/$$n.corpus $$seeds \
	        > $(BUILD)/fuzz/$$n.log 2>&1; then \
	        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" $(BUILD)/fuzz/$$n.log; \
	    else \
	        tail -n 60 $(BUILD)/fuzz/$$n.log; echo "fuzz: $$n FAILED (log: $(BUILD)/fuzz/$$n.log)"; \
	        failed="$$failed $$n"; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi

# ---- install ---------------------------------------------------------------------------
install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/*.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHAREDLIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libedgelm.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libedgelm.so.$(SOMAJOR)
	ln -sf libedgelm.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libedgelm.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIVATE)|' edgelm.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/edgelm.pc
	if [ -d $(BUILD)/bin ]; then install -d $(DESTDIR)$(PREFIX)/bin && \
	    install -m 755 $(BUILD)/bin/* $(DESTDIR)$(PREFIX)/bin/; fi

clean:
	rm -rf build build-asan build-aarch64 build-fuzz
