/* completion.c: bash and zsh completion scripts for sbx (completion.h). Both shells get
 * the same data (verbs, each verb's flags, the kinds) and the same logic: the verb first;
 * then a flag when the word starts with '-'; a value for -o, -f and --image; a kind for
 * get/describe/delete and then names of that kind; sandbox names for the verbs that act
 * on one sandbox. */
#include "cli/completion.h"

#include <ctype.h>
#include <string.h>

size_t sbx_usage_flags(const char *usage, char *out, size_t size) {
  size_t n = 0, len = 0;
  out[0] = '\0';
  for (const char *line = usage; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t llen = end ? (size_t)(end - line) : strlen(line);
    const char *p = line;
    while (p < line + llen && *p == ' ') p++;
    /* an option line: indented, then "-x, --long ARG" or "--long=ARG" */
    while (p > line && p < line + llen && *p == '-') {
      const char *t = p;
      while (p < line + llen && !isspace((unsigned char)*p) && *p != ',' && *p != '=' && *p != '[') p++;
      size_t tl = (size_t)(p - t) + (*p == '=' ? 1 : 0);
      if (tl > 1 && len + tl + 2 < size) {
        if (len) out[len++] = ' ';
        memcpy(out + len, t, tl);
        len += tl;
        out[len] = '\0';
        n++;
      }
      if (*p != ',') break;
      p++;
      while (p < line + llen && *p == ' ') p++;
    }
    line = end ? end + 1 : NULL;
  }
  return n;
}

/* the shell-variable form of a verb ("port-forward" -> "port_forward") */
static void var_name(const char *verb, char *buf, size_t size) {
  snprintf(buf, size, "%s", verb);
  for (char *p = buf; *p; p++)
    if (*p == '-') *p = '_';
}

static void write_data(FILE *out, const sbx_cmd_t *cmds, size_t ncmds) {
  fputs("_sbx_verbs=\"", out);
  for (size_t i = 0; i < ncmds; i++) fprintf(out, "%s%s", i ? " " : "", cmds[i].name);
  fputs(" help\"\n", out);
  for (size_t i = 0; i < ncmds; i++) {
    char var[64], flags[2048];
    var_name(cmds[i].name, var, sizeof var);
    sbx_usage_flags(cmds[i].usage, flags, sizeof flags);
    fprintf(out, "_sbx_flags_%s=\"%s\"\n", var, flags);
  }
  fputs("_sbx_kinds=\"sandboxes sandbox sbx secrets secret configmaps configmap cm persistentvolumeclaims "
        "persistentvolumeclaim pvc\"\n",
        out);
}

/* The logic, in the subset of shell both bash and zsh run the same way: it sets the
 * variable _sbx_words to the candidates, or _sbx_files=1 for file names. Input: the verb,
 * the word being completed, the one before it, and the words between the verb and it. */
