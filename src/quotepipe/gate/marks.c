/* Callgrind client requests, for the gate's probe (loaded with ctypes): the probe counts
 * only what runs between qp_begin and qp_end, each region dumped under its own name, so
 * start-up, imports, the capture pass and shutdown never reach a stage's count.
 * Built by gate.runner.marks_library against valgrind's own header. */
#include <valgrind/callgrind.h>

/* the process runs uninstrumented (--instr-atstart=no) until the regions begin */
void qp_instrument(void) { CALLGRIND_START_INSTRUMENTATION; }

void qp_begin(void) {
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
}

void qp_end(const char *name) {
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT(name);
}
