# Herald build: GNU Make + pkg-config.
#   make            release build in build/ (hardened, -Werror)
#   make asan       AddressSanitizer + UBSan build in build-asan/
#   make check      install test deps, build both, run every test
#   make unit       unit tests only (release build)
#   make lint       forbidden functions, layers, SPDX lines (scripts/lint.sh)
#   make fuzz       libFuzzer targets (clang) in build-fuzz/
#   make install    install the binary and the sendmail/mailq links

PREFIX   ?= /usr/local
CC       ?= cc
PKGS      = openssl libevent libevent_openssl libevent_pthreads sqlite3 \
            libsodium libxcrypt jansson inih zlib libunbound libmariadb
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wno-unused-parameter -Werror
BASE_CFLAGS = -std=c17 -D_GNU_SOURCE -Isrc $(WARN) $(PKG_CFLAGS) -pthread -MMD -MP
HARDEN   = -fstack-protector-strong -D_FORTIFY_SOURCE=3 -fPIE
HARDEN_LD = -pie -Wl,-z,relro,-z,now

VARIANT ?= release
ifeq ($(VARIANT),asan)
  B       = build-asan
  CFLAGS_V = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=undefined -fstack-protector-strong -fPIE
  LDFLAGS_V = -fsanitize=address,undefined -pie
else
  B       = build
  CFLAGS_V = -O2 -g $(HARDEN)
  LDFLAGS_V = $(HARDEN_LD)
endif

# V=1 shows the full compiler command lines
ifeq ($(V),1)
  Q =
else
  Q = @echo "  CC      $<";
endif

ALL_CFLAGS  = $(BASE_CFLAGS) $(CFLAGS_V) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS_V) $(LDFLAGS) -pthread
LIBS        = $(PKG_LIBS) -lm

SRCS      := $(shell find src -name '*.c' ! -name main.c | sort)
OBJS      := $(SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
UNIT_HELPERS := $(filter-out tests/unit/test-%,$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPERS:%.c=$(B)/%.o)
# each fuzz target also builds with gcc against a replay driver, so that
# make check compiles it and replays its corpus (tests/run-tests.py)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)

.PHONY: all asan check unit lint fuzz install clean bench deps

all: $(B)/herald

$(B)/libherald.a: $(OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	@ar rcs $@ $^

$(B)/herald: $(B)/src/main.o $(B)/libherald.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests/test-%: $(B)/tests/unit/test-%.o $(UNIT_HELPER_OBJS) $(B)/libherald.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs cmocka)

$(B)/fuzz/fuzz-%: $(B)/tests/fuzz/fuzz-%.o $(B)/tests/fuzz/replay-main.o $(B)/libherald.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

unit-bins: $(UNIT_BINS) $(FUZZ_BINS) $(B)/herald

asan:
	$(MAKE) VARIANT=asan all unit-bins

unit: unit-bins
	/usr/bin/python3 tests/run-tests.py --unit-only --build $(B)

# The one entry point CI uses (.ci/run). Installs what the tests need,
# builds the release and the sanitizer variants, runs unit tests on both
# and the integration tests against the sanitizer build. Last line:
# "N passed, N failed", then ", N skipped" when any test was skipped.
check:
	@bash scripts/install-test-deps.sh
	$(MAKE) unit-bins
	$(MAKE) VARIANT=asan unit-bins
	/usr/bin/python3 tests/run-tests.py

lint:
	@bash scripts/lint.sh

fuzz:
	@bash scripts/build-fuzz.sh

bench: all
	@echo "benchmarks: see bench/README.md"

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 755 $(B)/herald $(DESTDIR)$(PREFIX)/sbin/herald
	ln -sf herald $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sf herald $(DESTDIR)$(PREFIX)/sbin/mailq

clean:
	rm -rf build build-asan build-fuzz

-include $(OBJS:.o=.d) $(B)/src/main.d
