package pop3

// Release hands the Reader's buffer back if everything read ahead has been
// consumed; slices returned by ReadLine are invalid afterwards. A server
// calls it once it has parsed a command, so that a session busy with
// something else (waiting on its backend) holds no buffer. The next read
// borrows one again.
func (r *Reader) Release() { r.releaseIfDrained() }
