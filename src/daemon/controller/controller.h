/* controller.h: what the controller room offers the API room and main.c besides the
 * reconciler (reconcile.h): the stream operations that act on running sandboxes (run,
 * logs, exec, port-forward), deleting and recovering sandboxes, and the supervisor.
 * The controller calls the store, src/runtime, src/image and src/lib, never the API. */
#ifndef SBX_CONTROLLER_H
#define SBX_CONTROLLER_H

#include <json-c/json.h>
#include <stdbool.h>

#include "daemon/daemon.h"

/* logs.c: the stream operation `logs`, and what exec shares with it: the namespace and
 * name of a stream request (checked; ENOENT for names that cannot exist), the container a
 * request means (want NULL: the only container; EINVAL listing them when there are
 * several; ENOENT when there is none), and that container's entry in status.json */
void sbx_logs_handle(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req, int *fds,
                     size_t nfds);
int sbx_stream_target(json_object *req, const char **ns, const char **name, sbx_error_t *err);
int sbx_pod_container(json_object *obj, const char *want, const char **name, sbx_error_t *err);
json_object *sbx_pod_container_status(json_object *status, const char *name);
bool sbx_pod_container_running(json_object *status, const char *name);
/* a stream request's sandbox (namespace, name: the caller's own) and container (the
 * request's, or the only one); *obj is a new reference */
int sbx_stream_container(struct sbx_daemon *d, const struct sbx_caller *who, json_object *req, json_object **obj,
                         const char **container, sbx_error_t *err);
/* exec.c: the stream operation `exec` */
void sbx_exec_handle(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req, int *fds,
                     size_t nfds);

/* run.c: the stream protocol's `run` */
void sbx_run_handle(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req, int *fds,
                    size_t nfds);
/* a sandbox's shim is gone: record the end, clean up what is left */
void sbx_run_finished(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner);
/* stop a sandbox (graceful, bounded) and forget it; 0, or -1 with err (ENOENT: not found) */
int sbx_sandbox_delete(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, sbx_error_t *err);
/* at start: re-adopt sandboxes whose shims still run, finish the others */
void sbx_run_recover(struct sbx_daemon *d);

/* portforward.c: the stream protocol's `portforward` (a socket connected inside the sandbox) */
void sbx_portforward_handle(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req, int *fds,
                            size_t nfds);

/* supervise.c */
int sbx_supervisor_start(struct sbx_daemon *d, sbx_error_t *err);
/* start a shim; fds[i] becomes fd 7+i in it; client may be -1 */
int sbx_shim_spawn(struct sbx_daemon *d, json_object *spec, int client, const int *fds, size_t nfds,
                   pid_t *pid, sbx_error_t *err);
/* watch a shim (child or re-adopted); when it exits, d->on_shim_exit is called */
int sbx_supervisor_watch(struct sbx_daemon *d, pid_t pid, const char *ns, const char *name, uid_t owner,
                         sbx_error_t *err);
/* is pid the shim of sandbox `id` (its command line is "sbx-shim <id>")? pids are reused */
bool sbx_is_shim_of(pid_t pid, const char *id);
/* the shims running now, found in /proc by their command line "sbx-shim <id>" (whose
 * parent's is not the same: a shim's pod holder and unexec'd children carry it too), as a
 * new JSON object {id: [pid, ...]} (one scan of /proc for a whole recovery) */
json_object *sbx_shims_running(void);
/* SIGKILL a shim (ours or a previous daemon's) and wait (10 s at most) until it is gone */
void sbx_shim_kill(pid_t pid);
/* the parent of pid, from /proc/PID/stat; -1 if it is gone */
pid_t sbx_parent_of(pid_t pid);
/* the pid of the shim watched for that sandbox, -1 if none */
pid_t sbx_supervisor_pid(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner);
/* signal a watched shim; ESRCH if none */
int sbx_supervisor_signal(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, int sig);
/* wait until that shim has exited and been finished, up to timeout_ms; 0 if gone */
int sbx_supervisor_wait_gone(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, int timeout_ms);

#endif
