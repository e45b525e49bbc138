/* consumer.c: a program built against an installed libsegcache (found by
 * find_package or pkg-config) -- proves the installed header, library and
 * package files work together. */
#include <stdio.h>
#include <string.h>

#include <segcache.h>

int main(void) {
    segcache_t c;
    char buf[16];
    size_t len = 0;
    if (segcache_version() != SEGCACHE_VERSION_MAJOR * 10000u + SEGCACHE_VERSION_MINOR * 100u +
                                  SEGCACHE_VERSION_PATCH) {
        fprintf(stderr, "consumer: version mismatch\n");
        return 1;
    }
    if (segcache_open(NULL, &c) != SEGCACHE_OK || segcache_set(c, "k", 1, "installed", 9, 0) != SEGCACHE_OK ||
        segcache_get(c, "k", 1, buf, sizeof buf, &len, NULL) != SEGCACHE_OK || len != 9 ||
        memcmp(buf, "installed", 9) != 0 || segcache_close(c) != SEGCACHE_OK) {
        fprintf(stderr, "consumer: the installed library does not work\n");
        return 1;
    }
    printf("consumer: ok (libsegcache %u)\n", segcache_version());
    return 0;
}
