package rewrite

import (
	"errors"
	"io"

	"github.com/popgate/popgate/pop3"
)

// headerTee passes a message body through while fingerprinting its headers,
// then reports the fingerprint once. The fingerprint is reported only when
// the headers were read completely.
type headerTee struct {
	rc     io.ReadCloser
	f      *Fingerprinter
	report func(fp string)
}

// newHeaderTee wraps rc. A reader that knows its length (the proxy
// announces "+OK n octets" from it) keeps that method.
func newHeaderTee(rc io.ReadCloser, report func(string)) io.ReadCloser {
	return pop3.KeepSize(&headerTee{rc: rc, f: NewFingerprinter(), report: report}, rc)
}

func (t *headerTee) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if t.report != nil {
		t.f.Write(p[:n])
		if t.f.Done() || errors.Is(err, io.EOF) {
			t.report(t.f.Sum())
			t.report = nil
		}
	}
	return n, err
}

func (t *headerTee) Close() error { return t.rc.Close() }
