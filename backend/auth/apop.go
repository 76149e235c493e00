package auth

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// apopDigest returns the APOP digest of RFC 1939 section 7: the lower-case
// hex MD5 of the greeting's timestamp followed by the shared secret.
func apopDigest(timestamp string, secret []byte) string {
	h := md5.New()
	h.Write([]byte(timestamp))
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil))
}

// verifyAPOP compares the client's digest with the expected one in constant
// time. Hex case is ignored, since some clients send upper case.
func verifyAPOP(timestamp string, secret []byte, digest string) bool {
	want := apopDigest(timestamp, secret)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(digest))) == 1
}
