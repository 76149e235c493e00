package rewrite

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

// droppedHeaders are added, rewritten or removed by POP3 servers and mail
// stores, so they must not count: Dovecot's pop3-migration list (which
// includes what qpopper inserts and what Dovecot writes into an mbox).
var droppedHeaders = map[string]bool{
	"content-length": true, "return-path": true, "status": true,
	"x-imap": true, "x-imapbase": true, "x-keywords": true,
	"x-message-flag": true, "x-status": true, "x-uid": true,
	"x-uidl": true, "x-yahoo-newman-property": true,
}

// maxHeaderName bounds the bytes kept while reading a header's name; longer
// names are not real headers and are dropped.
const maxHeaderName = 128

// Fingerprinter computes a message's fingerprint from its header block,
// written to it in any pieces. Bytes after the blank line ending the headers
// are ignored, so it can be fed a whole RETR. Memory stays bounded.
//
// The headers are normalised so that what servers change does not matter:
// the headers in droppedHeaders, lines without a colon (the From_ line) and
// names holding spaces or 8-bit bytes are skipped; names are lower-cased;
// SP, TAB, CR and line folding are removed; other control and 8-bit bytes
// and "?" become one "?" per run. The order of headers is kept.
type Fingerprinter struct {
	h         hash.Hash
	lineStart bool
	inName    bool // reading a header name, up to the colon
	name      []byte
	keep      bool // the current header counts
	started   bool // a kept header has been written
	lastQ     bool
	blankLine bool // the current line holds only CRs so far
	done      bool
	out       []byte // normalised bytes not hashed yet
}

// NewFingerprinter returns a Fingerprinter for one message.
func NewFingerprinter() *Fingerprinter {
	return &Fingerprinter{h: sha256.New(), lineStart: true, out: make([]byte, 0, outBuf)}
}

// outBuf batches normalised bytes into the hash.
const outBuf = 512

func (f *Fingerprinter) emit(b ...byte) {
	f.out = append(f.out, b...)
	if len(f.out) >= outBuf {
		f.flush()
	}
}

func (f *Fingerprinter) flush() {
	f.h.Write(f.out)
	f.out = f.out[:0]
}

// Done reports whether the end of the header block has been seen.
func (f *Fingerprinter) Done() bool { return f.done }

// Write implements io.Writer; it never fails.
func (f *Fingerprinter) Write(p []byte) (int, error) {
	for _, c := range p {
		if f.done {
			break
		}
		f.byte(c)
	}
	return len(p), nil
}

func (f *Fingerprinter) byte(c byte) {
	if f.lineStart {
		f.lineStart = false
		f.blankLine = true
		switch c {
		case ' ', '\t':
			// A continuation belongs to the current header.
			f.inName = false
			f.blankLine = false
			return
		default:
			f.keep = false
			f.inName = true
			f.name = f.name[:0]
		}
	}
	if c == '\n' {
		if f.blankLine {
			f.done = true
			return
		}
		f.lineStart = true
		f.inName = false // a line without a colon is dropped
		return
	}
	if c != '\r' {
		f.blankLine = false
	}
	if f.inName {
		f.nameByte(c)
		return
	}
	if f.keep {
		f.valueByte(c)
	}
}

func (f *Fingerprinter) nameByte(c byte) {
	switch {
	case c == ':':
		f.inName = false
		name := string(f.name)
		if len(name) == 0 || droppedHeaders[name] {
			return
		}
		f.keep = true
		if f.started {
			f.emit('\n')
		}
		f.started = true
		f.lastQ = false
		f.emit(f.name...)
		f.emit(':')
	case c <= 0x20 || c >= 0x7f || len(f.name) >= maxHeaderName:
		f.inName = false // not a header name: drop the line
	default:
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		f.name = append(f.name, c)
	}
}

func (f *Fingerprinter) valueByte(c byte) {
	switch {
	case c == ' ' || c == '\t' || c == '\r':
		return
	case c < 0x20 || c >= 0x7f || c == '?':
		if !f.lastQ {
			f.emit('?')
		}
		f.lastQ = true
		return
	}
	f.lastQ = false
	f.emit(c)
}

// Sum returns the fingerprint: 32 hex characters (128 bits of SHA-256).
func (f *Fingerprinter) Sum() string {
	f.flush()
	return hex.EncodeToString(f.h.Sum(nil)[:16])
}

// Fingerprint reads a message (or its headers) from r and returns its
// fingerprint. It stops reading at the end of the headers.
func Fingerprint(r io.Reader) (string, error) {
	f := NewFingerprinter()
	buf := make([]byte, 4096)
	for !f.done {
		n, err := r.Read(buf)
		f.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return f.Sum(), nil
}

// FingerprintBytes returns the fingerprint of a message held in memory.
func FingerprintBytes(msg []byte) string {
	f := NewFingerprinter()
	f.Write(msg)
	return f.Sum()
}
