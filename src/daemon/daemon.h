/* daemon.h: the state every room of sbxd shares.
 *
 * sbxd is a set of threads around one struct, in three rooms (docs/architecture.md, "Rooms"):
 * the API (api/: the listener, which peeks the first byte and hands HTTP to libmicrohttpd
 * and stream connections to a thread of their own, and the routes), the controller
 * (controller/: the reconciler, the stream operations that act on sandboxes, and the
 * supervisor, which watches one pidfd per shim and raises on_shim_exit when one ends), and
 * the store (store/). Calls go one way, api -> controller -> store; this header holds only
 * what all of them share. */
#ifndef SBX_DAEMON_H
#define SBX_DAEMON_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/store/store.h"
#include "lib/error.h"

#define SBX_ID_BASE 1073741824u /* host ids from 2^30 up: no account uses them (checked) */
#define SBX_ID_SLOT_SIZE 65536u
#define SBX_ID_SLOTS 16383u
/* the host-wide registry of id ranges every sbxd of this host allocates from (store.h) */
#define SBX_ID_REGISTRY_DIR "/var/lib/sbx-ids"
#define SBX_API_GROUP "agents.x-k8s.io"
#define SBX_API_VERSION "agents.x-k8s.io/v1beta1" /* the stored version */
#define SBX_ANN_OWNER "sbx.x-k8s.io/owner-uid"
#define SBX_INTERNAL "x-sbx" /* internal bookkeeping inside stored objects; never served */

/* --allow-host-path DIR[:rw]: a host directory sandboxes may mount with hostPath (volumes.c) */
struct sbx_host_path_rule {
  char *dir; /* canonical absolute path */
  bool rw;   /* admins may mount it writable; everyone else always gets it read-only */
};

/* Per-person limits and quotas (controller/quota.c; docs/architecture.md "Per-person
 * limits"). Sizes in bytes, CPUs in millicores; 0 means none, -1 "not set" (a default is
 * computed from the machine at start). */
struct sbx_quota {
  int64_t sandboxes;       /* Sandboxes a person owns: running, suspended or ended */
  int64_t requests_cpu;    /* summed requests of a person's running pods */
  int64_t requests_memory;
  int64_t claims;          /* PersistentVolumeClaims */
  int64_t storage;         /* their summed sizes */
  int64_t objects;         /* Secrets and ConfigMaps */
  int64_t object_bytes;    /* the bytes of their data */
};

struct sbx_policy {
  char *cgroup_parent;     /* --cgroup-parent: the top cgroup, below it user-<uid>/<sandbox> */
  int64_t default_memory;  /* --default-memory: a sandbox without a memory limit gets this */
  int64_t default_pids;    /* --default-pids */
  int64_t user_memory;     /* --user-memory, --user-pids, --user-cpu: one person's group */
  int64_t user_pids;
  int64_t user_cpu;
  int64_t reserve_memory;  /* --reserve-memory, --reserve-cpu: kept from all sandboxes together */
  int64_t reserve_cpu;
  struct sbx_quota quota;  /* --quota-* */
};

struct sbx_daemon;
/* What the supervisor calls when a watched shim has exited (main.c sets it to the
 * controller's sbx_run_finished): the supervisor raises the event and knows nothing of what
 * an end means, so it calls nothing above itself. */
typedef void (*sbx_shim_exit_fn)(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner);

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
  int max_conns_per_user; /* --max-connections-per-user (api/share.c) */

  pthread_mutex_t lock; /* guards the watch list and the pool */
  pthread_mutex_t objects_lock; /* held across every read-modify-write of a Sandbox */
  struct sbx_spare *spares; /* the warm pool (pool.c) */
  int nspares, spares_starting, pool_size;
  uid_t pool_owner;         /* the last person to claim a spare: the next one waits in their group */
  struct sbx_watch *watches;
  int epoll_fd;
  int wake_fd;
  sbx_shim_exit_fn on_shim_exit; /* what the supervisor calls when a shim has exited */
  struct sbx_policy policy;      /* per-person limits and quotas */
  char *log_file;    /* --log-file, or NULL: stderr */
  char *access_log;  /* --access-log, or NULL: the log */
  /* readiness (/readyz): set once each part of the start-up is done */
  atomic_bool recovered;   /* volumes re-mounted, running sandboxes adopted */
  atomic_bool reconciled;  /* the reconciler finished its first pass */
  atomic_bool pool_filled; /* the warm pool's first fill is done */
  /* disk bounds (controller/disk.h; defaults set in main.c) */
  int64_t default_ephemeral_bytes; /* --default-ephemeral-storage: writable layers without a limit; 0 unbounded */
  int64_t log_max_bytes;           /* --log-max-size: a container log file rotates at this size */
  int log_max_files;               /* --log-max-files: files kept per container, the current one included */
  double storage_overcommit;       /* --storage-overcommit: promised bytes / free bytes; <= 1 reserves */
};

struct sbx_caller {
  uid_t uid;
  gid_t gid;
  pid_t pid;
  bool admin; /* root or a member of the admin group */
};

/* Stream operations (server.c's table): each answers on conn with one frame,
 * {"ok":true,...} (plus descriptors) or {"ok":false,"reason":…,"message":…}. The fds
 * received with the request are closed by the caller afterwards. */
typedef void (*sbx_stream_op_fn)(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req,
                                 int *fds, size_t nfds);

#endif
