#include "image/host.h"
#include <stdio.h>
int main(int c, char**v){ sbx_error_t e={0}; (void)c; if (sbx_image_host_prepare(v[1], &e)<0){fprintf(stderr,"%s\n",e.msg);return 1;} return 0;}
