/* pipe-by-hand: what GSubprocess does underneath, with pipe(), fork(),
 * dup2() and execvp(), and the two classic ways to get it wrong.
 *
 *   pipe-by-hand                   sort three lines through a child "sort"
 *   pipe-by-hand --no-close        the child keeps a write end of its own stdin
 *   pipe-by-hand --deadlock        write 1 MiB to "cat" before reading anything
 *   pipe-by-hand --child COMMAND   another child (for --deadlock: instead of cat)
 *
 * It makes two pipes, forks, and in the child makes one pipe's read end the
 * child's stdin and the other's write end its stdout (dup2), closes the four
 * original descriptors and runs the command (execvp).  The parent closes
 * the two ends it does not use, writes, closes its write end (that is the
 * child's end-of-file) and reads the answer until end-of-file.  It narrates
 * each step on stderr; the child's answer goes to stdout.
 *
 * The parent waits in poll() with a time limit: when nothing moves for a
 * second, it says why (from /proc and the bytes waiting in each pipe),
 * stops the child and exits 1, instead of hanging for ever as a program
 * with plain blocking read() and write() would:
 *   --no-close  the child never gets end-of-file, since a write end of its
 *               stdin is still open: its own copy, inherited and not closed;
 *   --deadlock  both pipes fill up: the parent waits for the child to read,
 *               the child waits for the parent to read.
 * Without options the parent reads while it writes, which never deadlocks.
 *
 * Run it:  pipe-by-hand; pipe-by-hand --no-close; pipe-by-hand --deadlock
 * Exit status: 0 when the child answered and exited 0; 1 when something
 * fails or nothing moves (the child is then stopped); 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2
/* How long nothing may move before the parent says it is stuck. */
#define STUCK_MS 1000
/* What --deadlock writes: far more than two pipes and cat's buffer hold. */
#define DEADLOCK_BYTES (1024 * 1024)

static const char fruit[] = "pear\napple\nfig\n";

typedef struct {
  const char *name;     /* the child's program name, for messages */
  pid_t pid;
  int to_child;         /* our write end of the child's stdin, or -1 */
  int from_child;       /* our read end of the child's stdout, or -1 */
  ino_t to_child_pipe;  /* the inode that names the child's stdin pipe */
  GString *data;        /* what we write */
  gsize written;
  GString *answer;      /* what we read */
} Exchange;

static void G_GNUC_PRINTF (1, 2)
say (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  fflush (stdout);
  g_printerr ("pipe-by-hand: %s\n", text);
}

/* Bytes waiting in the pipe fd belongs to (either end). */
static int
bytes_in_pipe (int fd)
{
  int n = 0;
  return ioctl (fd, FIONREAD, &n) == 0 ? n : -1;
}

static int
compare_ints (gconstpointer a, gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

/* The child's descriptors that are the pipe to its stdin, from /proc:
 * "0 and 4" when it kept the write end it should have closed. */
static char *
child_fds_on_stdin_pipe (Exchange *x)
{
  g_autofree char *dir_path = g_strdup_printf ("/proc/%d/fd", (int) x->pid);
  g_autofree char *wanted = g_strdup_printf ("pipe:[%lu]", (unsigned long) x->to_child_pipe);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr (GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *link = g_build_filename (dir_path, entry, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);
      if (target != NULL && strcmp (target, wanted) == 0)
        {
          int fd = atoi (entry);
          g_array_append_val (fds, fd);
        }
    }
  g_array_sort (fds, compare_ints);
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < fds->len; i++)
    g_string_append_printf (text, "%s%d", i == 0 ? "" : i + 1 == fds->len ? " and " : ", ",
                            g_array_index (fds, int, i));
  return g_string_free (text, FALSE);
}

/* Nothing moved for STUCK_MS: say why. */
static void
explain_stuck (Exchange *x)
{
  if (x->to_child >= 0)
    {
      say ("stuck: for %d ms %s has taken nothing more; %zu of %zu bytes written",
           STUCK_MS, x->name, x->written, x->data->len);
      say ("the pipe to %s is full: %d bytes that %s does not read",
           x->name, bytes_in_pipe (x->to_child), x->name);
      say ("the pipe from %s is full: %d bytes that we do not read",
           x->name, bytes_in_pipe (x->from_child));
      say ("a deadlock: we wait for %s to read, %s waits for us to read; "
           "with blocking writes both would wait for ever", x->name, x->name);
      say ("the cure: read while you write (pipe-by-hand without --deadlock does)");
      return;
    }
  g_autofree char *fds = child_fds_on_stdin_pipe (x);
  say ("stuck: no end-of-file from %s after %d ms, although we closed our write end",
       x->name, STUCK_MS);
  say ("%s has its stdin pipe open on fds %s: it still holds a write end of its own stdin",
       x->name, fds);
  say ("a read returns end-of-file only when every write end is closed, so %s waits "
       "for more input for ever", x->name);
  say ("the cure: the child closes the pipe ends it does not use before execvp "
       "(pipe-by-hand without --no-close does)");
}

