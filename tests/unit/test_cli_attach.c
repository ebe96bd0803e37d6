/* test_cli_attach.c: the stdio relay of `sbx run` (src/cli/attach.c) against a scripted
 * shim in a child process over a socketpair: output of both pipes, stdin with end-of-file,
 * a pty, exit codes and signals, the OOM message, error frames and a lost shim, and
 * signal forwarding. Our own stdio is swapped for pipes while the relay runs. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/attach.h"
#include "lib/wire.h"

typedef void (*shim_fn)(int sock);

typedef struct result {
  int status;
  char out[4096];
  char err[4096];
  int shim_exit; /* the scripted shim's own exit status: 0 when its checks passed */
} result_t;

static void drain(int fd, char *buf, size_t size) {
  size_t len = 0;
  ssize_t n;
  while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0) len += (size_t)n;
  buf[len] = '\0';
}

static void send_json(int sock, const char *text, const int *fds, size_t nfds) {
  json_object *o = json_tokener_parse(text);
  sbx_error_t err;
  if (!o || sbx_wire_send(sock, o, fds, nfds, &err) < 0) _exit(90);
  json_object_put(o);
}

/* Run sbx_attach against `fn`, with `input` (or nothing) as our stdin. */
static void attach(shim_fn fn, bool tty, bool interactive, const char *input, bool kill_shim,
                   result_t *r) {
  int sv[2], out[2], err[2], in[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(pipe2(out, O_CLOEXEC), 0);
  assert_int_equal(pipe2(err, O_CLOEXEC), 0);
  assert_int_equal(pipe2(in, O_CLOEXEC), 0);
  if (input) assert_int_equal(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
  close(in[1]);

  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(sv[0]);
    close(in[0]);
    close(out[0]);
    close(out[1]);
    close(err[0]);
    close(err[1]);
    fn(sv[1]);
    _exit(0);
  }
  close(sv[1]);
  fflush(stdout);
  fflush(stderr);
  int saved[3] = {dup(0), dup(1), dup(2)};
  dup2(in[0], 0);
  dup2(out[1], 1);
  dup2(err[1], 2);
  close(in[0]);
  close(out[1]);
  close(err[1]);

  sbx_attach_opts_t o = {.tty = tty, .interactive = interactive, .name = "box"};
  r->status = sbx_attach(sv[0], &o);

  fflush(stderr);
  if (kill_shim) kill(pid, SIGKILL);
  for (int i = 0; i < 3; i++) {
    dup2(saved[i], i);
    close(saved[i]);
  }
  drain(out[0], r->out, sizeof r->out);
  drain(err[0], r->err, sizeof r->err);
  close(out[0]);
  close(err[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  r->shim_exit = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* --- scripted shims ------------------------------------------------------------------- */

static void started_pipes(int sock, int *out_w, int *err_w) {
  int o[2], e[2];
  if (pipe(o) < 0 || pipe(e) < 0) _exit(91);
  int fds[2] = {o[0], e[0]};
  send_json(sock, "{\"type\":\"started\",\"tty\":false}", fds, 2);
  close(o[0]);
  close(e[0]);
  *out_w = o[1];
  *err_w = e[1];
}

static void shim_basic(int sock) {
  int o, e;
  started_pipes(sock, &o, &e);
  if (write(o, "hello\n", 6) != 6 || write(e, "oops\n", 5) != 5) _exit(92);
  close(o);
  close(e);
  send_json(sock, "{\"type\":\"exit\",\"exitCode\":7,\"signal\":0,\"reason\":\"Error\"}", NULL, 0);
}

static void shim_signaled(int sock) {
  int o, e;
  started_pipes(sock, &o, &e);
  close(o);
  close(e);
  send_json(sock, "{\"type\":\"exit\",\"exitCode\":137,\"signal\":9,\"reason\":\"Error\"}", NULL, 0);
}

static void shim_oom(int sock) {
  int o, e;
  started_pipes(sock, &o, &e);
  close(o);
  close(e);
  send_json(sock, "{\"type\":\"exit\",\"exitCode\":137,\"signal\":0,\"reason\":\"OOMKilled\"}",
            NULL, 0);
}

static void shim_error(int sock) {
  send_json(sock, "{\"type\":\"error\",\"message\":\"rootfs: no /bin/sh\"}", NULL, 0);
}

static void shim_lost(int sock) {
  int o, e;
  started_pipes(sock, &o, &e);
  if (write(o, "partial\n", 8) != 8) _exit(92);
  close(o);
  close(e);
  close(sock); /* no exit frame */
}

/* Echo stdin back on stdout (uppercased, to prove it went through us). */
static void shim_stdin(int sock) {
  int i[2], o[2], e[2];
  if (pipe(i) < 0 || pipe(o) < 0 || pipe(e) < 0) _exit(91);
  int fds[3] = {i[1], o[0], e[0]};
  send_json(sock, "{\"type\":\"started\",\"tty\":false}", fds, 3);
  close(i[1]);
  close(o[0]);
  close(e[0]);
  char buf[256];
  ssize_t n;
  while ((n = read(i[0], buf, sizeof buf)) > 0) {
    for (ssize_t k = 0; k < n; k++)
      if (buf[k] >= 'a' && buf[k] <= 'z') buf[k] -= 32;
    if (write(o[1], buf, (size_t)n) != n) _exit(92);
  }
  /* Reaching here means the relay closed our stdin: end of file. */
  close(o[1]);
  close(e[1]);
  send_json(sock, "{\"type\":\"exit\",\"exitCode\":0,\"signal\":0,\"reason\":\"Completed\"}", NULL, 0);
}

static void shim_tty(int sock) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) _exit(91);
  int s = open(ptsname(m), O_RDWR | O_NOCTTY);
  if (s < 0) _exit(91);
  send_json(sock, "{\"type\":\"started\",\"tty\":true}", &m, 1);
  close(m);
  if (write(s, "on a tty\n", 9) != 9) _exit(92);
  close(s); /* the relay then reads EIO from the master */
  send_json(sock, "{\"type\":\"exit\",\"exitCode\":3,\"signal\":0,\"reason\":\"Error\"}", NULL, 0);
}

/* Ask sbx (our parent) to forward SIGUSR2, check the frame, exit with its number. */
static void shim_forward(int sock) {
  int o, e;
  started_pipes(sock, &o, &e);
  kill(getppid(), SIGUSR2);
  json_object *msg;
  int fds[4];
  size_t nfds;
  sbx_error_t err;
  if (sbx_wire_recv(sock, &msg, fds, &nfds, 4, &err) != 1) _exit(93);
  const char *type = sbx_json_str(msg, "type");
  if (!type || strcmp(type, "signal") != 0) _exit(94);
  char text[128];
  snprintf(text, sizeof text, "{\"type\":\"exit\",\"exitCode\":%lld,\"signal\":0}",
           sbx_json_int(msg, "signal", -1));
  json_object_put(msg);
  close(o);
  close(e);
  send_json(sock, text, NULL, 0);
}

/* A process left in the background keeps stdout open: the relay stops after a bound. */
static void shim_holder(int sock) {
  int o, e;
  started_pipes(sock, &o, &e);
  if (write(o, "before exit\n", 12) != 12) _exit(92);
  send_json(sock, "{\"type\":\"exit\",\"exitCode\":5,\"signal\":0}", NULL, 0);
  close(sock);
  sleep(30); /* holds o and e; killed by the test */
}

/* --- tests ---------------------------------------------------------------------------- */

static void test_output_and_exit_code(void **state) {
  (void)state;
  result_t r;
  attach(shim_basic, false, false, NULL, false, &r);
  assert_int_equal(r.status, 7);
  assert_string_equal(r.out, "hello\n");
  assert_string_equal(r.err, "oops\n");
  assert_int_equal(r.shim_exit, 0);
}

static void test_killed_by_signal(void **state) {
  (void)state;
  result_t r;
  attach(shim_signaled, false, false, NULL, false, &r);
  assert_int_equal(r.status, 128 + 9);
}

static void test_oom(void **state) {
  (void)state;
  result_t r;
  attach(shim_oom, false, false, NULL, false, &r);
  assert_int_equal(r.status, 137);
  assert_non_null(strstr(r.err, "sbx: sandbox box was killed: out of memory (OOMKilled)"));
}

static void test_error_frame(void **state) {
  (void)state;
  result_t r;
  attach(shim_error, false, false, NULL, false, &r);
  assert_int_equal(r.status, 125);
  assert_non_null(strstr(r.err, "rootfs: no /bin/sh"));
}

static void test_lost_shim(void **state) {
  (void)state;
  result_t r;
  attach(shim_lost, false, false, NULL, false, &r);
  assert_int_equal(r.status, 125);
  assert_non_null(strstr(r.err, "lost contact with the sandbox"));
}

static void test_stdin_and_eof(void **state) {
  (void)state;
  result_t r;
  attach(shim_stdin, false, true, "some input\nmore", false, &r);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "SOME INPUT\nMORE");
  assert_int_equal(r.shim_exit, 0);
}

static void test_tty(void **state) {
  (void)state;
  result_t r;
  attach(shim_tty, true, false, NULL, false, &r);
  assert_int_equal(r.status, 3);
  assert_string_equal(r.out, "on a tty\r\n");
  assert_int_equal(r.shim_exit, 0);
}

static void test_signal_forwarding(void **state) {
  (void)state;
  /* Blocked before the relay starts, so the shim's signal cannot arrive too early. */
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, &old);
  result_t r;
  attach(shim_forward, false, false, NULL, false, &r);
  sigprocmask(SIG_SETMASK, &old, NULL);
  assert_int_equal(r.shim_exit, 0);
  assert_int_equal(r.status, SIGUSR2);
}

static void test_output_held_open(void **state) {
  (void)state;
  result_t r;
  /* Ends although a leftover process still holds stdout open. */
  attach(shim_holder, false, false, NULL, true, &r);
  assert_int_equal(r.status, 5);
  assert_string_equal(r.out, "before exit\n");
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_output_and_exit_code),
      cmocka_unit_test(test_killed_by_signal),
      cmocka_unit_test(test_oom),
      cmocka_unit_test(test_error_frame),
      cmocka_unit_test(test_lost_shim),
      cmocka_unit_test(test_stdin_and_eof),
      cmocka_unit_test(test_tty),
      cmocka_unit_test(test_signal_forwarding),
      cmocka_unit_test(test_output_held_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
