// Package session holds the hooks a POP3 session offers to the packages
// around it: the description of a session (Info), the Mailbox decorators,
// the login gate and its admissions, and the record of what the session
// did (Record), which becomes the session line and feeds the metrics.
//
// It belongs to no transport: proxy runs sessions and calls the hooks;
// rewrite, throttle, metrics and health implement or read them without
// depending on proxy.
package session
