/* quantity.c: placeholder until the implementation lands. */
#include "lib/quantity.h"
