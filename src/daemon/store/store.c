/* store.c: the daemon's state in one SQLite database (see store.h).
 *
 * Design:
 * - One connection, opened in WAL mode with a busy timeout and foreign keys on, shared by
 *   every daemon thread behind one pthread mutex (the connection is opened with
 *   SQLITE_OPEN_NOMUTEX: the mutex here is the only serialisation needed).
 * - Every statement is prepared once at open time from a constant string and used with
 *   bound parameters only; no SQL text is ever built from data, so a name such as
 *   "x'; DROP TABLE objects; --" is stored and found verbatim.
 * - The schema carries a version (table schema_version, one row). Opening runs every
 *   migration step between the stored version and SBX_STORE_SCHEMA_VERSION in one
 *   transaction, and refuses a database written by a newer sbxd.
 * - The file is created 0600 before SQLite opens it (and tightened to 0600 if it exists
 *   with wider bits); SQLite gives its -wal and -shm files the database file's mode.
 * - Objects are stored as compact JSON text; readers get freshly parsed copies, so the
 *   owner annotation sbx_store_list() adds never reaches the stored text.
 * - Errors that a caller acts on carry an errnum: ENOENT (absent), EEXIST (key taken),
 *   EUSERS (no free id slot), EINVAL (bad argument); SQLite failures carry EIO (EBUSY,
 *   ENOSPC for a locked or full database) and SQLite's own message, and a full file
 *   system says so and what to do.
 * - Host id ranges are host-wide: besides this store's own table (holder -> slot), every
 *   slot taken is a row of a registry database shared by all the daemons of the host
 *   (sbx_store_use_registry; attached as "host", an in-memory one until then), keyed by
 *   the path of the daemon's database. Allocation takes both in one IMMEDIATE transaction, so SQLite's
 *   file lock on the registry serialises daemons; at start a daemon drops its own rows
 *   that its store no longer holds, re-adds those it does, and drops the rows of stores
 *   whose database file is gone.
 * - A reserve file (<db>.reserve, 8 MiB) keeps room for deletes on a full file system:
 *   a delete, update or release that fails with SQLITE_FULL frees it and tries once more;
 *   it is made again once a later write finds room. */
#include "daemon/store/store.h"
#include "daemon/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/names.h"
#include "lib/timefmt.h"
#include "lib/wire.h"

#define SBX_STORE_SCHEMA_VERSION 2
#define BUSY_TIMEOUT_MS 5000
#define OWNER_ANNOTATION "sbx.x-k8s.io/owner-uid"
/* Longest part of a key quoted in an error message (input bytes). */
#define QUOTE_MAX 64

/* Migration i takes the schema from version i to i + 1. Constant SQL only. */
static const char *const migrations[SBX_STORE_SCHEMA_VERSION] = {
    "CREATE TABLE objects ("
    "  kind TEXT NOT NULL,"
    "  namespace TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  owner INTEGER NOT NULL,"
    "  json TEXT NOT NULL,"
    "  created TEXT NOT NULL,"
    "  updated TEXT NOT NULL,"
    "  PRIMARY KEY (kind, namespace, name, owner));"
    "CREATE TABLE idslots ("
    "  slot INTEGER PRIMARY KEY,"
    "  holder TEXT NOT NULL UNIQUE);",
    /* 2: resourceVersions (one counter for every object) and the log of recent changes
     * that watches resume from; objects written before get versions in rowid order */
    "ALTER TABLE objects ADD COLUMN rv INTEGER NOT NULL DEFAULT 0;"
    "UPDATE objects SET rv = rowid;"
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO counters (name, value) SELECT 'resourceVersion', coalesce(max(rv), 0) FROM objects;"
    "CREATE TABLE changes ("
    "  rv INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  namespace TEXT NOT NULL,"
    "  owner INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  json TEXT NOT NULL);",
};

#define REGISTRY_TABLE                                                                     \
  "CREATE TABLE IF NOT EXISTS host.id_ranges ("                                               \
  "  slot INTEGER PRIMARY KEY,"                                                            \
  "  store TEXT NOT NULL,"                                                                  \
  "  holder TEXT NOT NULL,"                                                                \
  "  UNIQUE (store, holder))"
#define RESERVE_BYTES (8LL << 20)

