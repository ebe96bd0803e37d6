/* exec.c: the stream operation `exec`: a command in a running container of a sandbox.
 *
 *   {"op":"exec","namespace":NS,"name":N,"container":C (optional),"command":[...],
 *    "tty":bool,"stdin":bool,"winsize":{"rows":R,"cols":C}}
 *   -> {"ok":true,"container":C} + one socket: the client's channel to the sandbox's shim
 *
 * The daemon is only the matchmaker, as for `run`: it checks that the caller owns the
 * sandbox and that the container runs, makes a socket pair, and hands one end to the
 * shim's exec server (<state>/exec.sock, root's) together with the exec frame, and the
 * other to the client. From then on the shim and the client speak the run client protocol
 * (docs/protocol.md: `started` with stdio descriptors or a pty master, `exit`, `signal`)
 * and the daemon is out of the data path. A failure inside the shim (the command cannot
 * be run) reaches the client on that channel as an `error` or `exit` frame.
 *
 * A sandbox that is not running says why at once (suspended: with the command that resumes
 * it; Pending: the admission's reason; expired; completed). One that is starting (just
 * resumed, restarting, its container being created) is waited for, up to START_WAIT_S,
 * before its shim is asked: the shim's status.json is trusted only once it is the current
 * shim's (its shimPid), since the last run's file stays behind a suspension.
 *
 * exec.sock is reached through /proc/self/fd/<dirfd>/exec.sock, so the length of the state
 * directory's path never hits sun_path's 108-byte limit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/controller/controller.h"
#include "daemon/controller/reconcile.h"
#include "daemon/store/objects.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define MAX_ARGS 4096
#define MAX_ARG_BYTES (256u << 10)
#define SHIM_SEND_TIMEOUT_S 10
#define START_WAIT_S 30
#define START_POLL_MS 100

/* The command: a non-empty array of strings without NUL, bounded. */
static int check_command(json_object *cmd, sbx_error_t *err) {
  if (!cmd || !json_object_is_type(cmd, json_type_array) || json_object_array_length(cmd) == 0)
    return sbx_error_set(err, 0, "you must specify at least one command for the container");
  size_t n = json_object_array_length(cmd), total = 0;
  if (n > MAX_ARGS) return sbx_error_set(err, 0, "the command has more than %d arguments", MAX_ARGS);
  for (size_t i = 0; i < n; i++) {
    json_object *a = json_object_array_get_idx(cmd, i);
    if (!json_object_is_type(a, json_type_string)) return sbx_error_set(err, 0, "command[%zu] is not a string", i);
    size_t len = (size_t)json_object_get_string_len(a);
    if (strlen(json_object_get_string(a)) != len) return sbx_error_set(err, 0, "command[%zu] contains a NUL", i);
    total += len + 1;
  }
  if (total > MAX_ARG_BYTES) return sbx_error_set(err, 0, "the command is longer than %u KiB", MAX_ARG_BYTES >> 10);
  if (json_object_get_string_len(json_object_array_get_idx(cmd, 0)) == 0)
    return sbx_error_set(err, 0, "the command's first word is empty");
  return 0;
}

/* A connected socket to the shim's exec server. */
static int connect_exec_server(const char *dir, sbx_error_t *err) {
  _cleanup_fd_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return sbx_error_sys(err, "state directory");
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/exec.sock", dfd);
  _cleanup_fd_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return sbx_error_sys(err, "socket");
  struct timeval tv = {.tv_sec = SHIM_SEND_TIMEOUT_S};
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int r;
  do r = connect(s, (struct sockaddr *)&sa, sizeof sa);
  while (r < 0 && errno == EINTR);
  if (r < 0) return sbx_error_sys(err, "connect to the sandbox's exec server");
  return sbx_steal_fd(&s);
}

enum readiness { EXEC_NOW, EXEC_WAIT, EXEC_NEVER };

/* Whether a pod sandbox's container takes exec now, is starting (wait), or is not running
 * and will not be without the user (msg says why and what to do). */
static enum readiness pod_readiness(json_object *obj, json_object *rt, const char *name, const char *container,
                                    char *msg, size_t n) {
  json_object *x = sbx_internal(obj);
  long long shim = sbx_json_int(x, "shimPid", 0);
  bool fresh = shim > 0 && sbx_json_int(rt, "shimPid", -1) == shim;
  _cleanup_json_ json_object *st = sbx_pod_status(obj, fresh ? rt : NULL);
  json_object *cond = json_object_array_get_idx(sbx_json_path(st, "conditions"), 0);
  const char *reason = sbx_json_str(cond, "reason") ?: "";
  if (strcmp(reason, "SandboxSuspended") == 0) {
    snprintf(msg, n, "cannot exec in sandbox \"%s\": it is suspended; resume it with `sbx scale sandbox %s "
             "--replicas=1` (exec then waits for it to start)", name, name);
    return EXEC_NEVER;
  }
  if (strcmp(reason, "SandboxExpired") == 0) {
    snprintf(msg, n, "cannot exec in sandbox \"%s\": it has expired (%s)", name, sbx_json_str(cond, "message") ?: "");
    return EXEC_NEVER;
  }
  if (sbx_json_str(x, "pending") || sbx_json_str(x, "depsError") || sbx_json_bool(x, "completed", 0)) {
    snprintf(msg, n, "cannot exec in sandbox \"%s\": it is not running: %s", name, sbx_json_str(cond, "message") ?: "");
    return EXEC_NEVER;
  }
  if (!fresh || sbx_json_str(x, "stopping")) {
    snprintf(msg, n, "sandbox \"%s\" did not start in %ds: %s", name, START_WAIT_S, sbx_json_str(cond, "message") ?: "");
    return EXEC_WAIT;
  }
  if (sbx_pod_container_running(rt, container)) return EXEC_NOW;
  json_object *state = sbx_json_path(sbx_pod_container_status(rt, container), "state");
  const char *waiting = sbx_json_str(sbx_json_path(state, "waiting"), "reason");
  if (!state || (waiting && strcmp(waiting, "CrashLoopBackOff") != 0)) {
    snprintf(msg, n, "container \"%s\" of sandbox \"%s\" did not start in %ds (%s)", container, name, START_WAIT_S,
             waiting ? waiting : "not started");
    return EXEC_WAIT;
  }
  const char *phase = sbx_json_str(rt, "phase");
  snprintf(msg, n, "cannot exec into container \"%s\" of sandbox \"%s\": the container is not running%s%s%s", container,
           name, waiting ? " (CrashLoopBackOff: see sbx logs -p)" : "", phase ? "; the pod's phase is " : "",
           phase ? phase : "");
  return EXEC_NEVER;
}

