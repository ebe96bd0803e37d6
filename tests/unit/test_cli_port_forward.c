/* test_cli_port_forward.c: `sbx port-forward`'s pure parts: the port forms kubectl accepts
 * (src/cli/port_forward_opts.c), the target forms, named ports looked up in a Sandbox
 * object, and finding a peer's owner in /proc/net/tcp text (src/cli/peer_uid.c). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/peer_uid.h"
#include "cli/port_forward_opts.h"

static void test_port_forms(void **state) {
  (void)state;
  sbx_error_t err = {0};
  sbx_pf_port_t p;
  assert_int_equal(sbx_pf_parse_port("8888", &p, &err), 0);
  assert_int_equal(p.local, 8888);
  assert_int_equal(p.remote, 8888);
  assert_string_equal(p.remote_name, "");
  assert_int_equal(sbx_pf_parse_port("9999:8888", &p, &err), 0);
  assert_int_equal(p.local, 9999);
  assert_int_equal(p.remote, 8888);
  assert_int_equal(sbx_pf_parse_port(":8888", &p, &err), 0);
  assert_int_equal(p.local, 0);
  assert_int_equal(p.remote, 8888);
  assert_int_equal(sbx_pf_parse_port("0:8888", &p, &err), 0);
  assert_int_equal(p.local, 0);
  assert_int_equal(sbx_pf_parse_port("65535:1", &p, &err), 0);
  assert_int_equal(p.local, 65535);
  assert_int_equal(p.remote, 1);
  /* named remote ports */
  assert_int_equal(sbx_pf_parse_port("http", &p, &err), 0);
  assert_string_equal(p.remote_name, "http");
  assert_true(p.local_from_remote);
  assert_int_equal(sbx_pf_parse_port("8000:jupyter-web", &p, &err), 0);
  assert_string_equal(p.remote_name, "jupyter-web");
  assert_false(p.local_from_remote);
  assert_int_equal(p.local, 8000);
  assert_int_equal(sbx_pf_parse_port(":http", &p, &err), 0);
  assert_int_equal(p.local, 0);
  assert_false(p.local_from_remote);
}

static void test_bad_ports(void **state) {
  (void)state;
  const char *bad[] = {"", ":", "8888:", "1:2:3", "0", "8888:0", "65536", "70000:80", "-1", "80:-1",
                       "8o8o:80", "http:80", "80:HTTP", "80:-web", "80:web-", "80:a--b",
                       "80:abcdefghijklmnop", "80:123456", "80:a b", " 80", "80 ", NULL};
  for (size_t i = 0; bad[i]; i++) {
    sbx_error_t err = {0};
    sbx_pf_port_t p;
    if (sbx_pf_parse_port(bad[i], &p, &err) == 0) fail_msg("port \"%s\" should be refused", bad[i]);
    assert_true(err.msg[0] != '\0');
  }
}

static void test_targets(void **state) {
  (void)state;
  const char *ok[][2] = {{"jupyter", "jupyter"},         {"pod/jupyter", "jupyter"},
                         {"pods/jupyter", "jupyter"},    {"po/jupyter", "jupyter"},
                         {"sandbox/jupyter", "jupyter"}, {"sandboxes/jupyter", "jupyter"},
                         {"sbx/jupyter", "jupyter"},     {"Sandbox.agents.x-k8s.io/j", "j"}};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    sbx_error_t err = {0};
    const char *name = NULL;
    if (sbx_pf_parse_target(ok[i][0], &name, &err) < 0) fail_msg("\"%s\": %s", ok[i][0], err.msg);
    assert_string_equal(name, ok[i][1]);
  }
  const char *bad[] = {"", "svc/jupyter", "deployment/x", "pod/", "/x", "pod/a/b", NULL};
  for (size_t i = 0; bad[i]; i++) {
    sbx_error_t err = {0};
    const char *name = NULL;
    if (sbx_pf_parse_target(bad[i], &name, &err) == 0) fail_msg("target \"%s\" should be refused", bad[i]);
  }
}

/* argument strings live in a static pool: o points into them after the parse */
static char arg_pool[256][64];
static size_t arg_used;

static char *arg(const char *s) {
  char *p = arg_pool[arg_used++ % 256];
  snprintf(p, sizeof arg_pool[0], "%s", s);
  return p;
}