enum stmt_id {
  ST_BEGIN,
  ST_COMMIT,
  ST_ROLLBACK,
  ST_INSERT,
  ST_UPDATE,
  ST_GET,
  ST_GET_ANY,
  ST_DELETE,
  ST_LIST,
  ST_UPDATE_IF,
  ST_RV_OF,
  ST_COUNTER_GET,
  ST_COUNTER_SET,
  ST_CHANGE_ADD,
  ST_CHANGE_TRIM,
  ST_CHANGES,
  ST_CHANGES_OLDEST,
  ST_SLOT_OF,
  ST_SLOT_FREE,
  ST_SLOT_INSERT,
  ST_SLOT_DELETE,
  ST_HOST_INSERT,
  ST_HOST_DELETE,
  ST_SLOT_HOLDERS,
  ST__COUNT
};

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INSERT] = "INSERT INTO objects (kind, namespace, name, owner, json, created, updated, rv)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, " NOW ", " NOW ", ?6)",
    [ST_UPDATE] = "UPDATE objects SET json = ?5, updated = " NOW ", rv = ?6"
                  " WHERE kind = ?1 AND namespace = ?2 AND name = ?3 AND owner = ?4",
    [ST_UPDATE_IF] = "UPDATE objects SET json = ?5, updated = " NOW ", rv = ?6"
                     " WHERE kind = ?1 AND namespace = ?2 AND name = ?3 AND owner = ?4 AND rv = ?7",
    [ST_RV_OF] = "SELECT rv, json FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3 AND owner = ?4",
    [ST_COUNTER_GET] = "SELECT value FROM counters WHERE name = 'resourceVersion'",
    [ST_COUNTER_SET] = "UPDATE counters SET value = ?1 WHERE name = 'resourceVersion'",
    [ST_CHANGE_ADD] = "INSERT INTO changes (rv, kind, namespace, owner, type, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_CHANGE_TRIM] = "DELETE FROM changes WHERE rv <= ?1",
    [ST_CHANGES] = "SELECT json, owner, rv, type FROM changes"
                   " WHERE kind = ?1 AND rv > ?2 AND (?3 IS NULL OR namespace = ?3)"
                   " AND (?4 IS NULL OR owner = ?4) ORDER BY rv LIMIT 256",
    [ST_CHANGES_OLDEST] = "SELECT min(rv) FROM changes",
    [ST_GET] = "SELECT json, owner, rv FROM objects"
               " WHERE kind = ?1 AND namespace = ?2 AND name = ?3 AND owner = ?4",
    [ST_GET_ANY] = "SELECT json, owner, rv FROM objects"
                   " WHERE kind = ?1 AND namespace = ?2 AND name = ?3"
                   " ORDER BY owner LIMIT 1",
    [ST_DELETE] = "DELETE FROM objects"
                  " WHERE kind = ?1 AND namespace = ?2 AND name = ?3 AND owner = ?4",
    [ST_LIST] = "SELECT json, owner, rv FROM objects"
                " WHERE kind = ?1 AND (?2 IS NULL OR namespace = ?2)"
                " AND (?3 IS NULL OR owner = ?3)"
                " ORDER BY namespace, name, owner",
    [ST_SLOT_OF] = "SELECT slot FROM idslots WHERE holder = ?1",
    /* The lowest slot free on the whole host is 0 or just above a taken one. */
    [ST_SLOT_FREE] = "SELECT s FROM (SELECT 0 AS s UNION SELECT slot + 1 FROM host.id_ranges)"
                     " WHERE s < ?1 AND s NOT IN (SELECT slot FROM host.id_ranges)"
                     " ORDER BY s LIMIT 1",
    [ST_SLOT_INSERT] = "INSERT INTO main.idslots (slot, holder) VALUES (?1, ?2)",
    [ST_SLOT_DELETE] = "DELETE FROM main.idslots WHERE holder = ?1",
    [ST_HOST_INSERT] = "INSERT INTO host.id_ranges (slot, store, holder) VALUES (?1, ?3, ?2)",
    [ST_HOST_DELETE] = "DELETE FROM host.id_ranges WHERE store = ?2 AND holder = ?1",
    [ST_SLOT_HOLDERS] = "SELECT holder FROM main.idslots ORDER BY slot",
};

struct sbx_store {
  sqlite3 *db;
  pthread_mutex_t lock;
  pthread_cond_t changed; /* broadcast after every committed write (watches wait on it) */
  int64_t rv;             /* the last resourceVersion given */
  sqlite3_stmt *st[ST__COUNT];
  char *key;     /* the registry's key for this store: the database's path */
  char *reserve; /* <db>.reserve */
};

/* ---- errors ---------------------------------------------------------------------- */

static int errnum_of(int rc) {
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return EBUSY;
  case SQLITE_FULL: return ENOSPC;
  case SQLITE_READONLY:
  case SQLITE_PERM: return EACCES;
  case SQLITE_NOMEM: return ENOMEM;
  default: return EIO;
  }
}

/* "store: <what>: <sqlite message>" with an errnum derived from the SQLite code. */
static int db_fail(struct sbx_store *s, int rc, sbx_error_t *err, const char *what) {
  const char *m = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
  if ((rc & 0xff) == SQLITE_FULL)
    return sbx_error_says(err, ENOSPC,
                          "store: %s: the file system of %s is full: free space there (`sbx delete` "
                          "still works on a full disk)",
                          what, s && s->key ? s->key : "the state database");
  return sbx_error_says(err, errnum_of(rc), "store: %s: %s", what, m);
}

/* ---- the reserve -------------------------------------------------------------------- */

static void reserve_make(struct sbx_store *s) {
  if (!s->reserve) return;
  int fd = open(s->reserve, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size < RESERVE_BYTES && posix_fallocate(fd, 0, RESERVE_BYTES) != 0)
    if (ftruncate(fd, 0) < 0) { /* no room yet: tried again after the next write */
    }
  close(fd);
}

/* The file system is full: free the space kept for deletes, once; true if there was some
 * (the caller then tries its whole write again). */
static bool reserve_release(struct sbx_store *s) {
  struct stat sb;
  if (!s->reserve || stat(s->reserve, &sb) < 0 || sb.st_size == 0) return false;
  sbx_log(SBX_LOG_WARN, "the file system of %s is full: using the space kept for deletes", s->key);
  return truncate(s->reserve, 0) == 0;
}

/* A step that may use the reserve (outside a transaction's other writes): on a full file
 * system, free it and try once more. */
static int step_reserved(struct sbx_store *s, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  if ((rc & 0xff) != SQLITE_FULL || !reserve_release(s)) return rc;
  sqlite3_reset(st);
  return sqlite3_step(st);
}

/* Printable form of an object key for messages: kind "ns/name" (uid N). */
struct keytext {
  char kind[QUOTE_MAX * 4 + 8], ns[QUOTE_MAX * 4 + 8], name[QUOTE_MAX * 4 + 8];
};
static void keytext(struct keytext *k, const char *kind, const char *ns, const char *name) {
  sbx_escape_for_message(kind, QUOTE_MAX, k->kind, sizeof k->kind);
  sbx_escape_for_message(ns, QUOTE_MAX, k->ns, sizeof k->ns);
  sbx_escape_for_message(name, QUOTE_MAX, k->name, sizeof k->name);
}

