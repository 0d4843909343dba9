#include <stdio.h>
int add(int, int);
int mul(int, int);
const char *greeting(void);
int main(void) { printf("%s: %d\n", greeting(), add(2, mul(3, 4))); return 0; }
