#!/bin/sh
# Runs test binaries from the project root and prints one closing line:
#   "tests: N passed, N failed"  (N counts binaries; each binary is a cmocka suite).
# With --qemu, the binaries are aarch64 and run under qemu-aarch64 (CPU from $QEMU_CPU).
# A test binary that is missing counts as failed: nothing is skipped silently.
qemu=""
if [ "$1" = "--qemu" ]; then
    shift
    qemu="qemu-aarch64 -cpu ${QEMU_CPU:-max}"
    if ! command -v qemu-aarch64 >/dev/null 2>&1; then
        echo "tests: qemu-aarch64 not found (apt-get install qemu-user)"; echo "tests: 0 passed, 1 failed"; exit 1
    fi
fi
pass=0; fail=0; failed=""
for t in "$@"; do
    name=$(basename "$t")
    if [ ! -x "$t" ]; then
        echo "MISSING: $t"; fail=$((fail+1)); failed="$failed $name"; continue
    fi
    start=$(date +%s)
    if $qemu "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed="$failed $name"; fi
    echo "-- $name: $(( $(date +%s) - start ))s"
done
[ -n "$failed" ] && echo "failed:$failed"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
