#include <stdio.h>
#include <unistd.h>

static int counter;

static int bump(int by)
{
    counter += by;
    return counter * 2;
}

int main(void)
{
    int a = bump(3);
    write(1, "one\n", 4);
    int b = bump(4);
    printf("%d %d %d\n", a, b, counter);
    return 0;
}
