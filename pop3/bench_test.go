package pop3

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// message is a 64 KiB body of 72-column lines, some starting with a dot.
var message = func() []byte {
	var b bytes.Buffer
	for b.Len() < 64<<10 {
		b.WriteString(strings.Repeat("x", 70))
		b.WriteString("\r\n.dot line\r\n")
	}
	return b.Bytes()
}()

func BenchmarkDotWriter(b *testing.B) {
	bw := bufio.NewWriterSize(io.Discard, writeBufferSize)
	b.SetBytes(int64(len(message)))
	b.ReportAllocs()
	for b.Loop() {
		dw := NewDotWriter(bw)
		dw.Write(message)
		dw.Close()
	}
}

func BenchmarkDotReader(b *testing.B) {
	var wire bytes.Buffer
	bw := bufio.NewWriter(&wire)
	dw := NewDotWriter(bw)
	dw.Write(message)
	dw.Close()
	bw.Flush()
	src := bytes.NewReader(wire.Bytes())
	br := bufio.NewReaderSize(src, readBufferSize)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(message)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(wire.Bytes())
		br.Reset(src)
		d := DotReader{r: br, bol: true}
		for {
			if _, err := d.Read(buf); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
