package routes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var known = []string{"legacy", "native", "other"}

func parse(t *testing.T, text string) *Table {
	t.Helper()
	tab, err := Parse(strings.NewReader(text), "routes", known)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tab
}

func TestRoute(t *testing.T) {
	tab := parse(t, `# wave 1
alice    native
bob      native   # moved on Monday

*@example.org  legacy
*@example.*    other
a*             other
Carol@Example.ORG native
`)
	cases := map[string]string{
		"alice":             "native", // exact
		"ALICE":             "native", // case-insensitive
		"bob":               "native",
		"carol@example.org": "native", // exact beats the earlier pattern
		"dave@example.org":  "legacy", // first matching pattern
		"dave@example.net":  "other",
		"anne":              "other",
		"Anne":              "other",
	}
	for user, want := range cases {
		if got, ok := tab.Route(user); !ok || got != want {
			t.Errorf("Route(%q) = %q, %v; want %q", user, got, ok, want)
		}
	}
	for _, user := range []string{"zed", "", "bob2", "dave@example"} {
		if got, ok := tab.Route(user); ok {
			t.Errorf("Route(%q) = %q; want no route", user, got)
		}
	}
	if tab.Len() != 6 {
		t.Errorf("Len = %d, want 6", tab.Len())
	}
}

func TestEmptyTableRoutesNobody(t *testing.T) {
	tab := parse(t, "# nothing yet\n\n")
	if _, ok := tab.Route("alice"); ok || tab.Len() != 0 {
		t.Error("an empty table routed a user")
	}
	var nilTab *Table
	if _, ok := nilTab.Route("alice"); ok {
		t.Error("a nil table routed a user")
	}
}

func TestParseErrorsHaveLineNumbers(t *testing.T) {
	text := `alice native
bob
carol nowhere
# fine
dave native extra
alice legacy
[x native
*@a other
*@A other
`
	_, err := Parse(strings.NewReader(text), "/etc/popgate/routes", known)
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`/etc/popgate/routes:2: want "user backend", got 1 fields`,
		`/etc/popgate/routes:3: unknown backend "nowhere"`,
		`/etc/popgate/routes:5: want "user backend", got 3 fields`,
		`/etc/popgate/routes:6: "alice" is already routed on line 1`,
		`/etc/popgate/routes:7: bad pattern "[x"`,
		`/etc/popgate/routes:9: "*@A" is already routed on line 8`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Errorf("errors.As LineError = %+v", le)
	}
}

func TestNilKnownBackendsAcceptsAnyName(t *testing.T) {
	tab, err := Parse(strings.NewReader("alice whatever\n"), "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := tab.Route("alice"); b != "whatever" {
		t.Errorf("got %q", b)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent"), known)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

func TestCompare(t *testing.T) {
	old := parse(t, "alice legacy\nbob legacy\ncarol legacy\n*@x.org legacy\n")
	cur := parse(t, "alice native\nbob legacy\n*@x.org native\ndave native\n")
	d := Compare(old, cur)
	want := []Change{
		{User: "*@x.org", From: "legacy", To: "native"},
		{User: "alice", From: "legacy", To: "native"},
		{User: "carol", From: "legacy"},
		{User: "dave", To: "native"},
	}
	if len(d.Changes) != len(want) {
		t.Fatalf("changes = %v, want %v", d.Changes, want)
	}
	for i := range want {
		if d.Changes[i] != want[i] {
			t.Errorf("change %d = %v, want %v", i, d.Changes[i], want[i])
		}
	}
	if a, r, m := d.Counts(); a != 1 || r != 1 || m != 2 {
		t.Errorf("counts = %d %d %d", a, r, m)
	}
	s := d.String()
	if !strings.HasPrefix(s, "4 rules (was 4): 1 added, 1 removed, 2 moved: ") ||
		!strings.Contains(s, "alice legacy->native") || !strings.Contains(s, "-carol legacy") || !strings.Contains(s, "+dave native") {
		t.Errorf("String = %q", s)
	}
	if d := Compare(cur, cur); len(d.Changes) != 0 {
		t.Errorf("self-compare = %v", d)
	}
}

func TestDiffStringIsBounded(t *testing.T) {
	var b strings.Builder
	for i := range 25 {
		b.WriteString("user" + string(rune('a'+i)) + " native\n")
	}
	d := Compare(nil, parse(t, b.String()))
	s := d.String()
	if !strings.Contains(s, "and 15 more") || strings.Count(s, "+user") != maxListed {
		t.Errorf("String = %q", s)
	}
}

func BenchmarkRoute(b *testing.B) {
	var text strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&text, "user%d@example.org native\n", i)
	}
	for i := range 50 {
		fmt.Fprintf(&text, "*@dept%d.example.org legacy\n", i)
	}
	tab, err := Parse(strings.NewReader(text.String()), "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("exact", func(b *testing.B) {
		for b.Loop() {
			tab.Route("user4999@example.org")
		}
	})
	b.Run("last-pattern", func(b *testing.B) {
		for b.Loop() {
			tab.Route("someone@dept49.example.org")
		}
	})
}

// FuzzParse checks that whatever Parse accepts routes each exact name it
// listed to that line's backend.
func FuzzParse(f *testing.F) {
	f.Add("alice native\n*@x legacy # c\n\nbob other\n")
	f.Add("[ native\n")
	f.Add("a\\ native\n")
	f.Fuzz(func(t *testing.T, text string) {
		tab, err := Parse(strings.NewReader(text), "fuzz", nil)
		if err != nil {
			return
		}
		for line := range strings.Lines(text) {
			body, _, _ := strings.Cut(line, "#")
			fields := strings.Fields(body)
			if len(fields) != 2 || isPattern(fold(fields[0])) {
				continue
			}
			if got, ok := tab.Route(fields[0]); !ok || got != fields[1] {
				t.Errorf("Route(%q) = %q, %v; want %q", fields[0], got, ok, fields[1])
			}
		}
	})
}

func TestExplainNamesTheRule(t *testing.T) {
	tab := parse(t, "Carol@Example.ORG native\n*@example.org legacy\n*@example.* other\n")
	for user, want := range map[string][2]string{
		"carol@example.org": {"native", "carol@example.org"},
		"dave@example.org":  {"legacy", "*@example.org"},
		"dave@example.net":  {"other", "*@example.*"},
	} {
		if b, rule, ok := tab.Explain(user); !ok || b != want[0] || rule != want[1] {
			t.Errorf("Explain(%q) = %q, %q, %v; want %q by %q", user, b, rule, ok, want[0], want[1])
		}
	}
	if _, rule, ok := tab.Explain("zed"); ok || rule != "" {
		t.Errorf("Explain of an unrouted user: rule %q, %v", rule, ok)
	}
}

// FuzzLoad checks a routes file as popgate reads it, with the configured
// backends: a file it accepts never routes to a backend it does not know,
// and a refusal names its file and line.
func FuzzLoad(f *testing.F) {
	f.Add("alice native\n*@x legacy # c\n")
	f.Add("bob elsewhere\n")
	f.Add("*@* native\n**@x legacy\n")
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "routes")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		tab, err := Load(path, []string{"native", "legacy"})
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for line := range strings.Lines(text) {
			body, _, _ := strings.Cut(line, "#")
			if fields := strings.Fields(body); len(fields) == 2 {
				if got, ok := tab.Route(fields[0]); ok && got != "native" && got != "legacy" {
					t.Errorf("Route(%q) = %q, not a configured backend", fields[0], got)
				}
			}
		}
	})
}