/* Sleep a poll interval; false if the client hung up meanwhile. */
static bool client_waits(int conn) {
  struct pollfd p = {.fd = conn, .events = POLLRDHUP};
  return poll(&p, 1, START_POLL_MS) == 0;
}

void sbx_exec_handle(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req, int *fds,
                     size_t nfds) {
  (void)fds;
  (void)nfds;
  sbx_error_t err = {0};
  const char *container;
  _cleanup_json_ json_object *obj = NULL;
  if (sbx_stream_container(d, who, req, &obj, &container, &err) < 0) {
    sbx_stream_reply_err(conn, &err);
    return;
  }
  const char *name = sbx_json_str(req, "name");
  json_object *cmd = json_object_object_get(req, "command");
  if (check_command(cmd, &err) < 0) {
    sbx_stream_reply_error(conn, "BadRequest", err.msg);
    return;
  }
  char msg[1400];
  _cleanup_json_ json_object *status = NULL;
  bool pod = strcmp(sbx_json_str(sbx_internal(obj), "mode") ?: "", "pod") == 0;
  for (int polls = 0; pod; polls++) {
    json_object_put(status);
    status = sbx_sandbox_runtime_status(obj);
    enum readiness r = pod_readiness(obj, status, name, container, msg, sizeof msg);
    if (r == EXEC_NOW) break;
    if (r == EXEC_NEVER || polls >= START_WAIT_S * 1000 / START_POLL_MS) {
      sbx_stream_reply_error(conn, r == EXEC_NEVER ? "BadRequest" : "ServiceUnavailable", msg);
      return;
    }
    if (!client_waits(conn)) return;
    json_object_put(obj);
    obj = NULL;
    if (sbx_stream_container(d, who, req, &obj, &container, &err) < 0) {
      sbx_stream_reply_err(conn, &err);
      return;
    }
  }
  const char *dir = sbx_sandbox_state_dir(obj);
  if (!status) status = sbx_sandbox_runtime_status(obj);
  if (!dir || !status) {
    snprintf(msg, sizeof msg, "cannot exec in sandbox \"%s\": it is not running", name);
    sbx_stream_reply_error(conn, "BadRequest", msg);
    return;
  }
  bool listed = sbx_pod_container_status(status, container) != NULL;

  _cleanup_fd_ int shim = connect_exec_server(dir, &err);
  if (shim < 0 && !listed && err.errnum == ENOENT) {
    /* no container statuses and no exec server: a sandbox of `sbx run` */
    snprintf(msg, sizeof msg, "cannot exec in sandbox \"%s\": it has no exec server (sandboxes started by "
             "`sbx run` do not take exec; use sbx apply)", name);
    sbx_stream_reply_error(conn, "BadRequest", msg);
    return;
  }
  if (shim < 0) {
    snprintf(msg, sizeof msg, "cannot exec in sandbox \"%s\": its exec server does not answer (%s)", name, err.msg);
    sbx_stream_reply_error(conn, "ServiceUnavailable", msg);
    return;
  }
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
    sbx_error_sys(&err, "socketpair");
    sbx_stream_reply_err(conn, &err);
    return;
  }
  _cleanup_fd_ int mine = sp[0], theirs = sp[1];

  _cleanup_json_ json_object *frame = json_object_new_object();
  json_object_object_add(frame, "op", json_object_new_string("exec"));
  json_object_object_add(frame, "container", json_object_new_string(container));
  json_object_object_add(frame, "command", json_object_get(cmd));
  json_object_object_add(frame, "tty", json_object_new_boolean(sbx_json_bool(req, "tty", 0)));
  json_object_object_add(frame, "stdin", json_object_new_boolean(sbx_json_bool(req, "stdin", 0)));
  json_object_object_add(frame, "env", json_object_new_array());
  json_object *ws = json_object_object_get(req, "winsize");
  long long rows = sbx_json_int(ws, "rows", 0), cols = sbx_json_int(ws, "cols", 0);
  if (rows > 0 && rows <= 65535 && cols > 0 && cols <= 65535) {
    json_object *w = json_object_new_object();
    json_object_object_add(w, "rows", json_object_new_int((int)rows));
    json_object_object_add(w, "cols", json_object_new_int((int)cols));
    json_object_object_add(frame, "winsize", w);
  }
  if (sbx_wire_send(shim, frame, &mine, 1, &err) < 0) {
    snprintf(msg, sizeof msg, "cannot exec in sandbox \"%s\": %s", name, err.msg);
    sbx_stream_reply_error(conn, "ServiceUnavailable", msg);
    return;
  }
  _cleanup_json_ json_object *ok = json_object_new_object();
  json_object_object_add(ok, "ok", json_object_new_boolean(1));
  json_object_object_add(ok, "container", json_object_new_string(container));
  sbx_wire_send(conn, ok, &theirs, 1, &err);
}
