/* test_cli_run_opts.c: `sbx run`'s flags turned into the run request of docs/protocol.md
 * (src/cli/run_opts.c): every flag, both long spellings, where options stop, the fd
 * indexes of the shared paths, -v parsing and every refusal. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/run_opts.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof *(a)) - 1)

static void assert_request(char **argv, int argc, const char *expected_json) {
  sbx_run_opts_t o;
  sbx_error_t err = {0};
  int r = sbx_run_parse(argc, argv, &o, &err);
  if (r < 0) fail_msg("parse failed: %s", err.msg);
  json_object *want = json_tokener_parse(expected_json);
  assert_non_null(want);
  if (!json_object_equal(o.req, want))
    fail_msg("request\n  %s\nwanted\n  %s", json_object_to_json_string(o.req),
             json_object_to_json_string(want));
  json_object_put(want);
  sbx_run_opts_free(&o);
}

static void assert_refused(char **argv, int argc, const char *needle) {
  sbx_run_opts_t o;
  sbx_error_t err = {0};
  assert_int_equal(sbx_run_parse(argc, argv, &o, &err), -1);
  if (!strstr(err.msg, needle)) fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
  sbx_run_opts_free(&o);
}

static void test_minimal(void **state) {
  (void)state;
  char *argv[] = {"run", "--", "python3", "-c", "print(1)", NULL};
  assert_request(argv, ARGC(argv),
                 "{\"op\":\"run\",\"namespace\":\"default\",\"image\":\"host\",\"tty\":false,"
                 "\"stdin\":false,\"rm\":false,\"command\":[\"python3\",\"-c\",\"print(1)\"]}");
}

static void test_all_flags(void **state) {
  (void)state;
  setenv("SBX_TEST_FROM_ENV", "v a l", 1);
  unsetenv("SBX_TEST_UNSET");
  char *argv[] = {"run", "--rm", "--name", "job1", "--image", "rootfs:/srv/root",
                  "--cpus", "1500m", "--memory=2Gi", "--pids", "64", "--network", "private",
                  "-v", "/data:/data:ro", "--volume=/home/u/w:/work", "-v/a:b:/c:rw",
                  "-e", "A=1", "--env=B=x=y", "-e", "SBX_TEST_FROM_ENV", "-e", "SBX_TEST_UNSET",
                  "-w", "/work", "-u", "1000:100", "-it", "-n", "team",
                  "--", "bash", "-l", NULL};
  assert_request(argv, ARGC(argv),
                 "{\"op\":\"run\",\"name\":\"job1\",\"namespace\":\"team\","
                 "\"image\":\"rootfs\",\"imageFd\":0,\"cpus\":\"1500m\",\"memory\":\"2Gi\","
                 "\"pids\":64,\"network\":\"private\","
                 "\"mounts\":[{\"destination\":\"/data\",\"readOnly\":true,\"fd\":1},"
                 "{\"destination\":\"/work\",\"readOnly\":false,\"fd\":2},"
                 "{\"destination\":\"/c\",\"readOnly\":false,\"fd\":3}],"
                 "\"env\":[\"A=1\",\"B=x=y\",\"SBX_TEST_FROM_ENV=v a l\"],"
                 "\"workingDir\":\"/work\",\"user\":\"1000:100\",\"tty\":true,\"stdin\":true,"
                 "\"rm\":true,\"command\":[\"bash\",\"-l\"]}");

  /* The paths to open, in fd order. */
  sbx_run_opts_t o;
  sbx_error_t err = {0};
  assert_int_equal(sbx_run_parse(ARGC(argv), argv, &o, &err), 0);
  assert_true(o.tty);
  assert_true(o.interactive);
  assert_false(o.help);
  assert_int_equal(o.npaths, 4);
  assert_string_equal(o.paths[0].path, "/srv/root");
  assert_true(o.paths[0].directory);
  assert_string_equal(o.paths[1].path, "/data");
  assert_false(o.paths[1].directory);
  assert_string_equal(o.paths[2].path, "/home/u/w");
  assert_string_equal(o.paths[3].path, "/a:b");
  assert_string_equal(o.paths[3].flag, "-v /a:b:/c:rw");
  sbx_run_opts_free(&o);
}

