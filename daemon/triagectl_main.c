/* triagectl: the command-line tool. */
#include <stdio.h>
int main(void)
{
	puts("triagectl " TRIAGED_VERSION);
	return 0;
}
