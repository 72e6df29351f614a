/* pipe-bench: measures pipe-harness against the baselines that matter, in
 * one invocation, and prints a table.  Run it through bench/run, which
 * builds in release mode and fetches the contenders first.
 *
 *   pipe-bench --harness PATH --flood PATH --prefixer PATH --fanin PATH
 *              [--concurrently PATH] [--cache DIR] [--runs N] [--only 1,7]
 *
 * Every figure is the median of N runs (default 5); within a run the
 * contenders take turns, so that the machine's drift hits all alike, and
 * every comparison is a ratio of figures from this same invocation.
 *
 *  1. throughput: 256 MiB of 64-byte lines from one child (the other idle),
 *     into /dev/null and through a further pipe; against cat | cat (a
 *     plain relay), sed 's/^/A: /' (a prefixer), bench/prefixer (the least
 *     a prefixer can do) and concurrently; and through a pipe with the
 *     relay on one CPU and the cats on another, against the prefixer so
 *  2. round trip: a line into the child's input, echoed by cat, back on
 *     stdout; median and 99th percentile over thousands, and CPU time
 *  3. idle cost: CPU time and wake-ups in 5 s with two idle children
 *  4. memory: peak RSS while flooding into a slow reader
 *  5. fairness: each of two flooding children's share of the output
 *  6. scale: 2, 16, 64, 256 and 1024 children flooding together; against
 *     a bare relay with a pipe per child (bench/fanin) and no relay at all
 *  7. starting and ending 1024 children, against a shell loop doing so
 *  8. a script's expect finding the last of 1 M lines, against relaying them
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <sched.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1024.0 * 1024.0)
#define LINE_LEN 64
#define DATA_BYTES (256L * 1024 * 1024)
#define ROUND_TRIPS 5000
#define IDLE_SECONDS 5
#define SLOW_FLOOD_BYTES (64L * 1024 * 1024)
#define FAIR_BYTES (64L * 1024 * 1024)

static const char *harness;
static const char *flood;
static const char *prefixer;
static const char *fanin;
static const char *concurrently;
static char *data_file;
static char *cache;
static int runs = 5;

/* ------------------------------------------------------------------ */
/* The targets, each with what this run measured, printed at the end */

typedef struct {
  char *target;
  char *measured;
  gboolean met;
  char *why; /* when not met: the reason, from this run's own controls */
} Verdict;

static GArray *verdicts;

static void
verdict (gboolean met, const char *target, char *measured, char *why)
{
  Verdict v = { g_strdup (target), measured, met, met ? (g_free (why), NULL) : why };
  g_array_append_val (verdicts, v);
}

static void
print_verdicts (void)
{
  if (verdicts->len == 0)
    return;
  g_print ("\nTargets\n\n");
  for (guint i = 0; i < verdicts->len; i++)
    {
      Verdict *v = &g_array_index (verdicts, Verdict, i);
      g_print ("   %-44s %-30s %s\n", v->target, v->measured, v->met ? "met" : "NOT MET");
      if (v->why != NULL)
        {
          /* the reason, wrapped under the line */
          g_auto (GStrv) words = g_strsplit (v->why, " ", -1);
          int column = 0;
          for (char **w = words; *w != NULL; w++)
            {
              int len = (int) strlen (*w);
              if (column > 0 && column + 1 + len > 70)
                column = 0, g_print ("\n");
              g_print (column == 0 ? "      %s" : " %s", *w);
              column += (column == 0 ? 0 : 1) + len;
            }
          g_print ("\n");
        }
      g_free (v->target);
      g_free (v->measured);
      g_free (v->why);
    }
}

/* ------------------------------------------------------------------ */
/* Small helpers */

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (GArray *values)
{
  g_array_sort (values, compare_doubles);
  return g_array_index (values, double, values->len / 2);
}

/* The median over runs of a[run] / b[run]: a ratio taken within each run,
 * where both were measured moments apart. */
static double
median_ratio (GArray *a, GArray *b)
{
  g_autoptr (GArray) ratios = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint i = 0; i < a->len; i++)
    {
      double r = g_array_index (a, double, i) / g_array_index (b, double, i);
      g_array_append_val (ratios, r);
    }
  return median (ratios);
}

static double
percentile (GArray *values, double p)
{
  g_array_sort (values, compare_doubles);
  guint i = MIN (values->len - 1, (guint) (values->len * p));
  return g_array_index (values, double, i);
}

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* Runs a shell command to the end; returns its wall time in seconds. */
static double
time_shell (const char *command)
{
  g_autoptr (GError) error = NULL;
  const char *argv[] = { "/bin/sh", "-c", command, NULL };
  int status;
  double start = now_s ();
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                     NULL, NULL, &status, &error))
    g_error ("%s: %s", command, error->message);
  double elapsed = now_s () - start;
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s: %s", command, error->message);
  return elapsed;
}

/* Starts a shell command with its stdout on a pipe to us; *out is ours. */
static GPid
start_shell (const char *command, int *out)
{
  g_autoptr (GError) error = NULL;
  const char *argv[] = { "/bin/sh", "-c", command, NULL };
  GPid pid;
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
                                 NULL, NULL, &pid, NULL, out, NULL, &error))
    g_error ("%s: %s", command, error->message);
  return pid;
}

/* Waits for pid; returns its peak RSS in KiB. */
static long
reap (GPid pid)
{
  struct rusage usage;
  int status;
  while (wait4 (pid, &status, 0, &usage) < 0 && errno == EINTR)
    ;
  return usage.ru_maxrss;
}

static guint64
proc_value (GPid pid, const char *file, const char *key)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", (int) pid, file);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  if (key == NULL)
    return g_ascii_strtoull (text, NULL, 10);
  const char *at = strstr (text, key);
  return at ? g_ascii_strtoull (at + strlen (key), NULL, 10) : 0;
}

static char *
quote (const char *s)
{
  return g_shell_quote (s);
}

/* The data: 64-byte numbered lines, made once in the cache. */
static void
make_data (void)
{
  GStatBuf st;
  data_file = g_build_filename (cache, "lines-256M.txt", NULL);
  if (g_stat (data_file, &st) == 0 && st.st_size == DATA_BYTES)
    return;
  FILE *f = fopen (data_file, "w");
  if (f == NULL)
    g_error ("%s: %s", data_file, g_strerror (errno));
  char line[LINE_LEN + 1];
  for (long i = 0; i < DATA_BYTES / LINE_LEN; i++)
    {
      int k = g_snprintf (line, sizeof line, "%09ld ", i);
      memset (line + k, 'a' + (char) (i % 26), LINE_LEN - 1 - k);
      line[LINE_LEN - 1] = '\n';
      fwrite (line, 1, LINE_LEN, f);
    }
  if (fclose (f) != 0)
    g_error ("%s: %s", data_file, g_strerror (errno));
}

/* A process's CPU time (from /proc/PID/schedstat) and context switches. */
typedef struct {
  GPid pid;
  guint64 cpu_ns;
  guint64 switches;
} Sample;

