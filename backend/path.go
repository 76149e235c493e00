package backend

import (
	"errors"
	"strings"
)

var errBadUser = errors.New("user name not usable in a path")

// validUser refuses names that could leave the maildrop directory or
// confuse a path: separators, dot-names, control bytes and spaces.
func validUser(u string) bool {
	if u == "" || len(u) > 255 || u[0] == '.' || u[0] == '-' {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c <= ' ' || c == 0x7f || c == '/' || c == '\\' || c == '%' || c == ':' {
			return false
		}
	}
	return !strings.Contains(u, "..")
}

// expandPath fills pattern with the parts of user.
func expandPath(pattern, user string) (string, error) {
	if !validUser(user) {
		return "", errBadUser
	}
	local, domain := user, ""
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		local, domain = user[:i], user[i+1:]
	}
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' || i+1 == len(pattern) {
			b.WriteByte(c)
			continue
		}
		i++
		switch pattern[i] {
		case 'u':
			b.WriteString(user)
		case 'n':
			if local == "" {
				return "", errBadUser
			}
			b.WriteString(local)
		case 'd':
			if domain == "" {
				return "", errBadUser
			}
			b.WriteString(domain)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(pattern[i])
		}
	}
	return b.String(), nil
}
