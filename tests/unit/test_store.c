/* test_store.c: unit tests of the daemon's SQLite store (src/daemon/store.c), each on a
 * fresh database in its own temporary directory: object CRUD keyed by owner, error
 * numbers, list filters and order, the owner annotation, id slot allocation, persistence
 * across reopen, file modes, and names that look like SQL. */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon/store/store.h"

struct fixture {
  char dir[64];
  char path[128];
  struct sbx_store *s;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/sbx-test-store-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/state.db", f->dir);
  sbx_error_t err = {0};
  if (sbx_store_open(f->path, &f->s, &err) < 0) fail_msg("open: %s", err.msg);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  sbx_store_close(f->s);
  const char *suffixes[] = {"", "-wal", "-shm", "-journal", ".reserve"};
  for (size_t i = 0; i < 5; i++) {
    char p[160];
    snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
    unlink(p);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

static json_object *sandbox(const char *name, const char *image) {
  char text[512];
  snprintf(text, sizeof text,
           "{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"Sandbox\","
           "\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},"
           "\"spec\":{\"image\":\"%s\"}}",
           name, image);
  json_object *o = json_tokener_parse(text);
  assert_non_null(o);
  return o;
}

static const char *image_of(json_object *o) {
  json_object *spec = NULL, *img = NULL;
  assert_true(json_object_object_get_ex(o, "spec", &spec));
  assert_true(json_object_object_get_ex(spec, "image", &img));
  return json_object_get_string(img);
}

static const char *owner_annotation(json_object *o) {
  json_object *meta = NULL, *ann = NULL, *v = NULL;
  if (!json_object_object_get_ex(o, "metadata", &meta)) return NULL;
  if (!json_object_object_get_ex(meta, "annotations", &ann)) return NULL;
  if (!json_object_object_get_ex(ann, "sbx.x-k8s.io/owner-uid", &v)) return NULL;
  return json_object_get_string(v);
}

static void create_ok(struct sbx_store *s, const char *ns, const char *name, uid_t owner,
                      const char *image) {
  sbx_error_t err = {0};
  json_object *o = sandbox(name, image);
  if (sbx_store_create(s, "Sandbox", ns, name, owner, o, &err) < 0)
    fail_msg("create %s/%s: %s", ns, name, err.msg);
  json_object_put(o);
}

static void test_crud_two_owners(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  create_ok(f->s, "default", "jupyterlab-sandbox", 1000, "alice-image");
  create_ok(f->s, "default", "jupyterlab-sandbox", 1001, "bob-image");

  json_object *o = NULL;
  uid_t who = 0;
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1000, &o,
                                 &who, &err), 0);
  assert_string_equal(image_of(o), "alice-image");
  assert_int_equal(who, 1000);
  /* get does not add the owner annotation. */
  assert_null(owner_annotation(o));
  json_object_put(o);
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1001, &o,
                                 NULL, &err), 0);
  assert_string_equal(image_of(o), "bob-image");
  json_object_put(o);

  /* Duplicate key: EEXIST, and the stored object is unchanged. */
  json_object *dup = sandbox("jupyterlab-sandbox", "other");
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1000, dup,
                                    &err), -1);
  assert_int_equal(err.errnum, EEXIST);
  assert_non_null(strstr(err.msg, "already exists"));
  assert_non_null(strstr(err.msg, "jupyterlab-sandbox"));

  /* Update one owner's object only. */
  assert_int_equal(sbx_store_update(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1000, dup,
                                    &err), 0);
  json_object_put(dup);
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1000, &o,
                                 NULL, &err), 0);
  assert_string_equal(image_of(o), "other");
  json_object_put(o);
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1001, &o,
                                 NULL, &err), 0);
  assert_string_equal(image_of(o), "bob-image");
  json_object_put(o);

  /* Delete alice's; bob's stays; a second delete is ENOENT. */
  assert_int_equal(sbx_store_delete(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1000,
                                    &err), 0);
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1000, &o,
                                 NULL, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_null(o);
  assert_int_equal(sbx_store_delete(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1000,
                                    &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_non_null(strstr(err.msg, "not found"));
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "jupyterlab-sandbox", 1001, &o,
                                 NULL, &err), 0);
  json_object_put(o);
}

