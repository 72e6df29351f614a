/* buffer-lab: the writer's buffer, measured.  One terminal, no setup.
 *
 *   buffer-lab [--delay-ms N] [--message TEXT]
 *
 * It makes a private folder with four FIFOs and writes TEXT into all four
 * at once, one byte every N ms (default 150), each through a GIOChannel
 * flushed in another way: none, line, full, and every 3 bytes.  A reader
 * on each FIFO notes when bytes arrive.  At the end it prints a chart:
 * one column per tick, the byte written at that tick on top, and for each
 * mode how many bytes reached the reader at that tick.  Then it removes
 * its folder.
 *
 * What to look for: "none" delivers every byte at once; "line" holds bytes
 * until their newline; "full" holds everything until the writer closes;
 * "3 bytes" delivers in threes.  Same bytes, same pipe, four timelines.
 *
 * Exit status: 0 on success, 1 when something fails, 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <locale.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TICKS_PER_ROW 20

typedef enum { FLUSH_NEVER, FLUSH_AT_NEWLINE, FLUSH_EVERY_BYTE, FLUSH_EVERY_3 } FlushRule;

typedef struct {
  const char *label;
  FlushRule rule;
  char *path;
  int read_fd;
  guint watch;
  GIOChannel *writer;
  gsize buffered;
  guint *arrived;     /* bytes that arrived, per tick */
  gboolean done;
} Lane;

typedef struct {
  const char *text;
  gsize length;
  gsize tick;         /* the next tick */
  gint64 *tick_time;  /* when each tick happened */
  Lane lanes[4];
  GMainLoop *loop;
  int status;
} Lab;

static Lab *the_lab;

/* The tick during which a byte that arrived now was written: the last one
 * that had happened by then. */
static gsize
current_tick (Lab *lab, gint64 now)
{
  gsize t = lab->tick > 0 ? lab->tick - 1 : 0;
  while (t > 0 && lab->tick_time[t] > now)
    t--;
  return t;
}

static gboolean
on_fifo_readable (int fd, GIOCondition condition, gpointer data)
{
  Lane *lane = data;
  char buf[256];
  (void) condition;

  ssize_t n = read (fd, buf, sizeof buf);
  if (n > 0)
    {
      lane->arrived[current_tick (the_lab, g_get_monotonic_time ())] += n;
      return G_SOURCE_CONTINUE;
    }
  if (n < 0 && errno == EAGAIN)
    return G_SOURCE_CONTINUE;
  lane->done = TRUE; /* end-of-file: the writer closed */
  lane->watch = 0;
  gboolean all_done = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (the_lab->lanes); i++)
    all_done = all_done && the_lab->lanes[i].done;
  if (all_done)
    g_main_loop_quit (the_lab->loop);
  return G_SOURCE_REMOVE;
}

static void
write_byte (Lane *lane, char c)
{
  g_autoptr (GError) error = NULL;
  if (g_io_channel_write_chars (lane->writer, &c, 1, NULL, &error) != G_IO_STATUS_NORMAL)
    g_error ("writing to %s: %s", lane->path, error->message);
  lane->buffered++;
  if (lane->rule == FLUSH_EVERY_BYTE || (lane->rule == FLUSH_AT_NEWLINE && c == '\n') ||
      (lane->rule == FLUSH_EVERY_3 && lane->buffered == 3))
    {
      g_io_channel_flush (lane->writer, NULL);
      lane->buffered = 0;
    }
}

static gboolean
on_tick (gpointer data)
{
  Lab *lab = data;
  gsize t = lab->tick++;

  lab->tick_time[t] = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (lab->lanes); i++)
    {
      Lane *lane = &lab->lanes[i];
      if (t < lab->length)
        write_byte (lane, lab->text[t]);
      else
        g_clear_pointer (&lane->writer, g_io_channel_unref); /* flushes, closes */
    }
  return t < lab->length ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
open_lane (Lane *lane, const char *dir, GError **error)
{
  lane->path = g_build_filename (dir, lane->label, NULL);
  if (mkfifo (lane->path, 0600) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "mkfifo %s: %s",
                   lane->path, g_strerror (errno));
      return FALSE;
    }
  /* The reading end first, without waiting; then the writing end finds a
   * reader and does not wait either. */
  lane->read_fd = open (lane->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int write_fd = lane->read_fd < 0 ? -1 : open (lane->path, O_WRONLY | O_CLOEXEC);
  if (write_fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "open %s: %s",
                   lane->path, g_strerror (errno));
      return FALSE;
    }
  lane->writer = g_io_channel_unix_new (write_fd);
  g_io_channel_set_close_on_unref (lane->writer, TRUE);
  g_io_channel_set_encoding (lane->writer, NULL, NULL);
  g_io_channel_set_buffer_size (lane->writer, 64 * 1024); /* we decide when to flush */
  lane->watch = g_unix_fd_add (lane->read_fd, G_IO_IN | G_IO_HUP, on_fifo_readable, lane);
  return TRUE;
}

