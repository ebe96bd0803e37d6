/* stdin_value.c: a value from standard input, typed without echo on a terminal
 * (stdin_value.h). */
#include "cli/stdin_value.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lib/cleanup.h"

/* The terminal's settings before echo was turned off, put back by the signal handler. */
static struct termios saved_tty;
static const int restore_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static void restore_and_die(int sig) {
  tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Read from fd 0 until end of file, or the first "\n" when `line`. Returns the length, or -1
 * (err) on a read error or more than max bytes. */
static ssize_t read_all(char *buf, size_t max, bool line, sbx_error_t *err) {
  size_t len = 0;
  for (;;) {
    ssize_t r = read(STDIN_FILENO, buf + len, max + 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sbx_error_sys(err, "reading standard input");
    if (r == 0) break;
    len += (size_t)r;
    if (len > max) return sbx_error_set(err, 0, "standard input holds more than %zu KiB, the most a value may be", max / 1024);
    if (line && memchr(buf + len - (size_t)r, '\n', (size_t)r)) break;
  }
  return (ssize_t)len;
}

static ssize_t read_typed(const char *key, char *buf, size_t max, sbx_error_t *err) {
  if (tcgetattr(STDIN_FILENO, &saved_tty) < 0) return sbx_error_sys(err, "the terminal's settings");
  struct sigaction sa = {.sa_handler = restore_and_die}, old[sizeof restore_signals / sizeof *restore_signals];
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof restore_signals / sizeof *restore_signals; i++) {
    sigaction(restore_signals[i], NULL, &old[i]);
    if (old[i].sa_handler == SIG_DFL) sigaction(restore_signals[i], &sa, NULL); /* an ignored one stays so */
  }
  struct termios quiet = saved_tty;
  quiet.c_lflag &= ~(tcflag_t)ECHO;
  quiet.c_lflag |= ECHONL | ICANON; /* the Enter key still shows as a line end */
  /* echo off first, then the prompt: what is typed after the prompt shows is never echoed
   * (TCSAFLUSH drops only what was typed before it) */
  ssize_t n = -1;
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0) {
    sbx_error_sys(err, "turning off the terminal's echo");
  } else {
    fprintf(stderr, "%s: ", key);
    fflush(stderr);
    n = read_all(buf, max, true, err);
  }
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
  for (size_t i = 0; i < sizeof restore_signals / sizeof *restore_signals; i++)
    sigaction(restore_signals[i], &old[i], NULL);
  if (n < 0) return -1;
  char *nl = memchr(buf, '\n', (size_t)n);
  if (nl) n = nl - buf;
  if (n > 0 && buf[n - 1] == '\r') n--;
  if (n == 0) return sbx_error_set(err, 0, "%s: nothing was typed (end the value with Enter; Ctrl-C gives up)", key);
  return n;
}

int sbx_read_stdin_value(const char *key, size_t max, char **val, size_t *len, sbx_error_t *err) {
  _cleanup_free_ char *buf = malloc(max + 1);
  if (!buf) return sbx_error_set(err, ENOMEM, "--from-stdin=%s", key);
  ssize_t n;
  if (isatty(STDIN_FILENO)) {
    n = read_typed(key, buf, max, err);
  } else {
    n = read_all(buf, max, false, err);
    if (n > 0 && buf[n - 1] == '\n' && --n > 0 && buf[n - 1] == '\r') n--;
  }
  if (n < 0) return sbx_error_prefix(err, "--from-stdin=%s", key);
  buf[n] = '\0';
  *len = (size_t)n;
  *val = buf;
  buf = NULL;
  return 0;
}
