package migrate

import (
	"bufio"
	"bytes"
	"io"

	"github.com/popgate/popgate/backend/uidl"
	"github.com/popgate/popgate/rewrite"
)

// spoolMsg is what import needs of one message of a legacy mbox spool.
type spoolMsg struct {
	Seq int // 1-based position in the spool
	// XUIDL is the first stored X-UIDL header's value; XUIDLLen is its
	// length with the line end, as qpopper 4.x bounds it.
	XUIDL    string
	XUIDLLen int
	HasXUIDL bool
	// Popa3d, QpopperHex (2.x, old-style-uid) and QpopperBase80 (3.x/4.x
	// without status updates) are the UIDLs those servers compute.
	Popa3d        string
	QpopperHex    string
	QpopperBase80 string
	Fingerprint   string
}

// scanSpool reads an mbox spool the way popa3d and qpopper split it: a
// message starts at a "From " line at the start of the file or after a
// line that is exactly LF, and its headers end at the first such line.
// Memory stays bounded whatever the line lengths. fn is called for each
// message in order; n counts the bytes read, for progress.
func scanSpool(r io.Reader, n *int64, fn func(spoolMsg) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var cur *spoolScan
	seq := 0
	blank, start := true, true
	for {
		frag, err := br.ReadSlice('\n')
		*n += int64(len(frag))
		if len(frag) > 0 {
			if start && blank && bytes.HasPrefix(frag, []byte("From ")) {
				if cur != nil {
					if err := fn(cur.finish()); err != nil {
						return err
					}
				}
				seq++
				cur = newSpoolScan(seq)
			}
			if cur != nil {
				cur.fragment(frag, start)
			}
			end := frag[len(frag)-1] == '\n'
			if start {
				blank = len(frag) == 1 && end
			} else {
				blank = false
			}
			start = end
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if cur != nil {
		return fn(cur.finish())
	}
	return nil
}

type spoolScan struct {
	msg    spoolMsg
	inFrom bool
	from   []byte
	header bool
	// hashing says the current header line is one qpopper hashes.
	hashing bool
	popa3d  *uidl.Popa3dHasher
	qpopper *qpopperHasher
	fp      *rewrite.Fingerprinter
}

func newSpoolScan(seq int) *spoolScan {
	return &spoolScan{msg: spoolMsg{Seq: seq}, inFrom: true, header: true,
		popa3d: uidl.NewPopa3d(), fp: rewrite.NewFingerprinter()}
}

func (s *spoolScan) fragment(frag []byte, start bool) {
	if s.inFrom {
		s.from = append(s.from, frag...)
		if frag[len(frag)-1] == '\n' {
			s.inFrom = false
			s.qpopper = newQpopper(s.from)
		}
		return
	}
	if !s.header {
		return
	}
	if start && len(frag) == 1 && frag[0] == '\n' {
		s.header = false
		s.fp.Write(frag)
		return
	}
	s.popa3d.Write(frag, start)
	s.fp.Write(frag)
	if start {
		s.hashing = frag[0] != ' ' && frag[0] != '\t' && qpopperHashes(frag)
	}
	if s.hashing {
		s.qpopper.write(frag)
	}
	if !start || s.msg.HasXUIDL {
		return
	}
	if v, ok := uidl.XUIDLValue(frag); ok {
		s.msg.HasXUIDL, s.msg.XUIDL = true, v
		s.msg.XUIDLLen = len(bytes.TrimLeft(frag[len("X-UIDL:"):], " \t"))
	}
}

func (s *spoolScan) finish() spoolMsg {
	if s.qpopper == nil { // a From_ line at the end of the file
		s.qpopper = newQpopper(s.from)
	}
	old, modern := s.qpopper.sums()
	s.msg.QpopperHex = qpopperHex(old)
	s.msg.QpopperBase80 = qpopperBase80(modern)
	s.msg.Popa3d = s.popa3d.Sum()
	s.msg.Fingerprint = s.fp.Sum()
	return s.msg
}
