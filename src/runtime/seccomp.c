/* seccomp.c: placeholder until the implementation lands. */
#include "runtime/seccomp.h"
