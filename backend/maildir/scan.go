package maildir

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/uidl"
)

// Msg is one message file.
type Msg struct {
	Sub  string // "new" or "cur"
	Name string // file name in Sub
	Size int64  // octets as RETR delivers them (CRLF line ends)
	UID  string // unique-id per the scheme, before duplicates are renamed
	// Hidden lists the store-only header lines not served; Size does not
	// count them.
	Hidden []mbox.Span
}

// Path returns the message's file path under the Maildir root dir.
func (m Msg) Path(dir string) string { return filepath.Join(dir, m.Sub, m.Name) }

// Index is the state of a Maildir: its messages ordered by base name.
type Index struct {
	Config mbox.Config
	Msgs   []Msg
}

// Load lists new/ and cur/ of dir and returns the index, reading only the
// files whose base name prev (which may be nil) does not know. read is the
// number of files read. A missing dir is an empty maildrop.
func Load(dir string, prev *Index, cfg mbox.Config) (idx *Index, read int, err error) {
	known := map[string]Msg{}
	if prev != nil && prev.Config == cfg {
		for _, m := range prev.Msgs {
			known[m.Base()] = m
		}
	}
	idx = &Index{Config: cfg}
	bases := map[string]bool{}
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, read, err
		}
		for _, e := range ents {
			n, ok := ParseName(e.Name())
			if !ok || !e.Type().IsRegular() || bases[n.Base] {
				continue // not a message, or the same message seen twice mid-rename
			}
			bases[n.Base] = true
			m := Msg{Sub: sub, Name: e.Name()}
			if k, ok := known[n.Base]; ok {
				m.Size, m.UID, m.Hidden = k.Size, k.UID, k.Hidden
			} else {
				m.Size, m.UID, m.Hidden, err = scanFile(m.Path(dir), n.Base, cfg)
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted or moved since the listing
				}
				if err != nil {
					return nil, read, err
				}
				read++
			}
			idx.Msgs = append(idx.Msgs, m)
		}
	}
	slices.SortFunc(idx.Msgs, func(a, b Msg) int { return strings.Compare(a.Base(), b.Base()) })
	return idx, read, nil
}

// NativeUID is the base name when it is a valid unique-id, else a hash of it.
func NativeUID(base string) string {
	if uidl.Valid(base) {
		return base
	}
	sum := sha256.Sum256([]byte(base))
	return uidl.NativeID(sum[:])
}

// scanFile computes a message's CRLF size, its UID, and the spans of the
// store-only headers to hide.
func scanFile(path, base string, cfg mbox.Config) (int64, string, []mbox.Span, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", nil, err
	}
	defer f.Close()
	var (
		size, off  int64
		prev       byte
		lastServed byte = '\n'
		header          = true
		start           = true
		hiding     bool
		hidden     []mbox.Span
		xuidl      string
		ph         = uidl.NewPopa3d()
	)
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			if header && start && (bytes.Equal(frag, []byte("\n")) || bytes.Equal(frag, []byte("\r\n"))) {
				header = false
			}
			if header && start && frag[0] != ' ' && frag[0] != '\t' {
				hiding = cfg.Hide && mbox.StoreHeader(frag)
			}
			hide := header && hiding
			if header {
				ph.Write(frag, start)
				if start && xuidl == "" {
					if v, ok := uidl.XUIDLValue(frag); ok {
						xuidl = v
						if !uidl.Valid(v) {
							xuidl = "\x00"
						}
					}
				}
			}
			n := int64(len(frag))
			for i, c := range frag {
				if c == '\n' && (i > 0 && frag[i-1] != '\r' || i == 0 && prev != '\r') {
					n++
				}
			}
			if hide {
				if k := len(hidden); k > 0 && hidden[k-1].Off+hidden[k-1].Len == off {
					hidden[k-1].Len += int64(len(frag))
				} else {
					hidden = append(hidden, mbox.Span{Off: off, Len: int64(len(frag))})
				}
			} else {
				size += n
				lastServed = frag[len(frag)-1]
			}
			off += int64(len(frag))
			prev = frag[len(frag)-1]
			start = prev == '\n'
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, "", nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	if size > 0 && lastServed != '\n' {
		if lastServed == '\r' {
			size++
		} else {
			size += 2
		}
	}
	switch cfg.Scheme {
	case uidl.Popa3d:
		return size, ph.Sum(), hidden, nil
	case uidl.XUIDL:
		if xuidl != "" && xuidl != "\x00" {
			return size, xuidl, hidden, nil
		}
	}
	return size, NativeUID(base), hidden, nil
}
