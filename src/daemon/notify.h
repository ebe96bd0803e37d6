/* notify.h: readiness and state for systemd (Type=notify), without libsystemd. */
#ifndef SBX_NOTIFY_H
#define SBX_NOTIFY_H

/* Send `state` ("READY=1", "STOPPING=1", "STATUS=…") to $NOTIFY_SOCKET: a datagram on a
 * unix socket (a leading '@' names an abstract one). Nothing when the variable is unset,
 * as when sbxd is not run by systemd. 0, or -1 with errno when the send failed. */
int sbx_notify(const char *state);

#endif