/* ---- statements ------------------------------------------------------------------ */

static sqlite3_stmt *stmt(struct sbx_store *s, enum stmt_id id) {
  sqlite3_stmt *st = s->st[id];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

/* Run a statement that returns no rows. */
static int run_simple(struct sbx_store *s, enum stmt_id id, sbx_error_t *err,
                      const char *what) {
  sqlite3_stmt *st = stmt(s, id);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_fail(s, rc, err, what);
  return 0;
}

static void rollback(struct sbx_store *s) {
  sqlite3_stmt *st = stmt(s, ST_ROLLBACK);
  sqlite3_step(st);
  sqlite3_reset(st);
}

static int bind_key(struct sbx_store *s, sqlite3_stmt *st, const char *kind, const char *ns,
                    const char *name, sbx_error_t *err) {
  int rc = sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
  if (rc != SQLITE_OK) return db_fail(s, rc, err, "bind");
  return 0;
}

static int check_key(const char *kind, const char *ns, const char *name, sbx_error_t *err) {
  if (!kind || !*kind || !ns || !*ns || !name || !*name)
    return sbx_error_says(err, EINVAL, "store: an object key needs a kind, a namespace and a name");
  return 0;
}

static int check_owner(uid_t owner, sbx_error_t *err) {
  if (owner == SBX_OWNER_ANY)
    return sbx_error_says(err, EINVAL, "store: writing an object needs its owner's uid");
  return 0;
}

static void lock(struct sbx_store *s) { pthread_mutex_lock(&s->lock); }
static void unlock(struct sbx_store *s) { pthread_mutex_unlock(&s->lock); }

/* ---- open / close ---------------------------------------------------------------- */

static void finalize_all(struct sbx_store *s);
static int prepare_all(struct sbx_store *s, sbx_error_t *err);
static int attach_registry(struct sbx_store *s, const char *path, sbx_error_t *err);

/* Create the file 0600 (or tighten an existing one) before SQLite opens it. */
static int prepare_file(const char *path, sbx_error_t *err) {
  _cleanup_fd_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return sbx_error_sys(err, "store: open %s", path);
  struct stat st;
  if (fstat(fd, &st) < 0) return sbx_error_sys(err, "store: stat %s", path);
  if (!S_ISREG(st.st_mode))
    return sbx_error_says(err, EINVAL, "store: %s is not a regular file", path);
  if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
    return sbx_error_sys(err, "store: chmod 0600 %s", path);
  return 0;
}

static int exec_sql(struct sbx_store *s, const char *sql, sbx_error_t *err, const char *what) {
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK) return db_fail(s, rc, err, what);
  return 0;
}

static int set_wal(struct sbx_store *s, sbx_error_t *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
  if (rc != SQLITE_OK) return db_fail(s, rc, err, "journal_mode");
  rc = sqlite3_step(st);
  bool wal = rc == SQLITE_ROW &&
             strcmp((const char *)sqlite3_column_text(st, 0) ?: "", "wal") == 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return db_fail(s, rc, err, "journal_mode");
  if (!wal) return sbx_error_says(err, EIO, "store: the database refused WAL journal mode");
  return 0;
}

/* Bring the schema to SBX_STORE_SCHEMA_VERSION, all steps in one transaction. */
static int migrate(struct sbx_store *s, sbx_error_t *err) {
  if (exec_sql(s, "BEGIN IMMEDIATE", err, "begin migration") < 0) return -1;
  if (exec_sql(s,
               "CREATE TABLE IF NOT EXISTS schema_version ("
               "  id INTEGER PRIMARY KEY CHECK (id = 1),"
               "  version INTEGER NOT NULL)",
               err, "create schema_version") < 0)
    goto fail;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version WHERE id = 1", -1,
                              &st, NULL);
  if (rc != SQLITE_OK) {
    db_fail(s, rc, err, "read schema version");
    goto fail;
  }
  int64_t version = 0;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) version = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    db_fail(s, rc, err, "read schema version");
    goto fail;
  }
  if (version > SBX_STORE_SCHEMA_VERSION || version < 0) {
    sbx_error_says(err, EPROTO,
               "store: the database has schema version %" PRId64 " but this sbxd knows only "
               "up to %d: run a newer sbxd",
               version, SBX_STORE_SCHEMA_VERSION);
    goto fail;
  }
  for (int64_t v = version; v < SBX_STORE_SCHEMA_VERSION; v++)
    if (exec_sql(s, migrations[v], err, "migrate schema") < 0) goto fail;
  if (version < SBX_STORE_SCHEMA_VERSION) {
    rc = sqlite3_prepare_v2(s->db,
                            "INSERT INTO schema_version (id, version) VALUES (1, ?1)"
                            " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_int(st, 1, SBX_STORE_SCHEMA_VERSION);
      rc = sqlite3_step(st);
      sqlite3_finalize(st);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
      db_fail(s, rc, err, "write schema version");
      goto fail;
    }
  }
  if (exec_sql(s, "COMMIT", err, "commit migration") < 0) goto fail;
  return 0;
fail:
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

void sbx_store_close(struct sbx_store *s) {
  if (!s) return;
  finalize_all(s);
  sqlite3_close_v2(s->db);
  free(s->key);
  free(s->reserve);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->changed);
  free(s);
}

