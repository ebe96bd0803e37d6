/* test_volumes_host.c: capfs and sbx_volumes_prepare for real, as root (loop devices,
 * ext4, tmpfs). Not being root is a failure with a clear message, not a skip: these are
 * the only tests of capacity enforcement below the e2e suite.
 *
 * Each test gets a fresh private --root (a temp dir with its own store) and a daemon
 * struct around it; the owner is uid/gid 4242 (no account needed). What is checked:
 * - capfs: an image of N bytes mounted on a directory refuses writes past N with ENOSPC,
 *   the image file never grows past N, the root of the file system belongs to the owner,
 *   unmounting frees the loop device (autoclear) and data survives a re-mount;
 * - sbx_volumes_prepare: every volume kind lands where volumes.h says, with the right
 *   owner, modes, contents, mounts and readOnly/idmap flags; claims are made from
 *   templates and re-attached; a resize is refused; another user's secret is "not found";
 *   hostPath outside the allow-list or escaping it through a symlink is refused;
 * - PVC removal is refused while a sandbox uses the claim and complete afterwards;
 *   recovery re-mounts; release unmounts everything under a state dir; ephemeral storage. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <json-c/json.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/magic.h>

#include "daemon/controller/volumes.h"
#include "daemon/controller/disk.h"
#include "lib/fsutil.h"
#include "lib/wire.h"
#include "runtime/capfs.h"

#define OWNER 4242
#define OTHER 5555

struct fx {
  char tmp[256];
  char root[512];
  char state[1024];
  char lake[1024];
  struct sbx_host_path_rule rules[1];
  struct sbx_daemon d;
};

static void must(int r, const sbx_error_t *err, const char *what) {
  if (r < 0) fail_msg("%s: %s", what, err->msg);
}

static int setup(void **state) {
  if (geteuid() != 0) {
    fprintf(stderr, "test_volumes_host needs root (loop devices, mounts): run `meson test` as root\n");
    return -1;
  }
  struct fx *f = calloc(1, sizeof *f);
  char t[] = "/tmp/sbx-test-volumes-XXXXXX";
  assert_non_null(mkdtemp(t));
  char canon[PATH_MAX];
  assert_non_null(realpath(t, canon));
  assert_true(strlen(canon) < sizeof f->tmp);
  strcpy(f->tmp, canon);
  snprintf(f->root, sizeof f->root, "%s/root", f->tmp);
  assert_int_equal(mkdir(f->root, 0711), 0);
  snprintf(f->state, sizeof f->state, "%s/sandboxes", f->root);
  assert_int_equal(mkdir(f->state, 0700), 0);
  snprintf(f->state, sizeof f->state, "%s/sandboxes/abc", f->root);
  assert_int_equal(mkdir(f->state, 0700), 0);
  snprintf(f->lake, sizeof f->lake, "%s/lake", f->tmp);
  assert_int_equal(mkdir(f->lake, 0755), 0);
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/sub", f->lake);
  assert_int_equal(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/escape", f->lake);
  assert_int_equal(symlink("/etc", p), 0);
  f->rules[0] = (struct sbx_host_path_rule){.dir = f->lake, .rw = true};
  f->d.root = f->root;
  f->d.admin_gid = (gid_t)-1;
  f->d.host_paths = f->rules;
  f->d.nhost_paths = 1;
  f->d.storage_overcommit = 1.0;
  sbx_error_t err = {0};
  snprintf(p, sizeof p, "%s/sbx.db", f->root);
  must(sbx_store_open(p, &f->d.store, &err), &err, "store");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  sbx_volumes_release(&f->d, f->tmp); /* anything a failed test left mounted */
  sbx_store_close(f->d.store);
  sbx_remove_tree(f->tmp);
  free(f);
  return 0;
}

static bool mounted(const char *dir) {
  sbx_error_t err = {0};
  int r = sbx_is_mount_root(dir, &err);
  if (r < 0) fail_msg("is mounted %s: %s", dir, err.msg);
  return r == 1;
}

