package migrate

import (
	"bufio"
	"io"

	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/rewrite"
	"github.com/popgate/popgate/uidl"
)

// spoolMsg is what import needs of one message of a legacy mbox spool.
type spoolMsg struct {
	Seq         int // 1-based position in the spool
	IDs         uidl.LegacyIDs
	Fingerprint string
}

// spool is an mbox file: read through once by mbox.Parse, then at the
// messages' headers.
type spool interface {
	io.Reader
	io.ReaderAt
}

// scanSpool reads an mbox spool the way popa3d and qpopper split it (see
// mbox.LFSeparated) and calls fn for each message in order. read, if not
// nil, is told how many bytes have been read so far while splitting, for
// progress. Memory stays bounded whatever the line lengths.
func scanSpool(r spool, read func(int64), fn func(spoolMsg) error) error {
	if read != nil {
		r = &countingReader{spool: r, report: read}
	}
	// Popa3d is the parser's cheapest scheme: it hashes header lines only.
	res, err := mbox.Parse(r, 0, mbox.Config{Scheme: uidl.Popa3d})
	if err != nil {
		return err
	}
	spans, err := mbox.LFSeparated(r, res.Msgs)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(nil, 64<<10)
	for i, sp := range spans {
		br.Reset(io.NewSectionReader(r, sp.Off, sp.Len))
		m, err := scanMessage(br, i+1)
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// scanMessage reads one message from its From_ line until its headers end.
func scanMessage(br *bufio.Reader, seq int) (spoolMsg, error) {
	h := uidl.NewLegacyHasher()
	fp := rewrite.NewFingerprinter()
	start := true
	for !h.Done() {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			if h.Write(frag, start) {
				fp.Write(frag)
			}
			start = frag[len(frag)-1] == '\n'
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return spoolMsg{}, err
		}
	}
	return spoolMsg{Seq: seq, IDs: h.Sum(), Fingerprint: fp.Sum()}, nil
}

// countingReader reports the bytes read through it.
type countingReader struct {
	spool
	n      int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.spool.Read(p)
	c.n += int64(k)
	c.report(c.n)
	return k, err
}