int sbx_store_open(const char *path, struct sbx_store **out, sbx_error_t *err) {
  *out = NULL;
  if (!path || !*path) return sbx_error_says(err, EINVAL, "store: no database path given");
  if (prepare_file(path, err) < 0) return -1;
  struct sbx_store *s = calloc(1, sizeof *s);
  if (!s) return sbx_error_set(err, ENOMEM, "store: open %s", path);
  pthread_mutex_init(&s->lock, NULL);
  s->key = strdup(path);
  if (asprintf(&s->reserve, "%s.reserve", path) < 0) s->reserve = NULL;
  if (!s->key || !s->reserve) {
    sbx_store_close(s);
    return sbx_error_set(err, ENOMEM, "store: open %s", path);
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->changed, &ca);
  pthread_condattr_destroy(&ca);
  int rc = sqlite3_open_v2(path, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                               SQLITE_OPEN_NOFOLLOW,
                           NULL);
  if (rc != SQLITE_OK) goto db_error;
  sqlite3_extended_result_codes(s->db, 1);
  rc = sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  if (rc != SQLITE_OK) goto db_error;
  if (set_wal(s, err) < 0 ||
      /* WAL + NORMAL: a commit survives a crash of sbxd; only a power loss can take the
       * last commits back (and never corrupts), and commits need no fsync each */
      exec_sql(s, "PRAGMA synchronous = NORMAL", err, "synchronous") < 0 ||
      exec_sql(s, "PRAGMA foreign_keys = ON", err, "foreign_keys") < 0 ||
      migrate(s, err) < 0 || attach_registry(s, NULL, err) < 0 || prepare_all(s, err) < 0)
    goto fail;
  reserve_make(s);
  sqlite3_stmt *st = stmt(s, ST_COUNTER_GET);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) s->rv = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc != SQLITE_ROW) goto db_error;
  *out = s;
  return 0;
db_error:
  db_fail(s, rc, err, "open database");
fail:
  sbx_error_prefix(err, "%s", path);
  sbx_store_close(s);
  return -1;
}

/* ---- objects --------------------------------------------------------------------- */

/* metadata.resourceVersion = rv (as Kubernetes writes it: a decimal string) */
static void set_rv(json_object *obj, int64_t rv) {
  json_object *meta = NULL;
  if (!json_object_object_get_ex(obj, "metadata", &meta) || !json_object_is_type(meta, json_type_object)) {
    meta = json_object_new_object();
    json_object_object_add(obj, "metadata", meta);
  }
  char text[24];
  snprintf(text, sizeof text, "%" PRId64, rv);
  json_object_object_add(meta, "resourceVersion", json_object_new_string(text));
}

/* Inside the transaction: log change `rv` (ADDED, MODIFIED, DELETED), move the counter
 * to it and forget changes older than the history kept. */
static int log_change(struct sbx_store *s, int64_t rv, const char *kind, const char *ns, uid_t owner,
                      const char *type, const char *text, sbx_error_t *err) {
  sqlite3_stmt *st = stmt(s, ST_CHANGE_ADD);
  int rc = sqlite3_bind_int64(st, 1, rv);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 3, ns, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)owner);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 5, type, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 6, text, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_fail(s, rc, err, "log change");
  st = stmt(s, ST_COUNTER_SET);
  rc = sqlite3_bind_int64(st, 1, rv);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_fail(s, rc, err, "advance resourceVersion");
  st = stmt(s, ST_CHANGE_TRIM);
  rc = sqlite3_bind_int64(st, 1, rv - SBX_STORE_HISTORY);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_fail(s, rc, err, "trim change log");
  return 0;
}

/* Commit (or roll back) a write transaction; a committed one moves s->rv and wakes the
 * watches. */
static int finish_write(struct sbx_store *s, int ret, int64_t rv, sbx_error_t *err) {
  if (ret == 0) ret = run_simple(s, ST_COMMIT, err, "commit");
  if (ret < 0) {
    rollback(s);
    return ret;
  }
  s->rv = rv;
  pthread_cond_broadcast(&s->changed);
  return 0;
}

/* The row's resourceVersion (and its text when `text` is not NULL); ENOENT if absent */
static int64_t row_rv(struct sbx_store *s, const char *kind, const char *ns, const char *name, uid_t owner,
                      char **text, sbx_error_t *err) {
  sqlite3_stmt *st = stmt(s, ST_RV_OF);
  if (bind_key(s, st, kind, ns, name, err) < 0) return -1;
  int rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)owner);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  int64_t rv = -1;
  if (rc == SQLITE_ROW) {
    rv = sqlite3_column_int64(st, 0);
    if (text) *text = strdup((const char *)sqlite3_column_text(st, 1) ?: "{}");
  } else if (rc == SQLITE_DONE) {
    struct keytext k;
    keytext(&k, kind, ns, name);
    sbx_error_says(err, ENOENT, "%s \"%s/%s\" of uid %u not found", k.kind, k.ns, k.name, (unsigned)owner);
  } else {
    db_fail(s, rc, err, "get object");
  }
  sqlite3_reset(st);
  return rv;
}

/* Insert (ST_INSERT), replace (ST_UPDATE) or replace if still at `expect` (ST_UPDATE_IF)
 * and log the change, in one transaction; obj gains its new metadata.resourceVersion. */
