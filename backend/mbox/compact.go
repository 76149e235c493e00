package mbox

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// A compaction removes byte ranges from a file in place, so the file keeps
// its inode, owner and mode and a delivery agent that opened it earlier
// still appends to the file that stays. Before the first byte is
// overwritten, every byte that will move is saved in a journal beside the
// file; a crash at any instant is repaired by Recover from that journal.
//
// The on-disk protocol, step by step (each step durable before the next):
//  1. the journal is written to JournalPath+".new", synced, renamed to
//     JournalPath, and the directory synced: from here on the change
//     happens, whatever crashes;
//  2. the moved bytes are copied from the journal to their new offsets in
//     the file, which is synced;
//  3. the file is truncated to its new size and synced;
//  4. the journal is removed and the directory synced.
//
// Bytes at or above the file's old size are never written before step 3,
// and no program appends while the spool lock is held, so after a crash a
// delivery agent's mail is at the end: from the old size when step 3 had
// not happened, from the new size when it had. Recover tells the two apart
// by the bytes between the new and the old size, which step 2 never
// touches: while they are still the old ones (the journal holds their
// hash), the file was not truncated.

// journalMagic is the first line of a journal.
const journalMagic = "popgate-mbox-journal 1\n"

// JournalPath is where the journal of the mbox at path lives: beside it, so
// it is on the same file system and any process serving the spool finds it.
func JournalPath(path string) string {
	return filepath.Join(filepath.Dir(path), TempPrefix+filepath.Base(path)+".journal")
}

// journal is the header of a journal file; the moved bytes follow it, in
// the order of Moves.
type journal struct {
	Dev, Ino uint64
	Size     int64 // the file's size before the compaction
	NewSize  int64
	Moves    []move
	// TailSum is the SHA-256 of the file's bytes in [NewSize, Size) before
	// the compaction.
	TailSum string
	// HeadSum is the SHA-256 of the up to 4 KiB before the first move's
	// destination, which no step changes: with Dev and Ino it tells this
	// file from one that replaced it and got its inode number.
	HeadSum string
}

// headSample is how many bytes before the first moved byte HeadSum covers.
const headSample = 4 << 10

// move copies Len bytes from Src to Dst, Dst < Src.
type move struct{ Src, Dst, Len int64 }

// CompactStats says what a compaction wrote.
type CompactStats struct {
	Moved   int64 // bytes moved, each written twice: journal and file
	NewSize int64
}

// Compact rewrites f in place to hold only the kept spans of it, in order,
// and truncates it. The spans must be sorted, not overlap and lie within
// the file. The caller holds the spool lock and any earlier journal has
// been recovered.
func Compact(f *os.File, journalPath string, kept []Span) (CompactStats, error) {
	j, err := plan(f, kept)
	if err != nil {
		return CompactStats{}, err
	}
	stats := CompactStats{Moved: movedBytes(j), NewSize: j.NewSize}
	if len(j.Moves) == 0 {
		// Only the end goes: one truncation, atomic by itself.
		return stats, truncate(f, j.NewSize)
	}
	jf, err := writeJournal(f, journalPath, j)
	if err != nil {
		return stats, err
	}
	defer jf.Close()
	if err := apply(f, jf, j); err != nil {
		return stats, err
	}
	if err := truncate(f, j.NewSize); err != nil {
		return stats, err
	}
	return stats, removeJournal(journalPath)
}

