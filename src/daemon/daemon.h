/* daemon.h: the state every part of sbxd shares.
 *
 * sbxd is a set of threads around one struct: the listener (accepts, peeks the first byte,
 * hands HTTP to libmicrohttpd and stream connections to a thread of their own), the HTTP
 * handlers (api.c), the stream handlers (run.c), and the supervisor (supervise.c), which
 * watches one pidfd per shim and records how each sandbox ended. */
#ifndef SBX_DAEMON_H
#define SBX_DAEMON_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/store/store.h"
#include "lib/error.h"

#define SBX_ID_BASE 1073741824u /* host ids from 2^30 up: no account uses them (checked) */
#define SBX_ID_SLOT_SIZE 65536u
#define SBX_ID_SLOTS 16383u
#define SBX_API_GROUP "agents.x-k8s.io"
#define SBX_API_VERSION "agents.x-k8s.io/v1beta1" /* the stored version */
#define SBX_ANN_OWNER "sbx.x-k8s.io/owner-uid"
#define SBX_INTERNAL "x-sbx" /* internal bookkeeping inside stored objects; never served */

/* --allow-host-path DIR[:rw]: a host directory sandboxes may mount with hostPath (volumes.c) */
struct sbx_host_path_rule {
  char *dir; /* canonical absolute path */
  bool rw;   /* admins may mount it writable; everyone else always gets it read-only */
};

struct sbx_daemon {
  char *root;        /* --root */
  char *socket_path; /* --socket */
  char *shim_path;   /* sbx-shim */
  int init_memfd;    /* sealed copy of sbx-init */
  int seccomp_memfd; /* sealed copy of the compiled seccomp filter */
  char *host_image;  /* <root>/images/host/rootfs */
  gid_t admin_gid;   /* members see everyone's objects with -A; (gid_t)-1 if none */
  struct sbx_host_path_rule *host_paths; /* --allow-host-path, in the order given */
  size_t nhost_paths;
  struct sbx_store *store;
  void *mhd;         /* struct MHD_Daemon * */
  int listen_fd;

  pthread_mutex_t lock; /* guards the watch list and the pool */
  pthread_mutex_t objects_lock; /* held across every read-modify-write of a Sandbox */
  struct sbx_spare *spares; /* the warm pool (pool.c) */
  int nspares, spares_starting, pool_size;
  struct sbx_watch *watches;
  int epoll_fd;
  int wake_fd;
};

struct sbx_caller {
  uid_t uid;
  gid_t gid;
  pid_t pid;
  bool admin; /* root or a member of the admin group */
};

/* who is on the other end of a unix socket */
int sbx_caller_from_socket(struct sbx_daemon *d, int fd, struct sbx_caller *c, sbx_error_t *err);

/* server.c */
int sbx_server_listen(struct sbx_daemon *d, sbx_error_t *err);
int sbx_server_start_http(struct sbx_daemon *d, sbx_error_t *err);
void sbx_server_accept_loop(struct sbx_daemon *d);

/* Stream operations (server.c's table): each answers on conn with one frame,
 * {"ok":true,...} (plus descriptors) or {"ok":false,"reason":…,"message":…}. The fds
 * received with the request are closed by the caller afterwards. */
typedef void (*sbx_stream_op_fn)(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req,
                                 int *fds, size_t nfds);
void sbx_stream_reply_error(int conn, const char *reason, const char *message);
/* reason from err->errnum: ENOENT NotFound, EINVAL Invalid, EBUSY Conflict, EACCES Forbidden */
void sbx_stream_reply_err(int conn, const sbx_error_t *err);

/* objects.c: the caller's sandbox (ENOENT, "not found", for another user's), its state
 * dir (x-sbx.stateDir; NULL if none) and its shim's status.json (NULL if none) */
int sbx_sandbox_find(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, json_object **obj,
                     sbx_error_t *err);
const char *sbx_sandbox_state_dir(json_object *obj);
json_object *sbx_sandbox_runtime_status(json_object *obj);

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
/* watch a shim (child or re-adopted); when it exits, sbx_run_finished() is called */
int sbx_supervisor_watch(struct sbx_daemon *d, pid_t pid, const char *ns, const char *name, uid_t owner,
                         sbx_error_t *err);
/* is pid the shim of sandbox `id` (its command line is "sbx-shim <id>")? pids are reused */
bool sbx_is_shim_of(pid_t pid, const char *id);
/* signal a watched shim; ESRCH if none */
int sbx_supervisor_signal(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, int sig);
/* wait until that shim has exited and been finished, up to timeout_ms; 0 if gone */
int sbx_supervisor_wait_gone(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, int timeout_ms);

/* api.c: libmicrohttpd access handler */
int sbx_api_handler(void *cls, void *connection, const char *url, const char *method, const char *version,
                    const char *upload_data, size_t *upload_data_size, void **con_cls);
void sbx_api_request_done(void *cls, void *connection, void **con_cls, int toe);

#endif