static int write_object_once(struct sbx_store *s, enum stmt_id id, const char *kind, const char *ns,
                             const char *name, uid_t owner, json_object *obj, int64_t expect, sbx_error_t *err) {
  if (check_key(kind, ns, name, err) < 0 || check_owner(owner, err) < 0) return -1;
  if (!json_object_is_type(obj, json_type_object))
    return sbx_error_says(err, EINVAL, "store: only JSON objects can be stored");
  struct keytext k;
  keytext(&k, kind, ns, name);

  lock(s);
  int64_t rv = s->rv + 1;
  /* the caller's object keeps the version it had unless the write is committed */
  json_object *meta = NULL, *prev = NULL;
  if (json_object_object_get_ex(obj, "metadata", &meta) && json_object_object_get_ex(meta, "resourceVersion", &prev))
    json_object_get(prev);
  set_rv(obj, rv);
  const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
  int ret = text ? run_simple(s, ST_BEGIN, err, "begin") : sbx_error_set(err, ENOMEM, "store: serialise object");
  bool begun = ret == 0;
  sqlite3_stmt *st = stmt(s, id);
  if (begun) ret = bind_key(s, st, kind, ns, name, err);
  if (ret == 0) {
    int rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)owner);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 5, text, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 6, rv);
    if (rc == SQLITE_OK && id == ST_UPDATE_IF) rc = sqlite3_bind_int64(st, 7, expect);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    bool changed = sqlite3_changes(s->db) > 0;
    sqlite3_reset(st);
    if (id == ST_INSERT && rc == SQLITE_CONSTRAINT_PRIMARYKEY)
      ret = sbx_error_says(err, EEXIST, "%s \"%s/%s\" of uid %u already exists", k.kind, k.ns,
                       k.name, (unsigned)owner);
    else if (rc != SQLITE_DONE)
      ret = db_fail(s, rc, err, id == ST_INSERT ? "insert object" : "update object");
    else if (id != ST_INSERT && !changed) {
      int64_t now = row_rv(s, kind, ns, name, owner, NULL, err); /* -1: ENOENT said */
      ret = now < 0 ? -1
                    : sbx_error_says(err, ESTALE,
                                     "Operation cannot be fulfilled on %s \"%s\": the object has been modified (it "
                                     "is at resourceVersion %" PRId64 " now, not %" PRId64 "); read it again and "
                                     "apply your changes to the latest version",
                                     k.kind, k.name, now, expect);
    } else
      ret = log_change(s, rv, kind, ns, owner, id == ST_INSERT ? "ADDED" : "MODIFIED", text, err);
  }
  if (begun) ret = finish_write(s, ret, rv, err);
  unlock(s);
  if (ret < 0 && prev) json_object_object_add(sbx_json_path(obj, "metadata"), "resourceVersion", prev);
  else if (ret < 0) json_object_object_del(sbx_json_path(obj, "metadata"), "resourceVersion");
  else json_object_put(prev);
  return ret;
}

/* write_object_once; an update (never an insert) that finds the disk full uses the reserve:
 * the user can still change and delete what they have on a full disk */
static int write_object(struct sbx_store *s, enum stmt_id id, const char *kind, const char *ns,
                        const char *name, uid_t owner, json_object *obj, int64_t expect, sbx_error_t *err) {
  int ret = write_object_once(s, id, kind, ns, name, owner, obj, expect, err);
  if (ret < 0 && err->errnum == ENOSPC && id != ST_INSERT && reserve_release(s))
    ret = write_object_once(s, id, kind, ns, name, owner, obj, expect, err);
  return ret;
}

int sbx_store_create(struct sbx_store *s, const char *kind, const char *ns, const char *name,
                     uid_t owner, json_object *obj, sbx_error_t *err) {
  return write_object(s, ST_INSERT, kind, ns, name, owner, obj, 0, err);
}

int sbx_store_update(struct sbx_store *s, const char *kind, const char *ns, const char *name,
                     uid_t owner, json_object *obj, sbx_error_t *err) {
  return write_object(s, ST_UPDATE, kind, ns, name, owner, obj, 0, err);
}

int sbx_store_update_if(struct sbx_store *s, const char *kind, const char *ns, const char *name, uid_t owner,
                        json_object *obj, const char *expect_rv, sbx_error_t *err) {
  if (!expect_rv) return sbx_store_update(s, kind, ns, name, owner, obj, err);
  int64_t expect;
  if (sbx_store_parse_rv(expect_rv, &expect, err) < 0) return -1;
  return write_object(s, ST_UPDATE_IF, kind, ns, name, owner, obj, expect, err);
}

int sbx_store_parse_rv(const char *text, int64_t *rv, sbx_error_t *err) {
  char *end = NULL;
  errno = 0;
  long long v = text && *text >= '0' && *text <= '9' ? strtoll(text, &end, 10) : -1;
  if (v < 0 || errno || !end || *end) {
    char q[80];
    sbx_escape_for_message(text ? text : "", 40, q, sizeof q);
    return sbx_error_says(err, EINVAL, "resourceVersion \"%s\" is not one this server gave: it must be a decimal "
                                       "number, as in metadata.resourceVersion of an object or a list",
                          q);
  }
  *rv = v;
  return 0;
}

/* Parse a stored row's JSON text into a new object. */
static int parse_row(sqlite3_stmt *st, json_object **out, sbx_error_t *err) {
  const char *text = (const char *)sqlite3_column_text(st, 0);
  enum json_tokener_error jerr = json_tokener_success;
  json_object *o = text ? json_tokener_parse_verbose(text, &jerr) : NULL;
  if (!o || !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    return sbx_error_says(err, EIO, "store: a stored object is not valid JSON (%s)",
                      json_tokener_error_desc(jerr));
  }
  set_rv(o, sqlite3_column_int64(st, 2));
  *out = o;
  return 0;
}