// plan works out the moves that keep only the kept spans of f, and the
// hash of the bytes past the new end when anything moves.
func plan(f *os.File, kept []Span) (*journal, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	j := &journal{Size: st.Size()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		j.Dev, j.Ino = uint64(sys.Dev), sys.Ino
	}
	for _, s := range kept {
		if s.Off < j.NewSize || s.Off+s.Len > j.Size {
			return nil, fmt.Errorf("compact %s: span %d+%d out of order or past the end", f.Name(), s.Off, s.Len)
		}
		if s.Len > 0 && s.Off != j.NewSize {
			if n := len(j.Moves); n > 0 && j.Moves[n-1].Src+j.Moves[n-1].Len == s.Off {
				j.Moves[n-1].Len += s.Len // adjacent in both places
			} else {
				j.Moves = append(j.Moves, move{Src: s.Off, Dst: j.NewSize, Len: s.Len})
			}
		}
		j.NewSize += s.Len
	}
	if len(j.Moves) > 0 {
		if j.TailSum, err = sumRange(f, j.NewSize, j.Size); err != nil {
			return nil, err
		}
		if j.HeadSum, err = headSum(f, j); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// Recover finishes a compaction of f that was interrupted, if the journal
// at journalPath exists, keeping whatever was appended to f since. It
// reports whether there was one. The caller holds the spool lock.
func Recover(f *os.File, journalPath string) (bool, error) {
	os.Remove(journalPath + ".new") // never applied: step 1 had not ended
	jf, err := os.Open(journalPath)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("journal %s: %w", journalPath, err)
	}
	defer jf.Close()
	j, err := readJournal(jf)
	if err != nil {
		return true, fmt.Errorf("journal %s: %w", journalPath, err)
	}
	st, err := f.Stat()
	if err != nil {
		return true, err
	}
	head, err := headSum(f, j)
	if err != nil {
		return true, err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || uint64(sys.Dev) != j.Dev || sys.Ino != j.Ino || head != j.HeadSum {
		// Another program replaced the spool since: the journal is not
		// about this file. Keep it for the administrator, out of the way.
		aside := journalPath + ".orphaned"
		if err := os.Rename(journalPath, aside); err != nil {
			return true, err
		}
		return true, syncDir(filepath.Dir(journalPath))
	}
	if err := apply(f, jf, j); err != nil {
		return true, err
	}
	size := st.Size()
	truncated := size < j.Size
	if !truncated {
		sum, err := sumRange(f, j.NewSize, j.Size)
		if err != nil {
			return true, err
		}
		truncated = sum != j.TailSum
	}
	switch {
	case truncated:
		// Step 3 had happened: anything past NewSize was delivered since.
	case size == j.Size:
		if err := truncate(f, j.NewSize); err != nil {
			return true, err
		}
	default:
		// Mail was delivered after the old end: move it down over the
		// bytes removed. That is a compaction of its own, whose journal
		// replaces this one in one rename.
		_, err := Compact(f, journalPath, []Span{{0, j.NewSize}, {j.Size, size - j.Size}})
		return true, err
	}
	return true, removeJournal(journalPath)
}

// writeJournal saves j and the bytes it moves, durably, at journalPath,
// and returns the journal open for reading.
func writeJournal(f *os.File, journalPath string, j *journal) (*os.File, error) {
	hdr, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(hdr)
	tmp := journalPath + ".new"
	jf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			jf.Close()
			os.Remove(tmp)
		}
	}()
	head := journalMagic + string(hdr) + "\n" + hex.EncodeToString(sum[:]) + "\n"
	if _, err := jf.WriteString(head); err != nil {
		return nil, err
	}
	off := int64(len(head))
	for _, m := range j.Moves {
		if err := copyRange(jf, off, f, m.Src, m.Len); err != nil {
			return nil, fmt.Errorf("journal %s: %w", tmp, err)
		}
		off += m.Len
	}
	if err := jf.Sync(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, journalPath); err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Dir(journalPath)); err != nil {
		return nil, err
	}
	ok = true
	return jf, nil
}

// readJournal reads and checks a journal's header; jf's offset is left
// anywhere.
func readJournal(jf *os.File) (*journal, error) {
	br := bufio.NewReader(io.NewSectionReader(jf, 0, 1<<30))
	magic, err := br.ReadString('\n')
	if err != nil || magic != journalMagic {
		return nil, errors.New("not a popgate mbox journal")
	}
	hdr, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	hdr = bytes.TrimSuffix(hdr, []byte("\n"))
	want, err := br.ReadString('\n')
	sum := sha256.Sum256(hdr)
	if err != nil || want != hex.EncodeToString(sum[:])+"\n" {
		return nil, errors.New("header checksum mismatch")
	}
	var j journal
	if err := json.Unmarshal(hdr, &j); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	data := int64(len(journalMagic) + len(hdr) + 1 + len(want))
	for _, m := range j.Moves {
		data += m.Len
	}
	st, err := jf.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != data {
		return nil, fmt.Errorf("%d bytes, want %d", st.Size(), data)
	}
	return &j, nil
}

// apply copies the journal's saved bytes to their new offsets in f and
// syncs f. Doing it again is harmless: the journal is the only source.
func apply(f, jf *os.File, j *journal) error {
	st, err := jf.Stat()
	if err != nil {
		return err
	}
	off := st.Size() - movedBytes(j)
	for _, m := range j.Moves {
		if err := copyRange(f, m.Dst, jf, off, m.Len); err != nil {
			return fmt.Errorf("compact %s: %w", f.Name(), err)
		}
		off += m.Len
	}
	return f.Sync()
}

func movedBytes(j *journal) int64 {
	var n int64
	for _, m := range j.Moves {
		n += m.Len
	}
	return n
}

func truncate(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

func removeJournal(journalPath string) error {
	if err := os.Remove(journalPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// A journal that came back after a power loss would be applied to a
	// file that has changed since.
	return syncDir(filepath.Dir(journalPath))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// sumRange returns the hex SHA-256 of f's bytes in [from, to).
func sumRange(f *os.File, from, to int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, from, to-from)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func headSum(f *os.File, j *journal) (string, error) {
	end := j.Moves[0].Dst
	return sumRange(f, max(0, end-headSample), end)
}

// copyRange copies n bytes of src at srcOff to dst at dstOff, in the
// kernel where the file system allows it.
func copyRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) error {
	for n > 0 {
		c, err := unix.CopyFileRange(int(src.Fd()), &srcOff, int(dst.Fd()), &dstOff, int(min(n, 1<<30)), 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
				return copyBuffered(dst, dstOff, src, srcOff, n)
			}
			return err
		}
		if c == 0 {
			return io.ErrUnexpectedEOF
		}
		n -= int64(c)
	}
	return nil
}

func copyBuffered(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) error {
	w := io.NewOffsetWriter(dst, dstOff)
	got, err := io.CopyBuffer(w, io.NewSectionReader(src, srcOff, n), make([]byte, 1<<20))
	if err == nil && got != n {
		err = io.ErrUnexpectedEOF
	}
	return err
}