/* bytes written to dir/name until the file system refuses; *e gets the errno */
static long long fill(const char *dir, const char *name, int *e) {
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail_msg("open %s: %s", p, strerror(errno));
  static char buf[1 << 16];
  memset(buf, 'x', sizeof buf);
  long long total = 0;
  *e = 0;
  for (;;) {
    ssize_t n = write(fd, buf, sizeof buf);
    if (n < 0) {
      *e = errno;
      break;
    }
    total += n;
    if (total > (1LL << 30)) break; /* never: the test would be wrong */
  }
  if (fsync(fd) < 0 && !*e) *e = errno;
  close(fd);
  return total;
}

static bool loop_backs(const char *image) {
  glob_t g;
  bool found = false;
  if (glob("/sys/block/loop*/loop/backing_file", 0, NULL, &g) != 0) return false;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    FILE *fp = fopen(g.gl_pathv[i], "r");
    char line[PATH_MAX + 16] = "";
    if (fp && fgets(line, sizeof line, fp)) {
      line[strcspn(line, "\n")] = '\0';
      if (strcmp(line, image) == 0) found = true;
    }
    if (fp) fclose(fp);
  }
  globfree(&g);
  return found;
}

/* The kernel lets go of an autoclear loop device asynchronously after the last close:
 * wait for it (a generous deadline, only reached when the device is really kept). */
static bool loop_released(const char *image) {
  for (int i = 0; i < 200; i++) {
    if (!loop_backs(image)) return true;
    usleep(50000);
  }
  return false;
}

static void test_capfs_enospc(void **state) {
  struct fx *f = *state;
  sbx_error_t err = {0};
  char img[PATH_MAX + 16], mnt[PATH_MAX + 16];
  snprintf(img, sizeof img, "%s/small.img", f->tmp);
  snprintf(mnt, sizeof mnt, "%s/mnt", f->tmp);
  assert_int_equal(mkdir(mnt, 0755), 0);
  must(sbx_capfs_create(img, 16LL << 20, false, OWNER, OWNER, &err), &err, "create");
  assert_int_equal(sbx_capfs_create(img, 16LL << 20, false, OWNER, OWNER, &err), -1); /* never over an existing one */
  assert_int_equal(err.errnum, EEXIST);
  assert_false(mounted(mnt));
  must(sbx_capfs_mount(img, mnt, &err), &err, "mount");
  assert_true(mounted(mnt));
  assert_true(loop_backs(img));
  must(sbx_capfs_mount(img, mnt, &err), &err, "mount again is a no-op");
  struct stat st;
  assert_int_equal(stat(mnt, &st), 0);
  assert_int_equal(st.st_uid, OWNER);
  assert_int_equal(st.st_gid, OWNER);
  int e;
  long long wrote = fill(mnt, "big", &e);
  assert_int_equal(e, ENOSPC);
  assert_true(wrote > (4LL << 20));  /* most of it was usable */
  assert_true(wrote <= (16LL << 20));
  assert_int_equal(stat(img, &st), 0);
  assert_int_equal(st.st_size, 16LL << 20); /* the image never grows */
  assert_true((long long)st.st_blocks * 512 <= (16LL << 20));
  must(sbx_umount(mnt, false, &err), &err, "umount");
  assert_false(mounted(mnt));
  assert_true(loop_released(img)); /* autoclear freed the device */
  must(sbx_umount(mnt, false, &err), &err, "umount of nothing is fine");
  must(sbx_capfs_mount(img, mnt, &err), &err, "re-mount");
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/big", mnt);
  assert_int_equal(stat(p, &st), 0);
  assert_true(st.st_size > 0);
  must(sbx_umount(mnt, false, &err), &err, "umount");
}

static void test_capfs_errors(void **state) {
  struct fx *f = *state;
  sbx_error_t err = {0};
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/nothing.img", f->tmp);
  assert_int_equal(sbx_capfs_mount(p, f->tmp, &err), -1);
  assert_non_null(strstr(err.msg, "nothing.img"));
  snprintf(p, sizeof p, "%s/garbage.img", f->tmp);
  int fd = open(p, O_WRONLY | O_CREAT, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 8 << 20), 0);
  close(fd);
  char mnt[PATH_MAX + 16];
  snprintf(mnt, sizeof mnt, "%s/m2", f->tmp);
  assert_int_equal(mkdir(mnt, 0755), 0);
  assert_int_equal(sbx_capfs_mount(p, mnt, &err), -1); /* not ext4 */
  assert_false(mounted(mnt));
  assert_true(loop_released(p)); /* nothing left attached */
}

