package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/uidl"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// Path is an mbox spool, or a directory of them (one per user, named
	// after the user, as /var/mail is). Dot files and *.lock are skipped.
	Path string
	// User names the user of a single spool file; default its file name.
	User string
	// Scheme is how the legacy server computed UIDLs; default uidl.Auto.
	Scheme uidl.Scheme
	// Store receives the entries; required.
	Store store.UIDLStore
	// Progress receives a progress bar (a terminal) or periodic lines;
	// nil for none.
	Progress io.Writer
	// Replace records a spool even where the map already holds entries
	// that disagree with it (learned from the legacy server, or imported
	// before). Without it such a user is left as it is and reported.
	Replace bool
}

// maxProblems bounds the problem descriptions kept in a Summary.
const maxProblems = 100

// Summary is what Import did.
type Summary struct {
	Users    int
	Messages int
	// Mapped messages were recorded with their legacy UIDL and fingerprint.
	Mapped int
	// Duplicates are messages whose legacy UIDL an earlier message of the
	// same spool already had (popa3d hashes identical headers alike).
	Duplicates int
	// Problems describe messages whose legacy UIDL could not be known
	// (ProblemCount counts them all; Problems keeps the first ones).
	ProblemCount int
	Problems     []string
	// Conflicts counts the users whose recorded entries disagree with
	// their spool; Disagreements describes the first ones. Without
	// ImportOptions.Replace those users were not changed.
	Conflicts     int
	Disagreements []string
	// Kept is true when the conflicting users were left unchanged.
	Kept bool
}

func (s *Summary) disagree(format string, args ...any) {
	if len(s.Disagreements) < maxProblems {
		s.Disagreements = append(s.Disagreements, fmt.Sprintf(format, args...))
	}
}

func (s *Summary) problem(format string, args ...any) {
	s.ProblemCount++
	if len(s.Problems) < maxProblems {
		s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
	}
}

// String is the summary printed by "popgate uidl import".
func (s Summary) String() string {
	out := fmt.Sprintf("users %d, messages %d, mapped %d, duplicates %d, problems %d",
		s.Users, s.Messages, s.Mapped, s.Duplicates, s.ProblemCount)
	switch {
	case s.Conflicts > 0 && s.Kept:
		out += fmt.Sprintf(", conflicts %d (kept; -replace to overwrite)", s.Conflicts)
	case s.Conflicts > 0:
		out += fmt.Sprintf(", conflicts %d (replaced)", s.Conflicts)
	}
	return out
}

type spoolFile struct {
	path, user string
	size       int64
}

// Import records the legacy UIDLs of every message in the spools at
// o.Path as those users' legacy maildrops (earlier entries stay reserved,
// see store.UIDLStore.SetLegacy). A user whose recorded entries disagree
// with the spool (a message with another fingerprint, or entries the spool
// lacks) is reported in the Summary and left alone unless o.Replace.
func Import(ctx context.Context, o ImportOptions) (Summary, error) {
	var sum Summary
	if o.Store == nil {
		return sum, errors.New("import: no store")
	}
	scheme := o.Scheme
	if scheme == "" {
		scheme = uidl.Auto
	}
	files, err := spoolFiles(o.Path, o.User)
	if err != nil {
		return sum, err
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	prog := newProgress(o.Progress, total)
	var done int64
	// Every entry of this run carries its time, so doctor can say whether
	// and when an import covered a maildrop.
	at := time.Now().UTC().Truncate(time.Second)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		entries, err := importSpool(f, scheme, &sum, &done, prog)
		if err != nil {
			return sum, err
		}
		old, err := o.Store.Legacy(ctx, f.user)
		if err != nil {
			return sum, fmt.Errorf("import %s: %w", f.path, err)
		}
		if d := disagreements(old, entries); len(d) > 0 {
			sum.Conflicts++
			sum.Kept = !o.Replace
			for _, line := range d {
				sum.disagree("%s: %s", f.user, line)
			}
			if !o.Replace {
				continue
			}
		}
		for i := range entries {
			entries[i].Imported = at
		}
		if err := o.Store.SetLegacy(ctx, f.user, entries); err != nil {
			return sum, fmt.Errorf("import %s: %w", f.path, err)
		}
		sum.Users++
	}
	prog.finish(done, sum.Messages)
	return sum, nil
}

// disagreements describes the recorded entries that importing entries
// would contradict: a present entry with another fingerprint for the same
// UIDL, or one the spool lacks (it would be marked gone).
func disagreements(old, entries []store.Entry) []string {
	type key struct {
		uidl string
		dup  int
	}
	imported := make(map[key]store.Entry, len(entries))
	for _, e := range entries {
		imported[key{e.UIDL, e.Dup}] = e
	}
	var out []string
	for _, e := range old {
		if e.Gone {
			continue
		}
		n, ok := imported[key{e.UIDL, e.Dup}]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("UIDL %s (message %d) is recorded but not in the spool", e.UIDL, e.Seq))
		case e.Fingerprint != "" && n.Fingerprint != e.Fingerprint:
			out = append(out, fmt.Sprintf("UIDL %s is recorded for other headers than message %d's", e.UIDL, n.Seq))
		}
	}
	slices.Sort(out)
	return out
}

func spoolFiles(path, user string) ([]spoolFile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if !fi.IsDir() {
		if user == "" {
			user = filepath.Base(path)
		}
		return []spoolFile{{path: path, user: user, size: fi.Size()}}, nil
	}
	des, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	var out []spoolFile
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".lock") || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		out = append(out, spoolFile{path: filepath.Join(path, name), user: name, size: info.Size()})
	}
	return out, nil
}

// importSpool reads one spool and returns its entries. The spool is read
// once and each message's headers once more: every scheme's UIDL is
// computed while scanning, so uidl.Auto is settled afterwards.
func importSpool(f spoolFile, scheme uidl.Scheme, sum *Summary, done *int64, prog *progress) ([]store.Entry, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer fh.Close()
	var msgs []spoolMsg
	anyXUIDL := false
	start := *done
	var read int64
	err = scanSpool(fh, func(n int64) {
		read = n
		prog.update(start+read, sum.Messages)
	}, func(m spoolMsg) error {
		msgs = append(msgs, m)
		anyXUIDL = anyXUIDL || m.IDs.HasXUIDL
		prog.update(start+read, sum.Messages+len(msgs))
		return nil
	})
	*done = start + read
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", f.path, err)
	}
	if scheme == uidl.Auto {
		scheme = uidl.Popa3d
		if anyXUIDL { // it has been served by qpopper
			scheme = uidl.XUIDL
		}
	}
	entries := make([]store.Entry, 0, len(msgs))
	seen := map[string]int{}
	for _, m := range msgs {
		sum.Messages++
		u, err := scheme.LegacyUIDL(m.IDs)
		if err != nil {
			sum.problem("%s message %d: %v", f.user, m.Seq, err)
			continue
		}
		if seen[u] > 0 {
			sum.Duplicates++
		}
		entries = append(entries, store.Entry{UIDL: u, Dup: seen[u], Fingerprint: m.Fingerprint, Seq: m.Seq})
		seen[u]++
		sum.Mapped++
	}
	return entries, nil
}