static void test_errors(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  json_object *o = sandbox("x", "img");
  assert_int_equal(sbx_store_update(f->s, "Sandbox", "default", "x", 1000, o, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  json_object *got = NULL;
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "x", SBX_OWNER_ANY, &got, NULL,
                                 &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  /* Writes need a concrete owner and a full key. */
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "default", "x", SBX_OWNER_ANY, o, &err),
                   -1);
  assert_int_equal(err.errnum, EINVAL);
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "", "x", 1000, o, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "default", NULL, 1000, o, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  json_object_put(o);
  /* Only JSON objects are stored. */
  json_object *arr = json_object_new_array();
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "default", "x", 1000, arr, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  json_object_put(arr);
  assert_int_equal(sbx_store_delete(f->s, "Sandbox", "default", "x", SBX_OWNER_ANY, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
}

static void test_get_any_owner(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  create_ok(f->s, "default", "shared", 2000, "two-thousand");
  create_ok(f->s, "default", "shared", 1500, "fifteen-hundred");
  create_ok(f->s, "default", "solo", 3000, "solo");
  json_object *o = NULL;
  uid_t who = 0;
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "solo", SBX_OWNER_ANY, &o, &who,
                                 &err), 0);
  assert_int_equal(who, 3000);
  assert_string_equal(image_of(o), "solo");
  json_object_put(o);
  /* Several owners: the lowest uid, deterministically. */
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "shared", SBX_OWNER_ANY, &o, &who,
                                 &err), 0);
  assert_int_equal(who, 1500);
  assert_string_equal(image_of(o), "fifteen-hundred");
  json_object_put(o);
}

static void test_stored_copy(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  json_object *o = sandbox("copy", "before");
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "default", "copy", 1000, o, &err), 0);
  /* Changing the caller's object afterwards does not change the stored one. */
  json_object *spec = NULL;
  assert_true(json_object_object_get_ex(o, "spec", &spec));
  json_object_object_add(spec, "image", json_object_new_string("after"));
  json_object_put(o);
  json_object *got = NULL;
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "copy", 1000, &got, NULL, &err), 0);
  assert_string_equal(image_of(got), "before");
  /* Nor does changing what get returned. */
  assert_true(json_object_object_get_ex(got, "spec", &spec));
  json_object_object_add(spec, "image", json_object_new_string("mutated"));
  json_object_put(got);
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "copy", 1000, &got, NULL, &err), 0);
  assert_string_equal(image_of(got), "before");
  json_object_put(got);
}

static const char *name_of(json_object *o) {
  json_object *meta = NULL, *n = NULL;
  assert_true(json_object_object_get_ex(o, "metadata", &meta));
  assert_true(json_object_object_get_ex(meta, "name", &n));
  return json_object_get_string(n);
}

