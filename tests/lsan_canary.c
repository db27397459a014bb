/* lsan_canary.c - a loadable SQLite extension that leaks one block of 4242
 * bytes on purpose (sanitizer builds only; ctest sanitize.lsan_canary).
 *
 * The SQL regression scripts run in the sqlite3 shell, which is not
 * instrumented: LeakSanitizer checks them only because the test environment
 * preloads the ASan runtime (LD_PRELOAD, CMakeLists.txt) and enables leak
 * detection (ASAN_OPTIONS).  The canary test loads this extension into the
 * shell with that same environment and passes only if the leak is reported,
 * so a change that silently turns leak checking off for the SQL tests fails
 * the suite. */
#include <sqlite3ext.h>
#include <stdlib.h>
#include <string.h>
SQLITE_EXTENSION_INIT1

void *volatile lsan_canary_sink;

int sqlite3_lsancanary_init(sqlite3 *db, char **err, const sqlite3_api_routines *api);
int sqlite3_lsancanary_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
    SQLITE_EXTENSION_INIT2(api);
    (void)db;
    (void)err;
    char *p = malloc(4242);
    if (p) memset(p, 1, 4242);
    lsan_canary_sink = p;
    lsan_canary_sink = NULL; /* the only pointer is gone: a direct leak */
    return SQLITE_OK;
}
