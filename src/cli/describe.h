/* describe.h: `sbx describe` text, kubectl's layout, from objects already fetched.
 *
 * Pure: the object (as GET served it), its events (an EventList, or NULL when the server
 * has none to give) and the current time go in, text comes out, so the exact output is
 * unit-tested without a daemon.
 *
 * The layout is kubectl's: "Key:<TAB>value" lines aligned by a small tab writer (columns
 * padded to the widest cell of a run of lines plus two spaces, as Go's text/tabwriter does
 * for kubectl), nested sections indented by two spaces, "<none>" for empty things, times
 * as "Mon, 02 Jan 2006 15:04:05 -0700" in local time.
 *
 * A Sandbox is described the way kubectl describes a pod, since it is one: its Ready
 * condition, operating mode, shutdown, each (init) container with image, command, ports,
 * environment (values from secrets shown as references, never read), resources, mounts,
 * state and restarts (from status.podStatus, the shim's report), then volumes and events.
 * A Secret shows its keys and sizes, never its values. */
#ifndef SBX_CLI_DESCRIBE_H
#define SBX_CLI_DESCRIBE_H

#include <json-c/json.h>
#include <stdio.h>
#include <time.h>

#include "cli/kinds.h"

/* Write the description of obj (of kind k). events may be NULL. Returns 0 or -1. */
int sbx_describe(FILE *out, const sbx_kind_t *k, json_object *obj, json_object *events,
                 time_t now);

/* The byte length of base64 text, from its length and padding (no decoding). */
size_t sbx_base64_decoded_len(const char *s);

#endif
