package rewrite

import (
	"errors"
	"io"
)

// headerTee passes a message body through while fingerprinting its headers,
// then reports the fingerprint once. The fingerprint is reported only when
// the headers were read completely.
type headerTee struct {
	rc     io.ReadCloser
	f      *Fingerprinter
	report func(fp string)
}

func newHeaderTee(rc io.ReadCloser, report func(string)) *headerTee {
	return &headerTee{rc: rc, f: NewFingerprinter(), report: report}
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