static Sample
sample (GPid pid)
{
  return (Sample) {
    pid, proc_value (pid, "schedstat", NULL),
    proc_value (pid, "status", "\nvoluntary_ctxt_switches:") +
      proc_value (pid, "status", "nonvoluntary_ctxt_switches:"),
  };
}

/* ------------------------------------------------------------------ */
/* 1. Throughput */

typedef struct {
  const char *name;
  char *command[2]; /* into /dev/null, through a pipe */
  GArray *seconds[2];
} Contender;

static void
contender_init (Contender *c, const char *name, const char *pipeline)
{
  c->name = name;
  c->command[0] = g_strdup_printf ("%s > /dev/null", pipeline);
  c->command[1] = g_strdup_printf ("%s | cat > /dev/null", pipeline);
  for (int i = 0; i < 2; i++)
    c->seconds[i] = g_array_new (FALSE, FALSE, sizeof (double));
}

/* Through a pipe, with the relay on one CPU and the cats on another, the
 * same for the harness and the prefixer: the median over runs of the
 * harness's speed over the prefixer's, or 0 with fewer than two CPUs. */
static double
pinned_ratio (const char *f, const char *h, const char *child_cat, const char *p)
{
  cpu_set_t set;
  int cpus[2], n = 0;
  if (sched_getaffinity (0, sizeof set, &set) != 0)
    return 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
    if (CPU_ISSET (cpu, &set))
      cpus[n++] = cpu;
  g_autofree char *taskset = g_find_program_in_path ("taskset");
  if (n < 2 || taskset == NULL)
    return 0;
  int r = cpus[0], c = cpus[1]; /* the relay's CPU, the cats' */
  g_autofree char *ours = g_strdup_printf (
    "taskset -c %d %s -q 'taskset -c %d '%s 'sleep 1000' | taskset -c %d cat > /dev/null",
    r, h, c, child_cat, c);
  g_autofree char *least = g_strdup_printf (
    "taskset -c %d cat %s | taskset -c %d %s | taskset -c %d cat > /dev/null", c, f, r, p, c);
  g_autoptr (GArray) harness_s = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) least_s = g_array_new (FALSE, FALSE, sizeof (double));
  for (int run = 0; run < runs; run++)
    {
      double t = time_shell (ours);
      g_array_append_val (harness_s, t);
      t = time_shell (least);
      g_array_append_val (least_s, t);
    }
  return median_ratio (least_s, harness_s);
}

static void
throughput (void)
{
  g_autofree char *f = quote (data_file);
  g_autofree char *h = quote (harness);
  g_autofree char *cat_child = g_strdup_printf ("cat %s", data_file);
  g_autofree char *child = quote (cat_child);
  Contender contenders[5];
  guint n = 0;

  g_autofree char *relay = g_strdup_printf ("cat %s | cat", f);
  g_autofree char *sed = g_strdup_printf ("cat %s | sed 's/^/A: /'", f);
  g_autofree char *ours = g_strdup_printf ("%s -q %s 'sleep 1000'", h, child);
  contender_init (&contenders[n++], "cat | cat", relay);
  contender_init (&contenders[n++], "sed 's/^/A: /'", sed);
  contender_init (&contenders[n++], "pipe-harness", ours);
  g_autofree char *p = quote (prefixer);
  g_autofree char *least = g_strdup_printf ("cat %s | %s", f, p);
  contender_init (&contenders[n++], "bench/prefixer", least);
  g_autofree char *theirs = NULL;
  if (concurrently != NULL)
    {
      g_autofree char *c = quote (concurrently);
      /* -k stops the idle child, -s first keeps that from being a failure */
      theirs = g_strdup_printf ("%s -k -s first -n A,B %s 'sleep 1000'", c, child);
      contender_init (&contenders[n++], "concurrently", theirs);
    }

  time_shell (contenders[0].command[0]); /* the file into the page cache */
  for (int run = 0; run < runs; run++)
    for (int sink = 0; sink < 2; sink++)
      for (guint i = 0; i < n; i++)
        {
          double s = time_shell (contenders[i].command[sink]);
          g_array_append_val (contenders[i].seconds[sink], s);
        }

  /* Ratios first: median() sorts the runs, which must stay paired. */
  double ratio[5][2], over_sed[2], over_least[2];
  for (int sink = 0; sink < 2; sink++)
    {
      for (guint i = 0; i < n; i++)
        ratio[i][sink] = median_ratio (contenders[0].seconds[sink], contenders[i].seconds[sink]);
      over_sed[sink] = median_ratio (contenders[1].seconds[sink], contenders[2].seconds[sink]);
      over_least[sink] = median_ratio (contenders[3].seconds[sink], contenders[2].seconds[sink]);
    }
  g_print ("\n1. Throughput: one child prints 256 MiB of 64-byte lines (4.2 M lines), "
           "the other is idle\n\n"
           "   %-16s %-36s %s\n", "", "into /dev/null", "through a further pipe");
  for (guint i = 0; i < n; i++)
    {
      g_print ("   %-16s", contenders[i].name);
      for (int sink = 0; sink < 2; sink++)
        {
          double s = median (contenders[i].seconds[sink]);
          g_autofree char *cell = g_strdup_printf ("%6.0f MiB/s %5.1f Mlines/s %5.2fx", DATA_BYTES / MiB / s,
                                                   DATA_BYTES / LINE_LEN / 1e6 / s, ratio[i][sink]);
          g_print (" %-36s", cell);
        }
      g_print ("\n");
    }
  g_print ("   (MiB/s of the child's bytes, medians; each ratio is against cat | cat in the same\n"
           "   column, the median over runs of the two measured back to back)\n");
  for (int sink = 0; sink < 2; sink++)
    g_print ("   pipe-harness %s: %.2fx cat | cat, %.2fx sed, %.2fx bench/prefixer\n",
             sink == 0 ? "into /dev/null" : "through a pipe", ratio[2][sink], over_sed[sink],
             over_least[sink]);

  verdict (ratio[2][0] >= 1.0 && ratio[2][1] >= 1.0, "throughput >= 1.0x cat | cat",
           g_strdup_printf ("%.2fx, %.2fx through a pipe", ratio[2][0], ratio[2][1]),
           g_strdup ("the harness relays slower than cat"));
  verdict (over_sed[0] >= 2.0 && over_sed[1] >= 2.0, "throughput >= 2x sed",
           g_strdup_printf ("%.2fx, %.2fx through a pipe", over_sed[0], over_sed[1]),
           g_strdup ("the harness marks lines slower than twice sed"));
  double pinned = pinned_ratio (f, h, child, p);
  if (pinned > 0)
    g_print ("   through a pipe, with the relay on one CPU and both cats on the other, for\n"
             "   both: pipe-harness %.2fx bench/prefixer\n", pinned);
  char *why;
  if (over_least[0] >= 0.9 && over_least[1] < 0.9 && pinned >= 0.9)
    why = g_strdup_printf (
      "the scheduler's: with each process on the same CPU for both, the harness "
      "runs at %.2fx the prefixer through a pipe. Unpinned, three busy processes "
      "share two CPUs, and in a run this short where the scheduler puts them "
      "first decides it (it often puts all three on one CPU while the other idles)",
      pinned);
  else
    why = g_strdup ("not a physical limit: the harness's own cost per batch (a poll and "
                    "its main loop around each read, which the prefixer's blocking "
                    "reads do without)");
  verdict (over_least[0] >= 0.9 && over_least[1] >= 0.9, "throughput >= 0.9x bench/prefixer",
           g_strdup_printf ("%.2fx, %.2fx through a pipe", over_least[0], over_least[1]), why);
}

