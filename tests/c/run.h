/* run.h: RUN(test) and the watchdog of the C test programs.
 *
 * Every test normally takes well under 5 s; one that has not finished after
 * WATCHDOG_SECONDS is stuck (a deadlock or livelock in the library), and
 * the run fails with its name instead of hanging make test. This bounds a
 * hang; it does not time anything. Install it with
 * signal(SIGALRM, watchdog). */
#ifndef SEGCACHE_TEST_RUN_H
#define SEGCACHE_TEST_RUN_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef WATCHDOG_SECONDS
#define WATCHDOG_SECONDS 300
#endif

static const char *current_test = "";

static void watchdog(int sig) {
    (void)sig;
    static const char msg[] = "WATCHDOG: test stuck (deadlock or livelock in the library?): ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, current_test, strlen(current_test)) < 0 ||
        write(2, "\n", 1) < 0) {
    }
    _exit(3);
}

/* RUN names each test on stdout before it starts, so that a hang or crash
 * points at its test, and arms the watchdog for it. */
#define RUN(call)                 \
    do {                          \
        printf("-- %s\n", #call); \
        current_test = #call;     \
        alarm(WATCHDOG_SECONDS);  \
        call;                     \
        alarm(0);                 \
    } while (0)

#endif
