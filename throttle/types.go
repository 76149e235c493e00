package throttle

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes, written in the environment as a plain
// integer or with a K, M or G suffix (powers of 1024; "KB", "KiB" and "k"
// mean the same).
type ByteSize int64

// UnmarshalText parses "50M", "256K", "1G" or "1048576".
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	shift := 0
	switch strings.ToUpper(strings.TrimSpace(s[len(num):])) {
	case "", "B":
	case "K", "KB", "KIB":
		shift = 10
	case "M", "MB", "MIB":
		shift = 20
	case "G", "GB", "GIB":
		shift = 30
	default:
		return fmt.Errorf("%q is not a size (like 50M, 256K or 1048576)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > (1<<62)>>shift {
		return fmt.Errorf("%q is not a size (like 50M, 256K or 1048576)", s)
	}
	*b = ByteSize(n << shift)
	return nil
}

// String writes the size the way UnmarshalText reads it back.
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"G", 30}, {"M", 20}, {"K", 10}} {
		if b != 0 && b%(1<<u.shift) == 0 {
			return strconv.FormatInt(int64(b>>u.shift), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// Mode switches the penalties on or off.
type Mode string

// Modes. The empty Mode means ModeOn.
const (
	ModeOn  Mode = "on"
	ModeOff Mode = "off"
)

// UnmarshalText accepts on/off and the usual boolean spellings.
func (m *Mode) UnmarshalText(text []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(text))) {
	case "", "on", "true", "yes", "1", "enabled":
		*m = ModeOn
	case "off", "false", "no", "0", "disabled":
		*m = ModeOff
	default:
		return fmt.Errorf("%q is neither on nor off", string(text))
	}
	return nil
}
