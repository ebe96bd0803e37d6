/* sbx_test_prep.c: a test-only helper for tests/e2e/test_pod_shim.py, which starts sbx-shim
 * directly (without sbxd) and so must make what the daemon otherwise hands a shim:
 *   sbx-test-prep host-image DIR   build the host image skeleton in DIR/rootfs
 *   sbx-test-prep seccomp FILE     write the compiled default seccomp filter to FILE */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image/host.h"
#include "runtime/seccomp.h"

int main(int argc, char **argv) {
  sbx_error_t err = {0};
  if (argc == 3 && strcmp(argv[1], "host-image") == 0) {
    if (sbx_image_host_prepare(argv[2], &err) < 0) {
      fprintf(stderr, "sbx-test-prep: %s\n", err.msg);
      return 1;
    }
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "seccomp") == 0) {
    struct sbx_seccomp_prog *prog = NULL;
    if (sbx_seccomp_build_default(&prog, &err) < 0) {
      fprintf(stderr, "sbx-test-prep: %s\n", err.msg);
      return 1;
    }
    size_t len;
    const void *data = sbx_seccomp_prog_data(prog, &len);
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;
    if (fd >= 0) close(fd);
    sbx_seccomp_prog_free(prog);
    return ok ? 0 : 1;
  }
  fprintf(stderr, "usage: sbx-test-prep host-image DIR | seccomp FILE\n");
  return 2;
}
