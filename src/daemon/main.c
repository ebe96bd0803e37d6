/* main.c: sbxd, the daemon. Start-up in order: arguments, root check, state directory,
 * the root's lock and guards (rootguard.h, and that the sandboxes' ids can reach it),
 * store, the host image, helper binaries (sbx-shim, and sbx-init sealed into a memfd once),
 * the host id pool check, the supervisor (re-adopting sandboxes a previous daemon left
 * running), then the socket. SIGTERM/SIGINT stop the daemon and leave every sandbox
 * running: a new sbxd picks them up again. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/controller/reconcile.h"
#include "daemon/controller/pool.h"
#include "daemon/controller/volumes.h"
#include "daemon/controller/controller.h"
#include "daemon/api/api.h"
#include "image/host.h"
#include "daemon/store/rootguard.h"
#include "lib/cleanup.h"
#include "runtime/idmap.h"
#include "runtime/seccomp.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sbxd [--root DIR] [--socket PATH] [--admin-group GROUP] [--allow-host-path DIR[:rw]]...\n"
          "  --root DIR           state directory (default /var/lib/sbx)\n"
          "  --socket PATH        unix socket to listen on (default /run/sbx/sbx.sock)\n"
          "  --admin-group GROUP  members may see every user's objects (sbx get -A)\n"
          "  --warm-pool N        keep N sandboxes prepared ahead of time (default 3, 0: none)\n"
          "  --allow-host-path DIR[:rw]\n"
          "                       sandboxes may mount DIR or below with hostPath, read-only;\n"
          "                       with :rw the admins may mount it writable (repeatable)\n");
}

static int mkdir_p(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST) return -1;
  return 0;
}

/* A helper binary: next to sbxd (the build tree), else in the install's libexec dir. */
static char *find_helper(const char *name) {
  char self[PATH_MAX], path[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    snprintf(path, sizeof path, "%s/%s", dirname(self), name);
    if (access(path, X_OK) == 0) return strdup(path);
  }
  snprintf(path, sizeof path, "%s/%s", SBX_LIBEXECDIR, name);
  if (access(path, X_OK) == 0) return strdup(path);
  return NULL;
}

/* sbx-init, copied once into a sealed memfd: sandboxes exec it from there, so nothing in a
 * sandbox can ever reach (or rewrite) a host file through /proc/1/exe. */