static int parse(sbx_pf_opts_t *o, sbx_error_t *err, ...) {
  char *argv[32];
  int argc = 0;
  va_list ap;
  va_start(ap, err);
  argv[argc++] = arg("port-forward");
  for (const char *a; (a = va_arg(ap, const char *));) argv[argc++] = arg(a);
  va_end(ap);
  argv[argc] = NULL;
  return sbx_pf_parse(argc, argv, o, err);
}

static void test_command_line(void **state) {
  (void)state;
  sbx_error_t err = {0};
  sbx_pf_opts_t o;
  assert_int_equal(parse(&o, &err, "sandbox/lab", "8888", ":9000", "-n", "team", NULL), 0);
  assert_string_equal(o.name, "lab");
  assert_string_equal(o.ns, "team");
  assert_int_equal(o.nports, 2);
  assert_int_equal(o.ports[1].remote, 9000);
  assert_int_equal(o.naddresses, 1);
  assert_string_equal(o.addresses[0], "localhost");

  assert_int_equal(parse(&o, &err, "--address", "127.0.0.1,::1", "lab", "8888", "--address=10.0.0.1", NULL), 0);
  assert_int_equal(o.naddresses, 3);
  assert_string_equal(o.addresses[0], "127.0.0.1");
  assert_string_equal(o.addresses[1], "::1");
  assert_string_equal(o.addresses[2], "10.0.0.1");
  assert_string_equal(o.ns, "default");

  assert_int_equal(parse(&o, &err, "-h", NULL), 0);
  assert_true(o.help);

  assert_int_equal(parse(&o, &err, NULL), -1);
  assert_non_null(strstr(err.msg, "TYPE/NAME and list of ports are required"));
  assert_int_equal(parse(&o, &err, "lab", NULL), -1);
  assert_non_null(strstr(err.msg, "at least 1 PORT"));
  assert_int_equal(parse(&o, &err, "lab", "80", "--address", "example.com", NULL), -1);
  assert_int_equal(parse(&o, &err, "lab", "80", "--bogus", NULL), -1);
  assert_int_equal(parse(&o, &err, "lab", "80", "-n", NULL), -1);
  assert_int_equal(parse(&o, &err, "lab", "80:0", NULL), -1);
}

static const char *SANDBOX =
    "{\"apiVersion\":\"agents.x-k8s.io/v1beta1\",\"kind\":\"Sandbox\",\"metadata\":{\"name\":\"lab\"},"
    "\"spec\":{\"podTemplate\":{\"spec\":{"
    "\"initContainers\":[{\"name\":\"init\",\"ports\":[{\"name\":\"setup\",\"containerPort\":1111}]}],"
    "\"containers\":[{\"name\":\"side\"},"
    "{\"name\":\"jupyter\",\"ports\":[{\"containerPort\":22},{\"name\":\"notebook\",\"containerPort\":8888},"
    "{\"name\":\"metrics\",\"containerPort\":9100,\"protocol\":\"TCP\"}]}]}}}}";

static void test_named_ports(void **state) {
  (void)state;
  json_object *sb = json_tokener_parse(SANDBOX);
  assert_non_null(sb);
  sbx_error_t err = {0};
  int n = 0;
  assert_int_equal(sbx_pf_named_port(sb, "lab", "notebook", &n, &err), 0);
  assert_int_equal(n, 8888);
  assert_int_equal(sbx_pf_named_port(sb, "lab", "metrics", &n, &err), 0);
  assert_int_equal(n, 9100);
  /* kubectl looks in the containers only, not the init containers */
  assert_int_equal(sbx_pf_named_port(sb, "lab", "setup", &n, &err), -1);
  assert_int_equal(sbx_pf_named_port(sb, "lab", "ssh", &n, &err), -1);
  assert_string_equal(err.msg, "sandbox 'lab' does not have a named port 'ssh'");

  sbx_pf_opts_t o;
  assert_int_equal(parse(&o, &err, "lab", "notebook", ":metrics", "7000:notebook", "5000", NULL), 0);
  assert_int_equal(sbx_pf_resolve_ports(&o, sb, &err), 0);
  assert_int_equal(o.ports[0].local, 8888); /* "notebook" alone: the same number here */
  assert_int_equal(o.ports[0].remote, 8888);
  assert_int_equal(o.ports[1].local, 0);
  assert_int_equal(o.ports[1].remote, 9100);
  assert_int_equal(o.ports[2].local, 7000);
  assert_int_equal(o.ports[2].remote, 8888);
  assert_int_equal(o.ports[3].remote, 5000);

  json_object *empty = json_tokener_parse("{\"spec\":{}}");
  assert_int_equal(sbx_pf_named_port(empty, "x", "notebook", &n, &err), -1);
  json_object_put(empty);
  json_object_put(sb);
}

