/* injector's command, for any Linux image: it runs the bundled Python through the bundled dynamic loader and
 * libraries, so that the image needs neither a Python nor a C library of its own (alpine, distroless...). This
 * is how `injector inject --env` gives a container `injector run`: the runtime is copied into a memory-backed
 * emptyDir mounted at PREFIX. Linked statically: it runs before any library is found.
 *
 *   PREFIX/bin/injector ARGS...  =  PREFIX/lib/ld.so --library-path PREFIX/lib PREFIX/bin/python3 -I -B -m injector ARGS...
 *
 * -I: nothing from the environment or the working directory changes what Python imports (the app's own
 * PYTHONPATH, PYTHONHOME...); -B: no bytecode is written (the runtime is read-only; it ships compiled).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef PREFIX
#define PREFIX "/opt/injector"
#endif

int main(int argc, char **argv) {
    static const char *const head[] = {
        PREFIX "/lib/ld.so", "--library-path", PREFIX "/lib", PREFIX "/bin/python3", "-I", "-B", "-m", "injector",
    };
    enum { HEAD = sizeof head / sizeof head[0] };
    char *args[HEAD + argc];
    for (int i = 0; i < HEAD; i++)
        args[i] = (char *)head[i];
    for (int i = 1; i < argc; i++)
        args[HEAD + i - 1] = argv[i];
    args[HEAD + argc - 1] = NULL;
    execv(args[0], args);
    fprintf(stderr, "injector: cannot start %s: %s\n", args[0], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
