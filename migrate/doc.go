// Package migrate seeds and checks popgate's UIDL maps from outside a
// session: Import reads a legacy mbox spool and records each message's
// legacy UIDL (computed the way qpopper or popa3d did) with its header
// fingerprint; Show lists a user's map; Verify compares it with what the
// legacy server reports now. The "popgate uidl" command line over them is
// in internal/app.
package migrate
