/* sbxbench.c: the small programs bench/run times, in one binary with subcommands.
 *
 * bench/run compiles this at bench time (cc -O2) and installs it where sbx's `host` image
 * sees it, so that exactly the same code runs on the host, inside `sbx run` and inside
 * `sbx apply` sandboxes. Each subcommand times itself with CLOCK_MONOTONIC and prints plain
 * numbers on stdout, so that process start-up and teardown never enter a measurement that is
 * not about them.
 *
 *   server PORT            TCP server on 127.0.0.1:PORT, one thread per connection; the
 *                          first byte of a connection picks its mode: 'E' echo everything,
 *                          'S' sink (read to EOF, answer the byte count as 8 bytes),
 *                          'D' + 8-byte count: send that many bytes, then close.
 *   lat PORT N SIZE        N round trips of SIZE bytes on one connection (echo; TCP_NODELAY),
 *                          after 100 unmeasured ones: prints each round trip in ns.
 *   conn PORT N            N times: connect, one 1-byte round trip, close: prints ns each.
 *   up PORT BYTES          sends BYTES to the sink, waits for its count: prints seconds.
 *   down PORT BYTES        receives BYTES from the server: prints seconds.
 *   cpu ITERS              a dependent chain of integer mixing (a CPU-bound kernel that
 *                          touches no memory): prints wall seconds and CPU seconds.
 *   sys N                  N getpid, N open+close of /dev/null, N 64-byte pwrites to a memfd
 *                          (a file in the kernel, no disk): prints ns per call of each.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

__attribute__((noreturn)) static void die(const char *what) {
  fprintf(stderr, "sbxbench: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t now_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = write(fd, (const char *)buf + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    done += (size_t)r;
  }
  return 0;
}

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* --- server --------------------------------------------------------------------------- */

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  char mode;
  char *buf = malloc(CHUNK);
  nodelay(fd);
  if (!buf || read_full(fd, &mode, 1) < 0) goto out;
  if (mode == 'E') {
    for (;;) {
      ssize_t r = read(fd, buf, CHUNK);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0 || write_full(fd, buf, (size_t)r) < 0) break;
    }
  } else if (mode == 'S') {
    uint64_t total = 0;
    for (;;) {
      ssize_t r = read(fd, buf, CHUNK);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      total += (uint64_t)r;
    }
    write_full(fd, &total, sizeof total);
  } else if (mode == 'D') {
    uint64_t left;
    if (read_full(fd, &left, sizeof left) < 0) goto out;
    memset(buf, 'x', CHUNK);
    while (left > 0) {
      size_t n = left < CHUNK ? (size_t)left : CHUNK;
      if (write_full(fd, buf, n) < 0) break;
      left -= n;
    }
  }
out:
  free(buf);
  close(fd);
  return NULL;
}

static int cmd_server(int port) {
  int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (ls < 0) die("socket");
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(ls, 128) < 0) die("listen");
  signal(SIGPIPE, SIG_IGN);
  printf("listening on 127.0.0.1:%d\n", port);
  fflush(stdout);
  for (;;) {
    int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      die("accept");
    }
    pthread_t t;
    if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) {
      close(fd);
      continue;
    }
    pthread_detach(t);
  }
}

/* --- clients -------------------------------------------------------------------------- */

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  nodelay(fd);
  return fd;
}

static int cmd_lat(int port, long n, long size) {
  int fd = dial(port);
  char *buf = calloc(1, (size_t)size), *back = malloc((size_t)size);
  uint64_t *lat = malloc(sizeof *lat * (size_t)n);
  if (!buf || !back || !lat) die("malloc");
  if (write_full(fd, "E", 1) < 0) die("write");
  for (long i = -100; i < n; i++) {
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    if (write_full(fd, buf, (size_t)size) < 0) die("write");
    if (read_full(fd, back, (size_t)size) < 0) die("read (server closed?)");
    if (i >= 0) lat[i] = now_ns(CLOCK_MONOTONIC) - t0;
  }
  close(fd);
  for (long i = 0; i < n; i++) printf("%" PRIu64 "\n", lat[i]);
  return 0;
}

static int cmd_conn(int port, long n) {
  for (long i = 0; i < n; i++) {
    char c = 0;
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    int fd = dial(port);
    if (write_full(fd, "Ex", 2) < 0 || read_full(fd, &c, 1) < 0) die("round trip");
    close(fd);
    printf("%" PRIu64 "\n", now_ns(CLOCK_MONOTONIC) - t0);
  }
  return 0;
}

