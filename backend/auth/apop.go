package auth

import (
	"crypto/hmac"
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

// verifyCRAM checks an AUTH CRAM-MD5 digest (RFC 2195): the hex HMAC-MD5 of
// the challenge keyed with the shared secret, compared in constant time.
func verifyCRAM(challenge string, secret []byte, digest string) bool {
	mac := hmac.New(md5.New, secret)
	mac.Write([]byte(challenge))
	want := hex.EncodeToString(mac.Sum(nil))
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(digest))) == 1
}
