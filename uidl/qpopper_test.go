package uidl

import (
	"crypto/md5"
	"encoding/binary"
	"testing"
)

func TestBase80OfEmptyDigest(t *testing.T) {
	d := md5.Sum(nil)
	if got := qpopperHex(d[:]); got != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("hex = %s", got)
	}
	if got := qpopperBase80(d[:]); got != `j2Z"!5n,"!i7k"!O,"#!` {
		t.Errorf("base80 = %s", got)
	}
}

// TestRandomQpopperVector reproduces the default qpopper 4.x example
// (time_locked=1073000000, LP64 little-endian): the hasher's order and the
// encoder are right even though such UIDLs cannot be imported.
func TestRandomQpopperVector(t *testing.T) {
	q := newQpopper([]byte("From alice@example.org Mon Jan  5 10:00:00 2004\n"))
	q.h.Write(binary.LittleEndian.AppendUint64(nil, 1073000000+1))
	for _, line := range []string{
		"Received: from mx.example.org (mx.example.org [192.0.2.1])\n",
		"Date: Mon, 5 Jan 2004 09:59:58 +0000\n",
		"Subject: First test message\n",
		"Message-ID: <20040105095958.AAA001@example.org>\n",
	} {
		if !qpopperHashes([]byte(line)) {
			t.Fatalf("%q not hashed", line)
		}
		q.write([]byte(line))
	}
	if _, modern := q.sums(); qpopperBase80(modern) != `]l9!!7Dm!!i8l"!U^Z"!` {
		t.Errorf("base80 = %s", qpopperBase80(modern))
	}
}