static void test_list(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  create_ok(f->s, "team-b", "zeta", 1000, "i1");
  create_ok(f->s, "default", "beta", 1001, "i2");
  create_ok(f->s, "default", "alpha", 1000, "i3");
  create_ok(f->s, "default", "alpha", 1001, "i4");
  json_object *secret = json_tokener_parse("{\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}");
  assert_int_equal(sbx_store_create(f->s, "Secret", "default", "s", 1000, secret, &err), 0);
  json_object_put(secret);

  json_object *arr = NULL;
  assert_int_equal(sbx_store_list(f->s, "Sandbox", NULL, SBX_OWNER_ANY, &arr, &err), 0);
  assert_int_equal(json_object_array_length(arr), 4);
  /* Ordered by namespace then name. */
  assert_string_equal(name_of(json_object_array_get_idx(arr, 0)), "alpha");
  assert_string_equal(name_of(json_object_array_get_idx(arr, 1)), "alpha");
  assert_string_equal(name_of(json_object_array_get_idx(arr, 2)), "beta");
  assert_string_equal(name_of(json_object_array_get_idx(arr, 3)), "zeta");
  assert_string_equal(owner_annotation(json_object_array_get_idx(arr, 0)), "1000");
  assert_string_equal(owner_annotation(json_object_array_get_idx(arr, 1)), "1001");
  assert_string_equal(owner_annotation(json_object_array_get_idx(arr, 3)), "1000");
  json_object_put(arr);

  assert_int_equal(sbx_store_list(f->s, "Sandbox", "default", SBX_OWNER_ANY, &arr, &err), 0);
  assert_int_equal(json_object_array_length(arr), 3);
  json_object_put(arr);

  assert_int_equal(sbx_store_list(f->s, "Sandbox", NULL, 1000, &arr, &err), 0);
  assert_int_equal(json_object_array_length(arr), 2);
  assert_string_equal(image_of(json_object_array_get_idx(arr, 0)), "i3");
  assert_string_equal(image_of(json_object_array_get_idx(arr, 1)), "i1");
  json_object_put(arr);

  assert_int_equal(sbx_store_list(f->s, "Sandbox", "default", 1001, &arr, &err), 0);
  assert_int_equal(json_object_array_length(arr), 2);
  json_object_put(arr);

  assert_int_equal(sbx_store_list(f->s, "Sandbox", "nowhere", SBX_OWNER_ANY, &arr, &err), 0);
  assert_int_equal(json_object_array_length(arr), 0);
  json_object_put(arr);

  assert_int_equal(sbx_store_list(f->s, "Secret", NULL, SBX_OWNER_ANY, &arr, &err), 0);
  assert_int_equal(json_object_array_length(arr), 1);
  assert_string_equal(owner_annotation(json_object_array_get_idx(arr, 0)), "1000");
  json_object_put(arr);

  /* The annotation is added to the listed copy only: the stored JSON has none. */
  json_object *o = NULL;
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "alpha", 1000, &o, NULL, &err), 0);
  assert_null(owner_annotation(o));
  json_object_put(o);
}

static void test_list_keeps_annotations(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  json_object *o = json_tokener_parse(
      "{\"kind\":\"Sandbox\",\"metadata\":{\"name\":\"n\",\"annotations\":{\"team\":\"ml\"}}}");
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "default", "n", 4242, o, &err), 0);
  json_object_put(o);
  /* An object without metadata still gets the annotation when listed. */
  o = json_tokener_parse("{\"kind\":\"Sandbox\"}");
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "default", "o", 7, o, &err), 0);
  json_object_put(o);
  json_object *arr = NULL;
  assert_int_equal(sbx_store_list(f->s, "Sandbox", NULL, SBX_OWNER_ANY, &arr, &err), 0);
  assert_int_equal(json_object_array_length(arr), 2);
  json_object *first = json_object_array_get_idx(arr, 0);
  assert_string_equal(owner_annotation(first), "4242");
  json_object *meta = NULL, *ann = NULL, *team = NULL;
  assert_true(json_object_object_get_ex(first, "metadata", &meta));
  assert_true(json_object_object_get_ex(meta, "annotations", &ann));
  assert_true(json_object_object_get_ex(ann, "team", &team));
  assert_string_equal(json_object_get_string(team), "ml");
  assert_string_equal(owner_annotation(json_object_array_get_idx(arr, 1)), "7");
  json_object_put(arr);
}

static void test_idslots(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  uint32_t slot = 99;
  assert_int_equal(sbx_store_idslot_alloc(f->s, "alice/a", 3, &slot, &err), 0);
  assert_int_equal(slot, 0);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "bob/b", 3, &slot, &err), 0);
  assert_int_equal(slot, 1);
  /* Same holder, same slot. */
  assert_int_equal(sbx_store_idslot_alloc(f->s, "alice/a", 3, &slot, &err), 0);
  assert_int_equal(slot, 0);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "carol/c", 3, &slot, &err), 0);
  assert_int_equal(slot, 2);
  /* Exhausted. */
  slot = 99;
  assert_int_equal(sbx_store_idslot_alloc(f->s, "dave/d", 3, &slot, &err), -1);
  assert_int_equal(err.errnum, EUSERS);
  assert_int_equal(slot, 99);
  /* An existing holder still gets its slot when the pool is full. */
  assert_int_equal(sbx_store_idslot_alloc(f->s, "carol/c", 3, &slot, &err), 0);
  assert_int_equal(slot, 2);
  /* Release the middle one: the lowest free slot is reused. */
  assert_int_equal(sbx_store_idslot_release(f->s, "bob/b", &err), 0);
  assert_int_equal(sbx_store_idslot_release(f->s, "bob/b", &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "dave/d", 3, &slot, &err), 0);
  assert_int_equal(slot, 1);
  /* A bigger pool gives the next slot up. */
  assert_int_equal(sbx_store_idslot_alloc(f->s, "erin/e", 5, &slot, &err), 0);
  assert_int_equal(slot, 3);
  /* Release 0 and 1: the lowest comes back first. */
  assert_int_equal(sbx_store_idslot_release(f->s, "dave/d", &err), 0);
  assert_int_equal(sbx_store_idslot_release(f->s, "alice/a", &err), 0);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "frank/f", 5, &slot, &err), 0);
  assert_int_equal(slot, 0);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "gina/g", 5, &slot, &err), 0);
  assert_int_equal(slot, 1);
  /* No pool at all. */
  assert_int_equal(sbx_store_idslot_alloc(f->s, "hank/h", 0, &slot, &err), -1);
  assert_int_equal(err.errnum, EUSERS);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "", 5, &slot, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
}