static json_object *parse(const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_object *o = json_tokener_parse(buf);
  if (!o) fail_msg("bad test JSON: %s", buf);
  return o;
}

static void store_config_for(struct fx *f, uid_t owner) {
  sbx_error_t err = {0};
  json_object *s = parse("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s1\",\"namespace\":"
                         "\"default\"},\"type\":\"Opaque\",\"data\":{\"token\":\"aHVudGVyMg==\"}}");
  must(sbx_store_create(f->d.store, "Secret", "default", "s1", owner, s, &err), &err, "secret");
  if (owner == OWNER)
    must(sbx_store_create(f->d.store, "Secret", "default", "theirs", OTHER, s, &err), &err, "other's secret");
  json_object_put(s);
  json_object *c = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c1\",\"namespace\":"
                         "\"default\"},\"data\":{\"a.txt\":\"hello\"},\"binaryData\":{\"b.bin\":\"AAE=\"}}");
  must(sbx_store_create(f->d.store, "ConfigMap", "default", "c1", owner, c, &err), &err, "configmap");
  json_object_put(c);
}

static void store_config(struct fx *f) { store_config_for(f, OWNER); }

static json_object *sandbox(struct fx *f, const char *storage, const char *extra_volume) {
  return parse(
      "{\"apiVersion\":\"agents.x-k8s.io/v1beta1\",\"kind\":\"Sandbox\","
      "\"metadata\":{\"name\":\"sb\",\"namespace\":\"default\"},\"spec\":{"
      "\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"work\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],"
      "\"resources\":{\"requests\":{\"storage\":\"%s\"}}}}],"
      "\"podTemplate\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"host\","
      "\"resources\":{\"limits\":{\"memory\":\"256Mi\"}}}],\"volumes\":["
      "{\"name\":\"scratch\",\"emptyDir\":{}},"
      "{\"name\":\"bounded\",\"emptyDir\":{\"sizeLimit\":\"10Mi\"}},"
      "{\"name\":\"mem\",\"emptyDir\":{\"medium\":\"Memory\"}},"
      "{\"name\":\"sec\",\"secret\":{\"secretName\":\"s1\",\"defaultMode\":256}},"
      "{\"name\":\"cm\",\"configMap\":{\"name\":\"c1\",\"items\":[{\"key\":\"a.txt\",\"path\":\"sub/a\"}]}},"
      "{\"name\":\"cmall\",\"configMap\":{\"name\":\"c1\"}},"
      "{\"name\":\"opt\",\"secret\":{\"secretName\":\"absent\",\"optional\":true}},"
      "{\"name\":\"data\",\"hostPath\":{\"path\":\"%s/sub\"}}%s%s]}}}}",
      storage, f->lake, extra_volume ? "," : "", extra_volume ? extra_volume : "");
}

static json_object *entry(json_object *out, const char *name) {
  for (size_t i = 0; i < json_object_array_length(out); i++) {
    json_object *e = json_object_array_get_idx(out, i);
    if (strcmp(json_object_get_string(json_object_object_get(e, "name")), name) == 0) return e;
  }
  fail_msg("no volume %s in the output", name);
  return NULL;
}

static const char *path_of(json_object *out, const char *name) {
  return json_object_get_string(json_object_object_get(entry(out, name), "path"));
}

static bool flag(json_object *out, const char *name, const char *key) {
  return json_object_get_boolean(json_object_object_get(entry(out, name), key));
}

static void read_file(const char *dir, const char *rel, char *buf, size_t size, struct stat *st) {
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  int fd = open(p, O_RDONLY);
  if (fd < 0) fail_msg("open %s: %s", p, strerror(errno));
  ssize_t n = read(fd, buf, size - 1);
  assert_true(n >= 0);
  buf[n] = '\0';
  assert_int_equal(fstat(fd, st), 0);
  close(fd);
}

