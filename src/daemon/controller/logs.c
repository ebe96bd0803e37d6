/* logs.c: the stream operation `logs`, and which container of a sandbox a request means.
 *
 *   {"op":"logs","namespace":NS,"name":N,"container":C (optional),"previous":bool (optional)}
 *   -> {"ok":true,"container":C,"running":bool,"files":K} + K log files, opened O_RDONLY:
 *      the rotated ones oldest first (<C>.log.<K-1> ... <C>.log.1), the current one last;
 *      with "previous": the last terminated instance's log (<C>.previous.log) alone
 *
 * The shim writes each container's stdout and stderr to <state>/logs/<container>.log,
 * rotating it by size (shim_log.c); the daemon only opens the files for the sandbox's owner
 * and hands the descriptors over, so reading and following them (`sbx logs -f`) costs the
 * daemon nothing. The rotated files let a follower that last read an older file go on
 * from there without losing what was rotated meanwhile. `running` comes from the shim's
 * status.json and tells the client whether more may come; a following client asks again
 * (or GETs the sandbox) to learn when the container stopped.
 *
 * Another user's sandbox is "not found", exactly like a missing one. Container names come
 * from the stored pod template and are DNS labels, so they are safe as file names; the
 * state directory is root's (0700), and each file is opened with O_NOFOLLOW and must be a
 * regular file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/controller/controller.h"
#include "daemon/store/objects.h"
#include "lib/cleanup.h"
#include "lib/names.h"
#include "lib/wire.h"

static json_object *pod_list(json_object *obj, const char *key) {
  json_object *spec, *tmpl, *pod, *list;
  if (!json_object_object_get_ex(obj, "spec", &spec) ||
      !json_object_object_get_ex(spec, "podTemplate", &tmpl) ||
      !json_object_object_get_ex(tmpl, "spec", &pod) || !json_object_object_get_ex(pod, key, &list) ||
      !json_object_is_type(list, json_type_array))
    return NULL;
  return list;
}

static const char *item_name(json_object *list, size_t i) {
  return sbx_json_str(json_object_array_get_idx(list, i), "name");
}

int sbx_pod_container(json_object *obj, const char *want, const char **name, sbx_error_t *err) {
  const char *sname = sbx_json_str(json_object_object_get(obj, "metadata"), "name");
  json_object *cs = pod_list(obj, "containers"), *ics = pod_list(obj, "initContainers");
  size_t n = cs ? json_object_array_length(cs) : 0, ni = ics ? json_object_array_length(ics) : 0;
  if (n == 0) {
    return sbx_error_says(err, ENOENT, "sandbox \"%s\" has no containers", sname ? sname : "");
  }
  if (!want || !*want) {
    if (n > 1) {
      char list[512] = "";
      size_t off = 0;
      for (size_t i = 0; i < n && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? " " : "",
                                item_name(cs, i) ? item_name(cs, i) : "");
      return sbx_error_says(err, EINVAL, "a container name must be specified for pod %s, choose one of: [%s]",
                    sname ? sname : "", list);
    }
    *name = item_name(cs, 0);
    if (!*name || !sbx_is_dns_label(*name)) {
      return sbx_error_says(err, EINVAL, "sandbox \"%s\": its container has no valid name", sname ? sname : "");
    }
    return 0;
  }
  for (size_t i = 0; i < n + ni; i++) {
    const char *c = i < n ? item_name(cs, i) : item_name(ics, i - n);
    if (c && strcmp(c, want) == 0 && sbx_is_dns_label(c)) {
      *name = c;
      return 0;
    }
  }
  char esc[80];
  sbx_escape_for_message(want, 63, esc, sizeof esc);
  return sbx_error_says(err, EINVAL, "container %s is not valid for pod %s", esc, sname ? sname : "");
}

json_object *sbx_pod_container_status(json_object *status, const char *name) {
  const char *keys[] = {"containerStatuses", "initContainerStatuses"};
  for (size_t k = 0; status && k < 2; k++) {
    json_object *list;
    if (!json_object_object_get_ex(status, keys[k], &list) || !json_object_is_type(list, json_type_array))
      continue;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
      json_object *s = json_object_array_get_idx(list, i);
      const char *n = sbx_json_str(s, "name");
      if (n && strcmp(n, name) == 0) return s;
    }
  }
  return NULL;
}

bool sbx_pod_container_running(json_object *status, const char *name) {
  json_object *s = sbx_pod_container_status(status, name), *state, *running;
  return s && json_object_object_get_ex(s, "state", &state) && json_object_object_get_ex(state, "running", &running);
}

/* The namespace and name of a stream request, checked; NULL ns means "default". */
int sbx_stream_target(json_object *req, const char **ns, const char **name, sbx_error_t *err) {
  *ns = sbx_json_str(req, "namespace");
  *name = sbx_json_str(req, "name");
  if (!*ns || !**ns) *ns = "default";
  if (!*name || !**name) {
    return sbx_error_says(err, EINVAL, "the request names no sandbox");
  }
  char esc[80];
  if (!sbx_is_dns_label(*ns) || !sbx_is_dns_label(*name)) {
    bool bad_ns = !sbx_is_dns_label(*ns);
    sbx_escape_for_message(bad_ns ? *ns : *name, 63, esc, sizeof esc);
    /* a name that cannot exist is answered like one that does not */
    return sbx_error_says(err, ENOENT, bad_ns ? "namespace \"%s\" not found" : "sandboxes." SBX_API_GROUP " \"%s\" not found",
                  esc);
  }
  return 0;
}

