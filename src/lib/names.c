/* names.c: placeholder until the implementation lands. */
#include "lib/names.h"
