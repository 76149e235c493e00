// Package routes maps POP3 users to backend names from a routes file, the
// tool for moving users from a legacy server to a new backend in waves.
//
// A routes file has one "user backend" pair per line. '#' starts a comment;
// blank lines are ignored. The user may be a path.Match pattern such as
// *@example.org or a*. User names match case-insensitively. An exact name
// always wins over patterns; among patterns, the first matching line wins.
// Users that match nothing go to the default backend, which is the caller's
// business (Route reports ok=false).
//
// A Router holds the current Table behind an atomic pointer, so lookups
// never wait for a reload, and a failed reload keeps the previous table.
package routes
