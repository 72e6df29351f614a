/* fifos: making, vetting, holding open and removing input FIFOs; see fifos.h. */
#include "fifos.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

char *
fifo_dir_make_private (GError **error)
{
  const char *base = g_getenv ("XDG_RUNTIME_DIR");
  if (base == NULL || *base == '\0' || !g_file_test (base, G_FILE_TEST_IS_DIR))
    base = g_getenv ("TMPDIR");
  if (base == NULL || *base == '\0')
    base = "/tmp";

  char *dir = g_build_filename (base, "pipe-harness-XXXXXX", NULL);
  if (g_mkdtemp_full (dir, 0700) == NULL)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot make a private folder in %s: %s", base,
                   g_strerror (saved));
      g_free (dir);
      return NULL;
    }
  return dir;
}

gboolean
fifo_dir_prepare (const char *dir, gboolean *made, GError **error)
{
  struct stat st;

  *made = FALSE;
  if (stat (dir, &st) == 0)
    {
      if (S_ISDIR (st.st_mode))
        return TRUE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                   "--fifo-dir %s: not a folder", dir);
      return FALSE;
    }
  if (errno != ENOENT || mkdir (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "--fifo-dir %s: %s", dir, g_strerror (saved));
      return FALSE;
    }
  *made = TRUE;
  return TRUE;
}

int
fifo_dir_lock (const char *dir, const char *what, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) == 0)
    return fd;
  saved = errno;
  if (fd >= 0)
    close (fd);
  if (saved == EWOULDBLOCK)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                 "%s is in use by another pipe-harness; refusing to use it", what);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s",
                 what, g_strerror (saved));
  return -1;
}

/* Why st is not a FIFO we may use, or NULL if it is one. */
static const char *
refusal (const struct stat *st)
{
  if (S_ISLNK (st->st_mode))
    return "is a symbolic link";
  if (S_ISDIR (st->st_mode))
    return "is a folder";
  if (S_ISREG (st->st_mode))
    return "is a regular file";
  if (!S_ISFIFO (st->st_mode))
    return "is not a FIFO";
  if (st->st_uid != geteuid ())
    return "is a FIFO owned by another user";
  if (st->st_mode & (S_IWGRP | S_IWOTH))
    return "is a FIFO that group or others may write to";
  return NULL;
}

static gboolean
refuse (const char *path, const char *why, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "%s %s; refusing to use it (left untouched)", path, why);
  return FALSE;
}

static gboolean
io_failed (const char *what, const char *path, GError **error)
{
  int saved = errno;
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s %s: %s",
               what, path, g_strerror (saved));
  return FALSE;
}

/* Opens path with flags, refusing anything but the object (dev, ino) the
 * checks were made on. */
static int
open_same (InputFifo *fifo, int flags, GError **error)
{
  struct stat st;
  int fd = open (fifo->path, flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

  if (fd < 0)
    {
      if (errno == ELOOP)
        refuse (fifo->path, "is a symbolic link", error);
      else
        io_failed ("cannot open", fifo->path, error);
      return -1;
    }
  const char *why = fstat (fd, &st) != 0 ? "cannot be examined" : refusal (&st);
  if (why == NULL && (st.st_dev != fifo->dev || st.st_ino != fifo->ino))
    why = "was replaced while it was being opened";
  if (why != NULL)
    {
      close (fd);
      refuse (fifo->path, why, error);
      return -1;
    }
  return fd;
}

gboolean
input_fifo_open (InputFifo *fifo, const char *path, GError **error)
{
  struct stat st;

  *fifo = (InputFifo) { .path = g_strdup (path), .read_fd = -1, .keep_fd = -1 };
  if (lstat (path, &st) != 0)
    {
      if (errno != ENOENT)
        return io_failed ("cannot examine", path, error);
      if (mkfifo (path, 0600) != 0)
        return io_failed ("cannot make FIFO", path, error);
      fifo->made = TRUE;
      if (lstat (path, &st) != 0)
        return io_failed ("cannot examine", path, error);
    }
  const char *why = refusal (&st);
  if (why != NULL)
    {
      fifo->made = FALSE; /* whatever it is, it is not ours to remove */
      return refuse (path, why, error);
    }
  fifo->dev = st.st_dev;
  fifo->ino = st.st_ino;

  /* Reading end first: opening the writing end needs a reader. */
  fifo->read_fd = open_same (fifo, O_RDONLY, error);
  if (fifo->read_fd < 0)
    return FALSE;
  if (flock (fifo->read_fd, LOCK_EX | LOCK_NB) != 0)
    return errno == EWOULDBLOCK
             ? refuse (path, "is in use by another pipe-harness", error)
             : io_failed ("cannot lock", path, error);
  if (fifo->made && fchmod (fifo->read_fd, 0600) != 0) /* whatever the umask */
    return io_failed ("cannot set the mode of", path, error);
  fifo->keep_fd = open_same (fifo, O_WRONLY, error);
  return fifo->keep_fd >= 0;
}

void
input_fifo_close (InputFifo *fifo)
{
  struct stat st;

  if (fifo->read_fd >= 0)
    close (fifo->read_fd);
  if (fifo->keep_fd >= 0)
    close (fifo->keep_fd);
  fifo->read_fd = fifo->keep_fd = -1;
  if (fifo->made && lstat (fifo->path, &st) == 0 && st.st_dev == fifo->dev &&
      st.st_ino == fifo->ino)
    g_unlink (fifo->path);
  g_clear_pointer (&fifo->path, g_free);
}
