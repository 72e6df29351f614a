/* signals: the signals the harness acts on, handed to the main loop.
 *
 * A handler of our own writes the number of each signal caught to a
 * non-blocking pipe that the main loop watches; nothing else runs in the
 * handler.  Caught are every signal whose default action ends the process
 * and that can be caught (but SIGPIPE, which is ignored so that a reader
 * going away is an EPIPE, and the faults SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT, SIGTRAP and SIGSYS), and those of job control: SIGTSTP, SIGCONT
 * and SIGCHLD (for stopped children as well as ended ones).
 *
 * A signal that was ignored when the harness started (under nohup, or in
 * a job started with & by a script) stays ignored, for the harness and
 * for its children.  Children get every other signal at its default
 * action, and an empty mask.
 */
#pragma once

#include <glib.h>
#include <signal.h>

typedef void (*SignalFunc) (gpointer data, int signum);

/* Installs the handlers; func gets each signal caught, on the main loop.
 * FALSE (a G_FILE_ERROR) if its pipe cannot be made. */
gboolean signals_start (SignalFunc func, gpointer data, GError **error);
/* Removes the watch; the handlers stay, their signals wait in the pipe. */
void signals_stop (void);

/* The signals a child must have set back to their default action between
 * its creation and its exec. */
const sigset_t *signals_child_defaults (void);