static void test_mounts_without_rootfs_start_at_zero(void **state) {
  (void)state;
  char *argv[] = {"run", "-v", "/x:/y", "--image", "host", "true", NULL};
  assert_request(argv, ARGC(argv),
                 "{\"op\":\"run\",\"namespace\":\"default\",\"image\":\"host\","
                 "\"mounts\":[{\"destination\":\"/y\",\"readOnly\":false,\"fd\":0}],"
                 "\"tty\":false,\"stdin\":false,\"rm\":false,\"command\":[\"true\"]}");
}

static void test_options_stop(void **state) {
  (void)state;
  /* At the first non-option: the command's flags are its own. */
  char *a1[] = {"run", "-i", "ls", "-l", "--rm", "--", "-t", NULL};
  assert_request(a1, ARGC(a1),
                 "{\"op\":\"run\",\"namespace\":\"default\",\"image\":\"host\",\"tty\":false,"
                 "\"stdin\":true,\"rm\":false,\"command\":[\"ls\",\"-l\",\"--rm\",\"--\",\"-t\"]}");
  /* At --, even when the command looks like an option. */
  char *a2[] = {"run", "-t", "--", "--help", NULL};
  assert_request(a2, ARGC(a2),
                 "{\"op\":\"run\",\"namespace\":\"default\",\"image\":\"host\",\"tty\":true,"
                 "\"stdin\":false,\"rm\":false,\"command\":[\"--help\"]}");
}

static void test_help(void **state) {
  (void)state;
  char *argv[] = {"run", "--help", NULL};
  sbx_run_opts_t o;
  sbx_error_t err = {0};
  assert_int_equal(sbx_run_parse(ARGC(argv), argv, &o, &err), 0);
  assert_true(o.help);
  sbx_run_opts_free(&o);
  char *argv2[] = {"run", "-h", NULL};
  assert_int_equal(sbx_run_parse(ARGC(argv2), argv2, &o, &err), 0);
  assert_true(o.help);
  sbx_run_opts_free(&o);
}

static void test_refusals(void **state) {
  (void)state;
  char *no_cmd[] = {"run", "--rm", NULL};
  assert_refused(no_cmd, ARGC(no_cmd), "no command given");
  char *no_cmd2[] = {"run", "--", NULL};
  assert_refused(no_cmd2, ARGC(no_cmd2), "no command given");
  char *unknown[] = {"run", "--privileged", "true", NULL};
  assert_refused(unknown, ARGC(unknown), "unknown flag: --privileged");
  char *unknown_short[] = {"run", "-iX", "true", NULL};
  assert_refused(unknown_short, ARGC(unknown_short), "unknown flag: -X");
  char *missing[] = {"run", "--name", NULL};
  assert_refused(missing, ARGC(missing), "flag needs a value: --name");
  char *missing_short[] = {"run", "-v", NULL};
  assert_refused(missing_short, ARGC(missing_short), "flag needs a value: -v");
  char *image[] = {"run", "--image", "docker.io/library/python:3", "true", NULL};
  assert_refused(image, ARGC(image), "only `host` and `rootfs:DIR` images are supported so far");
  char *image2[] = {"run", "--image=rootfs:", "true", NULL};
  assert_refused(image2, ARGC(image2), "only `host` and `rootfs:DIR`");
  char *pids0[] = {"run", "--pids", "0", "true", NULL};
  assert_refused(pids0, ARGC(pids0), "--pids 0: expected a whole number greater than 0");
  char *pidsneg[] = {"run", "--pids=-3", "true", NULL};
  assert_refused(pidsneg, ARGC(pidsneg), "--pids -3");
  char *pidsx[] = {"run", "--pids", "12x", "true", NULL};
  assert_refused(pidsx, ARGC(pidsx), "--pids 12x");
  char *net[] = {"run", "--network", "host", "true", NULL};
  assert_refused(net, ARGC(net), "--network host: expected none or private");
  char *wd[] = {"run", "-w", "work", "true", NULL};
  assert_refused(wd, ARGC(wd), "must be an absolute path");
  char *user[] = {"run", "-u", "alice", "true", NULL};
  assert_refused(user, ARGC(user), "-u alice: expected UID or UID:GID");
  char *user2[] = {"run", "-u", "1000:", "true", NULL};
  assert_refused(user2, ARGC(user2), "-u 1000:");
  char *user3[] = {"run", "-u", "4294967295", "true", NULL};
  assert_refused(user3, ARGC(user3), "-u 4294967295");
  char *env[] = {"run", "-e", "1X=2", "true", NULL};
  assert_refused(env, ARGC(env), "\"1X\" is not a valid variable name");
  char *env2[] = {"run", "-e", "=x", "true", NULL};
  assert_refused(env2, ARGC(env2), "\"\" is not a valid variable name");
  char *env3[] = {"run", "-e", "A-B=1", "true", NULL};
  assert_refused(env3, ARGC(env3), "\"A-B\"");
  char *empty[] = {"run", "--cpus=", "true", NULL};
  assert_refused(empty, ARGC(empty), "--cpus: the value is empty");
  char *dup[] = {"run", "-v", "/a:/d", "-v", "/b:/d:ro", "true", NULL};
  assert_refused(dup, ARGC(dup), "/d is already the destination of -v /a:/d");
  char *rel[] = {"run", "-v", "/a:d", "true", NULL};
  assert_refused(rel, ARGC(rel), "the destination \"d\" must be an absolute path");
}

