/* main.c: `sbx`, the command-line client of sbxd.
 *
 * A dispatch table in git's builtin/ style: each verb is one entry (name, function, summary,
 * usage) and lives in its own cmd_<verb>.c. main() only picks the entry; flags are the
 * verb's business, so `sbx run -- prog --help` reaches prog. Verbs, flags and messages
 * follow kubectl wherever kubectl has the verb. */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const sbx_cmd_t commands[] = {
    {"run", sbx_cmd_run, "Run one command in a fresh sandbox, stdio attached",
     "Usage: sbx run [OPTIONS] [--] CMD [ARG...]\n"
     "\n"
     "Run CMD in a fresh sandbox with its stdin, stdout and stderr attached; sbx exits with\n"
     "the command's exit status (128+N when killed by signal N, 125 when sbx itself fails,\n"
     "126/127 when the command cannot be run / is not found).\n"
     "Options stop at `--` or at the first word that is not an option.\n"
     "\n"
     "Options:\n"
     "      --rm                 remove the sandbox when the command ends, even if it is named\n"
     "      --name NAME          name the sandbox (it then stays listed after sbx detaches)\n"
     "      --image REF          `host` (default: the host's file system, read-only) or\n"
     "                           `rootfs:DIR` (a root file system in directory DIR)\n"
     "      --cpus Q             CPU limit, a quantity: 1, 1.5, 500m\n"
     "      --memory Q           memory limit, a quantity: 512Mi, 2Gi\n"
     "      --pids N             at most N processes\n"
     "      --network MODE       none (default): loopback only; private: own network\n"
     "  -v, --volume SRC:DST[:ro|:rw]\n"
     "                           mount the file or directory SRC at DST (read-write by default)\n"
     "  -e, --env K=V | K        set an environment variable (K alone: take its value from\n"
     "                           this environment)\n"
     "  -w, --workdir DIR        working directory of the command (absolute)\n"
     "  -u, --user UID[:GID]     run as this user and group inside the sandbox\n"
     "  -i, --interactive        pass stdin to the command\n"
     "  -t, --tty                give the command a terminal\n"
     "  -n, --namespace NS       namespace of the sandbox (default \"default\")\n"
     "  -h, --help               show this help\n"
     "\n"
     "Examples:\n"
     "  sbx run --rm -- python3 -c 'print(1)'\n"
     "  sbx run -it --memory 2Gi -v $PWD:/work -w /work -- bash\n"},
    {"apply", sbx_cmd_apply, "Create or update objects from manifests",
     "Usage: sbx apply -f FILE|DIR|- [-f ...] [OPTIONS]\n"
     "\n"
     "Create or update the objects of YAML or JSON manifests (Sandbox in agents.x-k8s.io\n"
     "v1alpha1 or v1beta1, Secret, ConfigMap; several documents per file). Every document is\n"
     "checked first: if any is wrong, nothing is changed. Each object is then reported as\n"
     "created, configured (changed) or unchanged. A directory gives its .yaml, .yml and\n"
     ".json files in name order. Each input may be at most 8 MiB.\n"
     "\n"
     "Options:\n"
     "  -f, --filename FILE      a manifest, a directory of them, or - for stdin (repeatable)\n"
     "  -R, --recursive          with a directory: its subdirectories too\n"
     "  -n, --namespace NS       namespace of objects that name none (default \"default\")\n"
     "  -h, --help               show this help\n"
     "\n"
     "Examples:\n"
     "  sbx apply -f jupyterlab.yaml\n"
     "  cat secret.yaml sandbox.yaml | sbx apply -f -\n"},
    {"get", sbx_cmd_get, "Display one or many objects",
     "Usage: sbx get [KIND [NAME...] | KIND/NAME...] [OPTIONS]\n"
     "\n"
     "List objects (sandboxes by default), or show the named ones.\n"
     "KIND: sandboxes (sandbox, sbx), secrets, configmaps (cm), persistentvolumeclaims\n"
     "(pvc); also as KIND/NAME.\n"
     "\n"
     "Options:\n"
     "  -o, --output FORMAT      wide, name, json or yaml\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -A, --all-namespaces     list across namespaces (adds NAMESPACE and OWNER)\n"
     "      --all-users          with -A: everyone's objects (root only)\n"
     "  -h, --help               show this help\n"},
    {"ps", sbx_cmd_ps, "List sandboxes (short for `sbx get sandboxes`)",
     "Usage: sbx ps [NAME...] [OPTIONS]\n"
     "\n"
     "Same as `sbx get sandboxes`, with the same options:\n"
     "  -o, --output FORMAT      wide, name, json or yaml\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -A, --all-namespaces     list across namespaces (adds NAMESPACE and OWNER)\n"
     "      --all-users          with -A: everyone's objects (root only)\n"},
    {"delete", sbx_cmd_delete, "Delete objects by name",
     "Usage: sbx delete KIND NAME... | KIND/NAME... [OPTIONS]\n"
     "\n"
     "Delete the named objects (sandboxes, secrets, configmaps, pvcs). A sandbox is stopped\n"
     "first (SIGTERM, then SIGKILL after the grace period); its persistent volumes are kept\n"
     "until deleted themselves (sbx delete pvc NAME).\n"
     "\n"
     "Options:\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -h, --help               show this help\n"},
    {"describe", sbx_cmd_describe, "Show details of objects and their events",
     "Usage: sbx describe KIND [NAME...] | KIND/NAME... [OPTIONS]\n"
     "\n"
     "Show a readable description of sandboxes (status, operating mode, shutdown, each\n"
     "container's image, ports, environment, resources, mounts, state and restarts, the\n"
     "volumes, the events), secrets (keys and sizes, never values), configmaps and PVCs.\n"
     "Without a name, every object of the kind in the namespace.\n"
     "\n"
     "Options:\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -h, --help               show this help\n"},
    {"logs", sbx_cmd_logs, "Print the logs of a sandbox's container",
     "Usage: sbx logs [-f] [-p] [-c CONTAINER] [--tail N] [pod/|sandbox/]NAME [OPTIONS]\n"
     "\n"
     "Print what a container of the sandbox wrote to stdout and stderr (its current\n"
     "instance; the log rotates by size, see sbxd --log-max-size).\n"
     "\n"
     "Options:\n"
     "  -f, --follow             keep printing what is written, until the container stops\n"
     "                           (across rotations, and across restarts of sbxd)\n"
     "  -p, --previous           the log of the container's last terminated instance\n"
     "  -c, --container NAME     the container (needed when the sandbox has several)\n"
     "      --tail N             only the last N lines (-1: all)\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -h, --help               show this help\n"},
    {"exec", sbx_cmd_exec, "Run a command in a running sandbox's container",
     "Usage: sbx exec [-i] [-t] [-c CONTAINER] [pod/|sandbox/]NAME -- CMD [ARG...]\n"
     "\n"
     "Run CMD inside a running container of the sandbox, with the container's user,\n"
     "namespaces and limits. sbx exits with CMD's exit status (128+N when killed by\n"
     "signal N).\n"
     "\n"
     "Options:\n"
     "  -i, --stdin              pass stdin to the command\n"
     "  -t, --tty                give the command a terminal (stdin must be one)\n"
     "  -c, --container NAME     the container (needed when the sandbox has several)\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -h, --help               show this help\n"
     "\n"
     "Examples:\n"
     "  sbx exec jupyterlab-sandbox -- pip list\n"
     "  sbx exec -it jupyterlab-sandbox -- bash\n"},
    {"wait", sbx_cmd_wait, "Wait for a condition on objects",
     "Usage: sbx wait --for=condition=NAME[=VALUE]|delete KIND/NAME... [OPTIONS]\n"
     "\n"
     "Wait until each object has the condition (status True unless VALUE says otherwise),\n"
     "or is gone (--for=delete); exit 1 if the timeout comes first.\n"
     "\n"
     "Options:\n"
     "      --for=CONDITION      condition=Ready, condition=Ready=false, delete\n"
     "      --timeout=DURATION   how long to wait at most: 30s (default), 5m, 1h\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -h, --help               show this help\n"
     "\n"
     "Example:\n"
     "  sbx wait --for=condition=Ready sandbox/jupyterlab-sandbox --timeout=120s\n"},
    {"scale", sbx_cmd_scale, "Suspend (0) or resume (1) sandboxes",
     "Usage: sbx scale sandbox NAME... | sandbox/NAME... --replicas=0|1 [OPTIONS]\n"
     "\n"
     "--replicas=0 suspends a sandbox (its processes stop; its volumes and writable layer\n"
     "stay); --replicas=1 starts it again.\n"
     "\n"
     "Options:\n"
     "      --replicas=N         0 or 1\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -h, --help               show this help\n"},
    {"create", sbx_cmd_create, "Create a secret or a configmap from literals and files",
     "Usage: sbx create secret generic NAME [--type=TYPE] [SOURCES] [OPTIONS]\n"
     "       sbx create configmap NAME [SOURCES] [OPTIONS]\n"
     "\n"
     "Sources (repeatable; files are read with your own rights, 1 MiB in all at most):\n"
     "      --from-stdin=KEY           a key with a value read from standard input: typed\n"
     "                                 without echo on a terminal, else all of it (less\n"
     "                                 one final newline); once per command\n"
     "      --from-file=[KEY=]PATH     a key with the file's exact bytes (KEY: the file's\n"
     "                                 name); a directory gives one key per file in it\n"
     "      --from-env-file=PATH       a key per KEY=VALUE line of the file (kubectl's\n"
     "                                 format: # comments and blank lines are skipped)\n"
     "      --from-literal=KEY=VALUE   a key with that value. Not for secrets: every user\n"
     "                                 of this machine can read a command line while it\n"
     "                                 runs (ps), and shell history keeps it\n"
     "\n"
     "Options:\n"
     "      --type=TYPE          (secret) its type, Opaque by default\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -h, --help               show this help\n"
     "\n"
     "Examples:\n"
     "  sbx create secret generic hf-token --from-stdin=HF_TOKEN   # type it, unechoed\n"
     "  printenv HF_TOKEN | sbx create secret generic hf-token --from-stdin=HF_TOKEN\n"
     "  sbx create secret generic creds --from-env-file=creds.env --from-file=key=id_ed25519\n"
     "  sbx create configmap settings --from-literal=mode=dev\n"},
    {"port-forward", sbx_cmd_port_forward, "Forward local ports to a sandbox",
     "Usage: sbx port-forward [pod/|sandbox/]NAME [LOCAL:]REMOTE... [OPTIONS]\n"
     "\n"
     "Listen on local ports and carry each connection to the same or another port on\n"
     "127.0.0.1 inside the sandbox. Only connections made by the user running the forward\n"
     "are accepted; others are closed at once. Runs until interrupted (Ctrl-C).\n"
     "REMOTE is a port number or the name of a port of the sandbox's containers (`http`).\n"
     "LOCAL 0, or `:REMOTE`, picks a free local port (printed).\n"
     "\n"
     "Options:\n"
     "      --address ADDR[,ADDR]  addresses to listen on: IP addresses or localhost\n"
     "                           (default localhost: 127.0.0.1 and ::1 where available)\n"
     "  -n, --namespace NS       namespace of the sandbox (default \"default\")\n"
     "  -h, --help               show this help\n"
     "\n"
     "Examples:\n"
     "  sbx port-forward jupyterlab-sandbox 8888\n"
     "  sbx port-forward sandbox/jupyterlab-sandbox 9999:8888 :http\n"},
    {"top", sbx_cmd_top, "Show what sandboxes (or people) use: CPU, memory, processes, disk",
     "Usage: sbx top [pod|sandbox] [NAME] [OPTIONS]\n"
     "       sbx top --users\n"
     "\n"
     "What each of your sandboxes uses now: CPU (over the last second, in millicores),\n"
     "memory, processes, and disk: its writable layer and the claims (PVCs) it uses.\n"
     "With --users, what every person holds in all (their sandboxes and all their claims):\n"
     "anyone may see everyone's totals, never the names of another person's sandboxes.\n"
     "\n"
     "Options:\n"
     "      --users              every person's totals\n"
     "  -n, --namespace NS       namespace (default \"default\")\n"
     "  -A, --all-namespaces     across namespaces (root and the admin group: everyone's)\n"
     "  -o, --output FORMAT      wide (adds PHASE), json or yaml\n"
     "  -h, --help               show this help\n"
     "\n"
     "Examples:\n"
     "  sbx top\n"
     "  sbx top --users\n"},
    {"completion", sbx_cmd_completion, "Print the shell completion script (bash or zsh)",
     "Usage: sbx completion bash|zsh\n"
     "\n"
     "Print a script that completes sbx's commands, kinds, flags and object names.\n"
     "`meson install` installs it for both shells; to load it by hand:\n"
     "  source <(sbx completion bash)\n"
     "  source <(sbx completion zsh)\n"},
    {"version", sbx_cmd_version, "Print the client and server versions",
     "Usage: sbx version [--client] [-o json|yaml]\n"
     "\n"
     "Options:\n"
     "      --client             the client's version only (no daemon needed)\n"
     "  -o, --output FORMAT      json or yaml\n"},
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

const sbx_cmd_t *sbx_commands(size_t *n) {
  *n = NCOMMANDS;
  return commands;
}

static const sbx_cmd_t *find_command(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

static void usage(FILE *out) {
  fputs("sbx: isolated workspaces on this machine, driven like kubectl.\n"
        "\n"
        "Usage: sbx COMMAND [ARGS...]\n"
        "\n"
        "Commands:\n",
        out);
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fputs("  help       Show help for a command\n"
        "\n"
        "The daemon is reached at $SBX_SOCKET, else " "/run/sbx/sbx.sock" ".\n"
        "Run 'sbx help COMMAND' or 'sbx COMMAND --help' for a command's options.\n",
        out);
}

void sbx_cmd_usage(const sbx_cmd_t *cmd) { fputs(cmd->usage, stdout); }

void sbx_cmd_usage_error(const sbx_cmd_t *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "sbx %s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see 'sbx %s --help')\n", cmd->name);
  va_end(ap);
}

void sbx_cmd_flag_error(const sbx_cmd_t *cmd, int opt, char **argv) {
  const char *word = optind > 0 ? argv[optind - 1] : "";
  bool long_form = strncmp(word, "--", 2) == 0;
  if (opt == ':')
    sbx_cmd_usage_error(cmd, "flag needs a value: %s", word);
  else if (long_form && strchr(word, '='))
    sbx_cmd_usage_error(cmd, "unknown flag, or a flag that takes no value: %s", word);
  else if (long_form || optopt <= 0 || optopt >= 0x80)
    sbx_cmd_usage_error(cmd, "unknown flag: %s", word);
  else
    sbx_cmd_usage_error(cmd, "unknown flag: -%c", optopt);
}

static int help(int argc, char **argv) {
  if (argc < 2) {
    usage(stdout);
    return 0;
  }
  const sbx_cmd_t *cmd = find_command(argv[1]);
  if (!cmd) {
    fprintf(stderr, "sbx: no help for unknown command \"%s\" (see 'sbx --help')\n", argv[1]);
    return SBX_EXIT_FAILURE;
  }
  sbx_cmd_usage(cmd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stdout);
    return 0;
  }
  const char *verb = argv[1];
  if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(verb, "help") == 0) return help(argc - 1, argv + 1);
  if (strcmp(verb, "--version") == 0) verb = "version";

  const sbx_cmd_t *cmd = find_command(verb);
  if (!cmd) {
    if (verb[0] == '-')
      fprintf(stderr, "sbx: unknown flag \"%s\": flags go after the command (see 'sbx --help')\n",
              verb);
    else
      fprintf(stderr, "sbx: unknown command \"%s\" (see 'sbx --help' for the list)\n", verb);
    return SBX_EXIT_FAILURE;
  }
  return cmd->fn(argc - 1, argv + 1, cmd);
}