static int cmd_up(int port, uint64_t bytes) {
  char *buf = malloc(CHUNK);
  uint64_t left = bytes, got = 0;
  if (!buf) die("malloc");
  memset(buf, 'x', CHUNK);
  int fd = dial(port);
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  if (write_full(fd, "S", 1) < 0) die("write");
  while (left > 0) {
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    if (write_full(fd, buf, n) < 0) die("write");
    left -= n;
  }
  shutdown(fd, SHUT_WR);
  if (read_full(fd, &got, sizeof got) < 0) die("read count");
  double s = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
  if (got != bytes) {
    fprintf(stderr, "sbxbench: the sink counted %" PRIu64 " bytes, %" PRIu64 " were sent\n", got, bytes);
    return 1;
  }
  printf("%.6f\n", s);
  return 0;
}

static int cmd_down(int port, uint64_t bytes) {
  char *buf = malloc(CHUNK), req[9] = "D";
  uint64_t got = 0;
  if (!buf) die("malloc");
  memcpy(req + 1, &bytes, 8);
  int fd = dial(port);
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  if (write_full(fd, req, sizeof req) < 0) die("write");
  for (;;) {
    ssize_t r = read(fd, buf, CHUNK);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("read");
    if (r == 0) break;
    got += (uint64_t)r;
  }
  double s = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
  if (got != bytes) {
    fprintf(stderr, "sbxbench: received %" PRIu64 " bytes of %" PRIu64 "\n", got, bytes);
    return 1;
  }
  printf("%.6f\n", s);
  return 0;
}

/* --- CPU and system calls ------------------------------------------------------------- */

static int cmd_cpu(uint64_t iters) {
  uint64_t w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (uint64_t i = 0; i < iters; i++) { /* splitmix64 steps: each depends on the last */
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    x ^= x >> 31;
  }
  double w = (double)(now_ns(CLOCK_MONOTONIC) - w0) / 1e9, c = (double)(now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
  printf("%.6f %.6f %" PRIx64 "\n", w, c, x); /* printing x keeps the loop */
  return 0;
}

static int cmd_sys(long n) {
  char buf[64] = {0};
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  for (long i = 0; i < n; i++) syscall(SYS_getpid);
  uint64_t t1 = now_ns(CLOCK_MONOTONIC);
  for (long i = 0; i < n; i++) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open /dev/null");
    close(fd);
  }
  uint64_t t2 = now_ns(CLOCK_MONOTONIC);
  int mfd = memfd_create("sbxbench", MFD_CLOEXEC);
  if (mfd < 0) die("memfd_create");
  uint64_t t3 = now_ns(CLOCK_MONOTONIC);
  for (long i = 0; i < n; i++)
    if (pwrite(mfd, buf, sizeof buf, (off_t)((i & 63) * 64)) != (ssize_t)sizeof buf) die("pwrite");
  uint64_t t4 = now_ns(CLOCK_MONOTONIC);
  printf("getpid %.1f\nopenclose %.1f\nwrite %.1f\n", (double)(t1 - t0) / (double)n, (double)(t2 - t1) / (double)n,
         (double)(t4 - t3) / (double)n);
  return 0;
}

int main(int argc, char **argv) {
  const char *c = argc > 1 ? argv[1] : "";
  if (!strcmp(c, "server") && argc == 3) return cmd_server(atoi(argv[2]));
  if (!strcmp(c, "lat") && argc == 5) return cmd_lat(atoi(argv[2]), atol(argv[3]), atol(argv[4]));
  if (!strcmp(c, "conn") && argc == 4) return cmd_conn(atoi(argv[2]), atol(argv[3]));
  if (!strcmp(c, "up") && argc == 4) return cmd_up(atoi(argv[2]), strtoull(argv[3], NULL, 10));
  if (!strcmp(c, "down") && argc == 4) return cmd_down(atoi(argv[2]), strtoull(argv[3], NULL, 10));
  if (!strcmp(c, "cpu") && argc == 3) return cmd_cpu(strtoull(argv[2], NULL, 10));
  if (!strcmp(c, "sys") && argc == 3) return cmd_sys(atol(argv[2]));
  fprintf(stderr, "usage: sbxbench server PORT | lat PORT N SIZE | conn PORT N | up PORT BYTES |\n"
                  "       down PORT BYTES | cpu ITERS | sys N\n");
  return 2;
}