static void test_idslots_large_pool(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  char holder[32];
  uint32_t slot;
  for (uint32_t i = 0; i < 200; i++) {
    snprintf(holder, sizeof holder, "h%u", i);
    assert_int_equal(sbx_store_idslot_alloc(f->s, holder, 200, &slot, &err), 0);
    assert_int_equal(slot, i);
  }
  assert_int_equal(sbx_store_idslot_alloc(f->s, "extra", 200, &slot, &err), -1);
  assert_int_equal(err.errnum, EUSERS);
  assert_int_equal(sbx_store_idslot_release(f->s, "h137", &err), 0);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "extra", 200, &slot, &err), 0);
  assert_int_equal(slot, 137);
}

struct worker {
  struct sbx_store *s;
  int id;
  uint32_t slots[25];
  int failures;
};

static void *alloc_worker(void *arg) {
  struct worker *w = arg;
  sbx_error_t err = {0};
  char holder[32];
  for (int i = 0; i < 25; i++) {
    snprintf(holder, sizeof holder, "t%d-%d", w->id, i);
    if (sbx_store_idslot_alloc(w->s, holder, 100, &w->slots[i], &err) < 0) w->failures++;
  }
  return NULL;
}

/* Four threads share one store: every allocation succeeds and no slot is given twice. */
static void test_idslots_threads(void **state) {
  struct fixture *f = *state;
  struct worker w[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (struct worker){.s = f->s, .id = i};
    assert_int_equal(pthread_create(&th[i], NULL, alloc_worker, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
  bool seen[100] = {false};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(w[i].failures, 0);
    for (int j = 0; j < 25; j++) {
      assert_true(w[i].slots[j] < 100);
      assert_false(seen[w[i].slots[j]]);
      seen[w[i].slots[j]] = true;
    }
  }
}

static void test_persistence(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  create_ok(f->s, "default", "keep", 1000, "kept-image");
  uint32_t slot;
  assert_int_equal(sbx_store_idslot_alloc(f->s, "alice/keep", 10, &slot, &err), 0);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "bob/keep", 10, &slot, &err), 0);
  assert_int_equal(slot, 1);
  sbx_store_close(f->s);
  f->s = NULL;

  if (sbx_store_open(f->path, &f->s, &err) < 0) fail_msg("reopen: %s", err.msg);
  json_object *o = NULL;
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "keep", 1000, &o, NULL, &err), 0);
  assert_string_equal(image_of(o), "kept-image");
  json_object_put(o);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "bob/keep", 10, &slot, &err), 0);
  assert_int_equal(slot, 1);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "carol/new", 10, &slot, &err), 0);
  assert_int_equal(slot, 2);
}

static void test_file_mode_and_wal(void **state) {
  struct fixture *f = *state;
  create_ok(f->s, "default", "m", 1000, "x"); /* makes SQLite write the -wal file */
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  char wal[160];
  snprintf(wal, sizeof wal, "%s-wal", f->path);
  assert_int_equal(stat(wal, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);

  /* The database is in WAL mode with a schema version recorded. */
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), 2);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