static void
close_lane (Lane *lane)
{
  g_clear_handle_id (&lane->watch, g_source_remove);
  g_clear_pointer (&lane->writer, g_io_channel_unref);
  if (lane->read_fd >= 0)
    close (lane->read_fd);
  if (lane->path != NULL)
    g_unlink (lane->path);
  g_free (lane->path);
  g_free (lane->arrived);
}

static void
print_chart (Lab *lab, guint delay_ms)
{
  gsize ticks = lab->length + 1; /* the last tick closes */

  g_print ("Each tick (%u ms) one byte is written into all four FIFOs; the rows\n"
           "show how many bytes reached the reader during each tick.\n", delay_ms);
  for (gsize from = 0; from < ticks; from += TICKS_PER_ROW)
    {
      gsize to = MIN (ticks, from + TICKS_PER_ROW);
      g_print ("\n%-10s", "tick");
      for (gsize t = from; t < to; t++)
        g_print ("%4zu", t);
      g_print ("\n%-10s", "written");
      for (gsize t = from; t < to; t++)
        {
          char c = t < lab->length ? lab->text[t] : 0;
          g_print ("%4s", c == '\n' ? "\\n" : c == 0 ? "END" : c == ' ' ? "' '"
                   : (char[]) { c, 0 });
        }
      g_print ("\n");
      for (guint i = 0; i < G_N_ELEMENTS (lab->lanes); i++)
        {
          g_print ("%-10s", lab->lanes[i].label);
          for (gsize t = from; t < to; t++)
            if (lab->lanes[i].arrived[t] > 0)
              g_print ("%4u", lab->lanes[i].arrived[t]);
            else
              g_print ("%4s", ".");
          g_print ("\n");
        }
    }
  g_print ("\nnone:     no buffer, every byte reaches the pipe when it is written\n"
           "line:     bytes wait in the writer's buffer until a newline flushes it\n"
           "full:     bytes wait until the buffer fills or the writer closes\n"
           "3-bytes:  the buffer is flushed whenever it holds 3 bytes\n");
}

int
main (int argc, char **argv)
{
  int delay_ms = 150;
  g_autofree char *message = NULL;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "delay-ms", 'd', 0, G_OPTION_ARG_INT, &delay_ms, "Milliseconds between bytes (default 150)", "N" },
    { "message", 'm', 0, G_OPTION_ARG_STRING, &message, "What to write (default: three short lines)", "TEXT" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- the four buffering modes side by side");

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 1 ||
      delay_ms < 1 || (message != NULL && *message == '\0'))
    {
      g_printerr ("buffer-lab: %s\n", error ? error->message
                  : argc != 1 ? "no arguments, only options (see --help)"
                  : delay_ms < 1 ? "--delay-ms must be at least 1" : "--message is empty");
      return 2;
    }

  Lab lab = {
    .text = message ? message : "one\ntwo\nsix\n",
    .lanes = { { "none", FLUSH_EVERY_BYTE, .read_fd = -1 },
               { "line", FLUSH_AT_NEWLINE, .read_fd = -1 },
               { "full", FLUSH_NEVER, .read_fd = -1 },
               { "3-bytes", FLUSH_EVERY_3, .read_fd = -1 } },
  };
  lab.length = strlen (lab.text);
  lab.tick_time = g_new0 (gint64, lab.length + 1);
  the_lab = &lab;

  g_autofree char *dir = g_dir_make_tmp ("buffer-lab-XXXXXX", &error);
  if (dir == NULL)
    {
      g_printerr ("buffer-lab: %s\n", error->message);
      return 1;
    }
  gboolean opened = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (lab.lanes) && opened; i++)
    {
      lab.lanes[i].arrived = g_new0 (guint, lab.length + 1);
      opened = open_lane (&lab.lanes[i], dir, &error);
    }
  if (opened)
    {
      lab.loop = g_main_loop_new (NULL, FALSE);
      g_timeout_add (delay_ms, on_tick, &lab);
      g_main_loop_run (lab.loop);
      g_main_loop_unref (lab.loop);
      print_chart (&lab, (guint) delay_ms);
    }
  else
    {
      g_printerr ("buffer-lab: %s\n", error->message);
      lab.status = 1;
    }

  for (guint i = 0; i < G_N_ELEMENTS (lab.lanes); i++)
    close_lane (&lab.lanes[i]);
  g_rmdir (dir);
  g_free (lab.tick_time);
  return lab.status;
}
