/* test-runner: "pipe-harness test", a runner for whole suites of .pht test
 * files (test-file.h).
 *
 *   pipe-harness test [OPTION…] FILE|DIR…
 *
 * Each test runs in a process of its own: this same program, in a hidden
 * mode that takes one .pht file and runs it as a scripted harness run (its
 * own children, FIFO folder, transcript and temporary folder).  The runner
 * starts at most -j of them at once, all watched on one main loop, ends one
 * that outlives its timeout, and prints TAP version 14 on stdout (and JUnit
 * XML with --junit).  Exit status: 0 all passed, 1 some failed, 2 bad
 * usage, 128+N when signal N interrupted the run.
 */
#pragma once

/* argv[0] is "test". */
int test_runner_main (int argc, char **argv);