/* Writes x->data and reads the answer, both in one poll() loop.  With
 * read_while_writing FALSE it reads nothing until all is written, which is
 * the mistake --deadlock shows.  FALSE when nothing moved for STUCK_MS. */
static gboolean
exchange (Exchange *x, gboolean read_while_writing)
{
  char buf[65536];

  while (x->from_child >= 0)
    {
      struct pollfd fds[2];
      nfds_t n = 0;
      int write_slot = -1, read_slot = -1;
      if (x->to_child >= 0)
        {
          fds[n] = (struct pollfd) { .fd = x->to_child, .events = POLLOUT };
          write_slot = (int) n++;
        }
      if (read_while_writing || x->to_child < 0)
        {
          fds[n] = (struct pollfd) { .fd = x->from_child, .events = POLLIN };
          read_slot = (int) n++;
        }
      int ready = poll (fds, n, STUCK_MS);
      if (ready < 0 && errno == EINTR)
        continue;
      if (ready <= 0)
        return FALSE;

      if (write_slot >= 0 && fds[write_slot].revents != 0)
        {
          ssize_t w = write (x->to_child, x->data->str + x->written, x->data->len - x->written);
          if (w < 0 && errno != EAGAIN && errno != EINTR)
            {
              say ("write to %s: %s; it has stopped reading", x->name, g_strerror (errno));
              x->written = x->data->len; /* give up writing, go on reading */
            }
          else if (w > 0)
            x->written += (gsize) w;
          if (x->written == x->data->len)
            {
              say ("wrote %zu bytes; closing fd %d, our write end: %s will see end-of-file",
                   x->written, x->to_child, x->name);
              close (x->to_child);
              x->to_child = -1;
            }
        }
      if (read_slot >= 0 && fds[read_slot].revents != 0)
        {
          ssize_t r = read (x->from_child, buf, sizeof buf);
          if (r > 0)
            g_string_append_len (x->answer, buf, r);
          else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            {
              say ("read %zu bytes from fd %d, then end-of-file: %s closed its stdout",
                   x->answer->len, x->from_child, x->name);
              close (x->from_child);
              x->from_child = -1;
            }
        }
    }
  return TRUE;
}

/* In the child, between fork() and execvp(): only system calls here. */
static void G_GNUC_NORETURN
become_child (int to_child[2], int from_child[2], char **argv, gboolean close_unused)
{
  dup2 (to_child[0], STDIN_FILENO);
  dup2 (from_child[1], STDOUT_FILENO);
  close (to_child[0]);
  close (from_child[0]);
  close (from_child[1]);
  if (close_unused)
    close (to_child[1]);
  /* An ignored signal stays ignored across execvp: give the child the
   * default SIGPIPE that every program expects. */
  signal (SIGPIPE, SIG_DFL);
  execvp (argv[0], argv);
  const char msg[] = "pipe-by-hand: execvp failed: no such program?\n";
  ssize_t ignored = write (STDERR_FILENO, msg, sizeof msg - 1);
  (void) ignored;
  _exit (127);
}

