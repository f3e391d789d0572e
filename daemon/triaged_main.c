/* triaged: the daemon. */
#include <stdio.h>
int main(void)
{
	puts("triaged " TRIAGED_VERSION);
	return 0;
}
