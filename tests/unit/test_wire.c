/* test_wire.c: the stream protocol's frames: JSON and descriptors survive a round trip,
 * and malformed input (bad lengths, non-JSON, non-objects, truncation) is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/wire.h"

static void pair(int sv[2]) { assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0); }

static void test_roundtrip_with_fds(void **state) {
  (void)state;
  int sv[2], p[2];
  pair(sv);
  assert_int_equal(pipe(p), 0);
  sbx_error_t err = {0};
  json_object *m = json_object_new_object();
  json_object_object_add(m, "op", json_object_new_string("run"));
  json_object_object_add(m, "n", json_object_new_int(42));
  assert_int_equal(sbx_wire_send(sv[0], m, p, 2, &err), 0);
  json_object_put(m);
  json_object *got = NULL;
  int fds[4];
  size_t nfds = 0;
  assert_int_equal(sbx_wire_recv(sv[1], &got, fds, &nfds, 4, &err), 1);
  assert_string_equal(sbx_json_str(got, "op"), "run");
  assert_int_equal(sbx_json_int(got, "n", 0), 42);
  assert_int_equal(nfds, 2);
  /* the received write end reaches the original read end */
  assert_int_equal(write(fds[1], "x", 1), 1);
  char c;
  assert_int_equal(read(p[0], &c, 1), 1);
  assert_int_equal(c, 'x');
  assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
  json_object_put(got);
  sbx_wire_close_fds(fds, nfds);
  close(p[0]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
}

static void test_eof_is_zero(void **state) {
  (void)state;
  int sv[2];
  pair(sv);
  close(sv[0]);
  json_object *got = NULL;
  int fds[1];
  size_t nfds = 0;
  sbx_error_t err = {0};
  assert_int_equal(sbx_wire_recv(sv[1], &got, fds, &nfds, 1, &err), 0);
  assert_null(got);
  close(sv[1]);
}

static int recv_raw(const void *bytes, size_t len, sbx_error_t *err) {
  int sv[2];
  pair(sv);
  assert_int_equal(write(sv[0], bytes, len), (ssize_t)len);
  close(sv[0]);
  json_object *got = NULL;
  int fds[1];
  size_t nfds = 0;
  int r = sbx_wire_recv(sv[1], &got, fds, &nfds, 1, err);
  json_object_put(got);
  close(sv[1]);
  return r;
}

static void test_bad_frames(void **state) {
  (void)state;
  sbx_error_t err = {0};
  uint32_t zero = 0, huge = SBX_WIRE_MAX + 1;
  assert_int_equal(recv_raw(&zero, sizeof zero, &err), -1);
  assert_non_null(strstr(err.msg, "length"));
  assert_int_equal(recv_raw(&huge, sizeof huge, &err), -1);
  char notjson[4 + 5];
  uint32_t five = 5;
  memcpy(notjson, &five, 4);
  memcpy(notjson + 4, "hello", 5);
  assert_int_equal(recv_raw(notjson, sizeof notjson, &err), -1);
  assert_non_null(strstr(err.msg, "malformed"));
  char array[4 + 2];
  uint32_t two = 2;
  memcpy(array, &two, 4);
  memcpy(array + 4, "[]", 2);
  assert_int_equal(recv_raw(array, sizeof array, &err), -1);
  char truncated[4 + 3];
  uint32_t ten = 10;
  memcpy(truncated, &ten, 4);
  memcpy(truncated + 4, "{\"a", 3);
  assert_int_equal(recv_raw(truncated, sizeof truncated, &err), -1);
  assert_non_null(strstr(err.msg, "closed"));
}

