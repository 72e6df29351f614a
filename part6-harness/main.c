/* main: pipe-harness's command line: the options, their checks, and the
 * exit status.
 *
 *   pipe-harness [OPTION…] COMMAND [COMMAND…]
 *
 * Starts each COMMAND as a child, prints every line it writes marked with
 * its name, feeds it scripted input and then whatever is written to its own
 * FIFO.  See part6-harness/README.md, or the man page, for a walk through.
 */
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "children.h"
#include "harness.h"
#include "procfile.h"
#include "report.h"
#include "script-run.h"
#include "script.h"
#include "test-runner.h"


/* A, B, …, Z, AA, AB, … */
static char *
default_name (guint index)
{
  GString *name = g_string_new (NULL);
  for (guint n = index + 1; n > 0; n = (n - 1) / 26)
    g_string_prepend_c (name, 'A' + (n - 1) % 26);
  return g_string_free (name, FALSE);
}

static gboolean
check_names (HarnessOptions *opt, const char *names, GError **error)
{
  guint n = g_strv_length (opt->commands);

  if (names == NULL)
    {
      opt->names = g_new0 (char *, n + 1);
      for (guint i = 0; i < n; i++)
        opt->names[i] = default_name (i);
      return TRUE;
    }
  opt->names = g_strsplit (names, ",", -1);
  if (g_strv_length (opt->names) != n)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--names gives %u name%s for %u command%s",
                   g_strv_length (opt->names),
                   g_strv_length (opt->names) == 1 ? "" : "s", n, n == 1 ? "" : "s");
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      if (!script_valid_child_name (opt->names[i]))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--names: '%s' is not a name (at most "
                       G_STRINGIFY (HARNESS_NAME_MAX) " letters, digits, _ and -)",
                       opt->names[i]);
          return FALSE;
        }
      for (guint j = 0; j < i; j++)
        if (strcmp (opt->names[i], opt->names[j]) == 0)
          {
            g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         "--names: '%s' is given twice", opt->names[i]);
            return FALSE;
          }
    }
  return TRUE;
}

static gboolean
check_fifo_options (const HarnessOptions *opt, GError **error)
{
  for (guint i = 0; opt->fifos != NULL && opt->fifos[i] != NULL; i++)
    {
      const char *eq = strchr (opt->fifos[i], '=');
      g_autofree char *name = eq ? g_strndup (opt->fifos[i], eq - opt->fifos[i]) : NULL;
      if (eq == NULL || eq[1] == '\0')
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--fifo %s: expected NAME=PATH", opt->fifos[i]);
          return FALSE;
        }
      if (!g_strv_contains ((const char *const *) opt->names, name))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--fifo %s: there is no child named '%s'", opt->fifos[i],
                       name);
          return FALSE;
        }
    }
  return TRUE;
}

/* A duration option: text (NULL: not given, so default_us) like 250ms, 2s
 * or 5 (seconds). */
static gboolean
check_duration (const char *option, const char *text, gint64 default_us,
                gint64 *us, GError **error)
{
  g_autoptr (GError) local = NULL;

  *us = default_us;
  if (text == NULL)
    return TRUE;
  if (*text == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: no time given (write it like 250ms, 2s or 5)", option);
      return FALSE;
    }
  if (!script_parse_duration (text, us, &local))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: %s", option, local->message);
      return FALSE;
    }
  return TRUE;
}

/* --match-max: bytes, with an optional K or M (KiB, MiB). */
static gboolean
check_match_max (HarnessOptions *opt, const char *text, GError **error)
{
  guint64 value;
  char *end;

  opt->match_max = SCRIPT_DEFAULT_MATCH_MAX;
  if (text == NULL)
    return TRUE;
  value = g_ascii_strtoull (text, &end, 10);
  if (end != text && (*end == 'K' || *end == 'k') && end[1] == '\0')
    value *= 1024;
  else if (end != text && *end == 'M' && end[1] == '\0')
    value *= 1024 * 1024;
  else if (end == text || *end != '\0')
    value = 0;
  if (value == 0 || value > G_MAXUINT32)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--match-max: '%s' is not a size from 1 byte to 4G "
                   "(write it like 65536, 64K or 1M)", text);
      return FALSE;
    }
  opt->match_max = value;
  return TRUE;
}