/* ------------------------------------------------------------------ */
/* 2. Round trip */

/* Reads from fd until a line equal to want arrives. */
static void
read_until (int fd, GString *pending, const char *want)
{
  char buf[65536];
  for (;;)
    {
      char *found = strstr (pending->str, want);
      if (found != NULL)
        {
          g_string_erase (pending, 0, found - pending->str + strlen (want));
          return;
        }
      ssize_t n = read (fd, buf, sizeof buf);
      if (n <= 0)
        g_error ("round trip: the echo stopped (%s)", n < 0 ? g_strerror (errno) : "end-of-file");
      g_string_append_len (pending, buf, n);
    }
}

/* Sends ROUND_TRIPS lines into in_fd, waits for each on out_fd marked with
 * prefix; returns the times in microseconds. */
static GArray *
round_trips (int in_fd, int out_fd, const char *prefix, GPid pid, double *cpu_us,
             double *wakeups)
{
  Sample before = { 0 };
  GArray *us = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GString) pending = g_string_new (NULL);
  for (int i = -100; i < ROUND_TRIPS; i++) /* 100 to warm up */
    {
      char line[64], want[96];
      g_snprintf (line, sizeof line, "ping %06d\n", i + 100);
      g_snprintf (want, sizeof want, "%sping %06d\n", prefix, i + 100);
      if (i == 0)
        before = sample (pid);
      double start = now_s ();
      if (write (in_fd, line, strlen (line)) < 0)
        g_error ("round trip: write: %s", g_strerror (errno));
      read_until (out_fd, pending, want);
      double t = (now_s () - start) * 1e6;
      if (i >= 0)
        g_array_append_val (us, t);
    }
  Sample after = sample (pid);
  *cpu_us = (after.cpu_ns - before.cpu_ns) / 1e3 / ROUND_TRIPS;
  *wakeups = (double) (after.switches - before.switches) / ROUND_TRIPS;
  return us;
}

static int
open_fifo_when_there (const char *path)
{
  for (int tries = 0; tries < 1000; tries++)
    {
      int fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0)
        {
          fcntl (fd, F_SETFL, 0);
          return fd;
        }
      g_usleep (5000);
    }
  g_error ("%s never opened", path);
}

static GArray *
harness_round_trips (double *cpu_us, double *wakeups)
{
  g_autofree char *dir = g_dir_make_tmp ("pipe-bench-XXXXXX", NULL);
  g_autofree char *h = quote (harness);
  g_autofree char *d = quote (dir);
  g_autofree char *command = g_strdup_printf ("exec %s -q --fifo-dir %s cat 'sleep 1000'", h, d);
  int out;
  GPid pid = start_shell (command, &out);
  g_autofree char *fifo = g_build_filename (dir, "A", NULL);
  int in = open_fifo_when_there (fifo);
  GArray *us = round_trips (in, out, "A: ", pid, cpu_us, wakeups);
  close (in);
  kill (pid, SIGTERM);
  reap (pid);
  close (out);
  g_rmdir (dir);
  return us;
}

static GArray *
cat_round_trips (double *cpu_us, double *wakeups)
{
  const char *argv[] = { "cat", NULL };
  int in, out;
  GPid pid;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, NULL, NULL,
                                 &pid, &in, &out, NULL, &error))
    g_error ("cat: %s", error->message);
  GArray *us = round_trips (in, out, "", pid, cpu_us, wakeups);
  close (in);
  reap (pid);
  close (out);
  return us;
}

/* concurrently passes our stdin to its first child with --handle-input. */
static GArray *
concurrently_round_trips (double *cpu_us, double *wakeups)
{
  const char *argv[] = { concurrently, "--handle-input", "-k", "-n", "A,B", "cat", "sleep 1000", NULL };
  int in, out;
  GPid pid;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                 NULL, &pid, &in, &out, NULL, &error))
    g_error ("concurrently: %s", error->message);
  GArray *us = round_trips (in, out, "[A] ", pid, cpu_us, wakeups);
  close (in);
  kill (pid, SIGTERM);
  reap (pid);
  close (out);
  return us;
}

static void
round_trip (void)
{
  g_autoptr (GArray) harness_median = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) harness_p99 = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) cat_median = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) cat_p99 = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) conc_median = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) conc_p99 = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) harness_cpu = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) cat_cpu = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) conc_cpu = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) harness_wakeups = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) cat_wakeups = g_array_new (FALSE, FALSE, sizeof (double));

  for (int run = 0; run < runs; run++)
    {
      double v, cpu, wakeups;
      g_autoptr (GArray) h = harness_round_trips (&cpu, &wakeups);
      g_array_append_val (harness_cpu, cpu);
      g_array_append_val (harness_wakeups, wakeups);
      g_autoptr (GArray) c = cat_round_trips (&cpu, &wakeups);
      g_array_append_val (cat_cpu, cpu);
      g_array_append_val (cat_wakeups, wakeups);
      v = median (h), g_array_append_val (harness_median, v);
      v = percentile (h, 0.99), g_array_append_val (harness_p99, v);
      v = median (c), g_array_append_val (cat_median, v);
      v = percentile (c, 0.99), g_array_append_val (cat_p99, v);
      if (concurrently != NULL)
        {
          g_autoptr (GArray) k = concurrently_round_trips (&cpu, &wakeups);
          g_array_append_val (conc_cpu, cpu);
          v = median (k), g_array_append_val (conc_median, v);
          v = percentile (k, 0.99), g_array_append_val (conc_p99, v);
        }
    }
  double over_cat = median_ratio (harness_median, cat_median);
  g_print ("\n2. Round trip: a line into child A's input, echoed by cat, seen on stdout "
           "(%d lines a run)\n\n", ROUND_TRIPS);
  g_print ("   %-16s %9s %9s %11s %12s\n", "", "median", "p99", "CPU/trip", "wake-ups/trip");
  g_print ("   %-16s %7.0f us %7.0f us %8.1f us %8.1f        (stdin pipe -> cat -> stdout pipe: the floor)\n",
           "cat alone", median (cat_median), median (cat_p99), median (cat_cpu),
           median (cat_wakeups));
  g_print ("   %-16s %7.0f us %7.0f us %8.1f us %8.1f        (FIFO -> harness -> cat -> harness -> stdout)\n",
           "pipe-harness", median (harness_median), median (harness_p99), median (harness_cpu),
           median (harness_wakeups));
  if (concurrently != NULL)
    g_print ("   %-16s %7.0f us %7.0f us %8.1f us   (stdin -> concurrently -> cat -> concurrently -> stdout)\n",
             "concurrently", median (conc_median), median (conc_p99), median (conc_cpu));
  g_print ("   (CPU/trip and wake-ups/trip: of that one process, pipe-harness's or cat's)\n"
           "   pipe-harness: %.1fx the round trip of cat alone\n", over_cat);

  verdict (over_cat <= 2.0, "round trip within 2x of cat alone",
           g_strdup_printf ("%.1fx (%.0f us, cat %.0f us)", over_cat, median (harness_median),
                            median (cat_median)),
           g_strdup_printf ("a relay both ways puts four pipe hops on a trip where cat alone "
                            "has two, so one that sleeps between lines is at 2x at the least; "
                            "and it wakes %.1f times a trip where cat wakes %.1f. Its %.1f us "
                            "of CPU a trip (cat: %.1f us) is mostly those wake-ups: the "
                            "profile puts it in the kernel's context switch "
                            "(bench/README.md)", median (harness_wakeups),
                            median (cat_wakeups), median (harness_cpu), median (cat_cpu)));
}