static void test_unexpected_fds_are_closed(void **state) {
  (void)state;
  int sv[2], p[2];
  pair(sv);
  assert_int_equal(pipe(p), 0);
  sbx_error_t err = {0};
  json_object *m = json_object_new_object();
  assert_int_equal(sbx_wire_send(sv[0], m, p, 2, &err), 0);
  json_object_put(m);
  close(p[1]);
  json_object *got = NULL;
  int fds[1];
  size_t nfds = 0;
  assert_int_equal(sbx_wire_recv(sv[1], &got, fds, &nfds, 0, &err), -1);
  /* the write end we received was closed, so the pipe reads end-of-file */
  char c;
  assert_int_equal(read(p[0], &c, 1), 0);
  close(p[0]);
  close(sv[0]);
  close(sv[1]);
}

static bool refuse_big(void *ctx, size_t bytes, size_t fds) {
  size_t *asked = ctx;
  *asked += bytes + fds;
  return bytes < 1000;
}

static void test_bounded_receive(void **state) {
  (void)state;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  json_object *msg = NULL;
  int fds[SBX_WIRE_MAX_FDS];
  size_t nfds = 0, asked = 0;
  sbx_error_t err = {0};
  /* a header whose body never comes: refused at the deadline, not waited for */
  uint32_t hdr = 100;
  assert_int_equal(write(sv[1], &hdr, sizeof hdr), (ssize_t)sizeof hdr);
  struct sbx_wire_bounds b = {.max_fds = 4, .max_bytes = SBX_WIRE_MAX, .timeout_ms = 200};
  assert_int_equal(sbx_wire_recv_bounded(sv[0], &msg, fds, &nfds, &b, &err), -1);
  assert_int_equal(err.errnum, ETIMEDOUT);
  close(sv[0]);
  close(sv[1]);

  /* `[0,0,...]`: its parse cost is asked for before it is parsed, and refused */
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  const char *text = "{\"a\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}";
  hdr = (uint32_t)strlen(text);
  assert_int_equal(write(sv[1], &hdr, sizeof hdr), (ssize_t)sizeof hdr);
  assert_int_equal(write(sv[1], text, hdr), (ssize_t)hdr);
  b = (struct sbx_wire_bounds){.max_fds = 4, .max_bytes = SBX_WIRE_MAX, .timeout_ms = 1000, .reserve = refuse_big,
                               .ctx = &asked};
  assert_int_equal(sbx_wire_recv_bounded(sv[0], &msg, fds, &nfds, &b, &err), -1);
  assert_int_equal(err.errnum, ENOBUFS);
  assert_int_equal(asked, hdr + sbx_json_parse_cost(text, hdr));
  assert_true(sbx_json_parse_cost(text, hdr) >= hdr + 17 * SBX_JSON_VALUE_COST);

  /* larger than the receiver's maximum: refused before it is read */
  hdr = 5000;
  assert_int_equal(write(sv[1], &hdr, sizeof hdr), (ssize_t)sizeof hdr);
  b.max_bytes = 4096;
  assert_int_equal(sbx_wire_recv_bounded(sv[0], &msg, fds, &nfds, &b, &err), -1);
  assert_int_equal(err.errnum, EMSGSIZE);
  close(sv[0]);
  close(sv[1]);

  /* nesting deeper than SBX_JSON_MAX_DEPTH is malformed */
  const char *why = NULL;
  char deep[2 * (SBX_JSON_MAX_DEPTH + 2) + 16];
  size_t n = 0;
  n += (size_t)snprintf(deep, sizeof deep, "{\"a\":");
  for (int i = 0; i < SBX_JSON_MAX_DEPTH + 1; i++) deep[n++] = '[';
  for (int i = 0; i < SBX_JSON_MAX_DEPTH + 1; i++) deep[n++] = ']';
  deep[n++] = '}';
  assert_null(sbx_json_parse_object(deep, n, &why));
  assert_non_null(why);
  json_object *o = sbx_json_parse_object("{\"a\":[[1]]}", 11, &why);
  assert_non_null(o);
  json_object_put(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_with_fds),
      cmocka_unit_test(test_eof_is_zero),
      cmocka_unit_test(test_bad_frames),
      cmocka_unit_test(test_unexpected_fds_are_closed),
      cmocka_unit_test(test_bounded_receive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
