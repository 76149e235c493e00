package rewrite

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const baseHeaders = "Return-Path: <alice@example.org>\n" +
	"Received: from mx.example.org (mx.example.org [192.0.2.1])\n" +
	"\tby mail.example.net; Mon, 5 Jan 2004 10:00:00 +0000\n" +
	"Date: Mon, 5 Jan 2004 09:59:58 +0000\n" +
	"From: Alice <alice@example.org>\n" +
	"Subject: First test message\n" +
	"Message-ID: <20040105095958.AAA001@example.org>\n" +
	"\n" +
	"Hello, this is message one.\n"

// TestFingerprintIgnoresServerChanges pins the changes legacy and new
// servers make that must not change a fingerprint.
func TestFingerprintIgnoresServerChanges(t *testing.T) {
	want := FingerprintBytes([]byte(baseHeaders))
	same := map[string]string{
		"CRLF":               strings.ReplaceAll(baseHeaders, "\n", "\r\n"),
		"qpopper X-UIDL":     "X-UIDL: P84\"!np+\"!0kf!!h3C\"!\n" + baseHeaders,
		"Status added":       strings.Replace(baseHeaders, "\n\n", "\nStatus: RO\nX-Status: A\n\n", 1),
		"Dovecot headers":    "X-IMAPbase: 1795909247 0000000005\n" + strings.Replace(baseHeaders, "\n\n", "\nX-UID: 1\nX-Keywords:\nContent-Length: 28\n\n", 1),
		"Return-Path gone":   strings.TrimPrefix(baseHeaders, "Return-Path: <alice@example.org>\n"),
		"refolded":           strings.Replace(baseHeaders, "\n\tby mail", " by mail", 1),
		"folded differently": strings.Replace(baseHeaders, "Subject: First test", "Subject: First\n  test", 1),
		"whitespace runs":    strings.Replace(baseHeaders, "From: Alice <", "From:   Alice\t<", 1),
		"header name case":   strings.Replace(baseHeaders, "Message-ID:", "message-id:", 1),
		"other body":         strings.Replace(baseHeaders, "Hello", "Goodbye", 1),
		"TOP n 0":            baseHeaders[:strings.Index(baseHeaders, "\n\n")+2],
		"From_ line":         "From alice@example.org Mon Jan  5 10:00:00 2004\n" + baseHeaders,
		"headers only, EOF":  baseHeaders[:strings.Index(baseHeaders, "\n\n")+1],
		"CR-only blank":      strings.Replace(baseHeaders, "\n\n", "\n\r\r\n", 1),
	}
	for name, msg := range same {
		if got := FingerprintBytes([]byte(msg)); got != want {
			t.Errorf("%s: fingerprint %s, want %s (same message)", name, got, want)
		}
	}
	differ := map[string]string{
		"other subject":  strings.Replace(baseHeaders, "First test", "Second test", 1),
		"other Received": strings.Replace(baseHeaders, "192.0.2.1", "192.0.2.2", 1),
		"header reorder": strings.Replace(baseHeaders, "From: Alice <alice@example.org>\nSubject: First test message\n", "Subject: First test message\nFrom: Alice <alice@example.org>\n", 1),
		"extra header":   strings.Replace(baseHeaders, "\n\n", "\nX-Spam: yes\n\n", 1),
		"value moved":    strings.Replace(baseHeaders, "Subject: First", "Subject-First:", 1),
	}
	for name, msg := range differ {
		if got := FingerprintBytes([]byte(msg)); got == want {
			t.Errorf("%s: fingerprint equals the original's", name)
		}
	}
}

func TestFingerprintStreamsInPieces(t *testing.T) {
	msg := []byte(strings.ReplaceAll(baseHeaders, "\n", "\r\n"))
	want := FingerprintBytes(msg)
	got, err := Fingerprint(iotest.OneByteReader(bytes.NewReader(msg)))
	if err != nil || got != want {
		t.Fatalf("Fingerprint(one byte at a time) = %s, %v; want %s", got, err, want)
	}
	// Reading stops at the end of the headers.
	r := bytes.NewReader(append(msg, bytes.Repeat([]byte("x"), 1<<20)...))
	if _, err := Fingerprint(iotest.HalfReader(r)); err != nil {
		t.Fatal(err)
	}
	if r.Len() < 1<<19 {
		t.Errorf("Fingerprint read %d bytes of the body", 1<<20-r.Len())
	}
	if _, err := Fingerprint(iotest.ErrReader(io.ErrClosedPipe)); err != io.ErrClosedPipe {
		t.Errorf("Fingerprint(failing reader) error = %v", err)
	}
}

func TestFingerprintEightBitAndNUL(t *testing.T) {
	a := FingerprintBytes([]byte("Subject: caf\xe9 \x00x\n\n"))
	b := FingerprintBytes([]byte("Subject: caf?? ?x\n\n"))
	if a != b {
		t.Errorf("8-bit and NUL bytes not folded to '?': %s != %s", a, b)
	}
	if a == FingerprintBytes([]byte("Subject: cafe x\n\n")) {
		t.Error("8-bit bytes ignored entirely")
	}
}

func FuzzFingerprintSplit(f *testing.F) {
	f.Add([]byte(baseHeaders), 10)
	f.Add([]byte("a: b\r\n\r\nbody"), 3)
	f.Fuzz(func(t *testing.T, msg []byte, cut int) {
		if cut < 0 || cut > len(msg) {
			return
		}
		fp := NewFingerprinter()
		fp.Write(msg[:cut])
		fp.Write(msg[cut:])
		if got, want := fp.Sum(), FingerprintBytes(msg); got != want {
			t.Fatalf("split at %d: %s, want %s", cut, got, want)
		}
	})
}
