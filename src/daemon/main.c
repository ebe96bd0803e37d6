/* main.c: sbxd, the daemon. Start-up in order: settings (defaults, /etc/sbx/sbxd.conf, then
 * flags: config.c over the option table below; --check-config stops there), the log files,
 * root check, state directory, the root's lock and guards (rootguard.h, and that the
 * sandboxes' ids can reach it), store (with the host-wide id registry), the host image,
 * helper binaries (sbx-shim, and sbx-init sealed into a memfd once), the host id pool check, the supervisor (re-adopting
 * sandboxes a previous daemon left running), then the socket. SIGTERM/SIGINT stop the
 * daemon and leave every sandbox running: a new sbxd picks them up again; SIGHUP reopens
 * the log files. Readiness (/readyz, and READY=1 to systemd) comes once recovery, the
 * reconciler and the warm pool are up. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/controller/reconcile.h"
#include "daemon/controller/pool.h"
#include "daemon/controller/quota.h"
#include "daemon/controller/volumes.h"
#include "daemon/controller/controller.h"
#include "daemon/controller/usage.h"
#include "daemon/controller/disk.h"
#include "daemon/api/api.h"
#include "image/host.h"
#include "daemon/store/rootguard.h"
#include "lib/cleanup.h"
#include "runtime/idmap.h"
#include "runtime/seccomp.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sbxd [--config PATH] [--check-config] [--root DIR] [--socket PATH] [--admin-group GROUP]\n"
          "            [--warm-pool N] [--allow-host-path DIR[:rw]]... [--log-file PATH] [--access-log PATH]\n"
          "            [--log-level LEVEL]\n"
          "  --config PATH        read settings from PATH (default /etc/sbx/sbxd.conf, if it exists):\n"
          "                       `key = value` lines, keys are these options without dashes\n"
          "  --check-config       check the settings, print the effective ones, and exit (0: valid)\n"
          "  --root DIR           state directory (default /var/lib/sbx)\n"
          "  --socket PATH        unix socket to listen on (default /run/sbx/sbx.sock)\n"
          "  --admin-group GROUP  members may see every user's objects (sbx get -A)\n"
          "  --warm-pool N        keep N sandboxes prepared ahead of time (default 3, 0: none)\n"
          "  --allow-host-path DIR[:rw]\n"
          "                       sandboxes may mount DIR or below with hostPath, read-only;\n"
          "                       with :rw the admins may mount it writable (repeatable)\n"
          "  --cgroup-parent PATH the top cgroup; each person's sandboxes go in PATH/user-UID (default sbx)\n"
          "  --default-memory Q, --default-pids N   a sandbox's limits when it sets none\n"
          "  --user-memory Q, --user-pids N, --user-cpu CPUS   one person's sandboxes together\n"
          "  --reserve-memory Q, --reserve-cpu CPUS  kept from all sandboxes for the system and sbxd\n"
          "  --quota-sandboxes N, --quota-requests-cpu CPUS, --quota-requests-memory Q,\n"
          "  --quota-claims N, --quota-storage Q, --quota-objects N, --quota-object-bytes Q\n"
          "                       what one person may hold (0 or none: no limit; root is exempt)\n"
          "                       see docs/operations.md \"Per-person limits and quotas\" for the defaults\n"
          "  --log-file PATH      log there instead of stderr (reopened on SIGHUP)\n"
          "  --access-log PATH    one line per API request there instead of the log (reopened on SIGHUP)\n"
          "  --log-level LEVEL    debug, info (default), warn or error\n"
          "  --max-connections-per-user N\n"
          "                       connections one user may hold open at once (default 64)\n"
          "%s", SBX_DISK_USAGE);
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

/* A helper binary: next to sbxd (the build tree), else in ../libexec/sbx beside it (an
 * installed tree, wherever its prefix now is: DESTDIR installs and upgrades run from there),
 * else in the configured libexec dir. */
