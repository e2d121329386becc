/* For LD_PRELOAD: loaded before libgreet.so, so its greeting() is the one bound. */
const char *greeting(void)
{
    return "hello from the preloaded library";
}