static void test_existing_file_tightened(void **state) {
  struct fixture *f = *state;
  sbx_store_close(f->s);
  f->s = NULL;
  assert_int_equal(chmod(f->path, 0644), 0);
  sbx_error_t err = {0};
  if (sbx_store_open(f->path, &f->s, &err) < 0) fail_msg("reopen: %s", err.msg);
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_newer_schema_refused(void **state) {
  struct fixture *f = *state;
  sbx_store_close(f->s);
  f->s = NULL;
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  sbx_error_t err = {0};
  struct sbx_store *s = NULL;
  assert_int_equal(sbx_store_open(f->path, &s, &err), -1);
  assert_null(s);
  assert_non_null(strstr(err.msg, "schema version 99"));
}

static void test_open_errors(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  struct sbx_store *s = NULL;
  char p[160];
  snprintf(p, sizeof p, "%s/missing-dir/x.db", f->dir);
  assert_int_equal(sbx_store_open(p, &s, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_non_null(strstr(err.msg, "missing-dir"));
  assert_null(s);
  /* A directory is not a database. */
  assert_int_equal(sbx_store_open(f->dir, &s, &err), -1);
  assert_null(s);
}

static void test_sql_looking_names(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  const char *evil[] = {
      "x'; DROP TABLE objects; --",
      "\" OR 1=1 --",
      "%s%n%x",
      "a' OR 'a'='a",
      "Robert'); DELETE FROM idslots;--",
  };
  for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "kind", json_object_new_string(evil[i]));
    assert_int_equal(sbx_store_create(f->s, evil[i], evil[i], evil[i], 1000, o, &err), 0);
    json_object_put(o);
  }
  uint32_t slot;
  assert_int_equal(sbx_store_idslot_alloc(f->s, "x'); DELETE FROM idslots; --", 4, &slot, &err),
                   0);
  for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
    json_object *o = NULL;
    assert_int_equal(sbx_store_get(f->s, evil[i], evil[i], evil[i], 1000, &o, NULL, &err), 0);
    json_object *k = NULL;
    assert_true(json_object_object_get_ex(o, "kind", &k));
    assert_string_equal(json_object_get_string(k), evil[i]);
    json_object_put(o);
    json_object *arr = NULL;
    assert_int_equal(sbx_store_list(f->s, evil[i], evil[i], SBX_OWNER_ANY, &arr, &err), 0);
    assert_int_equal(json_object_array_length(arr), 1);
    json_object_put(arr);
  }
  /* A wildcard-looking namespace matches nothing but itself. */
  json_object *arr = NULL;
  assert_int_equal(sbx_store_list(f->s, evil[0], "%", SBX_OWNER_ANY, &arr, &err), 0);
  assert_int_equal(json_object_array_length(arr), 0);
  json_object_put(arr);
  /* Tables are intact: the slot is still held, and a duplicate still says EEXIST. */
  assert_int_equal(sbx_store_idslot_alloc(f->s, "x'); DELETE FROM idslots; --", 4, &slot, &err),
                   0);
  assert_int_equal(slot, 0);
  json_object *o = json_object_new_object();
  assert_int_equal(sbx_store_create(f->s, evil[0], evil[0], evil[0], 1000, o, &err), -1);
  assert_int_equal(err.errnum, EEXIST);
  json_object_put(o);
}

