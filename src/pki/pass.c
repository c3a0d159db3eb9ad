/* Passphrases: the one reader every command uses. A passphrase comes from a
 * file (its first line), from standard input (`-`), or is typed at the
 * terminal without echo (twice when it is being created). Messages name the
 * command's own option, which the caller puts in the pki_pass. */
#define _GNU_SOURCE
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Standard input holds one passphrase: a second `-` would read nothing. */
static const char *stdin_taken_by;

/* The option for messages ("pass-file" for a caller that named none). */
static const char *
opt(const pki_pass *p)
{
	return p->option != NULL ? p->option : "pass-file";
}

int
pki_pass_from_stdin(const pki_pass *p)
{
	return p != NULL && p->file != NULL && strcmp(p->file, "-") == 0;
}

/* Asked on the terminal: with no file when asking is allowed, or with `-`
 * when standard input is the terminal (a typed line should not echo). */
static int
wants_prompt(const pki_pass *p)
{
	if (!isatty(STDIN_FILENO))
		return 0;
	return pki_pass_from_stdin(p) || (p->file == NULL && p->ask);
}

static const char *
env_file(const pki_pass *p)
{
	const char *f = p->env != NULL ? getenv(p->env) : NULL;

	return f != NULL && *f != '\0' ? f : NULL;
}

int
pki_pass_available(const pki_pass *p)
{
	if (p == NULL)
		return 0;
	return p->value != NULL || p->file != NULL || p->command != NULL || env_file(p) != NULL ||
	    wants_prompt(p);
}

void
pki_pass_fix(const pki_pass *p, char *buf, size_t len)
{
	if (p == NULL || p->option == NULL) {
		snprintf(buf, len, "none was given");
		return;
	}
	if (p->no_stdin)
		snprintf(buf, len, "give --%s FILE (the passphrase on its first line)%s%s%s%s%s",
		    p->option, p->command_option ? " or --" : "",
		    p->command_option ? p->command_option : "",
		    p->command_option ? " CMD (the first line it prints)" : "",
		    p->env ? ", or set $" : "", p->env ? p->env : "");
	else
		snprintf(buf, len, "give --%s FILE (the passphrase on its first line; --%s - reads "
		    "it from standard input, and asks for it when that is a terminal)%s%s%s%s%s",
		    p->option, p->option, p->command_option ? ", or --" : "",
		    p->command_option ? p->command_option : "",
		    p->command_option ? " CMD (the first line it prints)" : "",
		    p->env ? ", or set $" : "", p->env ? p->env : "");
}

/* The command's option for messages. */
static const char *
cmd_opt(const pki_pass *p)
{
	return p->command_option != NULL ? p->command_option : "pass-command";
}

void
pki_pass_source(const pki_pass *p, char *buf, size_t len)
{
	const char *file = p != NULL ? (p->file != NULL ? p->file : env_file(p)) : NULL;

	if (p == NULL || p->option == NULL)
		snprintf(buf, len, "the one given");
	else if (p->typed)
		snprintf(buf, len, "the one typed at the prompt");
	else if (pki_pass_from_stdin(p))
		snprintf(buf, len, "the one read from standard input, --%s -", p->option);
	else if (p->file == NULL && p->command != NULL)
		snprintf(buf, len, "the first line printed by --%s", cmd_opt(p));
	else if (file != NULL)
		snprintf(buf, len, "the first line of %s, %s%s", file,
		    p->file != NULL ? "--" : "$", p->file != NULL ? p->option : p->env);
	else
		snprintf(buf, len, "--%s", p->option);
}

/* One line, at most PKI_PASS_MAX bytes, read a byte at a time so nothing
 * after the line is consumed. */
