/* tvf.c - what the table-valued functions (cmanp_predict, cmhp_next_time,
 * cmhp_next_mark, cmhp_sample) share: their arguments are HIDDEN columns
 * (as ext/misc/series.c), planned the same way, and their errors go to the
 * vtab's message. */
#include "cmanp_ext.h"

int cx_tvf_plan(sqlite3_index_info *info, int first, int n, int *mask) {
    int idx[32], unusable = 0;
    *mask = 0;
    for (int j = 0; j < n; j++) idx[j] = -1;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *k = &info->aConstraint[i];
        if (k->iColumn < first || k->iColumn >= first + n || k->op != SQLITE_INDEX_CONSTRAINT_EQ)
            continue;
        int j = k->iColumn - first;
        if (!k->usable) {
            unusable |= 1 << j;
            continue;
        }
        idx[j] = i;
        *mask |= 1 << j;
    }
    /* An argument given by a table later in the join: another join order
     * will supply it. */
    if (unusable & ~*mask) return SQLITE_CONSTRAINT;
    int a = 0;
    for (int j = 0; j < n; j++)
        if (idx[j] >= 0) {
            info->aConstraintUsage[idx[j]].argvIndex = ++a;
            info->aConstraintUsage[idx[j]].omit = 1;
        }
    info->idxNum = *mask;
    return SQLITE_OK;
}

int cx_tvf_error(sqlite3_vtab_cursor *cur, char *msg) {
    sqlite3_vtab *vt = cur->pVtab;
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = msg;
    return msg ? SQLITE_ERROR : SQLITE_NOMEM;
}
