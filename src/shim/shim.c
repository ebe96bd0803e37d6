/* shim.c: sbx-shim, the supervisor of one sandbox.
 *
 * sbxd starts one shim per sandbox and forgets about it until it exits: the shim is the
 * parent of the sandbox's pid 1, so it is what sees the sandbox end, and it does not need
 * the daemon to be alive (sandboxes outlive sbxd). It is started with:
 *   fd 3  the spec: a JSON object (config_from_spec below, and docs/protocol.md)
 *   fd 4  the client channel: a socket to `sbx run` (stream protocol frames), or /dev/null
 *   fd 5  a sealed memfd holding sbx-init
 *   fd 6  a sealed memfd holding the compiled seccomp filter
 *   fd 7+ the descriptors the spec names (image, volumes)
 * A warm-pool spare (spec {"spare":true,...}) gets the daemon's control socket at fd 4
 * instead; it prepares its sandbox, then waits there for the claim: the real spec, with the
 * client channel and the image and volume descriptors attached (pool.c).
 * It starts the sandbox (src/runtime/sandbox.c), hands the client its stdio (pipes or the
 * pty master), forwards the client's signals, and when pid 1 ends: works out why (exit
 * code, signal, OOM kill from the cgroup), tears everything down (cgroup, writable layer
 * when --rm), records the result in <state>/status.json and tells the client.
 * SIGTERM asks for a graceful stop: SIGTERM to the sandbox, SIGKILL after the grace period.
 * If the client goes away, the sandbox is stopped unless it was named and kept.
 * A spec with "mode":"pod" (a Sandbox object's pod) is run by shim_pod.c instead. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/quantity.h"
#include "shim/shim_group.h"
#include "shim/shim_pod.h"
#include "lib/wire.h"
#include "runtime/sandbox.h"

#define SPEC_FD 3
#define CLIENT_FD 4
#define INIT_FD 5
#define SECCOMP_FD 6

struct shim {
  json_object *spec;
  const char *id;
  const char *state_dir;
  int client;            /* -1 once gone */
  bool keep;             /* keep running when the client goes away */
  bool remove;           /* remove the state when done (--rm) */
  json_object *spare_spec; /* a spare's first spec, until the end */
  json_object *ended;      /* how the main process ended, once known */
  bool status_read;        /* init's report was read (or found missing) */
  struct sbx_sandbox sb;
};

static void logmsg(struct shim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(struct shim *s, const char *fmt, ...) {
  char buf[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "sbx-shim[%s]: %s\n", s->id ? s->id : "?", buf);
}

static json_object *read_spec(sbx_error_t *err) {
  struct stat st;
  if (fstat(SPEC_FD, &st) < 0) return sbx_error_sys(err, "spec"), NULL;
  _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) return sbx_error_set(err, ENOMEM, "spec"), NULL;
  ssize_t n = pread(SPEC_FD, buf, (size_t)st.st_size, 0);
  if (n != st.st_size) return sbx_error_sys(err, "read spec"), NULL;
  buf[n] = '\0';
  close(SPEC_FD);
  json_object *o = json_tokener_parse(buf);
  if (!o) sbx_error_set(err, EINVAL, "spec is not JSON");
  return o;
}

static char **string_array(json_object *o, const char *key) {
  json_object *a;
  if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array)) return calloc(1, sizeof(char *));
  size_t n = json_object_array_length(a);
  char **v = calloc(n + 1, sizeof *v);
  for (size_t i = 0; v && i < n; i++) v[i] = (char *)json_object_get_string(json_object_array_get_idx(a, i));
  return v;
}