static struct sockaddr_storage v4(const char *ip, int port) {
  struct sockaddr_storage ss = {0};
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, ip, &a->sin_addr);
  return ss;
}

static void test_proc_net_tcp(void **state) {
  (void)state;
  /* 127.0.0.1:40000 -> 127.0.0.1:8888 owned by 1001; the reverse owned by 1002; a listener;
   * 127.0.0.1:40001 closed already (TIME_WAIT minisock: uid 0, inode 0, as the kernel prints
   * it); 127.0.0.1:40002 a minisock still in FIN_WAIT2; 40003 an orphan (uid kept, inode 0);
   * 40004 a handshake in progress; 40005 listed twice */
  static const char text[] =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:22B8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1002        0 1 1 0 100 0 0 10 0\n"
      "   1: 0100007F:22B8 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1002        0 2 1 0 20 4 30 10 -1\n"
      "   2: 0100007F:9C40 0100007F:22B8 01 00000000:00000000 00:00000000 00000000  1001        0 3 1 0 20 4 30 10 -1\n"
      "   3: 0100007F:9C41 0100007F:22B8 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n"
      "   4: 0100007F:9C42 0100007F:22B8 05 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n"
      "   5: 0100007F:9C43 0100007F:22B8 04 00000001:00000000 01:00000014 00000000  1001        0 0 1 0 20 4 30 10 -1\n"
      "   6: 0100007F:9C44 0100007F:22B8 02 00000001:00000000 01:00000014 00000000  1001        0 7 1 0 20 4 30 10 -1\n"
      "   7: 0100007F:9C45 0100007F:22B8 01 00000000:00000000 00:00000000 00000000     0        0 8 1 0 20 4 30 10 -1\n"
      "   8: 0100007F:9C45 0100007F:22B8 01 00000000:00000000 00:00000000 00000000  1001        0 9 1 0 20 4 30 10 -1\n";
  FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
  assert_non_null(f);
  sbx_error_t err = {0};
  uid_t uid = 12345;
  sbx_tcp_entry_t e;
  struct sockaddr_storage mine = v4("127.0.0.1", 8888);
  struct sockaddr_storage peer = v4("127.0.0.1", 40000);
  assert_int_equal(sbx_proc_net_tcp_find(f, &peer, &mine, &e), 1);
  assert_int_equal(sbx_tcp_entry_owner(1, &e, &uid, &err), 0);
  assert_int_equal(uid, 1001);
  rewind(f);
  assert_int_equal(sbx_proc_net_tcp_find(f, &mine, &peer, &e), 1);
  assert_int_equal(sbx_tcp_entry_owner(1, &e, &uid, &err), 0);
  assert_int_equal(uid, 1002);
  rewind(f);
  struct sockaddr_storage other = v4("127.0.0.2", 40000);
  assert_int_equal(sbx_proc_net_tcp_find(f, &other, &mine, &e), 0);
  assert_int_equal(sbx_tcp_entry_owner(0, &e, &uid, &err), -1);
  /* none of the others names an owner, least of all uid 0 */
  for (int port = 40001; port <= 40005; port++) {
    rewind(f);
    peer = v4("127.0.0.1", port);
    uid = 12345;
    size_t n = sbx_proc_net_tcp_find(f, &peer, &mine, &e);
    assert_int_equal(n, port == 40005 ? 2 : 1);
    assert_int_equal(sbx_tcp_entry_owner(n, &e, &uid, &err), -1);
    assert_int_equal(uid, 12345);
  }
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_port_forms),   cmocka_unit_test(test_bad_ports),  cmocka_unit_test(test_targets),
      cmocka_unit_test(test_command_line), cmocka_unit_test(test_named_ports), cmocka_unit_test(test_proc_net_tcp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