int sbx_store_get(struct sbx_store *s, const char *kind, const char *ns, const char *name,
                  uid_t owner, json_object **out, uid_t *found_owner, sbx_error_t *err) {
  *out = NULL;
  if (check_key(kind, ns, name, err) < 0) return -1;
  struct keytext k;
  keytext(&k, kind, ns, name);

  lock(s);
  sqlite3_stmt *st = stmt(s, owner == SBX_OWNER_ANY ? ST_GET_ANY : ST_GET);
  int ret = bind_key(s, st, kind, ns, name, err);
  if (ret == 0 && owner != SBX_OWNER_ANY) {
    int rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)owner);
    if (rc != SQLITE_OK) ret = db_fail(s, rc, err, "bind");
  }
  if (ret == 0) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      ret = parse_row(st, out, err);
      if (ret == 0 && found_owner) *found_owner = (uid_t)sqlite3_column_int64(st, 1);
    } else if (rc == SQLITE_DONE) {
      if (owner == SBX_OWNER_ANY)
        ret = sbx_error_says(err, ENOENT, "%s \"%s/%s\" not found", k.kind, k.ns, k.name);
      else
        ret = sbx_error_says(err, ENOENT, "%s \"%s/%s\" of uid %u not found", k.kind, k.ns,
                         k.name, (unsigned)owner);
    } else {
      ret = db_fail(s, rc, err, "get object");
    }
  }
  sqlite3_reset(st);
  unlock(s);
  return ret;
}

static int delete_once(struct sbx_store *s, const char *kind, const char *ns, const char *name, uid_t owner,
                       sbx_error_t *err) {
  if (check_key(kind, ns, name, err) < 0 || check_owner(owner, err) < 0) return -1;
  lock(s);
  int64_t rv = s->rv + 1;
  _cleanup_free_ char *old = NULL;
  int ret = run_simple(s, ST_BEGIN, err, "begin");
  if (ret < 0) {
    unlock(s);
    return ret;
  }
  if (row_rv(s, kind, ns, name, owner, &old, err) < 0) ret = -1;
  sqlite3_stmt *st = stmt(s, ST_DELETE);
  if (ret == 0) ret = bind_key(s, st, kind, ns, name, err);
  if (ret == 0) {
    int rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)owner);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) ret = db_fail(s, rc, err, "delete object");
  }
  sqlite3_reset(st);
  if (ret == 0) {
    /* the DELETED event carries the last state at the deletion's resourceVersion */
    _cleanup_json_ json_object *last = json_tokener_parse(old ? old : "{}");
    if (!last) last = json_object_new_object();
    set_rv(last, rv);
    ret = log_change(s, rv, kind, ns, owner, "DELETED", json_object_to_json_string_ext(last, JSON_C_TO_STRING_PLAIN),
                     err);
  }
  ret = finish_write(s, ret, rv, err);
  unlock(s);
  return ret;
}

int sbx_store_delete(struct sbx_store *s, const char *kind, const char *ns, const char *name,
                     uid_t owner, sbx_error_t *err) {
  int ret = delete_once(s, kind, ns, name, owner, err);
  if (ret < 0 && err->errnum == ENOSPC && reserve_release(s)) ret = delete_once(s, kind, ns, name, owner, err);
  if (ret == 0) reserve_make(s); /* the space a delete freed keeps the next one possible */
  return ret;
}

/* Add metadata.annotations["sbx.x-k8s.io/owner-uid"] = "<uid>" to a parsed copy. */
static int annotate_owner(json_object *o, uid_t owner, sbx_error_t *err) {
  json_object *meta = NULL, *ann = NULL;
  if (!json_object_object_get_ex(o, "metadata", &meta) ||
      !json_object_is_type(meta, json_type_object)) {
    meta = json_object_new_object();
    if (!meta || json_object_object_add(o, "metadata", meta) < 0) goto nomem;
  }
  if (!json_object_object_get_ex(meta, "annotations", &ann) ||
      !json_object_is_type(ann, json_type_object)) {
    ann = json_object_new_object();
    if (!ann || json_object_object_add(meta, "annotations", ann) < 0) goto nomem;
  }
  char buf[24];
  snprintf(buf, sizeof buf, "%u", (unsigned)owner);
  json_object *v = json_object_new_string(buf);
  if (!v || json_object_object_add(ann, OWNER_ANNOTATION, v) < 0) goto nomem;
  return 0;
nomem:
  return sbx_error_set(err, ENOMEM, "store: annotate object");
}

int sbx_store_list(struct sbx_store *s, const char *kind, const char *ns, uid_t owner,
                   json_object **out, sbx_error_t *err) {
  return sbx_store_list_at(s, kind, ns, owner, out, NULL, err);
}

int sbx_store_list_at(struct sbx_store *s, const char *kind, const char *ns, uid_t owner, json_object **out,
                      int64_t *rv, sbx_error_t *err) {
  *out = NULL;
  if (!kind || !*kind) return sbx_error_says(err, EINVAL, "store: listing needs a kind");
  _cleanup_json_ json_object *arr = json_object_new_array();
  if (!arr) return sbx_error_set(err, ENOMEM, "store: list");

  lock(s);
  sqlite3_stmt *st = stmt(s, ST_LIST);
  int ret = 0;
  int rc = sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && ns) rc = sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && owner != SBX_OWNER_ANY)
    rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)owner);
  if (rc != SQLITE_OK) ret = db_fail(s, rc, err, "bind");
  while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_object *o = NULL;
    ret = parse_row(st, &o, err);
    if (ret == 0) ret = annotate_owner(o, (uid_t)sqlite3_column_int64(st, 1), err);
    if (ret == 0 && json_object_array_add(arr, o) < 0)
      ret = sbx_error_set(err, ENOMEM, "store: list");
    else if (ret == 0)
      o = NULL;
    json_object_put(o);
  }
  if (ret == 0 && rc != SQLITE_DONE) ret = db_fail(s, rc, err, "list objects");
  sqlite3_reset(st);
  if (rv) *rv = s->rv;
  unlock(s);
  if (ret == 0) *out = sbx_steal_ptr(&arr);
  return ret;
}

