/* init.c: placeholder until the implementation lands. */
int main(void) { return 1; }
