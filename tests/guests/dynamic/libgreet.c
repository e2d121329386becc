/* libgreet.so: a library the loader finds only through LD_LIBRARY_PATH. */
const char *greeting(void)
{
    return "hello from libgreet.so";
}
