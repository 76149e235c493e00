package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// CIDRList is a comma-separated list of networks. A bare address counts as
// a single-host network (/32 or /128).
type CIDRList []netip.Prefix

// UnmarshalText parses the list; empty items are ignored.
func (l *CIDRList) UnmarshalText(b []byte) error {
	var out CIDRList
	for item := range strings.SplitSeq(string(b), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := parsePrefix(item)
		if err != nil {
			return err
		}
		out = append(out, p)
	}
	*l = out
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a network (CIDR) or address", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a network (CIDR) or address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// String joins the networks with commas.
func (l CIDRList) String() string { return join(l, ",", netip.Prefix.String) }
