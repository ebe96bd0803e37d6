/* sandbox.h: start one sandbox: a process tree in its own namespaces, cgroup and root.
 *
 * sbx_sandbox_start() is the whole sequence, in this order (bubblewrap-style, one visible
 * list of steps):
 *   parent (the shim, host root)            child (clone: new user, mnt, pid, net, ipc, uts ns)
 *   ------------------------------          --------------------------------------------------
 *   clone ............................>     waits for "go"
 *   write uid/gid maps (0..N -> base..)
 *   join the child to its cgroup
 *   clone the image, /usr and volumes
 *   as detached, idmapped mount trees
 *   send "go" + the tree fds ..........>   become root of the user namespace
 *                                          make / private (nothing propagates to the host)
 *                                          attach the image tree, mount the overlay
 *                                          (image below, own writable layer above)
 *                                          /usr (host image), /proc + masks, /sys ro, /dev,
 *                                          /dev/pts, /dev/shm, /dev/mqueue, /tmp, volumes;
 *                                          every target opened inside the new root by fd
 *                                          unshare the cgroup ns, pivot_root, detach old root
 *                                          hostname, loopback up, pty or pipes on 0-2
 *                                          rlimits, close every other fd, capabilities,
 *                                          no_new_privs, seccomp
 *   <... pty master (tty mode)             exec sbx-init from a sealed memfd
 *   <... EOF (exec happened) or an error message
 * The child's errors come back as text on the sync socket; the parent returns them. */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "runtime/cgroup.h"
#include "runtime/seccomp.h"

struct sbx_volume {
  int src_fd;              /* O_PATH fd of the source (opened with the caller's rights) */
  const char *destination; /* absolute path inside */
  bool read_only;
  bool is_dir;
  bool no_idmap;           /* mount as is (files already carry the sandbox's ids) */
};

struct sbx_sandbox_config {
  const char *id;         /* unique id, names the cgroup */
  const char *hostname;
  int state_dirfd;        /* the sandbox's state dir (upper/, work/, rootfs/, lower/ inside) */
  const char *state_dir;  /* its path: the child re-opens the four inside its own mount
                           * namespace (a mount can only be attached in the caller's) */
  uint32_t host_id_base;  /* sandbox id 0 is host id host_id_base */
  uint32_t id_count;      /* usually 65536 */

  int image_fd;           /* O_PATH directory: the read-only lower layer */
  bool host_usr;          /* host image: bind the host's /usr read-only over /usr (not
                           * idmapped: its files show as nobody, only what others may read) */
  bool image_owner_map;   /* the image belongs to a user, not root: map owner_uid to the
                           * sandbox's root in it (else the image's root is the sandbox's) */

  const struct sbx_volume *volumes;
  size_t nvolumes;
  uid_t owner_uid;        /* volumes appear owned by (uid, gid) inside when they are */
  gid_t owner_gid;        /* owned by (owner_uid, owner_gid) on the host */
  bool volume_gid_set;    /* volumes: owner_gid appears as volume_gid (a pod's fsGroup) */
  gid_t volume_gid;       /* instead of the process's gid */

  char *const *argv;      /* command; argv[0] looked up in PATH of envp */
  char *const *envp;
  const char *cwd;        /* absolute, inside */
  uid_t uid;              /* process ids inside the sandbox */
  gid_t gid;

  bool tty;               /* a pty inside; its master comes back in sandbox.pty_master */
  int stdio[3];           /* without tty: the sandbox's fds 0, 1, 2 */
  int init_fd;            /* sealed memfd holding sbx-init */
  const struct sbx_seccomp_prog *seccomp; /* prebuilt filter, or NULL to build one */

