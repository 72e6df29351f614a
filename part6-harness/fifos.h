/* fifos: the input FIFOs on disk.
 *
 * The private folder (mode 0700) the harness makes for them; making each
 * FIFO (mode 0600), or vetting one that exists: used only if it is a FIFO,
 * owned by us, not writable by group or others, and still the same object
 * when opened (O_NOFOLLOW, then fstat).  Anything else is refused and left
 * untouched.  Each FIFO is held open twice, for reading and for writing, so
 * that a writer closing it is never an end-of-file.  At the end, only what
 * the harness made is removed.
 *
 * A folder or FIFO in use by another live harness is refused: each harness
 * holds an flock() on its folder and on each of its FIFOs (on Linux, a
 * FIFO's open descriptor can be locked) for as long as it runs.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

typedef struct {
  char *path;
  gboolean made;  /* we created it, so we remove it */
  dev_t dev;
  ino_t ino;
  int read_fd;    /* non-blocking */
  int keep_fd;    /* our own writer, never written to */
} InputFifo;

/* A fresh folder "pipe-harness-XXXXXX", mode 0700, under $XDG_RUNTIME_DIR,
 * else $TMPDIR, else /tmp. */
char *fifo_dir_make_private (GError **error);

/* Makes DIR (mode 0700) if it does not exist; *made tells whether it did. */
gboolean fifo_dir_prepare (const char *dir, gboolean *made, GError **error);

/* Locks the folder for this run; returns the descriptor holding the lock,
 * to close once done with it, or -1.  what names it in the message. */
int fifo_dir_lock (const char *dir, const char *what, GError **error);

/* Makes or vets the FIFO at path, opens it and locks it.  When open files
 * run out, the error is G_FILE_ERROR_MFILE or _NFILE. */
gboolean input_fifo_open (InputFifo *fifo, const char *path, GError **error);

/* Closes it, and removes it if we made it and it is still ours. */
void input_fifo_close (InputFifo *fifo);