static int
read_line(int fd, char *buf, size_t size, const char *from, tg_err *err)
{
	size_t n = 0;

	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return tg_err_set(err, TG_ERR_IO, "cannot read the passphrase from %s: %s", from,
			    strerror(errno));
		if (r == 0 && n == 0)
			return tg_err_set(err, TG_ERR_CONFIG, "no passphrase on %s (it ended at once)",
			    from);
		if (r == 0 || ch == '\n')
			break;
		if (n + 1 >= size) {
			OPENSSL_cleanse(buf, size);
			return tg_err_set(err, TG_ERR_CONFIG,
			    "the passphrase on %s is longer than %d bytes", from, PKI_PASS_MAX);
		}
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

/* The terminal, while echo is off: restored however the prompt ends. */
static int tty_fd = -1;
static struct termios tty_saved;
static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
static struct sigaction tty_old[sizeof(tty_signals) / sizeof(tty_signals[0])];

static void
tty_restore_and_raise(int sig)
{
	if (tty_fd >= 0)
		(void)tcsetattr(tty_fd, TCSANOW, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
tty_echo_off(int fd)
{
	struct termios t;
	struct sigaction sa;

	if (tcgetattr(fd, &tty_saved) != 0)
		return -1;
	tty_fd = fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_restore_and_raise;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(tty_signals) / sizeof(tty_signals[0]); i++)
		sigaction(tty_signals[i], &sa, &tty_old[i]);
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	t.c_lflag |= ICANON;
	return tcsetattr(fd, TCSAFLUSH, &t);
}

static void
tty_echo_restore(int fd)
{
	(void)tcsetattr(fd, TCSANOW, &tty_saved);
	tty_fd = -1;
	for (size_t i = 0; i < sizeof(tty_signals) / sizeof(tty_signals[0]); i++)
		sigaction(tty_signals[i], &tty_old[i], NULL);
	/* The user's Enter was not echoed. */
	(void)!write(fd, "\n", 1);
}

static int
ask(int fd, const char *prompt, char *buf, size_t size, tg_err *err)
{
	int rc;

	/* Echo goes off (and stale type-ahead is dropped) before the prompt
	 * shows, so nothing typed in answer is ever echoed. */
	if (tty_echo_off(fd) != 0)
		return tg_err_set(err, TG_ERR_IO, "cannot turn off echo on the terminal: %s",
		    strerror(errno));
	(void)!write(fd, prompt, strlen(prompt));
	rc = read_line(fd, buf, size, "the terminal", err);
	tty_echo_restore(fd);
	return rc;
}

static int
prompt(pki_pass *p, const char *what, int create, char *buf, size_t size, tg_err *err)
{
	char again[PKI_PASS_MAX + 2], text[PATH_MAX + 64];
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC), rc = -1;

	if (fd < 0) {
		char fix[512];
		int saved = errno;
		pki_pass_fix(p, fix, sizeof(fix));
		return tg_err_set(err, TG_ERR_IO, "cannot ask for the passphrase of %s: cannot open "
		    "the terminal (%s); %s", what, strerror(saved), fix);
	}
	snprintf(text, sizeof(text), "%s for %s: ", create ? "New passphrase" : "Passphrase",
	    what);
	if (ask(fd, text, buf, size, err) != 0)
		goto out;
	if (create && buf[0] == '\0') {
		tg_err_set(err, TG_ERR_USAGE, "an empty passphrase protects nothing; run the "
		    "command again and type one");
		goto out;
	}
	if (create) {
		if (ask(fd, "Type it again: ", again, sizeof(again), err) != 0)
			goto out;
		if (strcmp(buf, again) != 0) {
			tg_err_set(err, TG_ERR_USAGE, "the two passphrases differ; nothing was written, "
			    "run the command again");
			goto out;
		}
	}
	p->typed = 1;
	rc = 0;
out:
	OPENSSL_cleanse(again, sizeof(again));
	if (rc != 0)
		OPENSSL_cleanse(buf, size);
	close(fd);
	return rc;
}

/* The first line cmd prints. The rest is read and dropped, so a command
 * that prints more never blocks on a full pipe; neither the command nor its
 * output goes into a message (either may hold the passphrase). */
static int
run_command(const pki_pass *p, char *buf, size_t size, tg_err *err)
{
	FILE *f;
	size_t n = 0;
	int c, status, over = 0;

	fflush(NULL);
	if ((f = popen(p->command, "r")) == NULL)
		return tg_err_set(err, TG_ERR_IO, "--%s: cannot run the command: %s", cmd_opt(p),
		    strerror(errno));
	while ((c = getc(f)) != EOF && c != '\n') {
		if (n + 1 < size)
			buf[n++] = (char)c;
		else
			over = 1;
	}
	while (c != EOF)
		c = getc(f);
	status = pclose(f);
	/* A daemon's SIGCHLD handler may have reaped the child first. */
	if (status == -1 && errno == ECHILD)
		status = 0;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (status != 0 || n == 0 || over) {
		char why[96];
		OPENSSL_cleanse(buf, size);
		if (status == -1)
			snprintf(why, sizeof(why), "could not be waited for (%s)", strerror(errno));
		else if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "was killed by signal %d", WTERMSIG(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
		else if (over)
			snprintf(why, sizeof(why), "printed a first line longer than %d bytes",
			    PKI_PASS_MAX);
		else
			snprintf(why, sizeof(why), "printed nothing on its first line");
		return tg_err_set(err, TG_ERR_CONFIG, "--%s: the command %s; it must print the "
		    "passphrase on its first line and exit 0", cmd_opt(p), why);
	}
	return 0;
}

int
pki_pass_get(pki_pass *p, const char *what, int create, tg_err *err)
{
	char buf[PKI_PASS_MAX + 2];
	const char *file;

	if (p->value != NULL)
		return 0;
	file = p->file != NULL ? p->file : env_file(p);
	if (p->no_stdin && pki_pass_from_stdin(p)) {
		char fix[512];
		pki_pass_fix(p, fix, sizeof(fix));
		return tg_err_set(err, TG_ERR_USAGE, "--%s -: standard input cannot give the "
		    "passphrase here (it is read again at every reload); %s", opt(p), fix);
	}
	if (wants_prompt(p) && !p->no_stdin) {
		if (prompt(p, what, create, buf, sizeof(buf), err) != 0)
			return -1;
	} else if (pki_pass_from_stdin(p)) {
		if (stdin_taken_by != NULL)
			return tg_err_set(err, TG_ERR_USAGE, "--%s -: standard input already gave "
			    "the passphrase of --%s; give one of them as a FILE", opt(p),
			    stdin_taken_by);
		stdin_taken_by = opt(p);
		if (read_line(STDIN_FILENO, buf, sizeof(buf), "standard input", err) != 0)
			return tg_err_prefix(err, "--%s -", opt(p));
	} else if (file != NULL) {
		if (util_read_pass_file(file, &p->value, err) != 0)
			return tg_err_prefix(err, "%s%s", p->file ? "--" : "$",
			    p->file ? opt(p) : p->env);
		return 0;
	} else if (p->command != NULL) {
		if (run_command(p, buf, sizeof(buf), err) != 0)
			return -1;
	} else {
		char fix[512];
		pki_pass_fix(p, fix, sizeof(fix));
		return tg_err_set(err, TG_ERR_USAGE, "%s needs a passphrase; %s", what, fix);
	}
	if (create && buf[0] == '\0') {
		OPENSSL_cleanse(buf, sizeof(buf));
		return tg_err_set(err, TG_ERR_USAGE, "--%s -: the passphrase is empty",
		    opt(p));
	}
	p->value = strdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (p->value == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	return 0;
}

void
pki_pass_clear(pki_pass *p)
{
	if (p == NULL)
		return;
	util_free_secret(p->value);
	p->value = NULL;
	p->typed = 0;
}