static void test_too_many_paths(void **state) {
  (void)state;
  char *argv[2 + 2 * 33 + 2];
  char specs[33][32];
  int argc = 0;
  argv[argc++] = "run";
  argv[argc++] = "--image=rootfs:/r";
  for (int i = 0; i < 32; i++) {
    snprintf(specs[i], sizeof specs[i], "/s:/d%d", i);
    argv[argc++] = "-v";
    argv[argc++] = specs[i];
  }
  argv[argc++] = "true";
  argv[argc] = NULL;
  assert_refused(argv, argc, "too many paths to share");
}

static void test_volume(void **state) {
  (void)state;
  static const struct {
    const char *spec, *src, *dst;
    bool ro;
  } ok[] = {
      {"/a:/b", "/a", "/b", false},           {"/a:/b:ro", "/a", "/b", true},
      {"/a:/b:rw", "/a", "/b", false},        {"rel/dir:/b", "rel/dir", "/b", false},
      {"/with:colon:/dst", "/with:colon", "/dst", false},
      {"/with:colon:/dst:ro", "/with:colon", "/dst", true},
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    char *src, *dst;
    bool ro;
    sbx_error_t err = {0};
    if (sbx_run_parse_volume(ok[i].spec, &src, &dst, &ro, &err) < 0)
      fail_msg("%s: %s", ok[i].spec, err.msg);
    assert_string_equal(src, ok[i].src);
    assert_string_equal(dst, ok[i].dst);
    assert_int_equal(ro, ok[i].ro);
    free(src);
    free(dst);
  }
  static const struct {
    const char *spec, *needle;
  } bad[] = {
      {"/a", "expected SRC:DST"},
      {":/b", "SRC is empty"},
      {"/a:b", "destination \"b\" must be an absolute path"},
      {"/a:/b:rx", "unknown mode \"rx\""},
      {"/a:/b:c", "unknown mode \"c\""},
      {"/a:ro", "expected SRC:DST"},
      {"/a:/b:", "unknown mode \"\""},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *src = (char *)1, *dst = (char *)1;
    bool ro;
    sbx_error_t err = {0};
    if (sbx_run_parse_volume(bad[i].spec, &src, &dst, &ro, &err) != -1)
      fail_msg("%s was accepted", bad[i].spec);
    assert_null(src);
    assert_null(dst);
    if (!strstr(err.msg, bad[i].needle))
      fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].spec, err.msg, bad[i].needle);
  }
}