static int
run (char **argv, gboolean deadlock, gboolean no_close)
{
  int to_child[2], from_child[2];
  g_autofree char *name = g_path_get_basename (argv[0]);
  Exchange x = { .name = name, .to_child = -1, .from_child = -1 };

  /* pipe() without O_CLOEXEC, as in every textbook: ends that are not
   * closed by hand are inherited by the child and live on after execvp. */
  if (pipe (to_child) != 0 || pipe (from_child) != 0)
    {
      say ("pipe: %s", g_strerror (errno));
      return EXIT_FAILED;
    }
  say ("pipe() made the pipe to %s: fd %d (read end), fd %d (write end)",
       name, to_child[0], to_child[1]);
  say ("pipe() made the pipe from %s: fd %d (read end), fd %d (write end)",
       name, from_child[0], from_child[1]);
  struct stat st;
  fstat (to_child[0], &st);
  x.to_child_pipe = st.st_ino;

  fflush (stdout);
  x.pid = fork ();
  if (x.pid < 0)
    {
      say ("fork: %s", g_strerror (errno));
      return EXIT_FAILED;
    }
  if (x.pid == 0)
    become_child (to_child, from_child, argv, !no_close);

  g_autofree char *closed =
    no_close ? g_strdup_printf ("%d %d %d (not %d!)", to_child[0], from_child[0],
                                from_child[1], to_child[1])
             : g_strdup_printf ("%d %d %d %d", to_child[0], to_child[1], from_child[0],
                                from_child[1]);
  say ("fork() made the child, pid %d; it runs: dup2(%d, 0), dup2(%d, 1), "
       "close %s, execvp(\"%s\")", (int) x.pid, to_child[0], from_child[1], closed, argv[0]);
  close (to_child[0]);
  close (from_child[1]);
  say ("closed fd %d and fd %d, the ends only the child uses", to_child[0], from_child[1]);
  x.to_child = to_child[1];
  x.from_child = from_child[0];
  fcntl (x.to_child, F_SETFL, O_NONBLOCK); /* poll() decides when to write */

  x.data = g_string_new (NULL);
  x.answer = g_string_new (NULL);
  if (deadlock)
    {
      for (guint i = 1; x.data->len < DEADLOCK_BYTES; i++)
        g_string_append_printf (x.data, "line %010u\n", i);
      say ("writing %zu bytes to fd %d before reading anything", x.data->len, x.to_child);
    }
  else
    {
      g_string_append (x.data, fruit);
      say ("writing 3 lines to fd %d, and reading fd %d as the answer comes", x.to_child,
           x.from_child);
    }

  int status = 0;
  gboolean moved = exchange (&x, !deadlock);
  fwrite (x.answer->str, 1, x.answer->len, stdout); /* all that came back */
  if (!moved)
    {
      explain_stuck (&x);
      say ("stopping %s with SIGTERM", name);
      kill (x.pid, SIGTERM);
      status = EXIT_FAILED;
    }
  fflush (stdout);

  int wstatus;
  while (waitpid (x.pid, &wstatus, 0) < 0 && errno == EINTR)
    ;
  if (status == 0 && WIFEXITED (wstatus))
    {
      say ("%s exited with status %d", name, WEXITSTATUS (wstatus));
      status = WEXITSTATUS (wstatus) == 0 ? 0 : EXIT_FAILED;
    }
  else if (WIFSIGNALED (wstatus))
    {
      say ("%s ended by signal %d (%s)", name, WTERMSIG (wstatus), g_strsignal (WTERMSIG (wstatus)));
      status = EXIT_FAILED;
    }
  if (x.to_child >= 0)
    close (x.to_child);
  if (x.from_child >= 0)
    close (x.from_child);
  g_string_free (x.data, TRUE);
  g_string_free (x.answer, TRUE);
  return status;
}

int
main (int argc, char **argv)
{
  gboolean deadlock = FALSE, no_close = FALSE;
  g_autofree char *command = NULL;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "deadlock", 'd', 0, G_OPTION_ARG_NONE, &deadlock, "Write 1 MiB to cat before reading anything", NULL },
    { "no-close", 'n', 0, G_OPTION_ARG_NONE, &no_close, "The child keeps the write end of its own stdin", NULL },
    { "child", 'c', 0, G_OPTION_ARG_STRING, &command, "Run COMMAND (default: sort; cat with --deadlock)", "COMMAND" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- a child wired to two pipes by hand");
  g_auto (GStrv) child = NULL;

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("pipe-by-hand: %s (see --help)\n", error->message);
      return EXIT_USAGE;
    }
  if (argc != 1)
    {
      g_printerr ("pipe-by-hand: no arguments, only options (see --help)\n");
      return EXIT_USAGE;
    }
  if (command == NULL)
    command = g_strdup (deadlock ? "cat" : "sort");
  if (!g_shell_parse_argv (command, NULL, &child, &error))
    {
      g_printerr ("pipe-by-hand: --child %s: %s\n", command, error->message);
      return EXIT_USAGE;
    }
  /* A child gone is an error from write() to report, not our death. */
  signal (SIGPIPE, SIG_IGN);
  return run (child, deadlock, no_close);
}