int sbx_stream_container(struct sbx_daemon *d, const struct sbx_caller *who, json_object *req, json_object **obj,
                         const char **container, sbx_error_t *err) {
  const char *ns, *name;
  if (sbx_stream_target(req, &ns, &name, err) < 0 || sbx_sandbox_find(d, ns, name, who->uid, obj, err) < 0)
    return -1;
  return sbx_pod_container(*obj, sbx_json_str(req, "container"), container, err);
}

/* <dir>/logs/<container><suffix>, opened for reading: the fd, or -1 (errno set). */
static int open_log(const char *dir, const char *container, const char *suffix) {
  char path[4400];
  snprintf(path, sizeof path, "%s/logs/%s%s", dir, container, suffix);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  struct stat st;
  if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
    close(fd);
    errno = EINVAL;
    return -1;
  }
  /* the client reads with ordinary blocking reads */
  int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

void sbx_logs_handle(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req, int *fds,
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
  const char *dir = sbx_sandbox_state_dir(obj);
  bool previous = sbx_json_bool(req, "previous", 0);
  char msg[300];
  if (!dir) {
    snprintf(msg, sizeof msg, "sandbox \"%s\" has no logs: it has not been started", name);
    sbx_stream_reply_error(conn, "NotFound", msg);
    return;
  }
  /* newest first, so that a rotation while we open can only repeat a file (the client
   * skips a file it already has), never skip one */
  int files[SBX_WIRE_MAX_FDS];
  size_t n = 0;
  files[n] = open_log(dir, container, previous ? ".previous.log" : ".log");
  if (files[n] < 0) {
    if (previous && errno == ENOENT)
      snprintf(msg, sizeof msg, "previous terminated container \"%s\" in pod \"%s\" not found", container, name);
    else if (errno == ENOENT)
      snprintf(msg, sizeof msg, "container \"%s\" of sandbox \"%s\" has no log yet (it has not started)", container,
               name);
    else
      snprintf(msg, sizeof msg, "the log of container \"%s\" of sandbox \"%s\" cannot be opened", container, name);
    sbx_stream_reply_error(conn, errno == ENOENT ? "NotFound" : "InternalError", msg);
    return;
  }
  n++;
  for (int i = 1; !previous && n < SBX_WIRE_MAX_FDS; i++) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".log.%d", i);
    if ((files[n] = open_log(dir, container, suffix)) < 0) break;
    n++;
  }
  for (size_t i = 0; i < n / 2; i++) { /* oldest first, the current one last */
    int t = files[i];
    files[i] = files[n - 1 - i];
    files[n - 1 - i] = t;
  }

  _cleanup_json_ json_object *status = sbx_sandbox_runtime_status(obj);
  _cleanup_json_ json_object *ok = json_object_new_object();
  json_object_object_add(ok, "ok", json_object_new_boolean(1));
  json_object_object_add(ok, "container", json_object_new_string(container));
  /* "running" to a follower means "may still write": a container being created or
   * waiting to restart will; a terminated one, or a pod whose shim is gone, will not */
  json_object *cs = sbx_pod_container_status(status, container), *state = NULL;
  bool writing = !previous && cs && json_object_object_get_ex(cs, "state", &state) &&
                 !json_object_object_get_ex(state, "terminated", NULL);
  json_object_object_add(ok, "running", json_object_new_boolean(writing));
  json_object_object_add(ok, "files", json_object_new_int((int)n));
  sbx_wire_send(conn, ok, files, n, &err);
  sbx_wire_close_fds(files, n);
}
