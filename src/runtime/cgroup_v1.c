/* cgroup_v1.c: placeholder until the implementation lands. */
#include "runtime/cgroup.h"
