package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
}

func (s *Summary) problem(format string, args ...any) {
	s.ProblemCount++
	if len(s.Problems) < maxProblems {
		s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
	}
}

// String is the summary printed by "popgate uidl import".
func (s Summary) String() string {
	return fmt.Sprintf("users %d, messages %d, mapped %d, duplicates %d, problems %d",
		s.Users, s.Messages, s.Mapped, s.Duplicates, s.ProblemCount)
}

type spoolFile struct {
	path, user string
	size       int64
}

// Import records the legacy UIDLs of every message in the spools at
// o.Path, replacing what the store knew of those users' legacy maildrops
// (earlier entries stay reserved, see store.UIDLStore.SetLegacy).
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
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		entries, err := importSpool(f, scheme, &sum, &done, prog)
		if err != nil {
			return sum, err
		}
		if err := o.Store.SetLegacy(ctx, f.user, entries); err != nil {
			return sum, fmt.Errorf("import %s: %w", f.path, err)
		}
		sum.Users++
	}
	prog.finish(done, sum.Messages)
	return sum, nil
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