/* ------------------------------------------------------------------ */
/* 3. Idle cost */

static void
idle_cost (void)
{
  g_autoptr (GArray) harness_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) harness_wakeups = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) conc_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) conc_wakeups = g_array_new (FALSE, FALSE, sizeof (double));
  int idle_runs = MAX (1, runs / 2);

  for (int run = 0; run < idle_runs; run++)
    {
      /* Both idle side by side, over the same five seconds. */
      g_autofree char *h = quote (harness);
      g_autofree char *command = g_strdup_printf ("exec %s -q 'sleep 1000' 'sleep 1000'", h);
      int out, conc_out = -1;
      GPid pid = start_shell (command, &out), conc = 0;
      if (concurrently != NULL)
        {
          g_autofree char *c = quote (concurrently);
          g_autofree char *conc_command = g_strdup_printf ("exec %s -k 'sleep 1000' 'sleep 1000'", c);
          conc = start_shell (conc_command, &conc_out);
        }
      g_usleep (1500 * 1000); /* settle */
      Sample before = sample (pid), conc_before = conc ? sample (conc) : (Sample) { 0 };
      g_usleep (IDLE_SECONDS * G_USEC_PER_SEC);
      Sample after = sample (pid), conc_after = conc ? sample (conc) : (Sample) { 0 };
      double v;
      v = (after.cpu_ns - before.cpu_ns) / 1e6, g_array_append_val (harness_ms, v);
      v = (double) (after.switches - before.switches), g_array_append_val (harness_wakeups, v);
      kill (pid, SIGTERM);
      reap (pid);
      close (out);
      if (conc)
        {
          v = (conc_after.cpu_ns - conc_before.cpu_ns) / 1e6, g_array_append_val (conc_ms, v);
          v = (double) (conc_after.switches - conc_before.switches), g_array_append_val (conc_wakeups, v);
          kill (conc, SIGTERM);
          reap (conc);
          close (conc_out);
        }
    }
  g_print ("\n3. Idle cost: CPU time and wake-ups in %d s with two idle children (%d runs)\n\n",
           IDLE_SECONDS, idle_runs);
  g_print ("   %-16s %8.3f ms CPU %6.0f wake-ups\n", "pipe-harness", median (harness_ms),
           median (harness_wakeups));
  if (concurrently != NULL)
    g_print ("   %-16s %8.3f ms CPU %6.0f wake-ups\n", "concurrently", median (conc_ms),
             median (conc_wakeups));

  double wakeups = median (harness_wakeups), cpu_ms = median (harness_ms);
  verdict (wakeups == 0 && cpu_ms < 5, "idle: no wake-ups, < 5 ms CPU in 5 s",
           g_strdup_printf ("%.0f wake-ups, %.3f ms", wakeups, cpu_ms),
           g_strdup ("the harness wakes up with nothing to do"));
}

/* ------------------------------------------------------------------ */
/* 4. Memory */

/* Runs command with its stdout read slowly (64 KiB every 2 ms, about 32 MiB/s)
 * to the end; returns its peak RSS in KiB. */
static double
peak_rss_slow_reader (const char *command)
{
  int out;
  GPid pid = start_shell (command, &out);
  char buf[65536];
  ssize_t n;
  while ((n = read (out, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    g_usleep (2000);
  close (out);
  return (double) reap (pid);
}

static void
memory (void)
{
  g_autofree char *h = quote (harness);
  g_autofree char *head = g_strdup_printf ("head -c %ld %s", SLOW_FLOOD_BYTES, data_file);
  g_autofree char *child = quote (head);
  g_autofree char *ours = g_strdup_printf ("exec %s -q %s 'sleep 1000'", h, child);
  g_autofree char *relay = g_strdup_printf ("%s | cat", head);
  g_autofree char *sed = g_strdup_printf ("%s | sed 's/^/A: /'", head);
  g_autofree char *theirs = NULL;
  g_autoptr (GArray) ours_kib = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) relay_kib = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) sed_kib = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) theirs_kib = g_array_new (FALSE, FALSE, sizeof (double));
  int memory_runs = MAX (1, runs / 2);

  if (concurrently != NULL)
    {
      g_autofree char *c = quote (concurrently);
      theirs = g_strdup_printf ("exec %s -k -n A,B %s 'sleep 1000'", c, child);
    }
  for (int run = 0; run < memory_runs; run++)
    {
      double v;
      v = peak_rss_slow_reader (ours) / 1024, g_array_append_val (ours_kib, v);
      v = peak_rss_slow_reader (relay) / 1024, g_array_append_val (relay_kib, v);
      v = peak_rss_slow_reader (sed) / 1024, g_array_append_val (sed_kib, v);
      if (theirs != NULL)
        v = peak_rss_slow_reader (theirs) / 1024, g_array_append_val (theirs_kib, v);
    }
  g_print ("\n4. Memory: peak RSS while one child floods %ld MiB into a reader taking "
           "about 32 MiB/s (%d runs)\n\n", SLOW_FLOOD_BYTES >> 20, memory_runs);
  g_print ("   %-16s %6.1f MiB\n", "pipe-harness", median (ours_kib));
  g_print ("   %-16s %6.1f MiB   (the largest process of the pipeline)\n", "cat | cat", median (relay_kib));
  g_print ("   %-16s %6.1f MiB\n", "sed 's/^/A: /'", median (sed_kib));
  if (theirs != NULL)
    g_print ("   %-16s %6.1f MiB\n", "concurrently", median (theirs_kib));

  double peak = median (ours_kib);
  verdict (peak <= 8, "peak RSS <= 8 MiB under a slow reader",
           g_strdup_printf ("%.1f MiB", peak), g_strdup ("the harness keeps too much"));
}

/* ------------------------------------------------------------------ */
/* 5. Fairness */

/* Reads FAIR_BYTES of the output of two flooding children; returns A's
 * share of the lines.  *came says how much came: less if the output
 * stopped sooner, and then the share is of that. */