static void test_error_message_escapes_name(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  assert_int_equal(sbx_store_delete(f->s, "Sandbox", "default", "bad\x1b[2Jname", 1000, &err),
                   -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_null(strchr(err.msg, '\x1b'));
  assert_non_null(strstr(err.msg, "bad\\x1b[2Jname"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static void remove_db(const char *path) {
  const char *suffixes[] = {"", "-wal", "-shm", "-journal", ".reserve"};
  for (size_t i = 0; i < 5; i++) {
    char p[200];
    snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
    unlink(p);
  }
}

/* Two stores (two daemons' roots) on one registry never hold the same slot, and the
 * slots of a store whose database is gone come back at the next daemon's start. */
static void test_registry_host_wide(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  char reg[200], dirb[160], pathb[200];
  snprintf(reg, sizeof reg, "%s/registry.db", f->dir);
  snprintf(dirb, sizeof dirb, "%s/b", f->dir);
  snprintf(pathb, sizeof pathb, "%s/state.db", dirb);
  assert_int_equal(mkdir(dirb, 0700), 0);
  struct sbx_store *b = NULL;
  if (sbx_store_open(pathb, &b, &err) < 0) fail_msg("open b: %s", err.msg);
  assert_int_equal(sbx_store_use_registry(f->s, reg, &err), 0);
  assert_int_equal(sbx_store_use_registry(b, reg, &err), 0);
  uint32_t slot = 99;
  assert_int_equal(sbx_store_idslot_alloc(f->s, "a1", 3, &slot, &err), 0);
  assert_int_equal(slot, 0);
  assert_int_equal(sbx_store_idslot_alloc(b, "b1", 3, &slot, &err), 0);
  assert_int_equal(slot, 1);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "a2", 3, &slot, &err), 0);
  assert_int_equal(slot, 2);
  assert_int_equal(sbx_store_idslot_alloc(b, "b2", 3, &slot, &err), -1);
  assert_int_equal(err.errnum, EUSERS);
  /* b's root is removed: its slot is free again once a daemon starts */
  sbx_store_close(b);
  remove_db(pathb);
  assert_int_equal(rmdir(dirb), 0);
  assert_int_equal(sbx_store_use_registry(f->s, reg, &err), 0);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "a3", 3, &slot, &err), 0);
  assert_int_equal(slot, 1);
  /* a release frees the slot host-wide */
  assert_int_equal(sbx_store_idslot_release(f->s, "a1", &err), 0);
  assert_int_equal(sbx_store_idslot_alloc(f->s, "a4", 3, &slot, &err), 0);
  assert_int_equal(slot, 0);
  sbx_store_close(f->s);
  f->s = NULL;
  remove_db(reg);
}

static const char *rv_of(json_object *o) {
  json_object *meta = NULL, *v = NULL;
  assert_true(json_object_object_get_ex(o, "metadata", &meta));
  assert_true(json_object_object_get_ex(meta, "resourceVersion", &v));
  return json_object_get_string(v);
}

/* Every write takes the next resourceVersion; a conditional update at a stale one is
 * refused (ESTALE) and changes nothing; the change log replays writes in order and says
 * ERANGE for a version older than it keeps. */
