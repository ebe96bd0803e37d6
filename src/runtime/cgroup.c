/* cgroup.c: placeholder until the implementation lands. */
#include "runtime/cgroup.h"
