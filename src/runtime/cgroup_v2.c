/* cgroup_v2.c: placeholder until the implementation lands. */
#include "runtime/cgroup.h"