static void test_resource_versions_and_changes(void **state) {
  struct fixture *f = *state;
  sbx_error_t err = {0};
  int64_t start = sbx_store_revision(f->s);
  json_object *o = sandbox("rv", "one");
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "default", "rv", 1000, o, &err), 0);
  char first[24];
  snprintf(first, sizeof first, "%s", rv_of(o));
  assert_int_equal(sbx_store_update_if(f->s, "Sandbox", "default", "rv", 1000, o, first, &err), 0);
  assert_string_not_equal(rv_of(o), first);
  assert_int_equal(sbx_store_update_if(f->s, "Sandbox", "default", "rv", 1000, o, first, &err), -1);
  assert_int_equal(err.errnum, ESTALE);
  assert_non_null(strstr(err.msg, "has been modified"));
  assert_int_equal(sbx_store_update_if(f->s, "Sandbox", "default", "rv", 1000, o, "12x", &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  assert_int_equal(sbx_store_update_if(f->s, "Sandbox", "default", "nope", 1000, o, first, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  json_object *got = NULL;
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "rv", 1000, &got, NULL, &err), 0);
  assert_string_equal(rv_of(got), rv_of(o));
  json_object_put(got);
  json_object *other = sandbox("theirs", "x");
  assert_int_equal(sbx_store_create(f->s, "Sandbox", "default", "theirs", 2000, other, &err), 0);
  json_object_put(other);
  assert_int_equal(sbx_store_delete(f->s, "Sandbox", "default", "rv", 1000, &err), 0);
  json_object_put(o);

  json_object *ch = NULL;
  assert_int_equal(sbx_store_changes(f->s, "Sandbox", NULL, 1000, start, &ch, &err), 0);
  assert_int_equal(json_object_array_length(ch), 3); /* uid 2000's create is not uid 1000's */
  const char *types[] = {"ADDED", "MODIFIED", "DELETED"};
  for (size_t i = 0; i < 3; i++) {
    json_object *e = json_object_array_get_idx(ch, i), *t = NULL;
    assert_true(json_object_object_get_ex(e, "type", &t));
    assert_string_equal(json_object_get_string(t), types[i]);
  }
  json_object_put(ch);
  assert_int_equal(sbx_store_changes(f->s, "Sandbox", NULL, SBX_OWNER_ANY, start, &ch, &err), 0);
  assert_int_equal(json_object_array_length(ch), 4);
  json_object_put(ch);
  assert_int_equal(sbx_store_wait_change(f->s, sbx_store_revision(f->s), 10), 0);
  assert_int_equal(sbx_store_wait_change(f->s, start, 10), 1);

  /* push the first writes out of the history */
  for (int i = 0; i < SBX_STORE_HISTORY; i++) {
    json_object *c = sandbox("churn", "x");
    assert_int_equal(sbx_store_update(f->s, "Sandbox", "default", "theirs", 2000, c, &err), 0);
    json_object_put(c);
  }
  assert_int_equal(sbx_store_changes(f->s, "Sandbox", NULL, 1000, start, &ch, &err), -1);
  assert_int_equal(err.errnum, ERANGE);
  assert_non_null(strstr(err.msg, "too old resource version"));
  assert_int_equal(sbx_store_changes(f->s, "Sandbox", NULL, 1000, sbx_store_revision(f->s) + 5, &ch, &err), -1);
  assert_int_equal(err.errnum, ERANGE);
  assert_int_equal(sbx_store_changes(f->s, "Sandbox", NULL, 1000, sbx_store_revision(f->s) - 3, &ch, &err), 0);
  assert_int_equal(json_object_array_length(ch), 0);
  json_object_put(ch);
}

/* A database written by the sbxd before resourceVersions (schema 1) opens: its objects get
 * versions in the order they were written, and new writes go on from there. */
static void test_migration_from_schema_1(void **state) {
  struct fixture *f = *state;
  sbx_store_close(f->s);
  f->s = NULL;
  unlink(f->path);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  const char *v1 = "CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);"
                   "INSERT INTO schema_version VALUES (1, 1);"
                   "CREATE TABLE objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
                   " owner INTEGER NOT NULL, json TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,"
                   " PRIMARY KEY (kind, namespace, name, owner));"
                   "CREATE TABLE idslots (slot INTEGER PRIMARY KEY, holder TEXT NOT NULL UNIQUE);"
                   "INSERT INTO objects VALUES ('Sandbox', 'default', 'old1', 1000,"
                   " '{\"metadata\":{\"name\":\"old1\"}}', 'x', 'x');"
                   "INSERT INTO objects VALUES ('Sandbox', 'default', 'old2', 1000,"
                   " '{\"metadata\":{\"name\":\"old2\"}}', 'x', 'x');";
  assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  sbx_error_t err = {0};
  if (sbx_store_open(f->path, &f->s, &err) < 0) fail_msg("open: %s", err.msg);
  json_object *a = NULL, *b = NULL;
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "old1", 1000, &a, NULL, &err), 0);
  assert_int_equal(sbx_store_get(f->s, "Sandbox", "default", "old2", 1000, &b, NULL, &err), 0);
  assert_string_equal(rv_of(a), "1");
  assert_string_equal(rv_of(b), "2");
  assert_int_equal(sbx_store_revision(f->s), 2);
  assert_int_equal(sbx_store_update_if(f->s, "Sandbox", "default", "old1", 1000, a, "1", &err), 0);
  assert_string_equal(rv_of(a), "3");
  json_object_put(a);
  json_object_put(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_crud_two_owners),     T(test_errors),
      T(test_get_any_owner),       T(test_stored_copy),
      T(test_list),                T(test_list_keeps_annotations),
      T(test_idslots),             T(test_idslots_large_pool),
      T(test_idslots_threads),
      T(test_persistence), T(test_registry_host_wide),         T(test_file_mode_and_wal),
      T(test_existing_file_tightened), T(test_newer_schema_refused),
      T(test_open_errors),         T(test_sql_looking_names),
      T(test_error_message_escapes_name), T(test_resource_versions_and_changes),
      T(test_migration_from_schema_1),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
