/* caps.c: placeholder until the implementation lands. */
#include "runtime/caps.h"
