/* rootguard.c: the lock on sbxd's state directory and the lost-store check (rootguard.h). */
#include "daemon/store/rootguard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int sbx_root_lock(const char *root, sbx_error_t *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/sbxd.lock", root);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return sbx_error_sys(err, "open %s", path);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    char pid[32] = "";
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    close(fd);
    if (e != EWOULDBLOCK) {
      errno = e;
      return sbx_error_sys(err, "lock %s", path);
    }
    pid[n > 0 ? n : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    return sbx_error_says(err, EBUSY,
                         "another sbxd (pid %s) is running on the state directory %s (it holds %s): "
                         "stop it first, or give this one a --root of its own",
                         *pid ? pid : "unknown", root, path);
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
    close(fd);
    return sbx_error_sys(err, "write %s", path);
  }
  return fd;
}

/* Entries of <root>/<sub> (not counting . and ..). */
static int entries(const char *root, const char *sub) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", root, sub);
  DIR *d = opendir(path);
  if (!d) return 0;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

int sbx_store_check_not_lost(const char *db, const char *root, sbx_error_t *err) {
  struct stat st;
  bool absent = stat(db, &st) < 0;
  if (absent && errno != ENOENT) return sbx_error_sys(err, "stat %s", db);
  if (!absent && st.st_size > 0) return 0;
  int sandboxes = entries(root, "sandboxes"), volumes = entries(root, "volumes");
  if (sandboxes == 0 && volumes == 0) return 0;
  return sbx_error_says(err, EUCLEAN,
                       "the state database %s is %s, but %s holds the state of %d sandbox(es) and %d "
                       "volume owner(s): refusing to start, since starting on an empty store would "
                       "delete them. Restore sbx.db (with its -wal file) from a backup; to start afresh "
                       "instead, stop every sandbox and move %s aside",
                       db, absent ? "missing" : "empty", root, sandboxes, volumes, root);
}