static void test_prepare_all_kinds(void **state) {
  struct fx *f = *state;
  sbx_error_t err = {0};
  store_config(f);
  json_object *sb = sandbox(f, "16Mi", NULL), *out = NULL;
  must(sbx_volumes_prepare(&f->d, sb, OWNER, OWNER, f->state, &out, &err), &err, "prepare");
  assert_int_equal(json_object_array_length(out), 9);
  /* every volume comes with a descriptor of exactly what its path names now */
  for (size_t i = 0; i < json_object_array_length(out); i++) {
    json_object *v = json_object_array_get_idx(out, i);
    struct stat byfd, bypath;
    assert_int_equal(fstat((int)sbx_json_int(v, "fd", -1), &byfd), 0);
    assert_int_equal(stat(sbx_json_str(v, "path"), &bypath), 0);
    assert_true(byfd.st_dev == bypath.st_dev && byfd.st_ino == bypath.st_ino);
  }

  /* the claim from the template */
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s/volumes/%d/default/work-sb", f->root, OWNER);
  assert_string_equal(path_of(out, "work"), want);
  assert_true(mounted(want));
  assert_false(flag(out, "work", "readOnly"));
  assert_true(flag(out, "work", "idmap"));
  struct stat st;
  assert_int_equal(stat(want, &st), 0);
  assert_int_equal(st.st_uid, OWNER);
  snprintf(want, sizeof want, "%s/volumes", f->root);
  assert_int_equal(stat(want, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0711);
  assert_int_equal(st.st_uid, 0);
  snprintf(want, sizeof want, "%s/volumes/%d", f->root, OWNER);
  assert_int_equal(stat(want, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0700);
  assert_int_equal(st.st_uid, OWNER);
  int e;
  long long wrote = fill(path_of(out, "work"), "f", &e);
  assert_int_equal(e, ENOSPC);
  assert_true(wrote <= (16LL << 20));
  _cleanup_json_ json_object *pvc = NULL;
  must(sbx_store_get(f->d.store, "PersistentVolumeClaim", "default", "work-sb", OWNER, &pvc, NULL, &err), &err,
       "pvc object");
  assert_string_equal(json_object_get_string(sbx_json_path(pvc, "status.phase")), "Bound");
  assert_string_equal(json_object_get_string(sbx_json_path(pvc, "status.capacity.storage")), "16Mi");
  assert_string_equal(json_object_get_string(sbx_json_path(pvc, "spec.resources.requests.storage")), "16Mi");

  /* emptyDirs */
  snprintf(want, sizeof want, "%s/volumes/scratch", f->state);
  assert_string_equal(path_of(out, "scratch"), want);
  assert_false(mounted(want));
  assert_int_equal(stat(want, &st), 0);
  assert_int_equal(st.st_uid, OWNER);
  assert_true(mounted(path_of(out, "bounded")));
  wrote = fill(path_of(out, "bounded"), "f", &e);
  assert_int_equal(e, ENOSPC);
  assert_true(wrote <= (10LL << 20));
  assert_true(mounted(path_of(out, "mem")));
  struct statfs sf;
  assert_int_equal(statfs(path_of(out, "mem"), &sf), 0);
  assert_int_equal(sf.f_type, TMPFS_MAGIC);
  assert_int_equal((long long)sf.f_blocks * sf.f_bsize, 128LL << 20); /* half the 256Mi limit */
  assert_int_equal(stat(path_of(out, "mem"), &st), 0);
  assert_int_equal(st.st_uid, OWNER);
  assert_int_equal(st.st_mode & 07777, 0700);

  /* secret and configMaps */
  char buf[256];
  read_file(path_of(out, "sec"), "token", buf, sizeof buf, &st);
  assert_string_equal(buf, "hunter2");
  assert_int_equal(st.st_mode & 07777, 0400);
  assert_int_equal(st.st_uid, OWNER);
  assert_true(flag(out, "sec", "readOnly"));
  read_file(path_of(out, "cm"), "sub/a", buf, sizeof buf, &st);
  assert_string_equal(buf, "hello");
  assert_int_equal(st.st_mode & 07777, 0644);
  snprintf(want, sizeof want, "%s/a.txt", path_of(out, "cm"));
  assert_int_equal(access(want, F_OK), -1); /* items: only what they name */
  read_file(path_of(out, "cmall"), "a.txt", buf, sizeof buf, &st);
  assert_string_equal(buf, "hello");
  read_file(path_of(out, "cmall"), "b.bin", buf, sizeof buf, &st);
  assert_int_equal(st.st_size, 2);
  assert_int_equal(buf[1], 1);

  /* hostPath: canonical, read-only for a non-admin even on an :rw rule, not idmapped */
  snprintf(want, sizeof want, "%s/sub", f->lake);
  assert_string_equal(path_of(out, "data"), want);
  assert_true(flag(out, "data", "readOnly"));
  assert_false(flag(out, "data", "idmap"));
  sbx_volumes_free(out);

  /* again (a restart): the same, with the claim re-attached and its data kept */
  must(sbx_volumes_prepare(&f->d, sb, OWNER, OWNER, f->state, &out, &err), &err, "prepare again");
  snprintf(want, sizeof want, "%s/f", path_of(out, "work"));
  assert_int_equal(stat(want, &st), 0);
  assert_true(st.st_size > 0);
  sbx_volumes_free(out);
  /* root is an admin: the :rw rule gives it a writable hostPath */
  store_config_for(f, 0);
  must(sbx_volumes_prepare(&f->d, sb, 0, 0, f->state, &out, &err), &err, "prepare as root");
  assert_false(flag(out, "data", "readOnly"));
  sbx_volumes_free(out);

  /* release unmounts what is under the state dir, not the claim */
  sbx_volumes_release(&f->d, f->state);
  snprintf(want, sizeof want, "%s/volumes/mem", f->state);
  assert_false(mounted(want));
  snprintf(want, sizeof want, "%s/volumes/bounded", f->state);
  assert_false(mounted(want));
  snprintf(want, sizeof want, "%s/volumes/%d/default/work-sb", f->root, OWNER);
  assert_true(mounted(want));

  /* recovery after a "reboot": the claim is mounted again */
  must(sbx_umount(want, false, &err), &err, "umount claim");
  assert_false(mounted(want));
  must(sbx_pvc_recover(&f->d, &err), &err, "recover");
  assert_true(mounted(want));
  json_object_put(sb);
}

static void expect_refusal(struct fx *f, json_object *sb, int errnum, const char *text) {
  sbx_error_t err = {0};
  json_object *out = NULL;
  int r = sbx_volumes_prepare(&f->d, sb, OWNER, OWNER, f->state, &out, &err);
  if (r == 0) fail_msg("prepare accepted what it should refuse (%s)", text);
  assert_null(out);
  assert_int_equal(err.errnum, errnum);
  if (!strstr(err.msg, text)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, text);
  json_object_put(sb);
}

static void test_refusals(void **state) {
  struct fx *f = *state;
  sbx_error_t err = {0};
  store_config(f);
  expect_refusal(f, sandbox(f, "16Mi", "{\"name\":\"etc\",\"hostPath\":{\"path\":\"/etc\"}}"), EINVAL,
                 "hostPath /etc is not allowed: the administrator allows");
  char v[PATH_MAX + 128];
  snprintf(v, sizeof v, "{\"name\":\"esc\",\"hostPath\":{\"path\":\"%s/escape\"}}", f->lake);
  expect_refusal(f, sandbox(f, "16Mi", v), EINVAL, "a symlink is on its way");
  snprintf(v, sizeof v, "{\"name\":\"dots\",\"hostPath\":{\"path\":\"%s/../../etc\"}}", f->lake);
  expect_refusal(f, sandbox(f, "16Mi", v), EINVAL, "not allowed");
  expect_refusal(f, sandbox(f, "16Mi", "{\"name\":\"x\",\"secret\":{\"secretName\":\"theirs\"}}"), ENOENT,
                 "secret \"theirs\" not found");
  expect_refusal(f, sandbox(f, "16Mi", "{\"name\":\"x\",\"secret\":{\"secretName\":\"s1\",\"items\":[{\"key\":"
                                       "\"nokey\",\"path\":\"k\"}]}}"),
                 ENOENT, "key \"nokey\" not found");
  expect_refusal(f, sandbox(f, "16Mi", "{\"name\":\"x\",\"secret\":{\"secretName\":\"s1\",\"items\":[{\"key\":"
                                       "\"token\",\"path\":\"../../x\"}]}}"),
                 EINVAL, "path must be relative");
  expect_refusal(f, sandbox(f, "16Mi", "{\"name\":\"x\",\"persistentVolumeClaim\":{\"claimName\":\"nope\"}}"),
                 ENOENT, "persistentvolumeclaim \"nope\" not found");
  /* the claim exists now (made by the refusals above); another size is refused */
  expect_refusal(f, sandbox(f, "32Mi", NULL), EINVAL, "volumeClaimTemplates are immutable; delete the pvc to resize");

  /* config lookups */
  char *val = NULL;
  size_t len = 0;
  must(sbx_config_value(&f->d, OWNER, "default", "Secret", "s1", "token", &val, &len, &err), &err, "value");
  assert_int_equal(len, 7);
  assert_memory_equal(val, "hunter2", 7);
  free(val);
  assert_int_equal(sbx_config_value(&f->d, OWNER, "default", "Secret", "s1", "x", &val, &len, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_non_null(strstr(err.msg, "key \"x\" not found in secret \"s1\""));
  assert_int_equal(sbx_config_value(&f->d, OWNER, "default", "Secret", "theirs", "token", &val, &len, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_string_equal(err.msg, "secret \"theirs\" not found");
  json_object *data = NULL;
  must(sbx_config_data(&f->d, OWNER, "default", "ConfigMap", "c1", &data, &err), &err, "data");
  assert_string_equal(json_object_get_string(json_object_object_get(data, "a.txt")), "hello");
  assert_int_equal(json_object_get_string_len(json_object_object_get(data, "b.bin")), 2);
  json_object_put(data);
}

static void test_pvc_remove(void **state) {
  struct fx *f = *state;
  sbx_error_t err = {0};
  char dir[PATH_MAX + 64];
  snprintf(dir, sizeof dir, "%s/volumes/%d/default/work-sb", f->root, OWNER);
  must(sbx_pvc_ensure(&f->d, "default", "work-sb", OWNER, OWNER, 8LL << 20, NULL, NULL, &err), &err, "ensure");
  assert_true(mounted(dir));
  json_object *sb = sandbox(f, "8Mi", NULL);
  must(sbx_store_create(f->d.store, "Sandbox", "default", "sb", OWNER, sb, &err), &err, "store sandbox");
  assert_int_equal(sbx_pvc_remove(&f->d, "default", "work-sb", OWNER, &err), -1);
  assert_int_equal(err.errnum, EBUSY);
  assert_non_null(strstr(err.msg, "in use by sandbox sb"));
  assert_true(mounted(dir));
  /* another user's claim of that name is "not found" */
  assert_int_equal(sbx_pvc_remove(&f->d, "default", "work-sb", OTHER, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  must(sbx_store_delete(f->d.store, "Sandbox", "default", "sb", OWNER, &err), &err, "delete sandbox");
  must(sbx_pvc_remove(&f->d, "default", "work-sb", OWNER, &err), &err, "remove");
  assert_int_equal(access(dir, F_OK), -1);
  char img[PATH_MAX + 64];
  snprintf(img, sizeof img, "%s/volume-images/%d/default/work-sb.img", f->root, OWNER);
  assert_int_equal(access(img, F_OK), -1);
  assert_true(loop_released(img));
  json_object *o = NULL;
  assert_int_equal(sbx_store_get(f->d.store, "PersistentVolumeClaim", "default", "work-sb", OWNER, &o, NULL, &err), -1);
  assert_int_equal(sbx_pvc_remove(&f->d, "default", "work-sb", OWNER, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  json_object_put(sb);
}

static void test_pvc_owner_symlink(void **state) {
  /* the owner replaces their namespace directory with a symlink: no mount lands elsewhere */
  struct fx *f = *state;
  sbx_error_t err = {0};
  char dir[PATH_MAX + 64];
  snprintf(dir, sizeof dir, "%s/volumes/%d/default/c1", f->root, OWNER);
  int held = -1;
  must(sbx_pvc_ensure(&f->d, "default", "c1", OWNER, OWNER, 8LL << 20, NULL, &held, &err), &err, "ensure");
  struct stat mine, now;
  assert_int_equal(stat(dir, &mine), 0);
  char ns[PATH_MAX + 64], moved[PATH_MAX + 64], target[PATH_MAX + 64];
  snprintf(ns, sizeof ns, "%s/volumes/%d/default", f->root, OWNER);
  snprintf(moved, sizeof moved, "%s/volumes/%d/elsewhere", f->root, OWNER);
  snprintf(target, sizeof target, "%s/target", f->tmp);
  assert_int_equal(mkdir(target, 0755), 0);
  char t2[PATH_MAX + 80];
  snprintf(t2, sizeof t2, "%s/c1", target);
  assert_int_equal(mkdir(t2, 0755), 0);
  assert_int_equal(rename(ns, moved), 0);
  assert_int_equal(symlink(target, ns), 0);
  /* the descriptor handed out before the swap is still the claim's file system */
  assert_int_equal(fstat(held, &now), 0);
  assert_true(now.st_dev == mine.st_dev && now.st_ino == mine.st_ino);
  close(held);
  snprintf(moved, sizeof moved, "%s/volumes/%d/elsewhere/c1", f->root, OWNER);
  must(sbx_umount(moved, false, &err), &err, "umount");
  assert_int_equal(sbx_pvc_ensure(&f->d, "default", "c1", OWNER, OWNER, 8LL << 20, NULL, NULL, &err), -1);
  assert_false(mounted(t2));
}

static void test_open_as_user(void **state) {
  /* beneath a directory anyone may enter (opened by root, as sbxd opens a data lake), one
   * only root may enter: root opens it, another user is refused as if they had tried
   * themselves, and once it is theirs the descriptor comes back from the child */
  struct fx *f = *state;
  char top[PATH_MAX + 64], dir[PATH_MAX + 80];
  snprintf(top, sizeof top, "%s/open-as", f->tmp);
  snprintf(dir, sizeof dir, "%s/rootonly", top);
  assert_int_equal(mkdir(top, 0755), 0);
  assert_int_equal(mkdir(dir, 0700), 0);
  int topfd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
  assert_true(topfd >= 0);
  struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
  int fd = sbx_openat2_as_user(topfd, "rootonly", &how, 0, 0);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(sbx_openat2_as_user(topfd, "rootonly", &how, OWNER, OWNER), -1);
  assert_int_equal(errno, EACCES);
  assert_int_equal(chown(dir, OWNER, OWNER), 0);
  fd = sbx_openat2_as_user(topfd, "rootonly", &how, OWNER, OWNER);
  assert_true(fd >= 0);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  assert_int_equal(st.st_uid, OWNER);
  close(fd);
  close(topfd);
}

static void test_ephemeral(void **state) {
  struct fx *f = *state;
  sbx_error_t err = {0};
  char dir[PATH_MAX + 64];
  snprintf(dir, sizeof dir, "%s/containers", f->state);
  must(sbx_ephemeral_prepare(&f->d, "t", f->state, 0, &err), &err, "no bound");
  assert_int_equal(access(dir, F_OK), -1);
  must(sbx_ephemeral_prepare(&f->d, "t", f->state, 12LL << 20, &err), &err, "bound");
  assert_true(mounted(dir));
  must(sbx_ephemeral_prepare(&f->d, "t", f->state, 12LL << 20, &err), &err, "idempotent");
  int e;
  long long wrote = fill(dir, "layer", &e);
  assert_int_equal(e, ENOSPC);
  assert_true(wrote <= (12LL << 20));
  sbx_volumes_release(&f->d, f->state);
  assert_false(mounted(dir));
  must(sbx_ephemeral_prepare(&f->d, "t", f->state, 12LL << 20, &err), &err, "after reboot");
  assert_true(mounted(dir));
  char p[PATH_MAX + 80];
  snprintf(p, sizeof p, "%s/layer", dir);
  assert_int_equal(access(p, F_OK), 0); /* the writable layer survived */
  sbx_volumes_release(&f->d, f->state);
  /* a limit added to a sandbox whose layers exist unbounded is refused, clearly */
  char st2[PATH_MAX + 64];
  snprintf(st2, sizeof st2, "%s/sandboxes/def", f->root);
  assert_int_equal(mkdir(st2, 0700), 0);
  snprintf(p, sizeof p, "%s/containers", st2);
  assert_int_equal(mkdir(p, 0700), 0);
  snprintf(p, sizeof p, "%s/containers/c", st2);
  assert_int_equal(mkdir(p, 0700), 0);
  assert_int_equal(sbx_ephemeral_prepare(&f->d, "t", st2, 12LL << 20, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  /* ... while the default cap leaves such a sandbox as it was */
  f->d.default_ephemeral_bytes = 12LL << 20;
  must(sbx_ephemeral_prepare(&f->d, "t", st2, 0, &err), &err, "old layers");
  assert_false(mounted(p));
  f->d.default_ephemeral_bytes = 0;
}

/* No limit given: --default-ephemeral-storage bounds the layers with a sparse cap, which
 * promises nothing; a limit is a claim: reserved, and refused past the free space. */
static void test_default_cap_and_claims(void **state) {
  struct fx *f = *state;
  sbx_error_t err = {0};
  char st[PATH_MAX + 64], dir[PATH_MAX + 80], img[PATH_MAX + 80];
  snprintf(st, sizeof st, "%s/sandboxes/cap", f->root);
  assert_int_equal(mkdir(st, 0700), 0);
  f->d.default_ephemeral_bytes = 16LL << 20;
  must(sbx_ephemeral_prepare(&f->d, "cap", st, 0, &err), &err, "default cap");
  snprintf(dir, sizeof dir, "%s/containers", st);
  assert_true(mounted(dir));
  snprintf(img, sizeof img, "%s/layer.img", st);
  struct stat sb;
  assert_int_equal(stat(img, &sb), 0);
  assert_true((int64_t)sb.st_blocks * 512 < sb.st_size); /* sparse */
  int e;
  long long wrote = fill(dir, "big", &e);
  assert_int_equal(e, ENOSPC);
  assert_true(wrote <= (16LL << 20));
  int64_t before = sbx_disk_promised(&f->d);
  sbx_volumes_release(&f->d, st);
  f->d.default_ephemeral_bytes = 0;
  /* the default turned off later: the layers stay on their image */
  must(sbx_ephemeral_prepare(&f->d, "cap", st, 0, &err), &err, "default off");
  assert_true(mounted(dir));
  sbx_volumes_release(&f->d, st);
  /* a claim: fully allocated at ratio 1, so it promises nothing more */
  int pfd = -1;
  must(sbx_pvc_ensure(&f->d, "default", "reserved", OWNER, OWNER, 16LL << 20, NULL, &pfd, &err), &err, "claim");
  close(pfd);
  pfd = -1;
  assert_int_equal(sbx_disk_promised(&f->d), before);
  /* one larger than the disk: refused, the sizes named, the claim Pending */
  assert_int_equal(sbx_pvc_ensure(&f->d, "default", "huge", OWNER, OWNER, 1LL << 50, NULL, &pfd, &err), -1);
  assert_int_equal(pfd, -1);
  assert_int_equal(err.errnum, ENOSPC);
  assert_non_null(strstr(err.msg, "persistentvolumeclaim \"huge\" asks 1024.0Ti; "));
  assert_non_null(strstr(err.msg, " is free on "));
  assert_non_null(strstr(err.msg, "(over-commit 1.0)"));
  json_object *o = NULL;
  must(sbx_store_get(f->d.store, "PersistentVolumeClaim", "default", "huge", OWNER, &o, NULL, &err), &err, "get");
  assert_string_equal(sbx_json_str(sbx_json_path(o, "status"), "phase"), "Pending");
  json_object_put(o);
  char himg[PATH_MAX + 80];
  snprintf(himg, sizeof himg, "%s/volume-images/%u/default/huge.img", f->root, (unsigned)OWNER);
  assert_int_equal(access(himg, F_OK), -1); /* nothing was made */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_capfs_enospc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_capfs_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prepare_all_kinds, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pvc_remove, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pvc_owner_symlink, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ephemeral, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_as_user, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_cap_and_claims, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
