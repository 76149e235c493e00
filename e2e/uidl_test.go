package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/migrate"
	"github.com/popgate/popgate/uidl"
	"github.com/popgate/popgate/upstream"
)

const (
	uidlOldCount = 5
	uidlNewCount = 2
	uidlPassword = "uidl-secret"
	// uidlScenarioLimit bounds one client's polls in one scenario.
	uidlScenarioLimit = 90 * time.Second
)

// uidlClients are the clients whose "seen" state is their UIDL list.
var uidlClients = []struct {
	name string
	new  testpeer.NewClient
}{
	{"fetchmail", testpeer.NewFetchmail},
	{"mpop", testpeer.NewMpop},
	{"getmail", testpeer.NewGetmail},
}

// uidlScenario is one user's migration: which client polls, where the user
// moves, and whether the map comes from learning sessions or from an
// offline import alone.
type uidlScenario struct {
	client     int
	target     string // "native" or "dovecot"
	importOnly bool
}

func (s uidlScenario) name() string {
	mode := "learn"
	if s.importOnly {
		mode = "import"
	}
	return fmt.Sprintf("%s/%s/%s", uidlClients[s.client].name, s.target, mode)
}

func (s uidlScenario) tag() string {
	return strings.NewReplacer("/", "-").Replace(s.name())
}

func uidlScenarios() []uidlScenario {
	var out []uidlScenario
	for c := range uidlClients {
		for _, target := range []string{"native", "dovecot"} {
			for _, imp := range []bool{false, true} {
				out = append(out, uidlScenario{client: c, target: target, importOnly: imp})
			}
		}
	}
	return out
}

// TestUIDLContinuityFromPopa3d moves users from popa3d (hash UIDLs) to the
// native backend and to a Dovecot Maildir.
func TestUIDLContinuityFromPopa3d(t *testing.T) {
	uidlContinuity(t, "popa3d")
}

// TestUIDLContinuityFromQpopperSpool moves users from Dovecot serving an
// mbox with qpopper's stored X-UIDL headers (pop3_reuse_xuidl), standing in
// for qpopper itself.
func TestUIDLContinuityFromQpopperSpool(t *testing.T) {
	uidlContinuity(t, "dovecot-xuidl")
}

