package mbox

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Index is a parsed mbox file and the identity it was parsed from.
type Index struct {
	Dev, Ino uint64
	Size     int64
	Mtime    int64 // nanoseconds
	Ctime    int64 // nanoseconds; changes on every write, and cannot be set back
	Config   Config
	Preamble int64
	Msgs     []Msg
	// Tail fingerprints the end of the parsed region: the start of the last
	// message and the last bytes before Size. An append leaves it intact.
	Tail [sha256.Size]byte
}

// Scan says how much work Load did.
type Scan int

// How Load brought an index up to date.
const (
	Unchanged Scan = iota // identity, size and times equal: nothing read
	Appended              // only the last message and what follows were parsed
	Full                  // the whole file was parsed
)

func (s Scan) String() string {
	return [...]string{"unchanged", "appended", "full"}[s]
}

const (
	tailHead = 256     // bytes from the start of the last message
	tailEnd  = 4 << 10 // bytes before the end of the parsed region
)

// Load returns an up-to-date index of f, reusing prev (which may be nil)
// when f is the same file, unchanged or only appended to. Anything else is a
// full rescan. prev is not modified. The caller holds the spool lock.
func Load(f *os.File, prev *Index, cfg Config) (*Index, Scan, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, Full, 0, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, Full, 0, fmt.Errorf("no file identity for %s", f.Name())
	}
	id := Index{
		Dev: uint64(sys.Dev), Ino: sys.Ino, Size: st.Size(),
		Mtime: st.ModTime().UnixNano(), Ctime: sys.Ctim.Nano(), Config: cfg,
	}
	if prev != nil && prev.Config == cfg && prev.Dev == id.Dev && prev.Ino == id.Ino {
		if prev.Size == id.Size && prev.Mtime == id.Mtime && prev.Ctime == id.Ctime {
			return prev, Unchanged, 0, nil
		}
		if n := len(prev.Msgs); n > 0 && id.Size > prev.Size {
			if tail, err := tailSum(f, prev.Msgs[n-1].From, prev.Size); err == nil && tail == prev.Tail && boundariesHold(f, prev.Msgs[:n-1]) {
				last := prev.Msgs[n-1].From
				res, err := Parse(io.NewSectionReader(f, last, id.Size-last), last, cfg)
				if err != nil {
					return nil, Full, 0, err
				}
				if len(res.Msgs) > 0 && res.Msgs[0].From == last {
					id.Preamble = prev.Preamble
					id.Msgs = append(append(make([]Msg, 0, n-1+len(res.Msgs)), prev.Msgs[:n-1]...), res.Msgs...)
					return finishIndex(f, &id, Appended, res.Bytes)
				}
			}
		}
	}
	res, err := Parse(io.NewSectionReader(f, 0, id.Size), 0, cfg)
	if err != nil {
		return nil, Full, 0, err
	}
	id.Preamble, id.Msgs = res.Preamble, res.Msgs
	return finishIndex(f, &id, Full, res.Bytes)
}

func finishIndex(f *os.File, id *Index, scan Scan, work int64) (*Index, Scan, int64, error) {
	last := id.Size
	if n := len(id.Msgs); n > 0 {
		last = id.Msgs[n-1].From
	}
	t, err := tailSum(f, last, id.Size)
	if err != nil {
		return nil, Full, 0, err
	}
	id.Tail = t
	return id, scan, work, nil
}

// tailSum hashes up to tailHead bytes at lastFrom and the tailEnd bytes
// before end.
func tailSum(f io.ReaderAt, lastFrom, end int64) ([sha256.Size]byte, error) {
	h := sha256.New()
	headEnd := min(lastFrom+tailHead, end)
	tailStart := max(end-tailEnd, lastFrom)
	for _, r := range [][2]int64{{lastFrom, headEnd}, {tailStart, end}} {
		if _, err := io.Copy(h, io.NewSectionReader(f, r[0], r[1]-r[0])); err != nil {
			return [sha256.Size]byte{}, err
		}
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// boundariesHold reports whether every message still starts where it did:
// a "From " line after a newline. Some delivery agents (dovecot-lda) rewrite
// headers of messages already in the file, in place, and may shift the
// messages between the first and the last; an index with the old offsets
// would then serve, and a rewrite would move, the wrong bytes. One small
// read per message, paid only when the file grew.
func boundariesHold(f io.ReaderAt, msgs []Msg) bool {
	b := make([]byte, 6)
	for _, m := range msgs {
		if m.From == 0 {
			if !StillThere(f, m) {
				return false
			}
			continue
		}
		if n, _ := f.ReadAt(b, m.From-1); n != 6 || string(b) != "\nFrom " {
			return false
		}
	}
	return true
}

// StillThere reports whether message m of an index still starts where it
// did in f: a cheap check before serving it from a long-lived descriptor.
func StillThere(f io.ReaderAt, m Msg) bool {
	b := make([]byte, 5)
	n, _ := f.ReadAt(b, m.From)
	return n == 5 && bytes.Equal(b, []byte("From "))
}
