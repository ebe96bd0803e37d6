/* store.c: placeholder until the implementation lands. */
#include "daemon/store.h"
