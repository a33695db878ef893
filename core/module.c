/* core/module.c — opening astrograd's optional modules (see core/core.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

void *ag__module_symbol(const char *file, const char *env_var, const char *sym, char *why, size_t nwhy) {
    const char *env = env_var ? getenv(env_var) : NULL;
    char path[4096];
    Dl_info self;
    if (env && *env) snprintf(path, sizeof path, "%s", env);
    else if (dladdr((void *)&ag__module_symbol, &self) && self.dli_fname && strrchr(self.dli_fname, '/'))
        snprintf(path, sizeof path, "%.*s/%s", (int)(strrchr(self.dli_fname, '/') - self.dli_fname), self.dli_fname,
                 file);
    else snprintf(path, sizeof path, "%s", file);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror(); /* the first attempt's reason: the likeliest to matter */
        snprintf(why, nwhy, "%s did not load: %s", file, e ? e : path);
        if (!(env && *env) && strcmp(path, file)) h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
        if (!h) return NULL;
    }
    void *p = dlsym(h, sym);
    if (!p) snprintf(why, nwhy, "%s has no %s (another version of astrograd's?)", path, sym);
    return p;
}