static void now_rfc3339(char *buf, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* status.json, written atomically: what the daemon reads after a restart or when we exit. */
static void write_status(struct shim *s, json_object *st) {
  char tmp[4200], dst[4200];
  snprintf(tmp, sizeof tmp, "%s/status.json.tmp", s->state_dir);
  snprintf(dst, sizeof dst, "%s/status.json", s->state_dir);
  if (json_object_to_file_ext(tmp, st, JSON_C_TO_STRING_PLAIN) < 0 || rename(tmp, dst) < 0)
    logmsg(s, "cannot record status in %s: %s", dst, strerror(errno));
}

static void client_send(struct shim *s, json_object *msg, const int *fds, size_t nfds) {
  if (s->client < 0) return;
  sbx_error_t err;
  if (sbx_wire_send(s->client, msg, fds, nfds, &err) < 0) {
    close(s->client);
    s->client = -1;
  }
}

static void client_error(struct shim *s, const char *message) {
  _cleanup_json_ json_object *m = json_object_new_object();
  json_object_object_add(m, "type", json_object_new_string("error"));
  json_object_object_add(m, "message", json_object_new_string(message));
  client_send(s, m, NULL, 0);
}

static int make_pipes(struct shim *s, bool want_stdin, int inside[3], int outside[3], sbx_error_t *err) {
  for (int i = 0; i < 3; i++) inside[i] = outside[i] = -1;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return sbx_error_sys(err, "pipe");
  inside[0] = p[0];
  if (want_stdin) outside[0] = p[1];
  else close(p[1]); /* no -i: the sandbox reads end-of-file */
  for (int i = 1; i < 3; i++) {
    if (pipe2(p, O_CLOEXEC) < 0) return sbx_error_sys(err, "pipe");
    inside[i] = p[1];
    outside[i] = p[0];
  }
  (void)s;
  return 0;
}

/* The sandbox configuration a spec describes (descriptors at the numbers the spec names).
 * Used by the shim, and by a warm-pool sandbox's child for its late configuration. */
static struct sbx_cgroup_limits spec_group_limits; /* what config_from_spec's group_limits points at */

static int config_from_spec(json_object *spec, struct sbx_sandbox_config *c, sbx_error_t *err) {
  json_object *o, *vols;
  c->hostname = sbx_json_str(spec, "hostname");
  c->host_id_base = (uint32_t)sbx_json_int(spec, "hostIdBase", 0);
  c->id_count = (uint32_t)sbx_json_int(spec, "idCount", 65536);
  if (!json_object_object_get_ex(spec, "image", &o)) return sbx_error_set(err, EINVAL, "spec has no image");
  c->image_fd = (int)sbx_json_int(o, "fd", -1);
  c->host_usr = strcmp(sbx_json_str(o, "type") ?: "", "host") == 0;
  c->image_owner_map = sbx_json_bool(spec, "imageOwnerMap", 0);
  size_t nv = 0;
  struct sbx_volume *v = NULL;
  if (json_object_object_get_ex(spec, "volumes", &vols) && (nv = json_object_array_length(vols)) > 0) {
    v = calloc(nv, sizeof *v);
    if (!v) return sbx_error_set(err, ENOMEM, "volumes");
    for (size_t i = 0; i < nv; i++) {
      json_object *e = json_object_array_get_idx(vols, i);
      v[i].src_fd = (int)sbx_json_int(e, "fd", -1);
      v[i].destination = sbx_json_str(e, "destination");
      v[i].read_only = sbx_json_bool(e, "readOnly", 0);
      v[i].is_dir = sbx_json_bool(e, "isDir", 1);
    }
  }
  c->volumes = v;
  c->nvolumes = nv;
  c->owner_uid = (uid_t)sbx_json_int(spec, "ownerUid", 0);
  c->owner_gid = (gid_t)sbx_json_int(spec, "ownerGid", 0);
  c->argv = string_array(spec, "command");
  c->envp = string_array(spec, "env");
  c->cwd = sbx_json_str(spec, "workingDir");
  c->uid = (uid_t)sbx_json_int(spec, "uid", 0);
  c->gid = (gid_t)sbx_json_int(spec, "gid", 0);
  c->tty = sbx_json_bool(spec, "tty", 0);
  c->cgroup_parent = sbx_json_str(spec, "cgroupParent") ?: "sbx";
  c->group_limits = shim_group_limits(spec, &spec_group_limits) ? &spec_group_limits : NULL;
  c->limits.cpu_request_millis = sbx_json_int(spec, "cpuRequestMillis", 0);
  c->limits.cpu_limit_millis = sbx_json_int(spec, "cpuLimitMillis", 0);
  c->limits.memory_limit_bytes = sbx_json_int(spec, "memoryLimitBytes", 0);
  c->limits.pids_limit = sbx_json_int(spec, "pidsLimit", 4096);
  c->shm_bytes = sbx_json_int(spec, "shmBytes", 64 << 20);
  c->tmp_bytes = sbx_json_int(spec, "tmpBytes", 1LL << 30);
  c->layer_bytes = sbx_json_int(spec, "layerBytes", 0);
  if (!c->argv || !c->argv[0] || !c->envp) return sbx_error_set(err, EINVAL, "spec has no command");
  return 0;
}

/* In a warm-pool sandbox's child: the spec arrived as text with "go". The child execs soon
 * after, so what is allocated here is never freed. */
static int configure_late(const char *text, struct sbx_sandbox_config *out, sbx_error_t *err) {
  json_object *spec = json_tokener_parse(text);
  if (!spec) return sbx_error_set(err, EINVAL, "late configuration is not JSON");
  memset(out, 0, sizeof *out);
  return config_from_spec(spec, out, err);
}

static struct sbx_seccomp_prog *read_seccomp(sbx_error_t *err) {
  struct sbx_seccomp_prog *prog = NULL;
  struct stat sst;
  if (fstat(SECCOMP_FD, &sst) == 0 && sst.st_size > 0) {
    void *bpf = malloc((size_t)sst.st_size);
    if (bpf && pread(SECCOMP_FD, bpf, (size_t)sst.st_size, 0) == sst.st_size)
      sbx_seccomp_prog_from_data(bpf, (size_t)sst.st_size, &prog, err);
    free(bpf);
  }
  close(SECCOMP_FD);
  return prog;
}

/* A spare waits, prepared, for the daemon to hand it a sandbox to become (the claim: the
 * spec, with the client channel and the image and volume descriptors). The claim's
 * descriptors are put at the numbers a directly started shim has them. Returns 1 when
 * claimed, 0 when the daemon went away first. */
static int wait_for_claim(struct shim *s, sbx_error_t *err) {
  json_object *claim = NULL;
  int fds[SBX_WIRE_MAX_FDS];
  size_t nfds = 0;
  int r = sbx_wire_recv(CLIENT_FD, &claim, fds, &nfds, SBX_WIRE_MAX_FDS, err);
  if (r <= 0) return r;
  if (nfds < 2 || sbx_json_str(claim, "id") == NULL || strcmp(sbx_json_str(claim, "id"), s->id) != 0) {
    sbx_wire_close_fds(fds, nfds);
    json_object_put(claim);
    return sbx_error_set(err, EPROTO, "malformed claim");
  }
  /* The descriptors arrived wherever the kernel put them (the prepared sandbox already holds
   * low numbers): point the spec's image and volume entries at them. */
  json_object *img, *vols;
  size_t nv = json_object_object_get_ex(claim, "volumes", &vols) ? json_object_array_length(vols) : 0;
  if (!json_object_object_get_ex(claim, "image", &img) || nfds != 2 + nv) {
    sbx_wire_close_fds(fds, nfds);
    json_object_put(claim);
    return sbx_error_set(err, EPROTO, "claim with %zu descriptors for %zu volumes", nfds, nv);
  }
  json_object_object_add(img, "fd", json_object_new_int(fds[1]));
  for (size_t i = 0; i < nv; i++)
    json_object_object_add(json_object_array_get_idx(vols, i), "fd", json_object_new_int(fds[2 + i]));
  close(CLIENT_FD); /* the daemon's control socket: done with it */
  json_object_put(s->spec);
  s->spec = claim;
  s->client = fds[0];
  s->keep = sbx_json_bool(claim, "keepOnDisconnect", 0);
  s->remove = sbx_json_bool(claim, "removeOnExit", 0);
  return 1;
}

/* Nothing was started: what was read for it goes. */
static int start_failed(struct sbx_seccomp_prog *prog, int state_dirfd) {
  if (prog) sbx_seccomp_prog_free(prog);
  close(state_dirfd);
  return -1;
}

static int start(struct shim *s, sbx_error_t *err) {
  json_object *spec = s->spec;
  struct sbx_sandbox_config c = {0};
  bool spare = sbx_json_bool(spec, "spare", 0);
  c.id = s->id;
  c.state_dir = s->state_dir;
  c.state_dirfd = open(s->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (c.state_dirfd < 0) return sbx_error_sys(err, "open %s", s->state_dir);
  c.init_fd = INIT_FD;
  struct sbx_seccomp_prog *prog = read_seccomp(err);
  c.seccomp = prog;
  c.configure_late = configure_late;
  if (spare) {
    c.host_id_base = (uint32_t)sbx_json_int(spec, "hostIdBase", 0);
    c.id_count = (uint32_t)sbx_json_int(spec, "idCount", 65536);
    c.cgroup_parent = sbx_json_str(spec, "cgroupParent") ?: "sbx";
    c.group_limits = shim_group_limits(spec, &spec_group_limits) ? &spec_group_limits : NULL;
    c.limits.pids_limit = sbx_json_int(spec, "pidsLimit", 4096);
    if (sbx_sandbox_prepare(&c, &s->sb, err) < 0) return start_failed(prog, c.state_dirfd);
    /* the claim replaces s->spec: keep what c points into alive until the end */
    s->spare_spec = s->spec;
    s->spec = NULL;
    int r = wait_for_claim(s, err);
    if (r <= 0) {
      sbx_sandbox_abort(&s->sb);
      shim_group_release(s->spare_spec);
      s->client = -1;
      if (r == 0) sbx_error_set(err, 0, "the daemon went away before claiming this spare");
      return start_failed(prog, c.state_dirfd);
    }
    spec = s->spec;
  }
  if (config_from_spec(spec, &c, err) < 0) return start_failed(prog, c.state_dirfd);
  /* a spare prepared in another person's group (the pool makes the next spare in the group
   * of the last one to claim) moves to its claimer's before anything runs in it */
  if (spare && strcmp(c.cgroup_parent, sbx_json_str(s->spare_spec, "cgroupParent") ?: "sbx") != 0) {
    if (sbx_sandbox_move_cgroup(&c, &s->sb, err) < 0) {
      sbx_error_prefix(err, "move the spare to its cgroup");
      return start_failed(prog, c.state_dirfd);
    }
    shim_group_release(s->spare_spec);
  }
  struct sbx_volume *v = (struct sbx_volume *)c.volumes;
  int inside[3] = {-1, -1, -1}, outside[3] = {-1, -1, -1};
  if (!c.tty && make_pipes(s, sbx_json_bool(spec, "stdin", 0), inside, outside, err) < 0) {
    free(v);
    free((void *)c.argv);
    free((void *)c.envp);
    return start_failed(prog, c.state_dirfd);
  }
  for (int i = 0; i < 3; i++) c.stdio[i] = inside[i];

  int r;
  if (spare) {
    const char *text = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
    r = sbx_sandbox_launch(&c, &s->sb, text, err);
  } else {
    r = sbx_sandbox_start(&c, &s->sb, err);
  }
  if (prog) sbx_seccomp_prog_free(prog);
  for (int i = 0; i < 3; i++)
    if (inside[i] >= 0) close(inside[i]);
  close(c.state_dirfd);
  free(v);
  free((void *)c.argv);
  free((void *)c.envp);
  if (r < 0) {
    for (int i = 0; i < 3; i++)
      if (outside[i] >= 0) close(outside[i]);
    return -1;
  }

  _cleanup_json_ json_object *m = json_object_new_object();
  json_object_object_add(m, "type", json_object_new_string("started"));
  json_object_object_add(m, "tty", json_object_new_boolean(c.tty));
  if (c.tty) {
    client_send(s, m, &s->sb.pty_master, 1);
  } else {
    int fds[3];
    size_t n = 0;
    for (int i = 0; i < 3; i++)
      if (outside[i] >= 0) fds[n++] = outside[i];
    client_send(s, m, fds, n);
    for (int i = 0; i < 3; i++)
      if (outside[i] >= 0) close(outside[i]);
  }
  /* The pty master stays with the client (and with us until the end, so the sandbox's
   * terminal does not hang up if the client goes away while the sandbox is kept). */

  _cleanup_json_ json_object *st = json_object_new_object();
  char ts[32];
  now_rfc3339(ts, sizeof ts);
  json_object_object_add(st, "phase", json_object_new_string("Running"));
  json_object_object_add(st, "shimPid", json_object_new_int(getpid()));
  json_object_object_add(st, "initPid", json_object_new_int(s->sb.pid));
  /* pid 1 holds the sandbox's network namespace: port-forward opens /proc/N/ns/net */
  json_object_object_add(st, "netnsPid", json_object_new_int(s->sb.pid));
  json_object_object_add(st, "startedAt", json_object_new_string(ts));
  write_status(s, st);
  return 0;
}

static void kill_sandbox(struct shim *s, int sig) {
  if (s->sb.pidfd >= 0) syscall(SYS_pidfd_send_signal, s->sb.pidfd, sig, NULL, 0);
}

/* pid 1 ended: collect, tear down, report. */
/* The main process's end as the client and status.json see it. */
static json_object *end_status(struct shim *s, int code, int sig) {
  uint64_t ooms = 0;
  sbx_error_t err;
  if (s->sb.cgroup) sbx_cgroup_oom_kills(s->sb.cgroup, &ooms, &err);
  const char *reason = code == 0 ? "Completed" : "Error";
  if (ooms > 0 && sig == SIGKILL) reason = "OOMKilled";
  json_object *st = json_object_new_object();
  char ts[32];
  now_rfc3339(ts, sizeof ts);
  json_object_object_add(st, "phase", json_object_new_string(code == 0 ? "Succeeded" : "Failed"));
  json_object_object_add(st, "exitCode", json_object_new_int(code));
  json_object_object_add(st, "signal", json_object_new_int(sig));
  json_object_object_add(st, "reason", json_object_new_string(reason));
  json_object_object_add(st, "finishedAt", json_object_new_string(ts));
  if (strcmp(reason, "OOMKilled") == 0) {
    char msg[160];
    sbx_oom_message(sbx_json_int(s->spec, "memoryLimitBytes", 0), msg, sizeof msg);
    json_object_object_add(st, "message", json_object_new_string(msg));
  }
  return st;
}

static void tell_client(struct shim *s, json_object *st) {
  json_object *m = NULL;
  json_object_deep_copy(st, &m, NULL);
  json_object_object_add(m, "type", json_object_new_string("exit"));
  client_send(s, m, NULL, 0);
  json_object_put(m);
}

/* sbx-init reported the main process's end (it exits right after). The client hears it now:
 * the kernel's teardown of the namespaces (an RCU grace period for the mounts) and ours
 * follow without keeping `sbx run` waiting. */
static void main_ended(struct shim *s) {
  int code = 0, sig = 0;
  s->status_read = true;
  if (sbx_sandbox_read_status(&s->sb, &code, &sig) < 0) return; /* init died first: finish() */
  s->ended = end_status(s, code, sig);
  tell_client(s, s->ended);
}

/* pid 1 ended: collect, tear down, record. */
static int finish(struct shim *s) {
  int status = 0;
  while (waitpid(s->sb.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!s->ended) {
    int code = 0, sig = 0;
    sbx_sandbox_end_status(&s->sb, status, &code, &sig);
    s->ended = end_status(s, code, sig);
    tell_client(s, s->ended);
  }
  sbx_error_t err;
  if (sbx_sandbox_destroy(&s->sb, &err) < 0) logmsg(s, "teardown: %s", err.msg);
  shim_group_release(s->spec);
  if (s->remove) sbx_remove_tree(s->state_dir);
  else write_status(s, s->ended);
  json_object_put(s->ended);
  s->ended = NULL;
  return 0;
}

static int serve(struct shim *s);

int main(void) {
  struct shim s = {0};
  int rc = serve(&s);
  json_object_put(s.spec);
  json_object_put(s.spare_spec);
  return rc;
}

static int serve(struct shim *s) {
  s->client = CLIENT_FD;
  s->sb.pid = -1;
  sbx_error_t err = {0};
  signal(SIGPIPE, SIG_IGN);
  struct stat cst;
  if (fstat(CLIENT_FD, &cst) < 0 || !S_ISSOCK(cst.st_mode)) s->client = -1; /* no client: /dev/null */

  s->spec = read_spec(&err);
  if (!s->spec) {
    logmsg(s, "%s", err.msg);
    return 1;
  }
  if (strcmp(sbx_json_str(s->spec, "mode") ?: "", "pod") == 0) return sbx_pod_shim_main(s->spec);
  s->id = sbx_json_str(s->spec, "id");
  s->state_dir = sbx_json_str(s->spec, "stateDir");
  s->keep = sbx_json_bool(s->spec, "keepOnDisconnect", 0);
  s->remove = sbx_json_bool(s->spec, "removeOnExit", 0);
  int grace = (int)sbx_json_int(s->spec, "gracePeriodSeconds", 10);
  if (!s->id || !s->state_dir) {
    logmsg(s, "spec lacks id or stateDir");
    return 1;
  }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  _cleanup_fd_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

  if (start(s, &err) < 0) {
    logmsg(s, "start: %s", err.msg);
    client_error(s, err.msg);
    _cleanup_json_ json_object *st = json_object_new_object();
    json_object_object_add(st, "phase", json_object_new_string("Failed"));
    json_object_object_add(st, "reason", json_object_new_string("StartError"));
    json_object_object_add(st, "message", json_object_new_string(err.msg));
    if (s->remove) sbx_remove_tree(s->state_dir);
    else write_status(s, st);
    return 1;
  }

  int64_t kill_at = -1; /* monotonic ms at which a graceful stop turns into SIGKILL */
  for (;;) {
    struct pollfd p[4] = {{s->sb.pidfd, POLLIN, 0}, {sfd, POLLIN, 0}, {s->status_read ? -1 : s->sb.status_fd, POLLIN, 0},
                          {s->client, POLLIN, 0}};
    int timeout = -1;
    if (kill_at >= 0) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      int64_t now = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
      timeout = kill_at > now ? (int)(kill_at - now) : 0;
    }
    int n = poll(p, s->client >= 0 ? 4 : 3, timeout);
    if (n < 0 && errno != EINTR) break;
    if (n == 0 && kill_at >= 0) {
      kill_sandbox(s, SIGKILL);
      kill_at = -1;
      continue;
    }
    if (p[0].revents) return finish(s);
    if (p[2].revents) main_ended(s);
    if (p[1].revents) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si && kill_at < 0) {
        kill_sandbox(s, SIGTERM);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        kill_at = ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (int64_t)grace * 1000;
      }
    }
    if (s->client >= 0 && p[3].revents) {
      json_object *msg = NULL;
      int fds[1];
      size_t nfds = 0;
      int r = sbx_wire_recv(s->client, &msg, fds, &nfds, 0, &err);
      if (r <= 0) {
        close(s->client);
        s->client = -1;
        if (!s->keep) kill_sandbox(s, SIGKILL);
        continue;
      }
      const char *type = sbx_json_str(msg, "type");
      if (type && strcmp(type, "signal") == 0) {
        int sig = (int)sbx_json_int(msg, "signal", 0);
        if (sig > 0 && sig < 65) kill_sandbox(s, sig);
      }
      json_object_put(msg);
    }
  }
  return 1;
}