static double
share_of_a (const char *command, const char *mark_a, const char *mark_b, long *came)
{
  int out;
  GPid pid = start_shell (command, &out);
  char buf[65536];
  long a = 0, b = 0, total = 0;
  gboolean line_start = TRUE;
  gsize la = strlen (mark_a), lb = strlen (mark_b);
  g_autoptr (GString) head = g_string_new (NULL);

  while (total < FAIR_BYTES)
    {
      ssize_t n = read (out, buf, sizeof buf);
      if (n <= 0)
        break;
      total += n;
      for (char *p = buf, *end = buf + n; p < end;)
        {
          if (line_start)
            {
              /* A mark may be split across reads: gather its bytes. */
              gsize want = MAX (la, lb);
              while (head->len < want && p < end && *p != '\n')
                g_string_append_c (head, *p++);
              if (head->len < want && p == end)
                break;
              a += strncmp (head->str, mark_a, la) == 0;
              b += strncmp (head->str, mark_b, lb) == 0;
              g_string_truncate (head, 0);
              line_start = FALSE;
            }
          char *nl = memchr (p, '\n', end - p);
          if (nl == NULL)
            break;
          p = nl + 1;
          line_start = TRUE;
        }
    }
  kill (pid, SIGTERM);
  close (out);
  reap (pid);
  *came = total;
  return a + b > 0 ? (double) a / (a + b) : 0;
}

static void
print_shares (const char *name, GArray *shares, int stopped, long least)
{
  g_array_sort (shares, compare_doubles);
  g_print ("   %-16s median %4.1f %%, runs from %4.1f %% to %4.1f %%\n", name,
           100 * median (shares), 100 * g_array_index (shares, double, 0),
           100 * g_array_index (shares, double, shares->len - 1));
  if (stopped > 0)
    g_print ("   %-16s (its output stopped early in %d of %d runs, after %.0f MiB at least)\n",
             "", stopped, shares->len, least / MiB);
}

static void
fairness (void)
{
  g_autofree char *h = quote (harness);
  const char *a_line = "'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'";
  const char *b_line = "'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'";
  g_autofree char *yes_a = g_strdup_printf ("yes %s", a_line);
  g_autofree char *yes_b = g_strdup_printf ("yes %s", b_line);
  g_autofree char *qa = quote (yes_a), *qb = quote (yes_b);
  g_autofree char *ours = g_strdup_printf ("exec %s -q %s %s", h, qa, qb);
  g_autofree char *theirs = NULL;
  g_autoptr (GArray) shares = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) their_shares = g_array_new (FALSE, FALSE, sizeof (double));

  if (concurrently != NULL)
    {
      g_autofree char *c = quote (concurrently);
      theirs = g_strdup_printf ("exec %s -k -n A,B %s %s 2>/dev/null", c, qa, qb);
    }
  int stopped = 0, their_stopped = 0;
  long least = FAIR_BYTES, their_least = FAIR_BYTES, came;
  for (int run = 0; run < runs; run++)
    {
      double v = share_of_a (ours, "A: ", "B: ", &came);
      g_array_append_val (shares, v);
      stopped += came < FAIR_BYTES;
      least = MIN (least, came);
      if (theirs != NULL)
        {
          v = share_of_a (theirs, "[A] ", "[B] ", &came);
          g_array_append_val (their_shares, v);
          their_stopped += came < FAIR_BYTES;
          their_least = MIN (their_least, came);
        }
    }
  g_print ("\n5. Fairness: two children flood at once; A's share of the first %ld MiB "
           "of output\n\n", FAIR_BYTES >> 20);
  print_shares ("pipe-harness", shares, stopped, least);
  double lowest = g_array_index (shares, double, 0);
  double highest = g_array_index (shares, double, shares->len - 1);
  verdict (lowest >= 0.35 && highest <= 0.65, "fairness: each of two floods 35-65 %",
           g_strdup_printf ("A: %.1f-%.1f %% over %u runs", 100 * lowest, 100 * highest,
                            shares->len),
           g_strdup ("one child's lines crowd out the other's"));
  if (theirs != NULL)
    print_shares ("concurrently", their_shares, their_stopped, their_least);
}

/* ------------------------------------------------------------------ */
/* 6. Scale */

/* Runs command, reading its stdout to the end; returns the time from the
 * first byte to the end, and in *switches how many times the command's
 * processes (all of them, reaped by it) stopped running: went to sleep, or
 * were made to give up their CPU. */
