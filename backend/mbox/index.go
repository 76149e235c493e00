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
	// Head fingerprints the start of the first message (headHash bytes),
	// where dovecot-lda rewrites X-IMAPbase at every delivery without
	// moving anything.
	Head [sha256.Size]byte
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
	tailHead = 256      // bytes from the start of the last message
	tailEnd  = 4 << 10  // bytes before the end of the parsed region
	headHash = 64 << 10 // bytes of the first message in Head
)

// Load returns an up-to-date index of f, reusing prev (which may be nil)
// when f is the same file, unchanged or only appended to. Anything else is a
// full rescan. prev is not modified. The caller holds the spool lock.
func Load(f *os.File, prev *Index, cfg Config) (*Index, Scan, int64, error) {
	return LoadWith(f, prev, cfg, nil)
}

// LoadWith is Load checking message boundaries through w, the Window kept
// for f's path (nil for none).
func LoadWith(f *os.File, prev *Index, cfg Config, w *Window) (*Index, Scan, int64, error) {
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
		if len(prev.Msgs) > 0 && id.Size > prev.Size {
			idx, work, ok, err := appended(f, prev, id, cfg, w)
			if err != nil {
				return nil, Full, 0, err
			}
			if ok {
				return finishIndex(f, idx, Appended, work)
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

// appended extends prev by what was appended to the file, when nothing
// before prev's last message moved: its fingerprints and every message
// boundary are still where they were. The last message is parsed again,
// and so is the first when its start was rewritten in place.
func appended(f *os.File, prev *Index, id Index, cfg Config, w *Window) (*Index, int64, bool, error) {
	n := len(prev.Msgs)
	last := prev.Msgs[n-1].From
	if tail, err := tailSum(f, last, prev.Size); err != nil || tail != prev.Tail || !boundariesHold(f, prev.Msgs[:n-1], w, id.Dev, id.Ino) {
		return nil, 0, false, nil // a full parse will tell
	}
	res, err := Parse(io.NewSectionReader(f, last, id.Size-last), last, cfg)
	if err != nil || len(res.Msgs) == 0 || res.Msgs[0].From != last {
		return nil, 0, false, err
	}
	id.Preamble = prev.Preamble
	id.Msgs = append(append(make([]Msg, 0, n-1+len(res.Msgs)), prev.Msgs[:n-1]...), res.Msgs...)
	work := res.Bytes
	if n > 1 {
		first, read, ok, err := sameFirst(f, prev, cfg)
		if err != nil || !ok {
			return nil, 0, false, err
		}
		id.Msgs[0], work = first, work+read
	}
	return &id, work, true, nil
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
	if len(id.Msgs) > 0 {
		if id.Head, err = firstSum(f, id.Msgs[0]); err != nil {
			return nil, Full, 0, err
		}
	}
	return id, scan, work, nil
}

// sameFirst brings the first message of prev up to date when its start was
// rewritten in place (Head differs) but it still ends where the second
// begins: it is parsed again, and its unique-id follows its new bytes, as
// a full parse would give. ok is false when it cannot be reused. read is
// the bytes read beyond the fingerprint.
func sameFirst(f io.ReaderAt, prev *Index, cfg Config) (m Msg, read int64, ok bool, err error) {
	m = prev.Msgs[0]
	h, err := firstSum(f, m)
	if err != nil || h == prev.Head {
		return m, 0, err == nil, err
	}
	res, err := Parse(io.NewSectionReader(f, m.From, m.End-m.From), m.From, cfg)
	if err != nil {
		return m, 0, false, err
	}
	if len(res.Msgs) != 1 || res.Msgs[0].From != m.From || res.Msgs[0].End != m.End {
		return m, res.Bytes, false, nil
	}
	return res.Msgs[0], res.Bytes, true, nil
}

// firstSum hashes up to headHash bytes from the start of m.
func firstSum(f io.ReaderAt, m Msg) ([sha256.Size]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, m.From, min(m.End-m.From, headHash))); err != nil {
		return [sha256.Size]byte{}, err
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
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

// StillThere reports whether message m of an index still starts where it
// did in f: a cheap check before serving it from a long-lived descriptor.
func StillThere(f io.ReaderAt, m Msg) bool {
	b := make([]byte, 5)
	n, _ := f.ReadAt(b, m.From)
	return n == 5 && bytes.Equal(b, []byte("From "))
}