/* --hold A,B --hold C: one list of names. */
static void
split_hold (HarnessOptions *opt)
{
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  for (guint i = 0; opt->hold != NULL && opt->hold[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (opt->hold[i], ",", -1);
      g_strv_builder_addv (names, (const char **) parts);
    }
  g_strfreev (opt->hold);
  opt->hold = g_strv_builder_end (names);
}

static gboolean
on_pty_option (const char *option, const char *value, gpointer data, GError **error)
{
  HarnessOptions *opt = data;
  (void) option;
  (void) error;
  g_clear_pointer (&opt->pty, g_strfreev);
  opt->pty_all = value == NULL || *value == '\0';
  if (!opt->pty_all)
    opt->pty = g_strsplit (value, ",", -1);
  return TRUE;
}

/* GOption would take the word after a bare --pty as its value, swallowing
 * the first COMMAND; as with getopt, a value must be attached: --pty=A,B. */
static void
attach_pty_values (int argc, char **argv)
{
  for (int i = 1; i < argc && strcmp (argv[i], "--") != 0; i++)
    if (strcmp (argv[i], "--pty") == 0)
      argv[i] = (char *) "--pty=";
}

static gboolean
check_child_names (const HarnessOptions *opt, const char *option,
                   char **names, GError **error)
{
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    if (!g_strv_contains ((const char *const *) opt->names, names[i]))
      {
        g_autofree char *known = g_strjoinv (", ", opt->names);
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     "%s: there is no child named '%s' (the children are %s)",
                     option, names[i], known);
        return FALSE;
      }
  return TRUE;
}

/* auto: colour when stdout is a terminal and NO_COLOR is not set. */
static gboolean
check_color (HarnessOptions *opt, const char *when, GError **error)
{
  const char *no_color = g_getenv ("NO_COLOR");
  if (when == NULL || strcmp (when, "auto") == 0)
    opt->color = isatty (STDOUT_FILENO) && (no_color == NULL || *no_color == '\0');
  else if (strcmp (when, "always") == 0 || strcmp (when, "never") == 0)
    opt->color = strcmp (when, "always") == 0;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--color: '%s' is not auto, always or never", when);
      return FALSE;
    }
  return TRUE;
}

/* With --procfile, the children come from it and run through /bin/sh. */
static gboolean
take_procfile (HarnessOptions *opt, const char *procfile, const char *names,
               GError **error)
{
  if (opt->commands != NULL || names != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--procfile names the children and their commands: give "
                   "no COMMAND and no --names with it");
      return FALSE;
    }
  opt->shell = TRUE;
  return procfile_load (procfile, &opt->names, &opt->commands, error);
}

/* The environment file: env_file if given, else with a Procfile the .env
 * beside it, if there is one (unless no_env). */
static gboolean
take_env_file (HarnessOptions *opt, const char *env_file, gboolean no_env,
               const char *procfile, GError **error)
{
  g_autofree char *beside = NULL;

  if (env_file != NULL && no_env)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--env and --no-env go against each other");
      return FALSE;
    }
  if (env_file == NULL && !no_env && procfile != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (procfile);
      beside = g_build_filename (dir, ".env", NULL);
      if (g_file_test (beside, G_FILE_TEST_EXISTS))
        env_file = beside;
    }
  return env_file == NULL || dotenv_load (env_file, &opt->env, error);
}

/* With a Procfile, each child gets PORT as foreman gives it: from
 * --port-base, else PORT (the .env's, then ours), else 5000; then 100 more
 * for each child after the first. */
static gboolean
take_port_base (HarnessOptions *opt, const char *port_base, const char *procfile,
                GError **error)
{
  const char *text = port_base;
  guint64 base;

  if (procfile == NULL)
    {
      if (port_base != NULL)
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     "--port-base goes with --procfile");
      return port_base == NULL;
    }
  if (text == NULL)
    text = g_environ_getenv (opt->env, "PORT");
  if (text == NULL)
    text = g_getenv ("PORT");
  if (text == NULL)
    text = "5000";
  if (!g_ascii_string_to_unsigned (text, 10, 1, 65535, &base, NULL) ||
      base + 100 * (g_strv_length (opt->commands) - 1) > 65535)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: '%s' is not a port for %u children (1 to 65535, 100 apart)",
                   port_base != NULL ? "--port-base" : "PORT", text,
                   g_strv_length (opt->commands));
      return FALSE;
    }
  opt->port_base = (int) base;
  return TRUE;
}

static void
clear_options (HarnessOptions *opt)
{
  g_strfreev (opt->commands);
  g_strfreev (opt->names);
  g_strfreev (opt->fifos);
  g_strfreev (opt->pty);
  g_strfreev (opt->ready);
  g_strfreev (opt->env);
  g_strfreev (opt->hold);
  g_free (opt->fifo_dir);
  g_free (opt->script);
  g_free (opt->log);
  g_free (opt->stdin_target);
}