static double
time_flowing (const char *command, double *switches)
{
  static char buf[1 << 20];
  double first = 0;
  int out, status;
  struct rusage usage;
  GPid pid = start_shell (command, &out);
  ssize_t n;
  while ((n = read (out, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0 && first == 0)
      first = now_s ();
  double end = now_s ();
  close (out);
  while (wait4 (pid, &status, 0, &usage) < 0 && errno == EINTR)
    ;
  *switches = (double) usage.ru_nvcsw + (double) usage.ru_nivcsw;
  return end - first;
}

static char *
slice_file (int count)
{
  long slice = DATA_BYTES / count / LINE_LEN * LINE_LEN;
  g_autofree char *name = g_strdup_printf ("lines-slice-%d.txt", count);
  char *path = g_build_filename (cache, name, NULL);
  GStatBuf st;
  if (g_stat (path, &st) != 0 || st.st_size != slice)
    {
      g_autofree char *make = g_strdup_printf ("head -c %ld %s > %s", slice, data_file, path);
      time_shell (make);
    }
  return path;
}

/* The flooding child of count, flooding its share of the data from a
 * moment when all will have been started (about 1 ms each): *start, in
 * the seconds of now_s(). */
static char *
flood_child (int count, double *start)
{
  g_autofree char *file = slice_file (count);
  gint64 start_us = g_get_monotonic_time () + G_USEC_PER_SEC / 2 + count * 2500;
  *start = start_us / 1e6;
  return g_strdup_printf ("%s %" G_GINT64_FORMAT " %s", flood, start_us * 1000, file);
}

/* relay (the harness and its options, or bench/fanin) with count flooding
 * children. */
static char *
relay_command (const char *relay, int count, double *start)
{
  g_autofree char *child = flood_child (count, start);
  g_autofree char *quoted = quote (child);
  GString *command = g_string_new (NULL);
  g_string_append_printf (command, "exec %s", relay);
  for (int c = 0; c < count; c++)
    g_string_append_printf (command, " %s", quoted);
  return g_string_free (command, FALSE);
}

/* The harness with count flooding children. */
static char *
scale_command (int count, double *start)
{
  g_autofree char *h = quote (harness);
  g_autofree char *relay = g_strdup_printf ("%s -q --wait-all", h);
  return relay_command (relay, count, start);
}

/* The same children under bench/fanin: a relay with a pipe per child that
 * does nothing but copy them, pipes sized as the harness's. */
static char *
fanin_command (int count)
{
  double start;
  g_autofree char *relay = quote (fanin);
  return relay_command (relay, count, &start);
}

/* The same children started by the shell, all writing into the one pipe
 * we read: no relay, no marks, what the machine does with count writers. */
static char *
plain_scale_command (int count)
{
  double start;
  g_autofree char *child = flood_child (count, &start);
  return g_strdup_printf ("for i in $(seq %d); do %s & done; wait", count, child);
}

/* A bar of ratio (1.0 is BAR_WIDTH characters), with the target marked. */
#define BAR_WIDTH 40
static void
print_bar (double ratio, double target)
{
  int bar = (int) (ratio * BAR_WIDTH + 0.5), mark = (int) (target * BAR_WIDTH + 0.5);
  for (int i = 0; i < MAX (bar, mark + 1); i++)
    g_print ("%c", i == mark ? '|' : i < bar ? '#' : ' ');
}

#define SCALE_COUNTS 5

/* Why count children fall short of 0.8x of two, from the no-relay control:
 * ratio is the harness's, plain the shell's floods into one pipe; stops,
 * how often the processes stopped running a MiB (harness, no relay, and
 * harness with two children). */
static char *
scale_why (int count, double ratio, double bare, double plain, double stops,
           double plain_stops, double two_stops)
{
  g_autofree char *machine = NULL;
  if (bare < 0.8)
    {
      /* The limit of any relay with a pipe of its own for each child. */
      machine = g_strdup_printf (
        "a bare relay that only copies %d pipes, sized as the harness's, to its "
        "stdout (bench/fanin: epoll, no lines) reaches %.2fx of two on this "
        "machine: a pipe per child, in the 16 MiB the harness shares out, does "
        "not reach 0.8x here (with no relay at all, the floods writing into one "
        "pipe reach %.2fx)", count, bare, plain);
      plain = bare;
    }
  else if (plain < 0.8)
    machine = g_strdup_printf (
      "with no relay at all, %d writers reach %.2fx of two on this machine, so "
      "no relay can reach 0.8x here", count, plain);
  if (machine != NULL && ratio >= plain * 0.95)
    return g_strdup_printf ("%s; the harness does as well (%.2fx)", machine, ratio);
  g_autofree char *own = g_strdup_printf (
    "its CPU per MiB grows with the number of pipes, which share its 16 MiB "
    "budget (64 KiB each, against 1 MiB for two): more and smaller reads, each "
    "waking the writer that waits on that pipe, and a poll of every pipe for "
    "each round of reads; the harness and the floods stop running %.0f times a "
    "MiB, against %.0f with two children and %.0f with no relay (the profile: "
    "bench/README.md)", stops, two_stops, plain_stops);
  if (machine != NULL)
    return g_strdup_printf ("%s. The harness reaches %.0f %% of that (%.2fx); the rest is "
                            "its own: %s", machine, 100 * ratio / plain, ratio, own);
  return g_strdup_printf ("the harness's, and not a physical limit: a bare relay with a "
                          "pipe per child (bench/fanin) reaches %.2fx of two, and %d "
                          "writers with no relay %.2fx; %s", bare, count, plain, own);
}

static void
scale (void)
{
  static const int counts[SCALE_COUNTS] = { 2, 16, 64, 256, 1024 };
  GArray *flowing[SCALE_COUNTS], *plain[SCALE_COUNTS], *dropped[SCALE_COUNTS];
  GArray *bare[SCALE_COUNTS], *switches[SCALE_COUNTS], *plain_switches[SCALE_COUNTS];

  for (guint i = 0; i < SCALE_COUNTS; i++)
    {
      flowing[i] = g_array_new (FALSE, FALSE, sizeof (double));
      bare[i] = g_array_new (FALSE, FALSE, sizeof (double));
      plain[i] = g_array_new (FALSE, FALSE, sizeof (double));
      dropped[i] = g_array_new (FALSE, FALSE, sizeof (double));
      switches[i] = g_array_new (FALSE, FALSE, sizeof (double));
      plain_switches[i] = g_array_new (FALSE, FALSE, sizeof (double));
    }
  for (int run = 0; run < runs; run++)
    for (guint i = 0; i < SCALE_COUNTS; i++)
      {
        double start, f, w;
        g_autofree char *command = scale_command (counts[i], &start);
        f = time_flowing (command, &w);
        g_array_append_val (flowing[i], f);
        w /= DATA_BYTES / MiB;
        g_array_append_val (switches[i], w);
        g_autofree char *bare_relay = fanin_command (counts[i]);
        f = time_flowing (bare_relay, &w);
        g_array_append_val (bare[i], f);
        g_autofree char *shell = plain_scale_command (counts[i]);
        f = time_flowing (shell, &w);
        g_array_append_val (plain[i], f);
        w /= DATA_BYTES / MiB;
        g_array_append_val (plain_switches[i], w);
        /* Into /dev/null: from the moment the floods start to the end. */
        g_autofree char *unread = scale_command (counts[i], &start);
        g_autofree char *to_null = g_strdup_printf ("%s > /dev/null", unread);
        time_shell (to_null);
        f = now_s () - start;
        g_array_append_val (dropped[i], f);
      }
  g_print ("\n6. Scale: N children flood 256/N MiB each, all from the same moment, read by\n"
           "   this program; for comparison, the harness's output into /dev/null (timed from\n"
           "   the moment the floods start), the floods under bench/fanin, a bare relay with\n"
           "   a pipe per child sized as the harness's, N floods started by the shell writing\n"
           "   straight into the one pipe we read (no relay); and how many times a MiB their\n"
           "   processes (harness and floods, or shell and floods) stopped running\n\n"
           "                  pipe-harness     into /dev/null     bare relay         no relay       stops a MiB\n"
           "                                                                                       harness  no relay\n");
  double ratio[SCALE_COUNTS], null_ratio[SCALE_COUNTS], plain_ratio[SCALE_COUNTS];
  double bare_ratio[SCALE_COUNTS];
  for (guint i = 0; i < SCALE_COUNTS; i++)
    {
      ratio[i] = median_ratio (flowing[0], flowing[i]);
      bare_ratio[i] = median_ratio (bare[0], bare[i]);
      null_ratio[i] = median_ratio (dropped[0], dropped[i]);
      plain_ratio[i] = median_ratio (plain[0], plain[i]);
    }
  for (guint i = 0; i < SCALE_COUNTS; i++)
    g_print ("   %4d children  %5.0f MiB/s %5.2fx  %5.0f MiB/s %5.2fx  %5.0f MiB/s %5.2fx  "
             "%5.0f MiB/s %5.2fx  %6.1f %7.1f\n",
             counts[i], DATA_BYTES / MiB / median (flowing[i]), ratio[i],
             DATA_BYTES / MiB / median (dropped[i]), null_ratio[i],
             DATA_BYTES / MiB / median (bare[i]), bare_ratio[i],
             DATA_BYTES / MiB / median (plain[i]), plain_ratio[i], median (switches[i]),
             median (plain_switches[i]));
  g_print ("   (each ratio is to the 2-child figure of its column)\n");
  g_print ("\n   throughput / the 2-child figure (each # is 0.025x; | is the 0.8x target)\n");
  for (guint i = 0; i < SCALE_COUNTS; i++)
    {
      g_print ("   %4d  ", counts[i]);
      print_bar (ratio[i], 0.8);
      g_print ("  %.2fx\n", ratio[i]);
      g_array_unref (flowing[i]);
      g_array_unref (bare[i]);
      g_array_unref (plain[i]);
      g_array_unref (dropped[i]);
    }
  for (guint i = 3; i < SCALE_COUNTS; i++)
    {
      g_autofree char *target = g_strdup_printf ("%d children >= 0.8x the 2-child throughput",
                                                 counts[i]);
      verdict (ratio[i] >= 0.8, target, g_strdup_printf ("%.2fx", ratio[i]),
               scale_why (counts[i], ratio[i], bare_ratio[i], plain_ratio[i], median (switches[i]),
                          median (plain_switches[i]), median (switches[0])));
    }
  for (guint i = 0; i < SCALE_COUNTS; i++)
    {
      g_array_unref (switches[i]);
      g_array_unref (plain_switches[i]);
    }
}

/* ------------------------------------------------------------------ */
/* 7. Starting and ending children */

/* The folder pipe-harness makes its FIFOs in when nothing says where (as
 * it chooses it), and the name of its file system. */
static const char *
default_fifo_base (void)
{
  const char *base = g_getenv ("XDG_RUNTIME_DIR");
  if (base == NULL || *base == '\0' || !g_file_test (base, G_FILE_TEST_IS_DIR))
    base = g_getenv ("TMPDIR");
  return base != NULL && *base != '\0' ? base : "/tmp";
}

static const char *
file_system_of (const char *path)
{
  struct statfs st;
  if (statfs (path, &st) != 0)
    return "?";
  switch ((unsigned long) st.f_type)
    {
    case TMPFS_MAGIC: return "tmpfs";
    case EXT4_SUPER_MAGIC: return "ext4";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    default: return "another file system";
    }
}

#define START_COUNTS 3

static void
starting (void)
{
  static const int counts[START_COUNTS] = { 2, 64, 1024 };
  GArray *ours[START_COUNTS], *in_memory[START_COUNTS], *loop[START_COUNTS];
  GArray *exec_loop[START_COUNTS];
  g_autofree char *h = quote (harness);
  const char *base = default_fifo_base (), *fs = file_system_of (base);
  /* When the FIFOs would be on a disk, the harness once more with them on
   * a tmpfs, where XDG_RUNTIME_DIR usually is. */
  g_autofree char *tmpfs_dir = NULL;
  if (strcmp (fs, "tmpfs") != 0 && strcmp (file_system_of ("/dev/shm"), "tmpfs") == 0)
    tmpfs_dir = g_build_filename ("/dev/shm", "pipe-bench-XXXXXX", NULL),
    tmpfs_dir = g_mkdtemp (tmpfs_dir) ? tmpfs_dir : (g_free (tmpfs_dir), NULL);

  for (guint i = 0; i < START_COUNTS; i++)
    {
      ours[i] = g_array_new (FALSE, FALSE, sizeof (double));
      in_memory[i] = g_array_new (FALSE, FALSE, sizeof (double));
      loop[i] = g_array_new (FALSE, FALSE, sizeof (double));
      exec_loop[i] = g_array_new (FALSE, FALSE, sizeof (double));
    }
  for (int run = 0; run < runs; run++)
    for (guint i = 0; i < START_COUNTS; i++)
      {
        GString *command = g_string_new (NULL);
        g_string_append_printf (command, "%s -q --wait-all", h);
        for (int c = 0; c < counts[i]; c++)
          g_string_append (command, " true");
        g_autofree char *shell =
          g_strdup_printf ("bash -c 'for i in $(seq %d); do true & done; wait'", counts[i]);
        g_autofree char *execing =
          g_strdup_printf ("bash -c 'for i in $(seq %d); do /bin/true & done; wait'", counts[i]);
        double s = time_shell (command->str);
        g_array_append_val (ours[i], s);
        if (tmpfs_dir != NULL)
          {
            g_autofree char *d = quote (tmpfs_dir);
            g_autofree char *there = g_strdup_printf ("XDG_RUNTIME_DIR=%s %s", d, command->str);
            s = time_shell (there);
            g_array_append_val (in_memory[i], s);
          }
        s = time_shell (shell);
        g_array_append_val (loop[i], s);
        s = time_shell (execing);
        g_array_append_val (exec_loop[i], s);
        g_string_free (command, TRUE);
      }
  if (tmpfs_dir != NULL)
    g_rmdir (tmpfs_dir);
  g_print ("\n7. Starting and ending N children that exit at once (true), against bash:\n"
           "   for i in $(seq N); do true & done; wait       (true is bash's own: no exec)\n"
           "   for i in $(seq N); do /bin/true & done; wait  (each child runs a program)\n"
           "   pipe-harness makes a FIFO for each child, in %s here (%s)%s\n\n"
           "                   pipe-harness   bash, true       bash, /bin/true  %s\n",
           base, fs, tmpfs_dir != NULL ? "; and with\n   its FIFOs on a tmpfs" : "",
           tmpfs_dir != NULL ? "harness, FIFOs on tmpfs" : "");
  double ratio[START_COUNTS], exec_ratio[START_COUNTS], memory_ratio[START_COUNTS];
  double builtin_cost[START_COUNTS];
  for (guint i = 0; i < START_COUNTS; i++)
    {
      ratio[i] = median_ratio (ours[i], loop[i]);
      exec_ratio[i] = median_ratio (ours[i], exec_loop[i]);
      memory_ratio[i] = tmpfs_dir != NULL ? median_ratio (in_memory[i], exec_loop[i]) : 0;
      builtin_cost[i] = median_ratio (exec_loop[i], loop[i]);
    }
  for (guint i = 0; i < START_COUNTS; i++)
    {
      g_print ("   %4d children   %6.0f ms   %6.0f ms %5.2fx   %6.0f ms %5.2fx", counts[i],
               1000 * median (ours[i]), 1000 * median (loop[i]), ratio[i],
               1000 * median (exec_loop[i]), exec_ratio[i]);
      if (tmpfs_dir != NULL)
        g_print ("   %6.0f ms, %.2fx /bin/true", 1000 * median (in_memory[i]), memory_ratio[i]);
      g_print ("\n");
      g_array_unref (ours[i]);
      g_array_unref (in_memory[i]);
      g_array_unref (loop[i]);
      g_array_unref (exec_loop[i]);
    }
  g_print ("   (the ratios are pipe-harness's time over bash's)\n");

  guint last = START_COUNTS - 1;
  g_autofree char *on_tmpfs = tmpfs_dir != NULL
    ? g_strdup_printf (", %.2fx with its FIFOs on a tmpfs. The difference is the "
                       "file system's: on a disk, each FIFO is an inode made and freed "
                       "(see bench/README.md)", memory_ratio[last])
    : g_strdup ("");
  /* What is left against the /bin/true loop once the FIFOs cost nothing. */
  double left = tmpfs_dir != NULL ? memory_ratio[last] : exec_ratio[last];
  const char *rest = left <= 1.05 ? "" : ". The rest is its three pipes and its FIFO for "
                                         "each child, made, watched and removed";
  verdict (ratio[last] <= 1.0, "start and end 1024 children <= 1.0x bash",
           g_strdup_printf ("%.2fx true, %.2fx /bin/true", ratio[last], exec_ratio[last]),
           g_strdup_printf ("bash's true never runs a program, and running /bin/true instead "
                            "costs bash itself %.1fx as much here (its dynamic linking, "
                            "which this virtual machine makes slow: see bench/README.md). "
                            "Against that loop, where each child runs a program as the "
                            "harness's do, the harness is at %.2fx%s%s",
                            builtin_cost[last], exec_ratio[last], on_tmpfs, rest));
}

/* ------------------------------------------------------------------ */
/* 8. A script's expect */

#define EXPECT_LINES 1000000
#define EXPECT_REPEATS 3

static void
expect_cost (void)
{
  g_autofree char *lines = g_build_filename (cache, "lines-1M.txt", NULL);
  g_autofree char *script = g_build_filename (cache, "expect-last.pht", NULL);
  GStatBuf st;
  if (g_stat (lines, &st) != 0)
    {
      g_autoptr (GString) text = g_string_new (NULL);
      for (int i = 0; i < EXPECT_LINES; i++)
        g_string_append_printf (text, "line %d\n", i);
      if (!g_file_set_contents (lines, text->str, text->len, NULL))
        g_error ("%s could not be written", lines);
    }
  g_autofree char *step = g_strdup_printf ("expect A /^line %d$/\n", EXPECT_LINES - 1);
  if (!g_file_set_contents (script, step, -1, NULL))
    g_error ("%s could not be written", script);

  g_autofree char *h = quote (harness);
  g_autofree char *cat_child = g_strdup_printf ("cat %s", lines);
  g_autofree char *child = quote (cat_child);
  g_autofree char *s = quote (script);
  g_autofree char *relay = g_strdup_printf ("%s -q %s > /dev/null", h, child);
  g_autofree char *expecting =
    g_strdup_printf ("%s -q --script %s --exit-after-script %s > /dev/null", h, s, child);
  g_autoptr (GArray) relay_s = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) expect_s = g_array_new (FALSE, FALSE, sizeof (double));
  for (int run = 0; run < runs * EXPECT_REPEATS; run++)
    {
      double v = time_shell (relay);
      g_array_append_val (relay_s, v);
      v = time_shell (expecting);
      g_array_append_val (expect_s, v);
    }
  double ratio = median_ratio (expect_s, relay_s);
  g_print ("\n8. A script's expect: one child prints 1 M numbered lines, the script waits\n"
           "   for the last (expect A /^line %d$/, --exit-after-script), into /dev/null\n\n",
           EXPECT_LINES - 1);
  g_print ("   relaying the lines, no script   %6.0f ms\n", 1000 * median (relay_s));
  g_print ("   expect finding the last line    %6.0f ms   %5.2fx the relay\n",
           1000 * median (expect_s), ratio);
  verdict (ratio <= 3.0, "expect over 1 M lines <= 3x relaying them",
           g_strdup_printf ("%.2fx", ratio), g_strdup ("a script's lines cost too much"));
}

/* ------------------------------------------------------------------ */

static void
describe_machine (void)
{
  g_autofree char *cpuinfo = NULL, *version = NULL;
  const char *model = "?";
  char *line = NULL;
  if (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL) &&
      (line = strstr (cpuinfo, "model name")) != NULL)
    {
      model = strchr (line, ':') + 2;
      *strchr (line, '\n') = '\0';
    }
  g_file_get_contents ("/proc/sys/kernel/osrelease", &version, NULL, NULL);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *when = g_date_time_format (now, "%Y-%m-%d %H:%M UTC");
  g_print ("pipe-harness benchmark, %s\n"
           "machine: %s, %d cores, %.0f GiB, Linux %s"
           "figures: median of %d runs, contenders taking turns in each run\n",
           when, model, (int) sysconf (_SC_NPROCESSORS_ONLN),
           sysconf (_SC_PHYS_PAGES) * (double) sysconf (_SC_PAGESIZE) / (1 << 30),
           version ? version : "?\n", runs);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *only = NULL;
  const GOptionEntry entries[] = {
    { "harness", 0, 0, G_OPTION_ARG_FILENAME, &harness, "The pipe-harness to measure", "PATH" },
    { "concurrently", 0, 0, G_OPTION_ARG_FILENAME, &concurrently, "concurrently, to compare with", "PATH" },
    { "flood", 0, 0, G_OPTION_ARG_FILENAME, &flood, "The flooding child of figure 6", "PATH" },
    { "prefixer", 0, 0, G_OPTION_ARG_FILENAME, &prefixer, "The least line prefixer, for figure 1", "PATH" },
    { "fanin", 0, 0, G_OPTION_ARG_FILENAME, &fanin, "The bare relay, for figure 6", "PATH" },
    { "cache", 0, 0, G_OPTION_ARG_FILENAME, &cache, "Where the 256 MiB data file is kept", "DIR" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Runs per figure (default 5)", "N" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only, "Only these figures, e.g. 1,7", "LIST" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- measure pipe-harness against its baselines");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || harness == NULL ||
      flood == NULL || prefixer == NULL || fanin == NULL || runs < 1)
    {
      g_printerr ("pipe-bench: %s\n",
                  error ? error->message : "--harness, --flood, --prefixer and --fanin are needed");
      return 2;
    }
  if (cache == NULL)
    cache = g_strdup (g_get_tmp_dir ());
  g_mkdir_with_parents (cache, 0700);
  signal (SIGPIPE, SIG_IGN);
  make_data ();

  void (*figures[]) (void) = { throughput, round_trip, idle_cost, memory,
                                fairness,   scale,      starting,  expect_cost };
  gboolean wanted[G_N_ELEMENTS (figures)];
  g_auto (GStrv) listed = g_strsplit (only != NULL ? only : "", ",", -1);
  for (guint i = 0; i < G_N_ELEMENTS (figures); i++)
    wanted[i] = only == NULL;
  for (char **item = listed; *item != NULL; item++)
    {
      guint64 figure;
      if (!g_ascii_string_to_unsigned (*item, 10, 1, G_N_ELEMENTS (figures), &figure, NULL))
        {
          g_printerr ("pipe-bench: --only: no figure '%s' (1 to %u)\n", *item,
                      (guint) G_N_ELEMENTS (figures));
          return 2;
        }
      wanted[figure - 1] = TRUE;
    }

  /* A thousand children need more descriptors than the usual soft limit,
   * as the harness knows: raise it to the hard limit, as it does. */
  struct rlimit nofile;
  if (getrlimit (RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max)
    {
      nofile.rlim_cur = nofile.rlim_max;
      setrlimit (RLIMIT_NOFILE, &nofile);
    }

  /* Line by line, so that nothing waits in our buffer when a child starts. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  describe_machine ();
  verdicts = g_array_new (FALSE, FALSE, sizeof (Verdict));
  for (guint i = 0; i < G_N_ELEMENTS (figures); i++)
    if (wanted[i])
      figures[i] ();
  print_verdicts ();
  g_array_unref (verdicts);
  g_print ("\n");
  return 0;
}
