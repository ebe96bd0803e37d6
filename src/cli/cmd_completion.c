/* cmd_completion.c: `sbx completion bash|zsh` (kubectl's verb): prints the completion
 * script, written from the verb table (completion.c). meson install runs it to install
 * both scripts into the shells' standard directories. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/completion.h"

int sbx_cmd_completion(int argc, char **argv, const sbx_cmd_t *self) {
  if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    sbx_cmd_usage(self);
    return 0;
  }
  if (argc != 2) {
    sbx_cmd_usage_error(self, "name one shell: bash or zsh");
    return SBX_EXIT_FAILURE;
  }
  size_t n;
  const sbx_cmd_t *cmds = sbx_commands(&n);
  if (sbx_completion_write(stdout, argv[1], cmds, n) < 0) {
    sbx_cmd_usage_error(self, "no completion for shell \"%s\": bash or zsh", argv[1]);
    return SBX_EXIT_FAILURE;
  }
  return fflush(stdout) == 0 ? 0 : SBX_EXIT_FAILURE;
}