static char *find_helper(const char *name) {
  char self[PATH_MAX], path[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    const char *dir = dirname(self);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (access(path, X_OK) == 0) return strdup(path);
    snprintf(path, sizeof path, "%s/../libexec/sbx/%s", dir, name);
    if (access(path, X_OK) == 0) return realpath(path, NULL);
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
  struct sbx_daemon *dm = arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  int sig;
  for (;;) {
    if (sigwait(&set, &sig) != 0) continue;
    if (sig != SIGHUP) break;
    sbx_error_t err = {0};
    if (sbx_log_reopen(&err) < 0) sbx_log(SBX_LOG_ERROR, "SIGHUP: %s", err.msg);
    else sbx_log(SBX_LOG_INFO, "SIGHUP: log files reopened");
  }
  sbx_log(SBX_LOG_INFO, "stopping on signal %d; sandboxes keep running", sig);
  sbx_notify("STOPPING=1");
  unlink(dm->socket_path);
  _exit(0);
  return NULL;
}

static struct sbx_daemon d = {.init_memfd = -1, .admin_gid = (gid_t)-1, .listen_fd = -1,
                              .lock = PTHREAD_MUTEX_INITIALIZER, .objects_lock = PTHREAD_MUTEX_INITIALIZER, .pool_size = 3,
                              .pool_owner = SBX_POOL_NOBODY, .max_conns_per_user = SBX_SHARE_CONNS,
                              SBX_DISK_DEFAULTS};

/* Options whose values are per-person limits and quotas, handled by sbx_policy_option. */
enum { OPT_POLICY = 1000 };

/* sbxd's options. Each long option is also a key of /etc/sbx/sbxd.conf (config.c): add new
 * ones at the end, handle them in apply_option, and list a repeatable one in `repeatable`. */
static const struct option opts[] = {{"root", required_argument, NULL, 'r'},
                                     {"socket", required_argument, NULL, 's'},
                                     {"admin-group", required_argument, NULL, 'a'},
                                     {"warm-pool", required_argument, NULL, 'w'},
                                     {"allow-host-path", required_argument, NULL, 'H'},
                                     {"help", no_argument, NULL, 'h'},
                                     {"version", no_argument, NULL, 'V'},
                                     {"log-file", required_argument, NULL, 'L'},
                                     {"access-log", required_argument, NULL, 'A'},
                                     {"log-level", required_argument, NULL, 'l'},
                                     {"max-connections-per-user", required_argument, NULL, 'C'},
                                     /* per-person limits and quotas (controller/quota.c): one value each */
                                     {"cgroup-parent", required_argument, NULL, OPT_POLICY + 0},
                                     {"default-memory", required_argument, NULL, OPT_POLICY + 1},
                                     {"default-pids", required_argument, NULL, OPT_POLICY + 2},
                                     {"user-memory", required_argument, NULL, OPT_POLICY + 3},
                                     {"user-pids", required_argument, NULL, OPT_POLICY + 4},
                                     {"user-cpu", required_argument, NULL, OPT_POLICY + 5},
                                     {"reserve-memory", required_argument, NULL, OPT_POLICY + 6},
                                     {"reserve-cpu", required_argument, NULL, OPT_POLICY + 7},
                                     {"quota-sandboxes", required_argument, NULL, OPT_POLICY + 8},
                                     {"quota-requests-cpu", required_argument, NULL, OPT_POLICY + 9},
                                     {"quota-requests-memory", required_argument, NULL, OPT_POLICY + 10},
                                     {"quota-claims", required_argument, NULL, OPT_POLICY + 11},
                                     {"quota-storage", required_argument, NULL, OPT_POLICY + 12},
                                     {"quota-objects", required_argument, NULL, OPT_POLICY + 13},
                                     {"quota-object-bytes", required_argument, NULL, OPT_POLICY + 14},
                                     /* disk bounds (controller/disk.c) */
                                     SBX_DISK_OPTIONS,
                                     {NULL, 0, NULL, 0}};
static const char *const repeatable[] = {"allow-host-path", NULL};
static const char *const cli_only[] = {"help", "version", NULL};
static const char *const defaults[] = {"root=/var/lib/sbx", "socket=/run/sbx/sbx.sock", "warm-pool=3",
                                       "log-level=info", NULL};

/* A whole number from lo to hi */
static int whole_number(const char *arg, long lo, long hi, int *out, sbx_error_t *err) {
  char *end;
  errno = 0;
  long n = strtol(arg, &end, 10);
  if (!*arg || *end || errno || n < lo || n > hi)
    return sbx_error_says(err, EINVAL, "takes a number from %ld to %ld, not \"%s\"", lo, hi, arg);
  *out = (int)n;
  return 0;
}

static int absolute_path(const char *optarg, sbx_error_t *err) {
  if (optarg[0] != '/') return sbx_error_says(err, EINVAL, "%s is not an absolute path", optarg);
  return 0;
}

/* One option's value, from the command line or the config file (config.c); the parameter
 * is named optarg so each case reads as it would in a getopt loop. Checks it exactly as
 * the daemon uses it: --check-config runs this same code. */
static int apply_option(int o, const char *optarg, sbx_error_t *err) {
  switch (o) {
  case 'r': d.root = (char *)optarg; break;
  case 's': d.socket_path = (char *)optarg; break;
  case 'a': {
    struct group *g = getgrnam(optarg);
    if (!g) return sbx_error_says(err, ENOENT, "%s: no such group", optarg);
    d.admin_gid = g->gr_gid;
    break;
  }
  case 'w': return whole_number(optarg, 0, 64, &d.pool_size, err);
  case 'H': {
    struct sbx_host_path_rule rule;
    char canon[PATH_MAX];
    if (sbx_host_path_rule_parse(optarg, &rule, err) < 0) return sbx_error_prefix(err, "%s", optarg);
    struct stat st;
    if (!realpath(rule.dir, canon) || stat(canon, &st) < 0) {
      sbx_error_sys(err, "%s", rule.dir);
      free(rule.dir);
      return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
      sbx_error_says(err, ENOTDIR, "%s: not a directory", rule.dir);
      free(rule.dir);
      return -1;
    }
    free(rule.dir);
    struct sbx_host_path_rule *nr = realloc(d.host_paths, (d.nhost_paths + 1) * sizeof *nr);
    if (!nr) return sbx_error_set(err, ENOMEM, "out of memory");
    d.host_paths = nr;
    d.host_paths[d.nhost_paths++] = (struct sbx_host_path_rule){.dir = strdup(canon), .rw = rule.rw};
    break;
  }
  case 'h': usage(stdout); exit(0);
  case 'V': printf("sbxd %s\n", SBX_VERSION); exit(0);
  case 'C': return whole_number(optarg, 1, 100000, &d.max_conns_per_user, err);
  case 'L': if (absolute_path(optarg, err) < 0) return -1; d.log_file = (char *)optarg; break;
  case 'A': if (absolute_path(optarg, err) < 0) return -1; d.access_log = (char *)optarg; break;
  case 'l': {
    enum sbx_log_level level;
    if (sbx_log_level_parse(optarg, &level, err) < 0) return -1;
    sbx_log_set_level(level);
    break;
  }
  case SBX_DISK_OPT_FIRST ... SBX_DISK_OPT_LAST: return sbx_disk_option(&d, o, optarg, err);
  default:
    for (const struct option *opt = opts; opt->name; opt++)
      if (opt->val == o && o >= OPT_POLICY) return sbx_policy_option(&d.policy, opt->name, optarg, err);
    return -1;
  }
  return 0;
}

static const struct sbx_conf_spec conf_spec = {
    .program = "sbxd", .options = opts, .short_options = "h", .repeatable = repeatable, .cli_only = cli_only,
    .defaults = defaults, .default_path = "/etc/sbx/sbxd.conf", .apply = apply_option};

int main(int argc, char **argv) {
  static struct sbx_conf conf; /* holds the option strings d points at, for the daemon's life */
  sbx_policy_init(&d.policy); /* the defaults, before the file and the flags */
  if (sbx_conf_load(&conf_spec, argc, argv, &conf, stderr) < 0) {
    if (conf.check) return 1;
    usage(stderr);
    return 2;
  }
  if (conf.check) {
    sbx_conf_print(&conf_spec, &conf, stdout);
    return 0;
  }
  sbx_error_t err = {0};
  if ((d.log_file && sbx_log_set_file(d.log_file, &err) < 0) ||
      (d.access_log && sbx_log_set_access_file(d.access_log, &err) < 0)) {
    fprintf(stderr, "sbxd: %s\n", err.msg);
    return 1;
  }
  if (geteuid() != 0) {
    sbx_log(SBX_LOG_ERROR, "must run as root (it creates namespaces, cgroups and mounts for every user)");
    return 1;
  }
  char rootabs[PATH_MAX];
  if (mkdir_p(d.root, 0711) < 0 || !realpath(d.root, rootabs)) {
    sbx_log(SBX_LOG_ERROR, "cannot create the state directory %s: %s", d.root, strerror(errno));
    return 1;
  }
  chmod(rootabs, 0711);
  d.root = rootabs;
  /* one daemon per root (held until exit), and nothing is cleaned up on a lost store */
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/sbx.db", rootabs);
  if (sbx_root_lock(rootabs, &err) < 0 || sbx_store_check_not_lost(path, rootabs, &err) < 0 ||
      sbx_ids_can_reach(rootabs, SBX_ID_BASE, &err) < 0) {
    sbx_log(SBX_LOG_ERROR, "%s", err.msg);
    return 1;
  }
  snprintf(path, sizeof path, "%s/sandboxes", rootabs);
  if (mkdir_p(path, 0700) < 0) {
    sbx_log(SBX_LOG_ERROR, "cannot create %s: %s", path, strerror(errno));
    return 1;
  }
  snprintf(path, sizeof path, "%s/sbx.db", rootabs);
  if (sbx_store_open(path, &d.store, &err) < 0) {
    sbx_log(SBX_LOG_ERROR, "state database %s: %s", path, err.msg);
    return 1;
  }
  if (sbx_policy_apply(&d, &err) < 0) {
    sbx_log(SBX_LOG_ERROR, "%s", err.msg);
    return 1;
  }
  if (mkdir_p(SBX_ID_REGISTRY_DIR, 0700) < 0 ||
      sbx_store_use_registry(d.store, SBX_ID_REGISTRY_DIR "/ranges.db", &err) < 0) {
    sbx_log(SBX_LOG_ERROR, "host id ranges: %s", err.errnum ? err.msg : strerror(errno));
    return 1;
  }
  snprintf(path, sizeof path, "%s/images/host", rootabs);
  if (sbx_image_host_prepare(path, &err) < 0) {
    sbx_log(SBX_LOG_ERROR, "preparing the host image: %s", err.msg);
    return 1;
  }
  snprintf(path, sizeof path, "%s/images/host/rootfs", rootabs);
  d.host_image = strdup(path);
  d.shim_path = find_helper("sbx-shim");
  char *init = find_helper("sbx-init");
  if (!d.shim_path || !init) {
    sbx_log(SBX_LOG_ERROR, "cannot find sbx-shim and sbx-init next to sbxd, in ../libexec/sbx or in %s; is sbx installed?",
            SBX_LIBEXECDIR);
    return 1;
  }
  d.init_memfd = seal_init(init, &err);
  free(init);
  d.seccomp_memfd = d.init_memfd < 0 ? -1 : seal_seccomp(&err);
  if (d.init_memfd < 0 || d.seccomp_memfd < 0 || check_id_pool(&err) < 0) {
    sbx_log(SBX_LOG_ERROR, "%s", err.msg);
    return 1;
  }
  char sockdir[PATH_MAX];
  snprintf(sockdir, sizeof sockdir, "%s", d.socket_path);
  mkdir_p(dirname(sockdir), 0755);

  sbx_server_raise_nofile();
  /* a fixed threshold: request buffers of 256 KiB and more are mapped and unmapped, so
   * what one user's big requests took goes back to the system when they end (glibc's
   * moving threshold would keep them in its many per-thread arenas) */
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  pthread_t t;
  pthread_create(&t, NULL, signals, &d);
  d.on_shim_exit = sbx_run_finished; /* the supervisor raises, the controller handles */
  if (sbx_supervisor_start(&d, &err) < 0 || sbx_server_listen(&d, &err) < 0 || sbx_server_start_http(&d, &err) < 0) {
    sbx_log(SBX_LOG_ERROR, "%s", err.msg);
    return 1;
  }
  sbx_notify("STATUS=recovering sandboxes and volumes");
  /* volumes first: the sandboxes brought back next mount them */
  if (sbx_pvc_recover(&d, &err) < 0) sbx_log(SBX_LOG_ERROR, "re-mounting volumes: %s", err.msg);
  sbx_run_recover(&d);
  atomic_store(&d.recovered, true);
  if (sbx_reconcile_start(&d, &err) < 0 || sbx_usage_sampler_start(&d, &err) < 0) {
    sbx_log(SBX_LOG_ERROR, "%s", err.msg);
    return 1;
  }
  sbx_pool_fill(&d);
  atomic_store(&d.pool_filled, true);
  sbx_log(SBX_LOG_INFO, "sbxd %s: listening on %s, state in %s", SBX_VERSION, d.socket_path, rootabs);
  sbx_notify("READY=1\nSTATUS=serving");
  sbx_server_accept_loop(&d);
  return 1;
}
