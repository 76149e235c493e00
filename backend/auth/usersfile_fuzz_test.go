package auth

import (
	"strings"
	"testing"
)

// FuzzUsersFileLine checks the passwd-file line parser on any input: it
// never panics, a user name it returns has no ':' or blank, a {PLAIN}
// secret ends at the next ':', an accepted secret verifies the password
// it was written with, and a refusal never shows the secret field.
func FuzzUsersFileLine(f *testing.F) {
	for _, s := range []string{
		"carol:{PLAIN}pw:999:995::home::",
		"alice:$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
		"bob:{CRAM-MD5}0123456789abcdef",
		"dan:$1$salt$hash:1000",
		"# comment", "", "nocolon", ":nouser", "x:{SHA512-CRYPT}$6$a$b", "y:{",
		"z:$2y$04$" + strings.Repeat("a", 53),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		user, s, err := parseUserLine(line)
		if strings.ContainsAny(user, ": \t") {
			t.Errorf("user %q from %q", user, line)
		}
		name, rest, _ := strings.Cut(line, ":")
		field, _, _ := strings.Cut(rest, ":")
		if err != nil {
			if secretShown(err.Error(), field, name) {
				t.Errorf("error %q shows the secret field %q", err, field)
			}
			return
		}
		if s == nil {
			return // blank or comment
		}
		if p := s.plain(); p != nil {
			if strings.Contains(string(p), ":") || !s.verify(p) {
				t.Errorf("plain secret %q from %q", p, line)
			}
		}
	})
}

// secretShown reports whether msg holds the secret field, when the field
// is long enough to tell and is not part of the name field.
func secretShown(msg, field, name string) bool {
	if p, ok := strings.CutPrefix(field, "{"); ok {
		_, field, _ = strings.Cut(p, "}")
	}
	return len(field) >= 8 && !strings.Contains(name, field) && strings.Contains(msg, field)
}