static int seal_init(const char *path, sbx_error_t *err) {
  _cleanup_fd_ int in = open(path, O_RDONLY | O_CLOEXEC);
  if (in < 0) return sbx_error_sys(err, "open %s", path);
  struct stat st;
  if (fstat(in, &st) < 0) return sbx_error_sys(err, "stat %s", path);
  int fd = memfd_create("sbx-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return sbx_error_sys(err, "memfd_create");
  off_t off = 0;
  while (off < st.st_size)
    if (sendfile(fd, in, &off, (size_t)(st.st_size - off)) <= 0) {
      close(fd);
      return sbx_error_sys(err, "copy %s", path);
    }
  if (fchmod(fd, 0555) < 0 ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    close(fd);
    return sbx_error_sys(err, "seal sbx-init");
  }
  return fd;
}

/* The seccomp filter, compiled once (libseccomp takes milliseconds) and sealed in a memfd
 * that every shim reads. */
static int seal_seccomp(sbx_error_t *err) {
  struct sbx_seccomp_prog *prog = NULL;
  if (sbx_seccomp_build_default(&prog, err) < 0) return -1;
  size_t len;
  const void *data = sbx_seccomp_prog_data(prog, &len);
  int fd = memfd_create("sbx-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || write(fd, data, len) != (ssize_t)len ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    sbx_error_sys(err, "seal the seccomp filter");
    if (fd >= 0) close(fd);
    fd = -1;
  }
  sbx_seccomp_prog_free(prog);
  return fd;
}

/* The pool [SBX_ID_BASE, +slots*size) must not hold any account's id. */
static int check_id_pool(sbx_error_t *err) {
  uint64_t lo = SBX_ID_BASE, hi = (uint64_t)SBX_ID_BASE + (uint64_t)SBX_ID_SLOTS * SBX_ID_SLOT_SIZE;
  struct passwd *pw;
  setpwent();
  while ((pw = getpwent()))
    if (pw->pw_uid >= lo && pw->pw_uid < hi) {
      endpwent();
      return sbx_error_set(err, EEXIST, "user %s has uid %u, inside the id range sbx gives sandboxes (%llu-%llu)",
                           pw->pw_name, pw->pw_uid, (unsigned long long)lo, (unsigned long long)hi - 1);
    }
  endpwent();
  struct group *gr;
  setgrent();
  while ((gr = getgrent()))
    if (gr->gr_gid >= lo && gr->gr_gid < hi) {
      endgrent();
      return sbx_error_set(err, EEXIST, "group %s has gid %u, inside the id range sbx gives sandboxes",
                           gr->gr_name, gr->gr_gid);
    }
  endgrent();
  return 0;
}

static void *signals(void *arg) {
  struct sbx_daemon *d = arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig;
  sigwait(&set, &sig);
  fprintf(stderr, "sbxd: stopping on signal %d; sandboxes keep running\n", sig);
  unlink(d->socket_path);
  _exit(0);
  return NULL;
}

int main(int argc, char **argv) {
  static struct sbx_daemon d = {.init_memfd = -1, .admin_gid = (gid_t)-1, .listen_fd = -1,
                                .lock = PTHREAD_MUTEX_INITIALIZER, .objects_lock = PTHREAD_MUTEX_INITIALIZER, .pool_size = 3};
  const char *root = "/var/lib/sbx", *sock = "/run/sbx/sbx.sock", *admin = NULL;
  static const struct option opts[] = {{"root", required_argument, NULL, 'r'},
                                       {"socket", required_argument, NULL, 's'},
                                       {"admin-group", required_argument, NULL, 'a'},
                                       {"warm-pool", required_argument, NULL, 'w'},
                                       {"allow-host-path", required_argument, NULL, 'H'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (o) {
    case 'r': root = optarg; break;
    case 's': sock = optarg; break;
    case 'a': admin = optarg; break;
    case 'w': {
      char *end;
      long n = strtol(optarg, &end, 10);
      if (*end || n < 0 || n > 64) {
        fprintf(stderr, "sbxd: --warm-pool takes a number from 0 to 64\n");
        return 2;
      }
      d.pool_size = (int)n;
      break;
    }
    case 'H': {
      struct sbx_host_path_rule rule;
      sbx_error_t e = {0};
      char canon[PATH_MAX];
      if (sbx_host_path_rule_parse(optarg, &rule, &e) < 0) {
        fprintf(stderr, "sbxd: --allow-host-path %s: %s\n", optarg, e.msg);
        return 2;
      }
      struct stat st;
      if (!realpath(rule.dir, canon) || stat(canon, &st) < 0) {
        fprintf(stderr, "sbxd: --allow-host-path %s: %s\n", rule.dir, strerror(errno));
        return 2;
      }
      if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "sbxd: --allow-host-path %s: not a directory\n", rule.dir);
        return 2;
      }
      free(rule.dir);
      struct sbx_host_path_rule *nr = realloc(d.host_paths, (d.nhost_paths + 1) * sizeof *nr);
      if (!nr) return 1;
      d.host_paths = nr;
      d.host_paths[d.nhost_paths++] = (struct sbx_host_path_rule){.dir = strdup(canon), .rw = rule.rw};
      break;
    }
    case 'h': usage(stdout); return 0;
    case 'V': printf("sbxd %s\n", SBX_VERSION); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "sbxd: unexpected argument %s\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  if (geteuid() != 0) {
    fprintf(stderr, "sbxd: must run as root (it creates namespaces, cgroups and mounts for every user)\n");
    return 1;
  }
  sbx_error_t err = {0};
  char rootabs[PATH_MAX];
  if (mkdir_p(root, 0711) < 0 || !realpath(root, rootabs)) {
    fprintf(stderr, "sbxd: cannot create the state directory %s: %s\n", root, strerror(errno));
    return 1;
  }
  chmod(rootabs, 0711);
  d.root = rootabs;
  /* one daemon per root (held until exit), and nothing is cleaned up on a lost store */
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/sbx.db", rootabs);
  if (sbx_root_lock(rootabs, &err) < 0 || sbx_store_check_not_lost(path, rootabs, &err) < 0 ||
      sbx_ids_can_reach(rootabs, SBX_ID_BASE, &err) < 0) {
    fprintf(stderr, "sbxd: %s\n", err.msg);
    return 1;
  }
  d.socket_path = (char *)sock;
  if (admin) {
    struct group *g = getgrnam(admin);
    if (!g) {
      fprintf(stderr, "sbxd: --admin-group %s: no such group\n", admin);
      return 1;
    }
    d.admin_gid = g->gr_gid;
  }
  snprintf(path, sizeof path, "%s/sandboxes", rootabs);
  if (mkdir_p(path, 0700) < 0) {
    fprintf(stderr, "sbxd: cannot create %s: %s\n", path, strerror(errno));
    return 1;
  }
  snprintf(path, sizeof path, "%s/sbx.db", rootabs);
  if (sbx_store_open(path, &d.store, &err) < 0) {
    fprintf(stderr, "sbxd: state database %s: %s\n", path, err.msg);
    return 1;
  }
  if (mkdir_p(SBX_ID_REGISTRY_DIR, 0700) < 0 ||
      sbx_store_use_registry(d.store, SBX_ID_REGISTRY_DIR "/ranges.db", &err) < 0) {
    fprintf(stderr, "sbxd: host id ranges: %s\n", err.errnum ? err.msg : strerror(errno));
    return 1;
  }
  snprintf(path, sizeof path, "%s/images/host", rootabs);
  if (sbx_image_host_prepare(path, &err) < 0) {
    fprintf(stderr, "sbxd: preparing the host image: %s\n", err.msg);
    return 1;
  }
  snprintf(path, sizeof path, "%s/images/host/rootfs", rootabs);
  d.host_image = strdup(path);
  d.shim_path = find_helper("sbx-shim");
  char *init = find_helper("sbx-init");
  if (!d.shim_path || !init) {
    fprintf(stderr, "sbxd: cannot find sbx-shim and sbx-init next to sbxd or in %s; is sbx installed?\n",
            SBX_LIBEXECDIR);
    return 1;
  }
  d.init_memfd = seal_init(init, &err);
  free(init);
  d.seccomp_memfd = d.init_memfd < 0 ? -1 : seal_seccomp(&err);
  if (d.init_memfd < 0 || d.seccomp_memfd < 0 || check_id_pool(&err) < 0) {
    fprintf(stderr, "sbxd: %s\n", err.msg);
    return 1;
  }
  char sockdir[PATH_MAX];
  snprintf(sockdir, sizeof sockdir, "%s", sock);
  mkdir_p(dirname(sockdir), 0755);

  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  pthread_t t;
  d.on_shim_exit = sbx_run_finished; /* the supervisor raises, the controller handles */
  if (sbx_supervisor_start(&d, &err) < 0 || sbx_server_listen(&d, &err) < 0 || sbx_server_start_http(&d, &err) < 0) {
    fprintf(stderr, "sbxd: %s\n", err.msg);
    return 1;
  }
  /* volumes first: the sandboxes brought back next mount them */
  if (sbx_pvc_recover(&d, &err) < 0) fprintf(stderr, "sbxd: re-mounting volumes: %s\n", err.msg);
  sbx_run_recover(&d);
  if (sbx_reconcile_start(&d, &err) < 0) {
    fprintf(stderr, "sbxd: %s\n", err.msg);
    return 1;
  }
  sbx_pool_fill(&d);
  pthread_create(&t, NULL, signals, &d);
  fprintf(stderr, "sbxd %s: listening on %s, state in %s\n", SBX_VERSION, sock, rootabs);
  sbx_server_accept_loop(&d);
  return 1;
}
