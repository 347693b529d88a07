/* install_dirs.c -- an installed host finds its runtime and venv beside itself.
 *
 * `make install` lays out <dir>/redisgears_py.so, <dir>/runtime/ and
 * <dir>/venv/.  When those exist next to this library they replace the build
 * tree's compiled-in defaults (module arguments, parsed later, still win), so
 * an installed tree works wherever it is moved. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

static char runtime_dir[PATH_MAX], venv_dir[PATH_MAX];

/* dir/name, if it names something that exists: 1, else 0. */
static int beside(char *out, size_t size, const char *dir, const char *name, const char *probe) {
    char path[PATH_MAX];
    if (snprintf(out, size, "%s/%s", dir, name) >= (int)size) return 0;
    if (snprintf(path, sizeof(path), "%s/%s", out, probe) >= (int)sizeof(path)) return 0;
    return access(path, F_OK) == 0;
}

void HostConfig_UseInstalledDirs(void) {
    Dl_info info;
    if (!dladdr((void *)HostConfig_UseInstalledDirs, &info) || !info.dli_fname) return;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s", info.dli_fname) >= (int)sizeof(dir)) return;
    char *slash = strrchr(dir, '/');
    if (!slash) return;
    *slash = '\0';

    if (beside(runtime_dir, sizeof(runtime_dir), dir, "runtime", "gears_runtime.py"))
        host_config.runtime_dir = runtime_dir;
    if (beside(venv_dir, sizeof(venv_dir), dir, "venv", "pyvenv.cfg")) host_config.venv = venv_dir;
}
