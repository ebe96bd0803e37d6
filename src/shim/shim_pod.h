/* shim_pod.h: the pod mode of sbx-shim (spec "mode":"pod"), shared by its two files:
 * shim_pod.c (namespaces, containers, restarts, status.json, stop), shim_exec.c (the
 * exec server on <state>/exec.sock) and shim_log.c (containers' logs). The descriptors are those of run mode (shim.c):
 * fd 3 the spec, 5 sbx-init, 6 the seccomp filter, 7+ images and volumes. */
#ifndef SBX_SHIM_POD_H
#define SBX_SHIM_POD_H

#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/podns.h"
#include "runtime/sandbox.h"

#define POD_INIT_FD 5

struct pod_ctr {
  json_object *spec;        /* its entry in initContainers / containers */
  const char *name;
  bool init;
  char *dir;                /* <state>/containers/<name> */
  /* what every start and every exec of it gets */
  char **argv, **envp;
  const char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  size_t ngroups;
  uint64_t caps;
  bool running;             /* a pid 1 is alive */
  bool done;                /* ended and will not be restarted */
  struct sbx_sandbox sb;
  int restarts;
  unsigned streak;
  int64_t started_ms;       /* monotonic */
  int64_t restart_at_ms;    /* monotonic, -1 if none */
  int exit_code;            /* of the last run */
  int log_pipe;             /* read end of its stdout+stderr pipe (shim_log.c), -1 if none */
  int log_fd;               /* <state>/logs/<name>.log, -1 if none */
  int64_t log_size;         /* bytes in it */
  bool log_dropping;        /* the last write to it failed (said once) */
  json_object *state, *last_state; /* status.json's state / lastState */
  char started_at[32];
};

struct pod_exec;

struct pod {
  json_object *spec;
  const char *id, *name, *ns, *state_dir, *policy;
  struct sbx_pod_holder holder;
  struct sbx_cgroup *cg;
  char *cg_path;            /* <cgroupParent>/<id>: the containers' cgroups' parent */
  struct sbx_seccomp_prog *seccomp;
  struct pod_ctr *ctrs;     /* init containers first, then containers */
  size_t ninit, nctrs;
  size_t next_init;         /* init containers [0, next_init) completed */
  const char *phase;
  json_object *events;
  bool stopping;
  int64_t kill_at_ms;
  int64_t log_max_bytes;    /* a log file rotates at this size */
  int log_max_files;        /* files per container, the current one included */
  int exec_listen;
  struct pod_exec *execs;
};

int64_t pod_now_ms(void);
/* What a process of the pod killed for memory is told (lib/quantity.h's words, the pod's
 * memory limit). */
void pod_oom_message(struct pod *p, char *buf, size_t size);
void pod_logmsg(struct pod *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* shim_exec.c */
int pod_exec_listen(struct pod *p, sbx_error_t *err);
void pod_exec_accept(struct pod *p);
/* poll entries of the exec sessions: fills at most max, returns how many */
size_t pod_exec_pollfds(struct pod *p, struct pollfd *pfd, size_t max);
void pod_exec_handle(struct pod *p, const struct pollfd *pfd, size_t n);
void pod_exec_kill_all(struct pod *p, int sig);
void pod_exec_close(struct pod *p);

/* shim_log.c: a new instance's log (the last one's becomes <name>.previous.log): a pipe whose
 * write end (*write_end) is the container's stdout and stderr; drain what the pipe holds
 * now (in the poll loop); drain what is left and close (the container ended). */
int pod_log_start(struct pod *p, struct pod_ctr *c, int *write_end, sbx_error_t *err);
void pod_log_drain(struct pod *p, struct pod_ctr *c);
void pod_log_close(struct pod *p, struct pod_ctr *c);
/* Drain the pipe, then append `line` (with its newline) to the log: sbx's own note that
 * `sbx logs` shows after the container's last words (an OOM kill). */
void pod_log_note(struct pod *p, struct pod_ctr *c, const char *line);

/* shim_pod.c: the pod shim's main, given the parsed spec (owned by the caller). */
int sbx_pod_shim_main(json_object *spec);

#endif