/* ---- changes (watch) ------------------------------------------------------------- */

int64_t sbx_store_revision(struct sbx_store *s) {
  lock(s);
  int64_t rv = s->rv;
  unlock(s);
  return rv;
}

int sbx_store_changes(struct sbx_store *s, const char *kind, const char *ns, uid_t owner, int64_t since,
                      json_object **out, sbx_error_t *err) {
  *out = NULL;
  _cleanup_json_ json_object *arr = json_object_new_array();
  lock(s);
  sqlite3_stmt *st = stmt(s, ST_CHANGES_OLDEST);
  int rc = sqlite3_step(st);
  int64_t oldest = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_int64(st, 0)
                                                                                : s->rv + 1;
  sqlite3_reset(st);
  int ret = 0;
  if (rc != SQLITE_ROW) ret = db_fail(s, rc, err, "read change log");
  else if (since + 1 < oldest || since > s->rv)
    ret = sbx_error_says(err, ERANGE,
                         "too old resource version: %" PRId64 " (the oldest this server can resume from is %" PRId64
                         "): list again and watch from the list's resourceVersion",
                         since, oldest - 1);
  st = stmt(s, ST_CHANGES);
  if (ret == 0) {
    rc = sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, since);
    if (rc == SQLITE_OK && ns) rc = sqlite3_bind_text(st, 3, ns, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && owner != SBX_OWNER_ANY) rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)owner);
    if (rc != SQLITE_OK) ret = db_fail(s, rc, err, "bind");
  }
  while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_object *o = NULL, *e = json_object_new_object();
    json_object_array_add(arr, e);
    json_object_object_add(e, "type", json_object_new_string((const char *)sqlite3_column_text(st, 3)));
    ret = parse_row(st, &o, err);
    if (ret == 0) ret = annotate_owner(o, (uid_t)sqlite3_column_int64(st, 1), err);
    json_object_object_add(e, "object", o);
  }
  if (ret == 0 && rc != SQLITE_DONE) ret = db_fail(s, rc, err, "read change log");
  sqlite3_reset(st);
  unlock(s);
  if (ret == 0) *out = sbx_steal_ptr(&arr);
  return ret;
}

int sbx_store_wait_change(struct sbx_store *s, int64_t after, int timeout_ms) {
  struct timespec until = sbx_deadline_ms(CLOCK_MONOTONIC, timeout_ms);
  lock(s);
  int rc = 0;
  while (s->rv <= after && rc == 0) rc = pthread_cond_timedwait(&s->changed, &s->lock, &until);
  bool moved = s->rv > after;
  unlock(s);
  return moved ? 1 : 0;
}

/* ---- id slots -------------------------------------------------------------------- */

