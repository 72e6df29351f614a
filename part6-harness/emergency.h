/* emergency: what the harness undoes if it dies where it cannot end the run
 * in order, a crash signal (SIGABRT, as when an allocation fails and GLib
 * aborts; SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP): the process groups of
 * its children are killed and the FIFOs and folder it made are removed,
 * with async-signal-safe calls only, and then the signal takes its course.
 *
 * The tables are allocated once, before anything is tracked, so that the
 * handler never reads memory that is being reallocated.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* Room for this many process groups and paths; installs the handlers. */
void emergency_init (guint max_groups, guint max_paths);
/* Back to the default dispositions; the tables are freed. */
void emergency_clear (void);

/* Slot i (a child's index) holds its process group, or 0 for none. */
void emergency_set_group (guint slot, pid_t pgid);

/* A FIFO (or, with is_dir, a folder) the harness made and removes at the
 * end; slot as above, the folder in the last one. */
void emergency_set_path (guint slot, const char *path, gboolean is_dir);
void emergency_clear_path (guint slot);