static const char logic[] =
    "# the names of objects of a kind the caller may see, in the namespace given with -n\n"
    "_sbx_names() {\n"
    "  local ns=\"\" w p=\"\"\n"
    "  for w in \"${_sbx_args[@]}\"; do\n"
    "    case \"$p\" in -n|--namespace) ns=$w ;; esac\n"
    "    case \"$w\" in --namespace=*) ns=${w#*=} ;; esac\n"
    "    p=$w\n"
    "  done\n"
    "  sbx get \"$1\" -o name ${ns:+-n \"$ns\"} 2>/dev/null | sed 's|^[^/]*/||'\n"
    "}\n"
    "_sbx_candidates() {\n"
    "  local verb=$1 cur=$2 prev=$3 var kind=\"\" w first=\"\" count=0\n"
    "  _sbx_words=\"\" _sbx_files=0\n"
    "  case \"$prev\" in\n"
    "    -o|--output) _sbx_words=\"wide name json yaml\"; return ;;\n"
    "    -f|--filename|--from-file) _sbx_files=1; return ;;\n"
    "    --image) _sbx_words=\"host rootfs:\"; return ;;\n"
    "    --network) _sbx_words=\"none private\"; return ;;\n"
    "    -n|--namespace|--name|--cpus|--memory|--pids|-e|--env|-w|--workdir|-u|--user|-c|--container|--tail|--timeout|--replicas|--address|--type) return ;;\n"
    "  esac\n"
    "  if [ \"${cur#-}\" != \"$cur\" ]; then\n"
    "    var=\"_sbx_flags_$(printf %s \"$verb\" | tr - _)\"\n"
    "    eval \"_sbx_words=\\\"\\$$var\\\"\"\n"
    "    return\n"
    "  fi\n"
    "  for w in \"${_sbx_args[@]}\"; do\n"
    "    case \" $_sbx_kinds \" in *\" $w \"*) kind=$w ;; esac\n"
    "    [ $count -eq 0 ] && first=$w\n"
    "    count=$((count + 1))\n"
    "  done\n"
    "  case \"$verb\" in\n"
    "    get|describe|delete)\n"
    "      if [ -z \"$kind\" ]; then _sbx_words=\"$_sbx_kinds\"; else _sbx_words=\"$(_sbx_names \"$kind\")\"; fi ;;\n"
    "    logs|exec|port-forward|ps|top)\n"
    "      [ \"$verb\" = exec ] && [[ \" ${_sbx_args[*]} \" == *\" -- \"* ]] && { _sbx_files=1; return; }\n"
    "      _sbx_words=\"$(_sbx_names sandboxes)\" ;;\n"
    "    scale)\n"
    "      if [ -z \"$kind\" ]; then _sbx_words=\"sandbox\"; else _sbx_words=\"$(_sbx_names sandboxes)\"; fi ;;\n"
    "    wait)\n"
    "      _sbx_words=\"$(_sbx_names sandboxes | sed 's|^|sandbox/|')\" ;;\n"
    "    create)\n"
    "      if [ $count -eq 0 ]; then _sbx_words=\"secret configmap\";\n"
    "      elif [ \"$first\" = secret ] && [ $count -eq 1 ]; then _sbx_words=\"generic\"; fi ;;\n"
    "    completion) [ $count -eq 0 ] && _sbx_words=\"bash zsh\" ;;\n"
    "    help) [ $count -eq 0 ] && _sbx_words=\"$_sbx_verbs\" ;;\n"
    "    apply) _sbx_files=1 ;;\n"
    "    run) _sbx_files=1 ;;\n"
    "  esac\n"
    "}\n";

static const char bash_main[] =
    "_sbx() {\n"
    "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
    "  COMPREPLY=()\n"
    "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
    "    COMPREPLY=($(compgen -W \"$_sbx_verbs\" -- \"$cur\"))\n"
    "    return 0\n"
    "  fi\n"
    "  local _sbx_args=(\"${COMP_WORDS[@]:2:COMP_CWORD-2}\") _sbx_words _sbx_files\n"
    "  _sbx_candidates \"${COMP_WORDS[1]}\" \"$cur\" \"$prev\"\n"
    "  if [ \"$_sbx_files\" = 1 ]; then\n"
    "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
    "  else\n"
    "    COMPREPLY=($(compgen -W \"$_sbx_words\" -- \"$cur\"))\n"
    "  fi\n"
    "  return 0\n"
    "}\n"
    "complete -o default -F _sbx sbx\n";

static const char zsh_main[] =
    "_sbx() {\n"
    "  local cur=${words[CURRENT]} prev=${words[CURRENT-1]}\n"
    "  if (( CURRENT == 2 )); then\n"
    "    compadd -- ${=_sbx_verbs}\n"
    "    return\n"
    "  fi\n"
    "  local -a _sbx_args\n"
    "  _sbx_args=(\"${(@)words[3,CURRENT-1]}\")\n"
    "  local _sbx_words _sbx_files\n"
    "  _sbx_candidates \"${words[2]}\" \"$cur\" \"$prev\"\n"
    "  if [[ $_sbx_files == 1 ]]; then _files; else compadd -- ${=_sbx_words}; fi\n"
    "}\n"
    "if [ \"$funcstack[1]\" = \"_sbx\" ]; then _sbx \"$@\"; else compdef _sbx sbx; fi\n";

int sbx_completion_write(FILE *out, const char *shell, const sbx_cmd_t *cmds, size_t ncmds) {
  bool zsh = strcmp(shell, "zsh") == 0;
  if (!zsh && strcmp(shell, "bash") != 0) return -1;
  if (zsh) fputs("#compdef sbx\n", out);
  fprintf(out, "# %s completion for sbx: `source <(sbx completion %s)`, or installed by meson install.\n"
               "# Written by `sbx completion %s` from sbx's own verb table.\n",
          shell, shell, shell);
  write_data(out, cmds, ncmds);
  fputs(logic, out);
  fputs(zsh ? zsh_main : bash_main, out);
  return 0;
}
