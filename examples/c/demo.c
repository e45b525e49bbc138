/* demo.c: libsegcache from C in a few lines -- open, set, get (growing the
 * buffer on SEGCACHE_ERANGE), incr, get_multi, stats -- with the error
 * handling a real program needs.
 *
 * Build: cc -Iinclude examples/c/demo.c -Lbuild -lsegcache -Wl,-rpath,build */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <segcache.h>

/* fail reports a failed call and exits. */
static void fail(const char *what, int status) {
    fprintf(stderr, "demo: %s: %s (%d)\n", what, segcache_strerror(status), status);
    exit(1);
}

/* get_alloc returns the value of key in a malloc'ed buffer (the caller
 * frees it), or NULL if the key is absent. A first call with a small
 * buffer learns the size on SEGCACHE_ERANGE. */
static char *get_alloc(segcache_t c, const char *key, size_t *len) {
    char small[8];
    int rc = segcache_get(c, key, strlen(key), small, sizeof small, len, NULL);
    if (rc == SEGCACHE_ENOTFOUND) return NULL;
    if (rc != SEGCACHE_OK && rc != SEGCACHE_ERANGE) fail("get", rc);
    char *buf = malloc(*len + 1);
    if (buf == NULL) {
        perror("malloc");
        exit(1);
    }
    if (rc == SEGCACHE_OK) {
        memcpy(buf, small, *len);
    } else if ((rc = segcache_get(c, key, strlen(key), buf, *len, len, NULL)) != SEGCACHE_OK) {
        /* The value may have changed between the two calls; a real program
         * would loop on ERANGE. */
        fail("get (second try)", rc);
    }
    buf[*len] = '\0';
    return buf;
}

int main(void) {
    if (segcache_version() != SEGCACHE_VERSION_MAJOR * 10000u + SEGCACHE_VERSION_MINOR * 100u +
                                  SEGCACHE_VERSION_PATCH) {
        fprintf(stderr, "demo: header and library versions differ\n");
        return 1;
    }
    printf("libsegcache %u.%u.%u\n", segcache_version() / 10000, segcache_version() / 100 % 100,
           segcache_version() % 100);

    segcache_options opts;
    segcache_options_init(&opts);
    opts.heap_bytes = 8u << 20; /* 8 MiB of items */
    opts.eviction = SEGCACHE_EVICT_MERGE;
    segcache_t cache;
    int rc = segcache_open(&opts, &cache);
    if (rc != SEGCACHE_OK) fail("open", rc);

    const char *greeting = "hello from segcache, a value longer than eight bytes";
    if ((rc = segcache_set(cache, "greeting", 8, greeting, strlen(greeting), 0)) != SEGCACHE_OK)
        fail("set greeting", rc);
    size_t len;
    char *v = get_alloc(cache, "greeting", &len);
    printf("get greeting: \"%s\" (%zu bytes)\n", v ? v : "(absent)", len);
    free(v);

    /* Counters: set a decimal value, then incr. */
    if ((rc = segcache_set(cache, "visits", 6, "41", 2, 3600)) != SEGCACHE_OK) fail("set visits", rc);
    uint64_t visits;
    if ((rc = segcache_incr(cache, "visits", 6, 1, &visits)) != SEGCACHE_OK) fail("incr", rc);
    printf("incr visits: %llu\n", (unsigned long long)visits);
    rc = segcache_incr(cache, "greeting", 8, 1, NULL);
    printf("incr greeting: %s (expected: not a number)\n", segcache_strerror(rc));

    /* A key over 255 bytes is refused with a clear status. */
    char longkey[300];
    memset(longkey, 'k', sizeof longkey);
    rc = segcache_set(cache, longkey, sizeof longkey, "x", 1, 0);
    printf("set 300-byte key: %s\n", segcache_strerror(rc));

    /* get_multi: several keys in one call. */
    const void *keys[3] = {"greeting", "visits", "nobody"};
    size_t klens[3] = {8, 6, 6};
    char b0[16], b1[16], b2[16];
    void *bufs[3] = {b0, b1, b2};
    size_t caps[3] = {sizeof b0, sizeof b1, sizeof b2}, vlens[3];
    int statuses[3];
    rc = segcache_get_multi(cache, 3, keys, klens, bufs, caps, vlens, statuses);
    if (rc != SEGCACHE_OK) fail("get_multi", rc);
    for (int i = 0; i < 3; i++) {
        printf("get_multi %s: %s", (const char *)keys[i], segcache_strerror(statuses[i]));
        if (statuses[i] == SEGCACHE_OK)
            printf(" \"%.*s\"", (int)vlens[i], (const char *)bufs[i]);
        else if (statuses[i] == SEGCACHE_ERANGE)
            printf(" (needs %zu bytes)", vlens[i]);
        printf("\n");
    }

    segcache_stats st;
    st.size = sizeof st;
    if ((rc = segcache_stats_get(cache, &st)) != SEGCACHE_OK) fail("stats", rc);
    printf("stats: %llu items, %llu gets, %llu hits, %llu misses\n",
           (unsigned long long)st.items, (unsigned long long)st.gets,
           (unsigned long long)st.hits, (unsigned long long)st.misses);

    if ((rc = segcache_close(cache)) != SEGCACHE_OK) fail("close", rc);
    rc = segcache_set(cache, "k", 1, "v", 1, 0);
    printf("set after close: %s\n", segcache_strerror(rc));
    return 0;
}