/* Inside the transaction: the holder's slot, or a new lowest free one. */
static int slot_alloc_locked(struct sbx_store *s, const char *holder, uint32_t nslots,
                             uint32_t *slot, sbx_error_t *err) {
  sqlite3_stmt *st = stmt(s, ST_SLOT_OF);
  int rc = sqlite3_bind_text(st, 1, holder, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *slot = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_fail(s, rc, err, "find id slot");

  st = stmt(s, ST_SLOT_FREE);
  rc = sqlite3_bind_int64(st, 1, nslots);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  int64_t free_slot = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return sbx_error_says(err, EUSERS,
                      "no free host id range is left: all %" PRIu32 " ranges of this host are in "
                      "use (by every sbxd on it): delete a sandbox",
                      nslots);
  if (rc != SQLITE_ROW) return db_fail(s, rc, err, "find a free id slot");

  for (enum stmt_id id = ST_SLOT_INSERT; id <= ST_HOST_INSERT; id += ST_HOST_INSERT - ST_SLOT_INSERT) {
    st = stmt(s, id);
    rc = sqlite3_bind_int64(st, 1, free_slot);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, holder, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && id == ST_HOST_INSERT) rc = sqlite3_bind_text(st, 3, s->key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return db_fail(s, rc, err, "take id slot");
  }
  *slot = (uint32_t)free_slot;
  return 0;
}

int sbx_store_idslot_alloc(struct sbx_store *s, const char *holder, uint32_t nslots,
                           uint32_t *slot, sbx_error_t *err) {
  if (!holder || !*holder) return sbx_error_says(err, EINVAL, "store: an id slot needs a holder");
  lock(s);
  int ret = run_simple(s, ST_BEGIN, err, "begin");
  if (ret == 0) {
    ret = slot_alloc_locked(s, holder, nslots, slot, err);
    if (ret == 0)
      ret = run_simple(s, ST_COMMIT, err, "commit id slot");
    if (ret < 0) rollback(s);
  }
  unlock(s);
  return ret;
}

int sbx_store_idslot_release(struct sbx_store *s, const char *holder, sbx_error_t *err) {
  if (!holder || !*holder) return sbx_error_says(err, EINVAL, "store: an id slot needs a holder");
  char h[QUOTE_MAX * 4 + 8];
  sbx_escape_for_message(holder, QUOTE_MAX, h, sizeof h);
  lock(s);
  int ret = run_simple(s, ST_BEGIN, err, "begin");
  for (enum stmt_id id = ST_SLOT_DELETE; ret == 0 && id <= ST_HOST_DELETE; id += ST_HOST_DELETE - ST_SLOT_DELETE) {
    sqlite3_stmt *st = stmt(s, id);
    int rc = sqlite3_bind_text(st, 1, holder, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && id == ST_HOST_DELETE) rc = sqlite3_bind_text(st, 2, s->key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = step_reserved(s, st);
    if (rc != SQLITE_DONE)
      ret = db_fail(s, rc, err, "release id slot");
    else if (id == ST_SLOT_DELETE && sqlite3_changes(s->db) == 0)
      ret = sbx_error_says(err, ENOENT, "store: \"%s\" holds no id slot", h);
    sqlite3_reset(st);
  }
  if (ret == 0) ret = run_simple(s, ST_COMMIT, err, "commit id slot");
  if (ret < 0) rollback(s);
  unlock(s);
  return ret;
}

int sbx_store_idslot_holders(struct sbx_store *s, json_object **out, sbx_error_t *err) {
  _cleanup_json_ json_object *arr = json_object_new_array();
  if (!arr) return sbx_error_set(err, ENOMEM, "store: list id slots");
  lock(s);
  sqlite3_stmt *st = stmt(s, ST_SLOT_HOLDERS);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_object_array_add(arr, json_object_new_string((const char *)sqlite3_column_text(st, 0)));
  sqlite3_reset(st);
  unlock(s);
  if (rc != SQLITE_DONE) return db_fail(s, rc, err, "list id slots");
  *out = sbx_steal_ptr(&arr);
  return 0;
}

/* ---- the host-wide registry ------------------------------------------------------ */

/* Stores that are gone (a removed state directory) hold no ranges any more. */
static void prune_gone_stores(struct sbx_store *s) {
  sqlite3_stmt *q = NULL, *del = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT store FROM host.id_ranges", -1, &q, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db, "DELETE FROM host.id_ranges WHERE store = ?1", -1, &del, NULL) != SQLITE_OK)
    goto out;
  json_object *dead = json_object_new_array();
  while (sqlite3_step(q) == SQLITE_ROW) {
    const char *root = (const char *)sqlite3_column_text(q, 0);
    if (root && *root == '/' && access(root, F_OK) < 0 && errno == ENOENT)
      json_object_array_add(dead, json_object_new_string(root));
  }
  for (size_t i = 0; i < json_object_array_length(dead); i++) {
    sqlite3_reset(del);
    sqlite3_bind_text(del, 1, json_object_get_string(json_object_array_get_idx(dead, i)), -1, SQLITE_TRANSIENT);
    sqlite3_step(del);
  }
  json_object_put(dead);
out:
  sqlite3_finalize(q);
  sqlite3_finalize(del);
}

/* Make the registry's rows of this store exactly its slots (one transaction). */
static int registry_sync(struct sbx_store *s, sbx_error_t *err) {
  if (exec_sql(s, "BEGIN IMMEDIATE", err, "begin id range sync") < 0) return -1;
  prune_gone_stores(s);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db,
                              "DELETE FROM host.id_ranges WHERE store = ?1"
                              " AND holder NOT IN (SELECT holder FROM main.idslots);"
                              , -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, s->key, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_finalize(st);
  st = NULL;
  if (rc == SQLITE_DONE)
    rc = sqlite3_prepare_v2(s->db,
                            "INSERT OR IGNORE INTO host.id_ranges (slot, store, holder)"
                            " SELECT slot, ?1, holder FROM main.idslots",
                            -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, s->key, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    db_fail(s, rc, err, "sync the host's id ranges");
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  /* a slot this store holds that the registry gives another store: both use those ids */
  st = NULL;
  rc = sqlite3_prepare_v2(s->db,
                          "SELECT i.slot, i.holder, h.store FROM main.idslots i JOIN host.id_ranges h"
                          " ON h.slot = i.slot WHERE h.store <> ?1 LIMIT 1",
                          -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, s->key, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    sbx_error_says(err, EEXIST,
                   "host id range %lld of sandbox %s is also held by the store %s: two daemons "
                   "shared one id range before ranges were host-wide; delete that sandbox on one of them",
                   (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                   (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  sqlite3_finalize(st);
  return exec_sql(s, "COMMIT", err, "commit id range sync");
}

static void finalize_all(struct sbx_store *s) {
  for (int i = 0; i < ST__COUNT; i++) {
    sqlite3_finalize(s->st[i]);
    s->st[i] = NULL;
  }
}

static int prepare_all(struct sbx_store *s, sbx_error_t *err) {
  for (int i = 0; i < ST__COUNT; i++) {
    int rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
    if (rc != SQLITE_OK) return db_fail(s, rc, err, "prepare");
  }
  return 0;
}

/* Attach `path` as the registry "host" (an in-memory one for NULL) and sync it. */
static int attach_registry(struct sbx_store *s, const char *path, sbx_error_t *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, "ATTACH DATABASE ?1 AS host", -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, path ? path : ":memory:", -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return db_fail(s, rc, err, "open the host's id range registry");
  if (path && (exec_sql(s, "PRAGMA host.journal_mode = WAL", err, "registry journal") < 0 ||
               exec_sql(s, "PRAGMA host.synchronous = NORMAL", err, "registry synchronous") < 0))
    return -1;
  if (exec_sql(s, REGISTRY_TABLE, err, "create the id range registry") < 0) return -1;
  return registry_sync(s, err);
}

int sbx_store_use_registry(struct sbx_store *s, const char *path, sbx_error_t *err) {
  if (prepare_file(path, err) < 0) return -1;
  lock(s);
  finalize_all(s);
  int ret = exec_sql(s, "DETACH DATABASE host", err, "detach");
  if (ret == 0) ret = attach_registry(s, path, err);
  if (ret == 0) ret = prepare_all(s, err);
  unlock(s);
  if (ret < 0) sbx_error_prefix(err, "%s", path);
  return ret;
}