/* With stdin, stdout or stderr closed, the next file opened would take its
 * place, and a child's pipe could end up as our fd 0, 1 or 2. */
static void
open_standard_fds (void)
{
  for (int fd = 0; fd < 3; fd++)
    if (fcntl (fd, F_GETFD) < 0)
      open ("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
}

int
main (int argc, char **argv)
{
  HarnessOptions opt = { 0 };
  g_autofree char *names = NULL;
  g_autofree char *kill_timeout = NULL;
  g_autofree char *timeout = NULL;
  g_autofree char *ready_timeout = NULL;
  g_autofree char *match_max = NULL;
  g_autofree char *color = NULL;
  g_autofree char *procfile = NULL;
  g_autofree char *env_file = NULL;
  g_autofree char *port_base = NULL;
  gboolean no_env = FALSE;
  gboolean quiet = FALSE, version = FALSE;
  g_autoptr (GError) error = NULL;
  int status;

  /* GOption keeps a callback in its gpointer field; ISO C has no cast
   * between the two, so a union carries it across. */
  const union { GOptionArgFunc func; gpointer data; } pty_callback = { on_pty_option };
  const GOptionEntry entries[] = {
    { "names", 'n', 0, G_OPTION_ARG_STRING, &names,
      "Names of the children, comma-separated (default: A,B,C,…)", "NAME,…" },
    { "procfile", 'f', 0, G_OPTION_ARG_FILENAME, &procfile,
      "Take the children from FILE, one 'name: command' a line", "FILE" },
    { "env", 'e', 0, G_OPTION_ARG_FILENAME, &env_file,
      "Add the VAR=VALUE lines of FILE to every child's environment "
      "(default with --procfile: the .env beside it)", "FILE" },
    { "no-env", 0, 0, G_OPTION_ARG_NONE, &no_env,
      "Do not read the .env beside the Procfile", NULL },
    { "port-base", 0, 0, G_OPTION_ARG_STRING, &port_base,
      "With --procfile, PORT for the first child (default: $PORT, else 5000), "
      "100 more for each next", "N" },
    { "shell", 0, 0, G_OPTION_ARG_NONE, &opt.shell,
      "Run each COMMAND with /bin/sh -c", NULL },
    { "pty", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, pty_callback.data,
      "Run all children (or those named) on a pseudo-terminal", "NAME,…" },
    { "fifo-dir", 'd', 0, G_OPTION_ARG_FILENAME, &opt.fifo_dir,
      "Make the input FIFOs in DIR (default: a private folder)", "DIR" },
    { "fifo", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt.fifos,
      "Input FIFO of child NAME at PATH (repeatable)", "NAME=PATH" },
    { "stdin-target", 't', 0, G_OPTION_ARG_STRING, &opt.stdin_target,
      "Send stdin lines not marked 'NAME: ' to child NAME", "NAME" },
    { "script", 's', 0, G_OPTION_ARG_FILENAME, &opt.script,
      "Run the steps in FILE before taking input from the FIFOs", "FILE" },
    { "exit-after-script", 0, 0, G_OPTION_ARG_NONE, &opt.exit_after_script,
      "Stop the children and exit once the script is done", NULL },
    { "ready", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &opt.ready,
      "Start the children in order: the one after NAME once NAME printed a line "
      "matching REGEX (repeatable)", "NAME=/REGEX/" },
    { "ready-timeout", 0, 0, G_OPTION_ARG_STRING, &ready_timeout,
      "How long a --ready line is waited for (default: 10s)", "T" },
    { "hold", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.hold,
      "Do not start these children: the script's start step does", "NAME,…" },
    { "match-max", 0, 0, G_OPTION_ARG_STRING, &match_max,
      "Bytes of a child's lines an expect searches (default: 1M)", "SIZE" },
    { "wait-all", 0, 0, G_OPTION_ARG_NONE, &opt.wait_all,
      "Run until every child has exited (default: until the first does)", NULL },
    { "kill-timeout", 0, 0, G_OPTION_ARG_STRING, &kill_timeout,
      "Time between SIGTERM and SIGKILL when stopping (default: 2s)", "T" },
    { "timeout", 0, 0, G_OPTION_ARG_STRING, &timeout,
      "Fail the run (status 3) if it has not ended after T (default: no limit)", "T" },
    { "merge-stderr", 0, 0, G_OPTION_ARG_NONE, &opt.merge_stderr,
      "Mark stderr lines like stdout lines (NAME: instead of NAME!)", NULL },
    { "timestamps", 'T', 0, G_OPTION_ARG_NONE, &opt.timestamps,
      "Put the time before each line", NULL },
    { "color", 0, 0, G_OPTION_ARG_STRING, &color,
      "Colour the names: auto (on a terminal, unless NO_COLOR is set), always, never",
      "WHEN" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &opt.json,
      "Print one JSON object per line (time, name, stream, line)", NULL },
    { "log", 'l', 0, G_OPTION_ARG_FILENAME, &opt.log,
      "Append a transcript of everything, input included, to FILE", "FILE" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
      "Report only errors on stderr, not lifecycle events", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.commands, NULL,
      "COMMAND [COMMAND…]" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  GOptionGroup *group = g_option_group_new ("pipe-harness", "", "", &opt, NULL);

  open_standard_fds ();
  child_process_init ();
  setlocale (LC_ALL, "");
  g_set_prgname ("pipe-harness");
  if (argc > 1 && strcmp (argv[1], "test") == 0)
    {
      g_option_group_unref (group);
      return test_runner_main (argc - 1, argv + 1);
    }
  g_option_context_set_summary (context,
    "Start each COMMAND as a child process and print every line it writes\n"
    "marked with its name (\"NAME: line\", \"NAME! line\" from stderr).  A\n"
    "script (--script) talks to the children and checks their answers; it can\n"
    "start, signal, restart and wait for them, and a child that crashes fails\n"
    "it.  Then whatever is written to a child's input FIFO, or typed on stdin\n"
    "as \"NAME: text\", goes to that child.");
  g_option_context_set_description (context,
    "Script steps, one a line: send, write, expect /RE/ [T] [unless /RE/],\n"
    "refute, fail-on, sleep, close, start, signal, restart,\n"
    "wait [exit N | signal SIG | any], set, repeat N ... end.\n"
    "\n"
    "Exit status: 0 all well; the first child's status when it ends the run\n"
    "(128+N if killed by signal N); with --wait-all, 0 if every child exited 0,\n"
    "else the status of the first that did not; 1 stdout could not be written;\n"
    "2 bad usage, a script that does not parse, or a refused path;\n"
    "3 the test failed: a script step failed, a child was killed or exited\n"
    "non-zero while the script ran (unless the script asked for it) or, with\n"
    "--exit-after-script, before the harness stopped it, a --ready line did\n"
    "not come, or the run outlived --timeout; 127 a command could not be\n"
    "started, or open files or processes ran out; 128+N after signal N;\n"
    "141 when stdout's reader went away.\n"
    "\n"
    "pipe-harness test [OPTION…] FILE|DIR… runs a suite of .pht test files\n"
    "(see pipe-harness test --help).\n"
    "\n"
    "See pipe-harness(1) for the script language and examples.");
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);

  attach_pty_values (argc, argv);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      report_error ("%s (see --help)", error->message);
      clear_options (&opt);
      return EXIT_USAGE;
    }
  if (version)
    {
      g_print ("pipe-harness %s\n", PIPE_HARNESS_VERSION);
      clear_options (&opt);
      return 0;
    }
  split_hold (&opt);
  if (procfile != NULL && !take_procfile (&opt, procfile, names, &error))
    ;
  else if (!take_env_file (&opt, env_file, no_env, procfile, &error) ||
           (opt.commands != NULL && !take_port_base (&opt, port_base, procfile, &error)))
    ;
  else if (opt.commands == NULL)
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "no COMMAND given (see --help)");
  else if (opt.exit_after_script && opt.script == NULL)
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--exit-after-script needs --script");
  if (error != NULL || (opt.names == NULL && !check_names (&opt, names, &error)) ||
      !check_fifo_options (&opt, &error) ||
      !check_child_names (&opt, "--pty", opt.pty, &error) ||
      !check_child_names (&opt, "--stdin-target",
                          (char *[]) { opt.stdin_target, NULL }, &error) ||
      !check_color (&opt, color, &error) ||
      !check_child_names (&opt, "--hold", opt.hold, &error) ||
      !check_duration ("--kill-timeout", kill_timeout, 2 * G_USEC_PER_SEC,
                       &opt.kill_timeout_us, &error) ||
      !check_duration ("--timeout", timeout, 0, &opt.timeout_us, &error) ||
      !check_duration ("--ready-timeout", ready_timeout, 10 * G_USEC_PER_SEC,
                       &opt.ready_timeout_us, &error) ||
      !check_match_max (&opt, match_max, &error))
    {
      report_error ("%s", error->message);
      clear_options (&opt);
      return EXIT_USAGE;
    }

  /* With --json, events are records of the JSON stream, not lines on
   * stderr as well; errors still show there. */
  report_set_quiet (quiet || opt.json);
  status = harness_run (&opt);
  clear_options (&opt);
  return status;
}
