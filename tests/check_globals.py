#!/usr/bin/env python3
"""check_globals.py - the extension has no shared mutable state beyond the
process-wide setup (ctest sql.globals; docs/hosting.md "Threads").

Lists every object in the writable sections (.data, .bss, .tdata, .tbss) of
the built cmanp.so and fails on any that is not in the allowlist below, each
with the reason it is safe to share between connections and threads.  A new
global in ext/ or engine/ (a cache, a counter, a "last error" buffer) fails
this test until it is made per connection or added here with its argument.

    python3 tests/check_globals.py build/cmanp.so
"""
import re
import subprocess
import sys

ALLOWED = {
    # ext/cmanp_ext.c: written once, in process_init under pthread_once (L8)
    "sqlite3_api": "SQLite's API table of the first load; later loads must pass the same (L8)",
    "g_api": "atomic: the first load's API table, compared by every later load (L8)",
    "g_once": "pthread_once_t guarding process_init",
    "g_malloc64": "allocator routing, written once in process_init (L2)",
    "g_free": "allocator routing, written once in process_init (L2)",
    # engine/alloc.c
    "g_alloc": "the engine's allocator, set once by process_init before any engine memory exists",
    "g_live": "atomic allocation statistics",
    "g_peak": "atomic allocation statistics",
    "g_count": "atomic allocation statistics",
    "g_attempts": "atomic fault-injection counter (tests only)",
    "g_fail_at": "atomic fault-injection setting (tests only)",
    "g_fail_persistent": "atomic fault-injection setting (tests only)",
    # engine/ops.c
    "g_work": "_Thread_local work counters (cmanp_work): one copy per thread, never shared",
    # sqlite3_module tables: SQLite's API takes non-const pointers; never written
    "cx_predict_module": "sqlite3_module, read-only in practice",
    "cx_gp_tasks_module": "sqlite3_module, read-only in practice",
    "hp_next_time_module": "sqlite3_module, read-only in practice",
    "hp_next_mark_module": "sqlite3_module, read-only in practice",
    "hp_sample_module": "sqlite3_module, read-only in practice",
    # toolchain
    "completed.0": "crtstuff (global destructors ran)",
    "__dso_handle": "crtstuff",
    "__TMC_END__": "crtstuff",
    "__cpu_model": "libgcc __builtin_cpu_supports, initialised by a constructor",
    "__cpu_features2": "libgcc __builtin_cpu_supports, initialised by a constructor",
}
# Sanitizer and coverage instrumentation adds its own objects.
IGNORED = re.compile(r"^(_+(asan|ubsan|lsan|sancov|odr_asan|sanitizer)|\.L|__start_|__stop_)")

if len(sys.argv) != 2:
    sys.exit("usage: check_globals.py <cmanp.so>")
try:
    dump = subprocess.run(["objdump", "-t", sys.argv[1]], check=True, capture_output=True,
                          text=True).stdout
except (OSError, subprocess.CalledProcessError) as e:
    sys.exit("FAIL objdump -t %s: %s" % (sys.argv[1], e))

found, bad = [], []
for line in dump.splitlines():
    m = re.match(r"^[0-9a-f]+\s.*\sO\s+(\.data|\.bss|\.tdata|\.tbss)\s+[0-9a-f]+\s+(\S+)$", line)
    if not m:
        continue
    name = m.group(2)
    if IGNORED.match(name):
        continue
    found.append(name)
    if name not in ALLOWED:
        bad.append("%s (%s)" % (name, m.group(1)))

for b in bad:
    print("FAIL writable global not in the allowlist of tests/check_globals.py: " + b)
if not found:
    print("FAIL no writable objects found at all (objdump output not understood?)")
print("%d writable objects in %s, %d not allowed: %s"
      % (len(found), sys.argv[1], len(bad), "FAILED" if bad or not found else "ok"))
sys.exit(1 if bad or not found else 0)
