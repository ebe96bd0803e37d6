/* test_host_image.c: the `host` image holds no secrets: the denylist matches what it must,
 * and a built image has no file that a host user could not read anyway. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/host.h"
#include "lib/fsutil.h"

static void test_secret_patterns(void **state) {
  (void)state;
  const char *secret[] = {"shadow", "gshadow", "shadow-", "sudoers", "sudoers.d/90-cloud", "ssh/ssh_host_rsa_key",
                          "ssh/ssh_host_ed25519_key.pub", "ssl/private/key.pem", "security/opasswd"};
  for (size_t i = 0; i < sizeof secret / sizeof *secret; i++) assert_true(sbx_image_host_is_secret(secret[i]));
  const char *fine[] = {"passwd", "group", "hosts", "ssh/ssh_config", "ssl/certs/ca-certificates.crt", "os-release"};
  for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) assert_false(sbx_image_host_is_secret(fine[i]));
}

static int bad;
static int check_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)ftw;
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (flag == FTW_F && S_ISREG(st->st_mode) && !(st->st_mode & S_IROTH)) {
    fprintf(stderr, "not world-readable in the image: %s\n", path);
    bad++;
  }
  if (!strcmp(base, "shadow") || !strcmp(base, "gshadow") || !strcmp(base, "sudoers") ||
      !strncmp(base, "ssh_host_", 9)) {
    fprintf(stderr, "secret in the image: %s\n", path);
    bad++;
  }
  return 0;
}

static void test_built_image_has_no_secrets(void **state) {
  (void)state;
  if (geteuid() != 0) skip(); /* reading all of /etc needs root, like the daemon */
  char dir[] = "/tmp/sbx-hostimg-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char img[128];
  snprintf(img, sizeof img, "%.100s/host", dir);
  sbx_error_t err = {0};
  assert_int_equal(sbx_image_host_prepare(img, &err), 0);
  char etc[400], rootfs[300];
  snprintf(rootfs, sizeof rootfs, "%.120s/rootfs", img);
  snprintf(etc, sizeof etc, "%s/etc/passwd", rootfs);
  assert_int_equal(access(etc, R_OK), 0);
  snprintf(etc, sizeof etc, "%s/etc", rootfs);
  bad = 0;
  assert_int_equal(nftw(etc, check_entry, 16, FTW_PHYS), 0);
  assert_int_equal(bad, 0);
  struct stat st;
  snprintf(etc, sizeof etc, "%s/tmp", rootfs);
  assert_int_equal(stat(etc, &st), 0);
  assert_int_equal(st.st_mode & 07777, 01777);
  /* preparing again keeps what is there */
  assert_int_equal(sbx_image_host_prepare(img, &err), 0);
  assert_int_equal(sbx_remove_tree(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_secret_patterns),
      cmocka_unit_test(test_built_image_has_no_secrets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
