package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// plainPrefix marks a secret stored as is. Only such users can use APOP,
// which needs the secret itself.
const plainPrefix = "{PLAIN}"

// secret is one stored password, in whatever form the users file holds it.
type secret interface {
	// verify reports whether password matches.
	verify(password []byte) bool
	// plain returns the secret itself for APOP, or nil for hashes.
	plain() []byte
	// kind names the scheme and its cost ("bcrypt/10", "sha512/5000",
	// "plain"): two secrets of one kind cost the same work to verify.
	kind() string
	// dummy returns a secret of the same kind for an unknown random
	// password, to verify against when the user is unknown.
	dummy() (secret, error)
}

// parseSecret reads the password field of a users file line. Dovecot-style
// scheme prefixes ({BLF-CRYPT}, {SHA512-CRYPT}, {SHA256-CRYPT}, {CRYPT}) are
// accepted in front of the matching hash, so passwd-file entries can be
// copied over.
func parseSecret(s string) (secret, error) {
	if p, ok := strings.CutPrefix(s, plainPrefix); ok {
		return plainSecret(p), nil
	}
	if strings.HasPrefix(s, "{") {
		scheme, rest, ok := strings.Cut(s[1:], "}")
		if !ok {
			return nil, errors.New("unterminated {SCHEME} prefix")
		}
		want, known := map[string]string{
			"BLF-CRYPT": "$2", "SHA512-CRYPT": "$6$", "SHA256-CRYPT": "$5$", "CRYPT": "$",
		}[strings.ToUpper(scheme)]
		if !known || !strings.HasPrefix(rest, want) {
			return nil, fmt.Errorf("unsupported scheme {%s}", scheme)
		}
		s = rest
	}
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil {
			return nil, errors.New("malformed bcrypt hash")
		}
		return bcryptSecret{hash: []byte(s), cost: cost}, nil
	case strings.HasPrefix(s, "$5$"), strings.HasPrefix(s, "$6$"):
		st, err := parseShaCrypt(s)
		if err != nil || st.hashedPart == "" {
			return nil, errBadShaCrypt
		}
		return shaCryptSecret{setting: st, hash: s}, nil
	case s == "":
		return nil, errors.New("empty password field")
	}
	// Never echo the field: it may be a password typed in the wrong place.
	return nil, errors.New("unknown password scheme (want bcrypt $2y$, SHA-crypt $6$/$5$ or {PLAIN})")
}

type bcryptSecret struct {
	hash []byte
	cost int
}

func (b bcryptSecret) verify(pw []byte) bool {
	return bcrypt.CompareHashAndPassword(b.hash, pw) == nil
}
func (bcryptSecret) plain() []byte  { return nil }
func (b bcryptSecret) kind() string { return "bcrypt/" + strconv.Itoa(b.cost) }
func (b bcryptSecret) dummy() (secret, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), b.cost)
	if err != nil {
		return nil, err
	}
	return bcryptSecret{hash: h, cost: b.cost}, nil
}

type shaCryptSecret struct {
	setting shaCryptSetting
	hash    string
}

func (s shaCryptSecret) verify(pw []byte) bool { return shaCryptVerify(s.setting, s.hash, pw) }
func (shaCryptSecret) plain() []byte           { return nil }
func (s shaCryptSecret) kind() string {
	return strings.Trim(s.setting.v.prefix, "$") + "-crypt/" + strconv.Itoa(s.setting.rounds)
}
func (s shaCryptSecret) dummy() (secret, error) {
	st := s.setting
	st.salt = rand.Text()[:shaCryptSaltMax]
	h := shaCrypt(st, []byte(rand.Text()))
	st, err := parseShaCrypt(h)
	if err != nil {
		return nil, err
	}
	return shaCryptSecret{setting: st, hash: h}, nil
}

type plainSecret string

// verify compares hashes of both sides, so the time taken does not depend
// on where, or whether, the lengths differ.
func (p plainSecret) verify(pw []byte) bool {
	a, b := sha256.Sum256([]byte(p)), sha256.Sum256(pw)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
func (p plainSecret) plain() []byte        { return []byte(p) }
func (plainSecret) kind() string           { return "plain" }
func (plainSecret) dummy() (secret, error) { return plainSecret(rand.Text()), nil }
