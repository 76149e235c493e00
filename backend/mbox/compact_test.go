package mbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compactCase is a file and the spans of it to keep.
type compactCase struct {
	name    string
	content string
	kept    []Span
}

// spansOf splits content into messages (genMsg sizes vary) and keeps those
// for which keep is true, plus the preamble.
func compactCases() []compactCase {
	pre := "preamble\n\n"
	var msgs []string
	for i := range 12 {
		m := genMsg(i)
		if i%4 == 1 {
			// A large message: moving what follows it overlaps its own
			// source, the case a crash mid-copy would corrupt.
			m = strings.Replace(m, "body", strings.Repeat("long line ", 3000)+"\nbody", 1)
		}
		msgs = append(msgs, m)
	}
	content := pre + strings.Join(msgs, "")
	build := func(name string, keep func(i int) bool) compactCase {
		c := compactCase{name: name, content: content, kept: []Span{{0, int64(len(pre))}}}
		off := int64(len(pre))
		for i, m := range msgs {
			if keep(i) {
				c.kept = append(c.kept, Span{off, int64(len(m))})
			}
			off += int64(len(m))
		}
		return c
	}
	return []compactCase{
		build("first", func(i int) bool { return i != 0 }),
		build("last", func(i int) bool { return i < 10 }),
		build("spread", func(i int) bool { return i%3 != 0 }),
		build("large", func(i int) bool { return i%4 != 1 }),
		build("all", func(int) bool { return false }),
	}
}

func (c compactCase) want() string {
	var b strings.Builder
	for _, s := range c.kept {
		b.WriteString(c.content[s.Off : s.Off+s.Len])
	}
	return b.String()
}

func writeSpool(t *testing.T, content string) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spool")
	if err := os.WriteFile(path, []byte(content), 0o660); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return path, f
}

func TestCompact(t *testing.T) {
	for _, c := range compactCases() {
		t.Run(c.name, func(t *testing.T) {
			path, f := writeSpool(t, c.content)
			before, _ := f.Stat()
			stats, err := Compact(f, JournalPath(path), c.kept)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != c.want() {
				t.Fatalf("compacted to %d bytes, want %d", len(got), len(c.want()))
			}
			after, _ := os.Stat(path)
			if !os.SameFile(before, after) || after.Mode() != before.Mode() {
				t.Errorf("file identity or mode changed: %v -> %v", before.Mode(), after.Mode())
			}
			if stats.NewSize != int64(len(got)) {
				t.Errorf("NewSize %d, file %d", stats.NewSize, len(got))
			}
			if c.name == "last" && stats.Moved != 0 {
				t.Errorf("deleting only at the end moved %d bytes", stats.Moved)
			}
			if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
				t.Errorf("left files behind: %v", ents)
			}
		})
	}
}

// interrupt leaves the state a compaction killed at one instant leaves: the
// journal written (or only its temporary file), done bytes of the moves
// copied, the file truncated or not.
func interrupt(t *testing.T, path string, f *os.File, kept []Span, done int64, truncated, journaled bool) {
	t.Helper()
	j, err := plan(f, kept)
	if err != nil {
		t.Fatal(err)
	}
	jp := JournalPath(path)
	jf, err := writeJournal(f, jp, j)
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	if !journaled {
		if err := os.Rename(jp, jp+".new"); err != nil {
			t.Fatal(err)
		}
		return
	}
	st, _ := jf.Stat()
	src := st.Size() - movedBytes(j)
	for _, m := range j.Moves {
		n := min(m.Len, done)
		if n <= 0 {
			break
		}
		if err := copyRange(f, m.Dst, jf, src, n); err != nil {
			t.Fatal(err)
		}
		src += m.Len
		done -= n
	}
	if truncated {
		if err := f.Truncate(j.NewSize); err != nil {
			t.Fatal(err)
		}
	}
}

// A compaction killed at any instant, followed by deliveries before the
// repair, is repaired to the kept content plus the deliveries, and the
// journal is gone. A crash during the repair is the same state again.
func TestRecoverAfterACrashAtAnyInstant(t *testing.T) {
	small := "From late@example.org Tue Jan  6 10:00:00 2004\nSubject: late\n\nlate\n\n"
	big := "From big@example.org Tue Jan  6 10:00:00 2004\nSubject: big\n\n" + strings.Repeat("big body line\n", 5000) + "\n"
	for _, c := range compactCases() {
		_, f := writeSpool(t, c.content)
		j, err := plan(f, c.kept)
		if err != nil {
			t.Fatal(err)
		}
		moved := movedBytes(j)
		if moved == 0 {
			continue // truncation only: nothing to interrupt
		}
		type state struct {
			done                 int64
			truncated, journaled bool
		}
		states := []state{{0, false, false}}
		for _, d := range []int64{0, 1, moved / 3, moved / 2, moved - 1, moved} {
			states = append(states, state{d, false, true})
		}
		states = append(states, state{moved, true, true})
		for _, s := range states {
			for _, late := range []string{"", small, big} {
				name := fmt.Sprintf("%s/done=%d,truncated=%v,journaled=%v,late=%d", c.name, s.done, s.truncated, s.journaled, len(late))
				t.Run(name, func(t *testing.T) {
					path, f := writeSpool(t, c.content)
					interrupt(t, path, f, c.kept, s.done, s.truncated, s.journaled)
					// A delivery agent appends before the repair.
					a, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
					if err != nil {
						t.Fatal(err)
					}
					a.WriteString(late)
					a.Close()
					had, err := Recover(f, JournalPath(path))
					if err != nil {
						t.Fatal(err)
					}
					if had != s.journaled {
						t.Errorf("Recover reported a journal: %v, want %v", had, s.journaled)
					}
					want := c.want() + late
					if !s.journaled {
						want = c.content + late // the change never started
					}
					got, _ := os.ReadFile(path)
					if string(got) != want {
						t.Fatalf("repaired to %d bytes, want %d", len(got), len(want))
					}
					if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
						t.Errorf("left files behind: %v", ents)
					}
				})
			}
		}
	}
}

// A journal that does not belong to the file at the path (the spool was
// replaced since) is put aside, never applied.
func TestRecoverIgnoresAJournalOfAnotherFile(t *testing.T) {
	c := compactCases()[0]
	path, f := writeSpool(t, c.content)
	interrupt(t, path, f, c.kept, 10, false, true)
	f.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// Most likely the same inode number, but other mail.
	other := strings.Replace(c.content, "preamble", "elbmaerp", 1)
	if err := os.WriteFile(path, []byte(other), 0o660); err != nil {
		t.Fatal(err)
	}
	nf, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer nf.Close()
	if _, err := Recover(nf, JournalPath(path)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != other {
		t.Error("a journal of another file was applied")
	}
	if _, err := os.Stat(JournalPath(path) + ".orphaned"); err != nil {
		t.Errorf("journal not kept aside: %v", err)
	}
}

// A damaged journal is an error, not a guess.
func TestRecoverRefusesADamagedJournal(t *testing.T) {
	c := compactCases()[0]
	path, f := writeSpool(t, c.content)
	interrupt(t, path, f, c.kept, 0, false, true)
	jp := JournalPath(path)
	b, _ := os.ReadFile(jp)
	os.WriteFile(jp, b[:len(b)-1], 0o600)
	if _, err := Recover(f, jp); err == nil || !strings.Contains(err.Error(), "bytes, want") {
		t.Errorf("short journal: %v", err)
	}
	b[30] ^= 1
	os.WriteFile(jp, b, 0o600)
	if _, err := Recover(f, jp); err == nil {
		t.Error("journal with a damaged header accepted")
	}
}
