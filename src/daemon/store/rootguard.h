/* rootguard.h: what must hold before sbxd touches its state directory (rootguard.c).
 *
 * One daemon per --root: a second one on the same state would delete the first's spares
 * and adopt its sandboxes twice. And a store that is missing or empty next to sandboxes'
 * state is a lost database, never a fresh start: the start-up clean-up would delete the
 * running sandboxes' state and cgroups. */
#ifndef SBX_STORE_ROOTGUARD_H
#define SBX_STORE_ROOTGUARD_H

#include "lib/error.h"

/* Take <root>/sbxd.lock (flock, exclusive) for the life of the process and write our pid
 * in it; the descriptor is returned and must stay open. EBUSY, naming the pid that holds
 * it, when another sbxd runs on this root. */
int sbx_root_lock(const char *root, sbx_error_t *err);

/* -1 (EUCLEAN, saying what to do) if the database `db` is absent or empty while
 * <root>/sandboxes or <root>/volumes hold anything; 0 otherwise. */
int sbx_store_check_not_lost(const char *db, const char *root, sbx_error_t *err);

#endif