  const char *cgroup_parent; /* e.g. "sbx/user-1001" */
  const struct sbx_cgroup_limits *group_limits; /* the parent is a per-person group with these
                                                 * limits (made when missing); NULL: not a group */
  struct sbx_cgroup_limits limits;
  int64_t shm_bytes;      /* /dev/shm size */
  int64_t tmp_bytes;      /* /tmp size */
  int64_t layer_bytes;    /* > 0: the writable layer is a tmpfs of this size in the sandbox's own
                           * mount namespace (ENOSPC past it; its pages count against the
                           * sandbox's memory cgroup; gone with the namespace) */

  /* Pod members (join mode): instead of new user, net, ipc and uts namespaces, the child
   * joins those of the pod's holder (join_pidfd, a pidfd of it; see podns.h), then gets
   * new mount, pid and cgroup namespaces owned by the pod's user namespace. The holder's
   * id map is already written, so none is written here. */
  bool join;
  int join_pidfd;
  bool caps_set;          /* capabilities: `caps` (bit n = capability n) instead of the default */
  uint64_t caps;
  bool read_only_root;    /* the overlay root mounted read-only (/tmp, /dev ... stay writable) */
  const gid_t *groups;    /* supplementary groups of the main process inside */
  size_t ngroups;

  /* Warm pool: a sandbox prepared before its configuration is known gets it as text with
   * "go"; its child calls this (in the child, after fork) to turn the text into a full
   * configuration. NULL when the configuration is known from the start. */
  int (*configure_late)(const char *text, struct sbx_sandbox_config *out, sbx_error_t *err);
};

struct sbx_sandbox {
  pid_t pid;              /* host pid of the sandbox's pid 1 (sbx-init) */
  int pidfd;
  int status_fd;          /* read end: init writes the main process's wait status here */
  int pty_master;         /* tty mode, else -1 */
  struct sbx_cgroup *cgroup;
  int sync_fd;            /* between prepare and launch: the socket to the waiting child */
};

/* The whole start: prepare, then launch. */
int sbx_sandbox_start(const struct sbx_sandbox_config *cfg, struct sbx_sandbox *sb, sbx_error_t *err);

/* The half that needs no configuration beyond id, state dir, id range, cgroup parent and
 * default limits: the child in its namespaces with its id map, joined to its cgroup, waiting.
 * (cfg->configure_late must be set if launch will pass a late configuration.) */
int sbx_sandbox_prepare(const struct sbx_sandbox_config *cfg, struct sbx_sandbox *sb, sbx_error_t *err);
/* The other half: limits, the image and volume trees, "go" (with late_config, the full
 * configuration as text, when the child was prepared without it), and the wait for exec. */
int sbx_sandbox_launch(const struct sbx_sandbox_config *cfg, struct sbx_sandbox *sb, const char *late_config,
                       sbx_error_t *err);
/* Move a prepared sandbox (a warm-pool spare) to the cgroup cfg names (cgroup_parent,
 * group_limits, limits): a new cgroup there, pid 1 moved in, the old one removed. The one
 * process is moved while it waits, before anything runs in it. */
int sbx_sandbox_move_cgroup(const struct sbx_sandbox_config *cfg, struct sbx_sandbox *sb, sbx_error_t *err);
/* Kill a prepared or started sandbox at once and release what it holds. */
void sbx_sandbox_abort(struct sbx_sandbox *sb);

/* Read the main process's end from the status fd: *exit_code and *signal (0 if none).
 * Returns 0, or -1 if init died without reporting (then the caller uses init's own status). */
int sbx_sandbox_read_status(struct sbx_sandbox *sb, int *exit_code, int *signal);
/* How the sandbox's main process ended, once pid 1 is reaped with wait status
 * init_wstatus: init's report, or, when init was killed before it could report (SIGKILL
 * from a stop), init's own end (128+N for signal N). */
void sbx_sandbox_end_status(struct sbx_sandbox *sb, int init_wstatus, int *exit_code, int *signal);

/* Kill everything, remove the cgroup; the mounts vanish with the mount namespace. */
int sbx_sandbox_destroy(struct sbx_sandbox *sb, sbx_error_t *err);

#endif
