/* fsutil.c: see fsutil.h. */
#include "lib/fsutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int remove_failed;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  int r = (flag == FTW_DP) ? rmdir(path) : unlink(path);
  if (r < 0 && errno != ENOENT) remove_failed = errno;
  return 0;
}

int sbx_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -1;
  remove_failed = 0; /* callers serialise: one removal at a time per process */
  if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0) return -1;
  if (remove_failed) {
    errno = remove_failed;
    return -1;
  }
  return 0;
}