func uidlContinuity(t *testing.T, legacyKind string) {
	scenarios := uidlScenarios()
	xuidl := legacyKind == "dovecot-xuidl"
	var users []testpeer.User
	for _, sc := range scenarios {
		users = append(users, testpeer.User{Name: sc.tag(), Password: uidlPassword, Mbox: uidlSpool(sc.tag(), uidlOldCount, xuidl)})
	}
	var legacy *testpeer.Server
	if xuidl {
		legacy = testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: users, ReuseXUIDL: true})
	} else {
		legacy = testpeer.StartPopa3d(t, users)
	}
	// The Dovecot Maildir users have the legacy logins and passwords; their
	// mail arrives at the move.
	var targetUsers []testpeer.User
	passwords := map[string]string{}
	for _, u := range users {
		login := legacy.Login(u.Name)
		targetUsers = append(targetUsers, testpeer.User{Name: login, Password: uidlPassword})
		passwords[login] = uidlPassword
	}
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: targetUsers, Maildir: true})
	stack := startUIDLStack(t, legacy.Addr, passwords, dovecot.Addr)

	for _, sc := range scenarios {
		t.Run(sc.name(), func(t *testing.T) {
			start := time.Now()
			login := legacy.Login(sc.tag())
			client := uidlClients[sc.client].new(t, stack.Addr, login, uidlPassword)
			if sc.importOnly {
				// "direct" relays to the legacy server without learning, so
				// the client's state is what the legacy server showed it.
				stack.route(t, login, "direct")
			}
			if before := client.Poll(); len(before) != uidlOldCount {
				t.Fatalf("before the move: %d messages, want %d", len(before), uidlOldCount)
			}
			if sc.importOnly {
				if es, _ := stack.Store.Legacy(context.Background(), login); len(es) != 0 {
					t.Fatalf("%d legacy entries learned without a learning session", len(es))
				}
				uidlImport(t, stack, legacy.Mbox(t, sc.tag()), login, xuidl)
			}

			spool := legacy.Mbox(t, sc.tag())
			switch sc.target {
			case "native":
				if err := os.WriteFile(filepath.Join(stack.NativeDir, login), spool, 0o600); err != nil {
					t.Fatal(err)
				}
			case "dovecot":
				dovecot.SetMbox(t, login, spool)
			}
			stack.route(t, login, sc.target)
			for i := 1; i <= uidlNewCount; i++ {
				msg := uidlNewMessage(sc.tag(), i)
				if sc.target == "native" {
					uidlAppendMbox(t, filepath.Join(stack.NativeDir, login), msg)
				} else {
					dovecot.Deliver(t, login, msg)
				}
			}

			after := client.Poll()
			var subjects []string
			for _, m := range after {
				subjects = append(subjects, uidlSubject(m.Body))
			}
			want := []string{"new message 1", "new message 2"}
			if !slices.Equal(subjects, want) {
				t.Errorf("after the move the client fetched %q, want exactly %q", subjects, want)
			}
			line := stack.sessionOn(t, login, sc.target)
			if num(line["uidl_mapped"]) != uidlOldCount || num(line["uidl_unmapped"]) != uidlNewCount {
				t.Errorf("session line uidl_mapped=%v uidl_unmapped=%v, want %d, %d",
					line["uidl_mapped"], line["uidl_unmapped"], uidlOldCount, uidlNewCount)
			}
			// Mail delivered after the move is new mail, not old mail
			// that lost its legacy UIDL.
			if num(line["uidl_new"]) != uidlNewCount || num(line["uidl_unmatched"]) != 0 {
				t.Errorf("session line uidl_new=%v uidl_unmatched=%v, want %d, 0",
					line["uidl_new"], line["uidl_unmatched"], uidlNewCount)
			}
			if again := client.Poll(); len(again) != 0 {
				t.Errorf("third poll fetched %d messages again", len(again))
			}
			if d := time.Since(start); d > uidlScenarioLimit {
				t.Errorf("scenario took %v, limit %v", d, uidlScenarioLimit)
			}
		})
	}
	// "popgate uidl verify": every map agrees with what the legacy server
	// still shows (the move left the legacy spools alone).
	for _, sc := range scenarios[:2] {
		login := legacy.Login(sc.tag())
		r, err := migrate.Verify(context.Background(), migrate.VerifyOptions{Store: stack.Store, User: login, Password: uidlPassword,
			Legacy: upstream.New(upstream.Options{Name: "legacy", Addr: legacy.Addr, CommandTimeout: 20 * time.Second})})
		if err != nil || !r.OK() || r.Matching != uidlOldCount || r.NoFingerprint != 0 {
			t.Errorf("verify %s: %v, %v; want %d matching, all fingerprinted", sc.name(), r, err, uidlOldCount)
		}
	}
}

// uidlImport seeds the map from a copy of the legacy spool, as "popgate
// uidl import" would.
func uidlImport(t *testing.T, stack *uidlStack, spool []byte, login string, xuidl bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), login)
	if err := os.WriteFile(path, spool, 0o600); err != nil {
		t.Fatal(err)
	}
	scheme := uidl.Popa3d
	if xuidl {
		scheme = uidl.XUIDL
	}
	sum, err := migrate.Import(context.Background(), migrate.ImportOptions{Path: path, Scheme: scheme, Store: stack.Store})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Mapped != uidlOldCount || sum.ProblemCount != 0 {
		t.Fatalf("import: %v %q", sum, sum.Problems)
	}
}

func uidlSubject(msg []byte) string {
	for _, line := range bytes.Split(msg, []byte("\n")) {
		if s, ok := bytes.CutPrefix(line, []byte("Subject: ")); ok {
			return strings.TrimSpace(string(s))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
	}
	return ""
}
