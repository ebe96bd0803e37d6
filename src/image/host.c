/* host.c: placeholder */
int sbx_image_host_placeholder(void);
int sbx_image_host_placeholder(void) { return 0; }