static void test_open_paths(void **state) {
  (void)state;
  char dir[] = "/tmp/sbx-test-run-opts-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char file[64], rootfs_arg[64], vol[96], bad_rootfs[80];
  snprintf(file, sizeof file, "%s/f", dir);
  int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  close(fd);
  snprintf(rootfs_arg, sizeof rootfs_arg, "--image=rootfs:%s", dir);
  snprintf(vol, sizeof vol, "%s:/f:ro", file);

  char *argv[] = {"run", rootfs_arg, "-v", vol, "true", NULL};
  sbx_run_opts_t o;
  sbx_error_t err = {0};
  assert_int_equal(sbx_run_parse(ARGC(argv), argv, &o, &err), 0);
  int fds[SBX_WIRE_MAX_FDS];
  assert_int_equal(sbx_run_open_paths(&o, fds, &err), 0);
  struct stat st_dir, st_file;
  assert_int_equal(fstat(fds[0], &st_dir), 0);
  assert_true(S_ISDIR(st_dir.st_mode));
  assert_int_equal(fstat(fds[1], &st_file), 0);
  assert_true(S_ISREG(st_file.st_mode));
  assert_int_equal(fcntl(fds[0], F_GETFL) & O_PATH, 0); /* opened for reading: proof of access */
  assert_int_equal(fcntl(fds[0], F_GETFL) & O_ACCMODE, O_RDONLY);
  assert_int_equal(fcntl(fds[1], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  sbx_wire_close_fds(fds, o.npaths);
  sbx_run_opts_free(&o);

  /* A rootfs must be a directory; nothing stays open after a failure. */
  snprintf(bad_rootfs, sizeof bad_rootfs, "--image=rootfs:%s", file);
  char *argv2[] = {"run", "-v", vol, bad_rootfs, "true", NULL};
  assert_int_equal(sbx_run_parse(ARGC(argv2), argv2, &o, &err), 0);
  int probe = dup(0);
  close(probe);
  assert_int_equal(sbx_run_open_paths(&o, fds, &err), -1);
  assert_non_null(strstr(err.msg, "not a directory"));
  assert_non_null(strstr(err.msg, "image rootfs:"));
  int after = dup(0);
  assert_int_equal(after, probe); /* the lowest free descriptor is unchanged */
  close(after);
  sbx_run_opts_free(&o);

  /* A missing source says which -v. */
  char *argv3[] = {"run", "-v", "/nonexistent-sbx-test:/x", "true", NULL};
  assert_int_equal(sbx_run_parse(ARGC(argv3), argv3, &o, &err), 0);
  assert_int_equal(sbx_run_open_paths(&o, fds, &err), -1);
  assert_non_null(strstr(err.msg, "-v /nonexistent-sbx-test:/x: cannot open"));
  assert_non_null(strstr(err.msg, "No such file or directory"));
  sbx_run_opts_free(&o);

  /* rootfs:DIR follows lib/rootfs.h's rule, as apply does: no symlink on the path, and a
   * real /proc in it */
  char link[96], proc[96], via_link[112];
  snprintf(link, sizeof link, "%s/link", dir);
  snprintf(proc, sizeof proc, "%s/proc", dir);
  assert_int_equal(symlink(dir, link), 0);
  snprintf(via_link, sizeof via_link, "--image=rootfs:%s", link);
  char *argv4[] = {"run", via_link, "true", NULL};
  assert_int_equal(sbx_run_parse(ARGC(argv4), argv4, &o, &err), 0);
  assert_int_equal(sbx_run_open_paths(&o, fds, &err), -1);
  assert_non_null(strstr(err.msg, "a symlink is on its way; name the real directory"));
  sbx_run_opts_free(&o);
  assert_int_equal(symlink("/", proc), 0);
  char *argv5[] = {"run", rootfs_arg, "true", NULL};
  assert_int_equal(sbx_run_parse(ARGC(argv5), argv5, &o, &err), 0);
  assert_int_equal(sbx_run_open_paths(&o, fds, &err), -1);
  assert_non_null(strstr(err.msg, "/proc in it is a symlink"));
  sbx_run_opts_free(&o);
  unlink(proc);
  unlink(link);

  unlink(file);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minimal),
      cmocka_unit_test(test_all_flags),
      cmocka_unit_test(test_mounts_without_rootfs_start_at_zero),
      cmocka_unit_test(test_options_stop),
      cmocka_unit_test(test_help),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_too_many_paths),
      cmocka_unit_test(test_volume),
      cmocka_unit_test(test_open_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
