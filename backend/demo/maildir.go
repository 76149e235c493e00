package demo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// deliver writes msg into the Maildir md the way a delivery agent does: into
// tmp/, then renamed into new/, under a standard unique name
// "<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<crlf size>", where S is the
// file's size and W its size with CRLF line ends (Dovecot's extension),
// which is what POP3 reports.
func deliver(md string, msg []byte, date time.Time, n int, host string) error {
	vsize := len(msg) + bytes.Count(msg, []byte("\n"))
	name := fmt.Sprintf("%d.M%dP%dQ%d.%s,S=%d,W=%d",
		date.Unix(), date.Nanosecond()/1000, os.Getpid(), n, host, len(msg), vsize)
	tmp := filepath.Join(md, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(msg)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmp, date, date)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, filepath.Join(md, "new", name))
}
