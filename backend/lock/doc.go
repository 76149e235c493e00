// Package lock takes the locks that mail delivery agents honour on an mbox
// spool, and the per-maildrop session lock that keeps two POP sessions
// apart.
//
// A spool lock is the combination Debian's delivery agents use on
// /var/mail/USER: a dotlock USER.lock holding our pid (liblockfile's
// format, which procmail, postfix local, exim's appendfile, dovecot-lda and
// mutt all honour), hard-linked into place so it never exists empty, and a
// POSIX fcntl write lock on the whole file (what postfix's default "fcntl,
// dotlock", exim and dovecot-lda add). Agents take the two in either order,
// so the second is only tried, never waited for (AcquireSpool). flock is
// not taken: Debian's MDAs do not rely on it, and on Linux it does not
// conflict with fcntl locks.
//
// A dotlock is stale, as liblockfile decides it, when the pid it names is
// not running, or when it names no pid and is older than five minutes.
package lock
